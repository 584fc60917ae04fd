"""The knowledge catalog: YAML files under knowledge/ loaded into typed, immutable entries.

Loading keeps the line of every mapping and key so that `voicecode lint` can point a person who never
read the code at the exact place to fix (`file:line: message`).
"""
from __future__ import annotations

import fnmatch
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OWNERS: dict[str, str] = {
    "configuration": "your configuration",
    "your-server": "your server",
    "billing": "billing (your account or plan)",
    "vendor-platform": "the vendor's platform",
    "upstream-provider": "an upstream provider",
    "end-customer": "the end customer",
    "nobody": "nobody: a normal ending",
}
ESCALATE_TO: dict[str, str] = {
    "vendor-support": "vendor support",
    "your-team": "your own team",
    "provider-support": "the upstream provider's support",
    "carrier": "the carrier",
    "none": "no escalation needed",
}
FACET_KEYS = ("fault", "component", "vendor", "http_status")

SOURCE_KEYS = {"source", "vendor", "title", "doc_url", "vendor_words", "support", "rank", "entries"}
SOURCE_REQUIRED = {"source", "vendor", "title", "doc_url", "support", "entries"}
ENTRY_KEYS = {
    "code", "title", "meaning", "symptom", "owner", "normal", "fix", "escalation", "aliases",
    "keywords", "patterns", "facets", "related", "doc_url",
}
ENTRY_REQUIRED = {"code", "title", "meaning", "symptom", "owner", "fix", "escalation"}
ESCALATION_KEYS = {"when", "to", "include"}
MAX_TITLE = 80
NORMAL_OWNERS = ("nobody", "end-customer")  # a busy line or an unanswered call is normal and the callee's doing


def default_knowledge_dir() -> Path:
    """knowledge/ next to the package, unless VOICECODE_KNOWLEDGE points elsewhere."""
    env = os.environ.get("VOICECODE_KNOWLEDGE")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "knowledge"


@dataclass(frozen=True)
class Escalation:
    when: str
    to: str
    include: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    id: str
    vendor: str
    title: str
    doc_url: str
    vendor_words: tuple[str, ...]
    support_contact: str
    support_ids: tuple[str, ...]
    rank: int = 1


@dataclass(frozen=True)
class Entry:
    source: str
    code: str
    title: str
    meaning: str
    symptom: str
    owner: str
    normal: bool
    fix: tuple[str, ...]
    escalation: Escalation
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    facets: tuple[tuple[str, str | int], ...] = ()
    related: tuple[str, ...] = ()
    doc_url: str = ""
    file: str = ""
    line: int = 0

    @property
    def key(self) -> str:
        """`source:code`, the form `related` uses."""
        return f"{self.source}:{self.code}"

    @property
    def is_family(self) -> bool:
        return "*" in self.code

    @property
    def facet_map(self) -> dict[str, str | int]:
        return dict(self.facets)


@dataclass
class Catalog:
    sources: dict[str, Source] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)

    def by_key(self) -> dict[str, Entry]:
        return {e.key: e for e in self.entries}


