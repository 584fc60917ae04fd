"""Structured parsing of Vapi `endedReason` codes into facets.

Vapi invents new provider codes faster than any list can follow (`pipeline-error-<provider>-<status>-...`),
so the engine reads the structure instead of relying only on an exact list: who is at fault (prefix),
which pipeline component failed, which provider, and which HTTP status the provider returned.
"""
from __future__ import annotations

import re

PREFIXES: tuple[tuple[str, str], ...] = (
    ("call.in-progress.error-vapifault-", "vapifault"),
    ("call.in-progress.error-providerfault-", "providerfault"),
    ("call.start.error-vapifault-", "vapifault"),
    ("call.in-progress.error-pipeline-", "pipeline"),
    ("pipeline-error-", "pipeline"),
    ("vapifault-", "vapifault"),
    ("providerfault-", "providerfault"),
)
# What people drop when they copy a code from a dashboard or a shortened log line.
IN_PROGRESS = "call.in-progress.error-"
PROVIDER_PREFIXES = ("pipeline-error-", IN_PROGRESS + "vapifault-", IN_PROGRESS + "providerfault-")

LLM_PROVIDERS = frozenset({
    "anthropic", "anthropic-bedrock", "anthropic-vertex", "anyscale", "azure-openai", "baseten", "cerebras",
    "custom-llm", "deep-seek", "deepinfra", "google", "groq", "inflection-ai", "minimax", "mistral", "openai",
    "openrouter", "perplexity-ai", "runpod", "together-ai", "vapi", "xai",
})
VOICE_PROVIDERS = frozenset({
    "azure", "cartesia", "custom", "deepgram", "eleven-labs", "hume", "inworld", "lmnt", "microsoft", "minimax",
    "neets", "neuphonic", "openai", "playht", "rime-ai", "sesame", "smallest-ai", "vapi", "wellsaid", "xai",
    "11labs",
})
TRANSCRIBER_PROVIDERS = frozenset({
    "11labs", "assembly-ai", "azure-speech", "cartesia", "custom", "deepgram", "eleven-labs", "gladia", "google",
    "openai", "soniox", "speechmatics", "talkscriber", "vapi", "xai",
})
VIDEO_PROVIDERS = frozenset({"tavus"})
ALL_PROVIDERS = tuple(sorted(LLM_PROVIDERS | VOICE_PROVIDERS | TRANSCRIBER_PROVIDERS | VIDEO_PROVIDERS, key=len, reverse=True))

# Words in the rest of a code that name the component outright, checked in this order.
_COMPONENT_WORDS: tuple[tuple[str, str], ...] = (
    ("transcriber", "transcriber"), ("returning-", "transcriber"), ("video", "video"),
    ("voice", "voice"), ("llm", "llm"), ("first-message", "llm"),
)
# Where a provider serves several components and the code names none, the one it is mostly used for.
_MAIN_COMPONENT = {"deepgram": "transcriber"}
_STATUS = re.compile(r"(?:^|-)([1-5]\d\d)(?:-|$)")
_VAPI_SHAPE = re.compile(r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$")


def components_of(provider: str) -> frozenset[str]:
    """The pipeline components a provider can serve in Vapi (OpenAI: llm, voice and transcriber)."""
    return frozenset(c for providers, c in ((LLM_PROVIDERS, "llm"), (VOICE_PROVIDERS, "voice"),
                                           (TRANSCRIBER_PROVIDERS, "transcriber"), (VIDEO_PROVIDERS, "video"))
                     if provider in providers)


def main_component(provider: str) -> str:
    """The component a provider is mostly used for, when a question names the provider but no component."""
    return _MAIN_COMPONENT.get(provider) or min(components_of(provider), key=_ORDER.index, default="other")


_ORDER = ("llm", "voice", "transcriber", "video", "other")


_PREFIX_STARTS = tuple(prefix for prefix, _ in PREFIXES)


def split_prefix(code: str) -> tuple[str | None, str]:
    """(fault, rest of the code) for a prefixed code, else (None, code)."""
    if not code.startswith(_PREFIX_STARTS):  # one C-level test answers for most tokens of a paste
        return None, code
    for prefix, fault in PREFIXES:
        if code.startswith(prefix):
            return fault, code[len(prefix):]
    return None, code


_PROVIDER_STARTS = tuple(p + "-" for p in ALL_PROVIDERS)


def _provider(rest: str) -> str | None:
    """The provider a code names first, longest name first (`azure-openai` before `azure`)."""
    if not rest.startswith(_PROVIDER_STARTS):  # one C-level test rejects most tokens of a paste
        return None
    return next((p for p in ALL_PROVIDERS if rest.startswith(p + "-")), None)


def _named_component(rest: str) -> str | None:
    """The component a code names outright (`-transcriber-`, `-voice-`, `-llm-`, ...), if any."""
    return next((component for word, component in _COMPONENT_WORDS if word in rest), None)


def _component(provider: str, after: str) -> str:
    return _named_component(after) or main_component(provider)


def parse(code: str) -> dict[str, str | int]:
    """Facets of a Vapi code: fault, component, vendor, http_status, each only where the code says it.

    >>> parse("pipeline-error-openai-429-exceeded-quota")
    {'fault': 'pipeline', 'component': 'llm', 'vendor': 'openai', 'http_status': 429}
    """
    code = code.lower()
    fault, rest = split_prefix(code)
    facets: dict[str, str | int] = {}
    if fault:
        facets["fault"] = fault
    if rest.startswith(("outbound-sip-", "sip-")):
        facets["component"] = "sip"
    elif code.startswith("call.start."):
        facets["component"] = "call-start"
    elif fault:
        provider = _provider(rest)
        if provider:
            after = rest[len(provider) + 1:]
            facets["component"] = _component(provider, after)
            facets["vendor"] = provider
            rest = after
        elif "transport" in rest:
            facets["component"] = "transport"
        elif _named_component(rest):
            facets["component"] = str(_named_component(rest))
        elif fault != "pipeline":
            facets["component"] = "platform"
    status = _STATUS.search(rest)
    if status and ("component" in facets or fault):
        facets["http_status"] = int(status.group(1))
    return facets


def looks_like_vapi(token: str) -> bool:
    """A lower-case kebab or dotted token that could be an endedReason (used before fuzzy matching)."""
    return bool(_VAPI_SHAPE.match(token)) and ("-" in token or "." in token)


def expansions(token: str) -> list[str]:
    """Full spellings to try for a code quoted without its phase prefix (`vapifault-...`, `openai-llm-failed`)."""
    fault, _ = split_prefix(token)
    if fault is not None and token.startswith(("call.", "pipeline-error-")):
        return []
    if fault is None and (_provider(token) or token.startswith("outbound-sip-")):
        return [p + token for p in PROVIDER_PREFIXES]
    return [IN_PROGRESS + token]