class KnowledgeError(Exception):
    """Raised when the knowledge does not validate; holds every `file:line: message` problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Map(dict):
    """A mapping that remembers where it and each of its keys start in the file (1-based lines)."""

    line: int = 0
    key_lines: dict[str, int]
    duplicates: list[tuple[str, int]]  # keys written twice: YAML would silently keep the last one


class _Seq(list):
    """A list that remembers the line of each item."""

    item_lines: list[int]


@functools.lru_cache(maxsize=1)
def _line_loader() -> type:
    """A safe YAML loader (libyaml when present) whose mappings remember their lines.

    Built on first use: a cached engine answers without importing yaml at all.
    """
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class LineLoader(base):  # type: ignore[misc, valid-type]
        def construct_mapping(self, node: Any, deep: bool = False) -> _Map:
            mapping = _Map(super().construct_mapping(node, deep=True))
            mapping.line = node.start_mark.line + 1
            mapping.key_lines, mapping.duplicates = {}, []
            for key, _ in node.value:
                if str(key.value) in mapping.key_lines:
                    mapping.duplicates.append((str(key.value), key.start_mark.line + 1))
                mapping.key_lines.setdefault(str(key.value), key.start_mark.line + 1)
            return mapping

        def construct_sequence(self, node: Any, deep: bool = False) -> _Seq:
            items = _Seq(super().construct_sequence(node, deep=True))
            items.item_lines = [child.start_mark.line + 1 for child in node.value]
            return items

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, LineLoader.construct_mapping)
    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, LineLoader.construct_sequence)
    return LineLoader


class _Problems:
    def __init__(self, path: Path):
        self.path = path
        self.items: list[str] = []

    def add(self, line: int, message: str) -> None:
        self.items.append(f"{self.path}:{line}: {message}")


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def _check_keys(m: _Map, allowed: set[str], required: set[str], what: str, probs: _Problems) -> None:
    for key, line in getattr(m, "duplicates", ()):
        probs.add(line, f"'{key}' appears twice in {what}; YAML keeps only the last one, so merge them")
    for key in m:
        if key not in allowed:
            probs.add(m.key_lines.get(str(key), m.line), f"unknown key '{key}' in {what} (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required - set(m)):
        probs.add(m.line, f"{what} is missing required key '{key}'")


def _text(m: _Map, key: str, what: str, probs: _Problems) -> str:
    value = m.get(key)
    if key in m and (not isinstance(value, str) or not value.strip()):
        read_as = "" if value is None or isinstance(value, str) else f" (it was read as {type(value).__name__} {value!r}: put it in quotes)"
        probs.add(m.key_lines.get(key, m.line), f"{what}: '{key}' must be non-empty text{read_as}")
        return ""
    return (value or "").strip() if isinstance(value, str) else ""


def _list(m: _Map, key: str, what: str, probs: _Problems) -> tuple[str, ...]:
    value = m.get(key, [])
    if not isinstance(value, list):
        probs.add(m.key_lines.get(key, m.line), f"{what}: '{key}' must be a list of non-empty strings")
        return ()
    lines = getattr(value, "item_lines", [])
    for i, item in enumerate(value, 1):
        line = lines[i - 1] if i <= len(lines) else m.key_lines.get(key, m.line)
        if isinstance(item, _Map):
            probs.add(line, f"{what}: {key} item {i} was read as a mapping: an unquoted ': ' inside it; "
                            f"put the whole item in quotes")
        elif not isinstance(item, str) or not item.strip():
            probs.add(line, f"{what}: {key} item {i} must be non-empty text, got {item!r}")
    return tuple(v.strip() for v in value) if _str_list(value) else ()


def _parse_escalation(m: _Map, what: str, probs: _Problems) -> Escalation:
    raw = m.get("escalation")
    line = m.key_lines.get("escalation", m.line)
    if not isinstance(raw, _Map):
        if "escalation" in m:
            probs.add(line, f"{what}: 'escalation' must be a mapping with when, to, include")
        return Escalation("", "none", ())
    _check_keys(raw, ESCALATION_KEYS, ESCALATION_KEYS, f"{what} escalation", probs)
    to = raw.get("to")
    if "to" in raw and to not in ESCALATE_TO:
        probs.add(raw.key_lines.get("to", raw.line), f"{what}: escalation.to '{to}' is not one of {', '.join(ESCALATE_TO)}")
    include = _list(raw, "include", f"{what} escalation", probs) if "include" in raw else ()
    return Escalation(_text(raw, "when", f"{what} escalation", probs), str(to or "none"), include)


def _parse_facets(m: _Map, what: str, probs: _Problems) -> tuple[tuple[str, str | int], ...]:
    raw = m.get("facets", {})
    if not isinstance(raw, dict):
        probs.add(m.key_lines.get("facets", m.line), f"{what}: 'facets' must be a mapping")
        return ()
    for key, value in raw.items():
        if key not in FACET_KEYS:
            probs.add(m.key_lines.get("facets", m.line), f"{what}: unknown facet '{key}' (allowed: {', '.join(FACET_KEYS)})")
        elif not isinstance(value, (str, int)):
            probs.add(m.key_lines.get("facets", m.line), f"{what}: facet '{key}' must be text or a number")
    return tuple(sorted((str(k), v) for k, v in raw.items() if k in FACET_KEYS))


def _parse_entry(raw: Any, source: str, index: int, line: int, path: Path, probs: _Problems) -> Entry | None:
    if not isinstance(raw, _Map):
        probs.add(line, f"entry #{index + 1} must be a mapping of code, title, meaning, ... (got {raw!r})")
        return None
    code = raw.get("code")
    what = f"entry '{code}'" if code is not None else f"entry #{index + 1}"
    _check_keys(raw, ENTRY_KEYS, ENTRY_REQUIRED, what, probs)
    if code is not None and not isinstance(code, str):
        probs.add(raw.key_lines.get("code", raw.line), f"{what}: code must be a quoted string, e.g. code: \"{code}\"")
        code = str(code)
    if code is not None and not str(code).strip():
        probs.add(raw.key_lines.get("code", raw.line), f"{what}: code is empty")
    title = _text(raw, "title", what, probs)
    if len(title) > MAX_TITLE:
        probs.add(raw.key_lines.get("title", raw.line), f"{what}: title is {len(title)} characters (max {MAX_TITLE})")
    owner = raw.get("owner")
    if "owner" in raw and owner not in OWNERS:
        probs.add(raw.key_lines.get("owner", raw.line), f"{what}: owner '{owner}' is not one of {', '.join(OWNERS)}")
    normal = raw.get("normal", False)
    if not isinstance(normal, bool):
        probs.add(raw.key_lines.get("normal", raw.line), f"{what}: 'normal' must be true or false")
        normal = False
    fix = _list(raw, "fix", what, probs) if "fix" in raw else ()
    if "fix" in raw and raw.get("fix") == []:
        probs.add(raw.key_lines.get("fix", raw.line), f"{what}: 'fix' needs at least one step")
    if normal and owner not in NORMAL_OWNERS:
        probs.add(raw.key_lines.get("normal", raw.line),
                  f"{what}: a normal ending is owned by {' or '.join(NORMAL_OWNERS)}, not '{owner}'")
    patterns = _list(raw, "patterns", what, probs)
    if code and "*" in code and not patterns:
        probs.add(raw.key_lines.get("code", raw.line), f"{what}: a family code (with '*') needs 'patterns'")
    elif code and "*" in code and not any(fnmatch.fnmatchcase(code.lower(), p.lower()) for p in patterns):
        probs.add(raw.key_lines.get("patterns", raw.line),
                  f"{what}: none of the patterns matches the family's own code; list the code's pattern first")
    return Entry(
        source=source, code=(code or "").strip(), title=title, meaning=_text(raw, "meaning", what, probs),
        symptom=_text(raw, "symptom", what, probs), owner=str(owner or "nobody"), normal=normal, fix=fix,
        escalation=_parse_escalation(raw, what, probs), aliases=_list(raw, "aliases", what, probs),
        keywords=_list(raw, "keywords", what, probs), patterns=patterns,
        facets=_parse_facets(raw, what, probs), related=_list(raw, "related", what, probs),
        doc_url=_text(raw, "doc_url", what, probs), file=str(path), line=raw.line,
    )


def _rank(doc: _Map, probs: _Problems) -> int:
    rank = doc.get("rank", 1)
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        probs.add(doc.key_lines.get("rank", 1), "'rank' must be a whole number from 1 (first) upwards")
        return 1
    return rank


def _parse_source(doc: Any, path: Path, probs: _Problems) -> tuple[Source | None, list[Entry]]:
    if not isinstance(doc, _Map):
        probs.add(1, "the file must be a mapping with source, vendor, title, doc_url, support and entries")
        return None, []
    _check_keys(doc, SOURCE_KEYS, SOURCE_REQUIRED, "the file", probs)
    sid = doc.get("source")
    if isinstance(sid, str) and sid != path.stem:
        probs.add(doc.key_lines.get("source", 1), f"source '{sid}' must match the file name '{path.stem}.yaml'")
    support = doc.get("support")
    if not isinstance(support, _Map):
        if "support" in doc:
            probs.add(doc.key_lines["support"], "'support' must be a mapping with contact and ids")
        support = _Map()
        support.key_lines = {}
    else:
        _check_keys(support, {"contact", "ids"}, {"contact"}, "support", probs)
    source = Source(
        id=str(sid or path.stem), vendor=_text(doc, "vendor", "the file", probs),
        title=_text(doc, "title", "the file", probs), doc_url=_text(doc, "doc_url", "the file", probs),
        vendor_words=tuple(w.lower() for w in _list(doc, "vendor_words", "the file", probs)),
        support_contact=_text(support, "contact", "support", probs) if "contact" in support else "",
        support_ids=_list(support, "ids", "support", probs) if "ids" in support else (),
        rank=_rank(doc, probs),
    )
    raw_entries = doc.get("entries")
    if not isinstance(raw_entries, list) or not raw_entries:
        probs.add(doc.key_lines.get("entries", 1), "'entries' must be a non-empty list")
        return source, []
    lines = getattr(raw_entries, "item_lines", [])
    entries = [_parse_entry(raw, source.id, i, lines[i] if i < len(lines) else doc.line, path, probs)
               for i, raw in enumerate(raw_entries)]
    return source, [e for e in entries if e is not None]


_YAML_HINTS = (
    ("mapping values are not allowed", "a ': ' inside an unquoted value; put the whole value in quotes"),
    ("found character '\\t'", "a tab character; indent with spaces only"),
    ("could not find expected ':'", "a line is missing its ':' or is indented differently from its neighbours"),
    ("did not find expected key", "a line is indented differently from its neighbours"),
    ("did not find expected '-' indicator", "a list item is indented differently from the others"),
    ("found unexpected end of stream", "a quote is opened and never closed"),
    ("while scanning a quoted scalar", "a quote is opened and never closed"),
)


def _yaml_problem(exc: Exception) -> tuple[int, str]:
    """Line and plain-words message for a YAML syntax error; an unclosed quote points where it opened."""
    problem = str(getattr(exc, "problem", None) or exc)
    context = str(getattr(exc, "context", None) or "")
    mark = getattr(exc, "context_mark", None) if "quoted scalar" in context else None
    mark = mark or getattr(exc, "problem_mark", None)
    hint = next((h for text, h in _YAML_HINTS if text in problem or text in context), "")
    return (mark.line + 1 if mark else 1), f"invalid YAML: {hint or problem}" + (f" ({problem})" if hint else "")


def _load_file(path: Path, probs: _Problems) -> tuple[Source | None, list[Entry]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        probs.add(1, f"cannot read file: {exc}")
        return None, []
    import yaml

    try:
        doc = yaml.load(text, Loader=_line_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        probs.add(*_yaml_problem(exc))
        return None, []
    return _parse_source(doc, path, probs)


def _cross_check(catalog: Catalog, problems: list[str]) -> None:
    """Checks that need the whole catalog: duplicate codes and `related` links that lead nowhere."""
    seen: dict[str, Entry] = {}
    for entry in catalog.entries:
        for name in (entry.code, *entry.aliases):
            key = f"{entry.source}:{name.lower()}"
            first = seen.get(key)
            if first is not None and first is not entry:
                problems.append(f"{entry.file}:{entry.line}: '{name}' is already used by entry '{first.code}' at {first.file}:{first.line}")
            seen.setdefault(key, entry)
    keys = {e.key for e in catalog.entries}
    for entry in catalog.entries:
        for rel in entry.related:
            if rel not in keys:
                problems.append(f"{entry.file}:{entry.line}: entry '{entry.code}' relates to '{rel}', which is not in the catalog (use source:code)")


def validate(directory: Path) -> tuple[Catalog, list[str]]:
    """Load every `*.yaml` in `directory`; return the catalog and every problem found (empty when valid)."""
    catalog, problems = Catalog(), []
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    if not files:
        return catalog, [f"{directory}:0: no knowledge files (*.yaml) found"]
    for path in files:
        probs = _Problems(path)
        source, entries = _load_file(path, probs)
        problems.extend(probs.items)
        if source is None:
            continue
        if source.id in catalog.sources:
            problems.append(f"{path}:1: source '{source.id}' is defined twice")
        catalog.sources[source.id] = source
        catalog.entries.extend(entries)
    _cross_check(catalog, problems)
    return catalog, sorted(problems, key=_problem_order)


def _problem_order(problem: str) -> tuple[str, int]:
    path, _, rest = problem.partition(":")
    line = rest.split(":", 1)[0]
    return path, int(line) if line.isdigit() else 0


def load(directory: Path | None = None) -> Catalog:
    """The validated catalog; raises KnowledgeError listing every problem when the knowledge is invalid."""
    catalog, problems = validate(directory or default_knowledge_dir())
    if problems:
        raise KnowledgeError(problems)
    return catalog
