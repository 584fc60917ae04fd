"""Pure rendering: an engine Answer becomes Slack messages (Block Kit plus a plain-text fallback).

Everything a user typed, and all catalog text, is escaped before it is embedded, so a question holding
`<!channel>` or `<https://evil|click>` is shown, never executed. The only control sequences in the output
are the ones built here (links to catalog pages, the asker, the configured escalation group and channel).
Every text is kept within Slack's limits; long answers are packed into several messages at block
boundaries, and long texts are split at line or word boundaries, closing and reopening code fences.
"""
from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..answer import RECOGNISED_VIAS, Answer, FoundId, Match
from ..catalog import ESCALATE_TO, OWNERS
from ..text import normalize

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_BUTTON_TEXT = 75
MAX_VALUE = 2000
MAX_TEXT = 40_000
MAX_CONTEXT_ELEMENTS = 10
MAX_METADATA = 3000
MAX_INPUT = 3000
# Block text per message: about a screenful, and far below MAX_TEXT so the fallback is never truncated.
MESSAGE_BUDGET = 12_000
MAX_HEADLINES = 10
MAX_OTHERS = 5
QUERY_EXCERPT = 150

ESCALATE = "escalate"
HELPFUL = "feedback_helpful"
NOT_HELPFUL = "feedback_not_helpful"
ESCALATE_VIEW = "escalate_submit"
FEEDBACK_VIEW = "feedback_comment"
DETAILS_BLOCK = "details"
COMMENT_BLOCK = "comment"

FENCE = "```"
SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")
SLACK_ID = re.compile(r"^[A-Z0-9]{2,}$")
VIA_LABEL = {"exact": "exact code", "pattern": "code family", "context": "code in context", "fuzzy": "close spelling",
             "symptom": "symptom"}

Block = dict[str, Any]


@dataclass(frozen=True)
class Message:
    """One chat message: `text` is the notification/accessibility fallback for `blocks`."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


@dataclass(frozen=True)
class Reply:
    """A rendered answer: a short headline and the detail units (fix, escalation, others, feedback)."""

    headline: list[Block]
    units: list[list[Block]]

    def threaded(self) -> tuple[Message, list[Message]]:
        """Headline as a channel message, details as its thread replies (the slash command)."""
        return message(self.headline), pack(self.units)

    def combined(self) -> list[Message]:
        """Everything in as few messages as fit (replies in an existing thread, ephemeral answers)."""
        return pack([self.headline, *self.units])


# --- escaping and small mrkdwn pieces -------------------------------------------------------------------

def escape(text: str) -> str:
    """Slack's three entities, ampersand first; nothing else needs escaping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Shorten to `limit` characters at a word boundary, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def inline_code(text: str) -> str:
    """User text as inline code: one line, no backticks that could end the span early."""
    flat = " ".join(text.replace("`", "'").split())
    return f"`{escape(flat)}`" if flat else ""


def quote_query(query: str) -> str:
    """A question as Slack sent it (entities, `<@U…>`, `<url|label>`) shown as inert inline code."""
    return inline_code(clip(normalize(query), QUERY_EXCERPT))


def link(url: str, label: str) -> str:
    """A link we control; a URL that could break out of `<url|label>` is shown as plain text instead."""
    return f"<{url}|{escape(label)}>" if SAFE_URL.match(url) else escape(label)


def user_mention(user_id: str) -> str:
    return f"<@{user_id}>" if SLACK_ID.match(user_id) else escape(user_id)


def channel_mention(channel_id: str) -> str:
    return f"<#{channel_id}>" if SLACK_ID.match(channel_id) else escape(channel_id)


def usergroup_mention(usergroup_id: str) -> str:
    return f"<!subteam^{usergroup_id}>" if SLACK_ID.match(usergroup_id) else ""


# --- splitting within limits ----------------------------------------------------------------------------

def split_text(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Chunks of at most `limit` characters, cut at line breaks, else between words.

    A code block that must be cut is closed at the end of one chunk and reopened at the start of the next,
    so both halves still render as code.
    """
    room = limit - len(FENCE) - 1  # always leave space to close an open fence
    chunks: list[str] = []
    lines: list[str] = []
    in_code = False
    for piece in _pieces(text, room - len(FENCE) - 1):
        if lines and len("\n".join([*lines, piece])) > room:
            chunks.append("\n".join(lines) + (f"\n{FENCE}" if in_code else ""))
            lines = [FENCE] if in_code else []
        lines.append(piece)
        in_code ^= piece.count(FENCE) % 2 == 1
    chunks.append("\n".join(lines))
    return [c for c in chunks if c.strip() and c.strip() != f"{FENCE}\n{FENCE}"]


def _pieces(text: str, width: int) -> Iterable[str]:
    for line in text.split("\n"):
        if len(line) <= width:
            yield line
        else:
            yield from textwrap.wrap(line, width, expand_tabs=False, replace_whitespace=False,
                                     break_on_hyphens=False, drop_whitespace=True)


# --- block constructors ---------------------------------------------------------------------------------

def mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: Slack must not auto-link or auto-mention anything in the text; our <...> sequences still work.
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def sections(text: str) -> list[Block]:
    return [{"type": "section", "text": mrkdwn(chunk)} for chunk in split_text(text)]


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, MAX_HEADER)}


def context(*parts: str) -> Block:
    kept = [clip(p, MAX_SECTION) for p in parts if p][:MAX_CONTEXT_ELEMENTS]
    return {"type": "context", "elements": [mrkdwn(p) for p in kept]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    element = {"type": "button", "text": plain(text, MAX_BUTTON_TEXT), "action_id": action_id, "value": value}
    return {**element, "style": style} if style else element


def divider() -> Block:
    return {"type": "divider"}


def block_text(block: Block) -> str:
    """The text of a block as mrkdwn, for the fallback `text` (which Slack parses) and for size budgets."""
    objects = [block["text"]] if "text" in block else [e for e in block.get("elements", []) if "type" in e]
    return " · ".join(_as_mrkdwn(o) for o in objects if o["type"] in ("mrkdwn", "plain_text"))


def _as_mrkdwn(text_object: dict[str, Any]) -> str:
    text = text_object["text"]
    return escape(text) if text_object["type"] == "plain_text" else text


def message(blocks: list[Block]) -> Message:
    """A message from blocks; dividers at its edges are dropped because they separate nothing."""
    while blocks and blocks[-1]["type"] == "divider":
        blocks = blocks[:-1]
    while blocks and blocks[0]["type"] == "divider":
        blocks = blocks[1:]
    text = "\n".join(t for t in (block_text(b) for b in blocks) if t)
    return Message(text=clip(text, MAX_TEXT) or "voicecode", blocks=blocks)


def pack(units: list[list[Block]]) -> list[Message]:
    """Fill messages unit by unit (a unit is one code's blocks), splitting a unit only if it alone is too big.

    Each block's text is measured once; the message being filled keeps a running size."""
    messages: list[Message] = []
    current: list[Block] = []
    size = 0
    for unit in units:
        sizes = [len(block_text(b)) for b in unit]
        unit_size = sum(sizes)
        chunks = [(unit, unit_size)] if _fits(len(unit), unit_size) else [([b], n) for b, n in zip(unit, sizes)]
        for chunk, chunk_size in chunks:
            if current and not _fits(len(current) + len(chunk), size + chunk_size):
                messages.append(message(current))
                current, size = [], 0
            current, size = current + chunk, size + chunk_size
    if current:
        messages.append(message(current))
    return [m for m in messages if m.blocks]


def _fits(blocks: int, text_size: int) -> bool:
    return blocks <= MAX_BLOCKS and text_size <= MESSAGE_BUDGET


# --- the answer -----------------------------------------------------------------------------------------

def main_matches(answer: Answer) -> list[Match]:
    """The codes the answer is about: every code recognised in the text, else the single best match."""
    return answer.recognised or answer.matches[:1]


def code_label(match: Match) -> str:
    """Vendor and code as the user saw it (a family shows the concrete code that matched it)."""
    code = match.token if match.entry.is_family and match.token else match.entry.code
    return f"{match.source.vendor} {code}"


def render_answer(answer: Answer, *, lookup_id: int | None, asker: str | None = None,
                  escalation_owners: Collection[str] = ()) -> Reply:
    """The full answer; only call it when `answer.matches` is not empty (else `render_nothing_found`).

    Feedback buttons need the stored lookup, so there are none when `lookup_id` is None.
    """
    main = main_matches(answer)
    single = len(main) == 1
    units = [_match_unit(m, m.ids or (answer.ids if single else []), escalation_owners) for m in main]
    others = [m for m in answer.matches if m not in main][:MAX_OTHERS]
    if others:
        units.append(sections("*Other possible matches*\n" + "\n".join(f"• {_short_line(m)}" for m in others)))
    if lookup_id is not None:
        units.append(_feedback_unit(lookup_id))
    return Reply(headline=_headline(answer, main, asker), units=units)


def _headline(answer: Answer, main: list[Match], asker: str | None) -> list[Block]:
    lines = [_headline_line(m) for m in main[:MAX_HEADLINES]]
    if len(main) > MAX_HEADLINES:
        lines.append(f"…and {len(main) - MAX_HEADLINES} more codes, in the thread")
    notes = [f":information_source: {escape(n)}" for n in answer.notes]
    asked = f"{user_mention(asker)} asked {quote_query(answer.query)}" if asker else ""
    extra = [context(*notes, asked)] if notes or asked else []
    return [*sections("\n".join(lines)), *extra]


def _headline_line(match: Match) -> str:
    entry = match.entry
    name = f"*{escape(code_label(match))}* · {escape(entry.title)}"
    if entry.normal:
        return f":white_check_mark: {name}: *not an error*, a normal ending"
    return f":warning: {name} · owner: {escape(OWNERS.get(entry.owner, entry.owner))}"


def _short_line(match: Match) -> str:
    """One line per alternative; the source title tells apart twins such as 8x8 Voice and Number Masking."""
    return (f"*{escape(code_label(match))}* · {escape(match.entry.title)} "
            f"_({escape(match.source.title)}; {_quality(match)})_")


def _quality(match: Match) -> str:
    via = VIA_LABEL.get(match.via, match.via)
    return via if match.via in RECOGNISED_VIAS else f"{via}, {round(match.score)}%"


def _match_unit(match: Match, ids: list[FoundId], escalation_owners: Collection[str]) -> list[Block]:
    entry = match.entry
    blocks = [header(f"{code_label(match)} · {entry.title}"),
              *sections(f"{escape(entry.meaning)}\n*What callers notice:* {escape(entry.symptom)}")]
    steps = "\n".join(f"{i}. {escape(step)}" for i, step in enumerate(entry.fix, 1))
    if entry.normal:
        blocks += sections(":white_check_mark: *Not an error.* This is a normal ending; nothing needs fixing.\n"
                           f"*Only if it happens when it should not:*\n{steps}")
    else:
        who = escape(OWNERS.get(entry.owner, entry.owner))
        blocks += sections(f"*Who acts:* {who}\n*How to fix*\n{steps}")
        blocks += sections(_escalation_text(match, ids))
    blocks.append(context(*_facts(match)))
    if entry.related or match.related:
        blocks += sections("*See also:* " + " · ".join(_related(match)))
    if not entry.normal and entry.owner in escalation_owners:
        ref = EscalationRef(key=entry.key, owner=entry.owner, label=f"{code_label(match)} · {entry.title}",
                            ids=tuple((i.kind, i.value) for i in ids))
        blocks.append({"type": "actions", "elements": [button("Escalate", ESCALATE, ref.to_value(), "danger")]})
    blocks.append(divider())
    return blocks


def _escalation_text(match: Match, ids: list[FoundId]) -> str:
    esc = match.entry.escalation
    if esc.to == "none":
        return "*Escalation:* not needed."
    lines = [f"*Escalate to {escape(ESCALATE_TO.get(esc.to, esc.to))}:* {escape(esc.when)}"]
    if esc.to == "vendor-support" and match.source.support_contact:
        lines.append(f"*Contact:* {escape(match.source.support_contact)}")
    include = esc.include or match.source.support_ids
    if include:
        lines.append("*Include:* " + ", ".join(escape(i) for i in include))
    if ids:
        lines.append("*Ids found:*\n" + "\n".join(f"• {escape(i.kind)}: {inline_code(i.value)}" for i in ids))
    return "\n".join(lines)


def _facts(match: Match) -> list[str]:
    seen = f"seen as {inline_code(match.token)}, " if match.token else ""
    facets = " · ".join(f"{escape(k.replace('_', ' '))}: {escape(str(v))}" for k, v in match.facets.items())
    doc = match.entry.doc_url or match.source.doc_url
    return [f"{seen}matched by {_quality(match)}", facets, link(doc, f"{match.source.vendor} docs") if doc else ""]


def _related(match: Match) -> list[str]:
    if match.related:
        return [f"{inline_code(f'{e.source} {e.code}')} {escape(e.title)}" for e in match.related]
    return [inline_code(key) for key in match.entry.related]


def _feedback_unit(lookup_id: int) -> list[Block]:
    value = str(lookup_id)
    return [
        context("Did this answer help? Votes go to whoever keeps the catalog."),
        {"type": "actions", "elements": [button("Helpful", HELPFUL, value, "primary"),
                                         button("Not helpful", NOT_HELPFUL, value)]},
    ]


# --- other messages -------------------------------------------------------------------------------------

TIPS = (
    "*Tips*\n"
    "• Paste the code exactly as the vendor shows it: `-2008`, `486`, "
    "`call.start.error-subscription-concurrency-limit-reached`\n"
    "• Name the vendor or standard: `8x8 -2008`, `sip 503`, `q850 cause 16`\n"
    "• Describe what the caller noticed in a few words: `dead air after transfer`, `call drops after 30 seconds`\n"
    "• Paste the log lines around the failure: every code in them is explained, with the ids support asks for"
)


def render_nothing_found(answer: Answer) -> Message:
    """No match: say so plainly, pass on the engine's notes, and show how to ask better."""
    query = quote_query(answer.query) or "that"
    notes = "\n".join(f":information_source: {escape(n)}" for n in answer.notes)
    text = f":mag: Nothing in the catalog matches {query}.\n{notes}".rstrip() + f"\n{TIPS}"
    return message([*sections(text), context("The question was recorded so the catalog can grow.")])


def render_help() -> Message:
    text = (
        "*voicecode* explains voice-platform error codes (8x8, Vapi, Voxifi, SIP, Q.850): what happened, "
        "who has to act, how to fix it and when to escalate.\n"
        "*Ask*\n"
        "• `/voicecode 486`: a code\n"
        "• `/voicecode 8x8 -2008`: a vendor and a code\n"
        "• `/voicecode caller hears dead air after transfer`: a symptom in words\n"
        "• `/voicecode &lt;pasted log lines&gt;`: every code in the paste, with the ids support asks for\n"
        "• `/voicecode -p 503` (or `--private`): only you see the answer\n"
        "*Elsewhere*\n"
        "• Mention @voicecode with a code, a question or a log paste: the answer comes in the thread.\n"
        "• On any message (an alert, say): More actions (⋮) > *Explain voice codes*, answered in its thread."
    )
    return message(sections(text))


def render_notice(text: str) -> Message:
    """A short note of ours (fallbacks, confirmations); `text` must already be safe mrkdwn."""
    return message(sections(text))


# --- escalation and feedback ----------------------------------------------------------------------------

@dataclass(frozen=True)
class EscalationRef:
    """What an Escalate button carries, so the click can open the modal without looking anything up."""

    key: str
    owner: str
    label: str
    ids: tuple[tuple[str, str], ...]

    def to_value(self, limit: int = MAX_VALUE) -> str:
        """Compact JSON within `limit`; ids that do not fit are dropped from the end."""
        ids = list(self.ids)
        while True:
            value = json.dumps({"k": self.key, "o": self.owner, "l": clip(self.label, MAX_HEADER),
                                "i": ids}, separators=(",", ":"))
            if len(value) <= limit or not ids:
                return value
            ids.pop()

    @classmethod
    def from_value(cls, value: str) -> EscalationRef:
        data = json.loads(value)
        return cls(key=data["k"], owner=data["o"], label=data["l"],
                   ids=tuple((str(k), str(v)) for k, v in data["i"]))


@dataclass(frozen=True)
class EscalationContext:
    """The modal's private_metadata: which answer, and the thread to report back to (None if ephemeral)."""

    ref: EscalationRef
    channel: str
    thread_ts: str | None
    link: str | None

    def to_metadata(self) -> str:
        room = MAX_METADATA - len(json.dumps([self.channel, self.thread_ts, self.link])) - 20
        return json.dumps({"r": self.ref.to_value(min(room, MAX_VALUE)), "c": self.channel,
                           "t": self.thread_ts, "u": self.link}, separators=(",", ":"))

    @classmethod
    def from_metadata(cls, metadata: str) -> EscalationContext:
        data = json.loads(metadata)
        return cls(ref=EscalationRef.from_value(data["r"]), channel=data["c"], thread_ts=data["t"], link=data["u"])


def escalation_modal(ctx: EscalationContext) -> dict[str, Any]:
    """The Escalate modal, prefilled with what the escalation channel needs; the user can edit it."""
    lines = [f"Code: {ctx.ref.label}", *(f"{kind}: {value}" for kind, value in ctx.ref.ids)]
    if ctx.link:
        lines.append(f"Thread: {ctx.link}")
    lines.append("What happened and what was tried: ")
    owner = escape(OWNERS.get(ctx.ref.owner, ctx.ref.owner))
    return {
        "type": "modal", "callback_id": ESCALATE_VIEW, "private_metadata": ctx.to_metadata(),
        "title": plain("Escalate", 24), "submit": plain("Escalate", 24), "close": plain("Cancel", 24),
        "blocks": [
            *sections(f"*{escape(ctx.ref.label)}*\nOwner: {owner}. This posts to the escalation channel."),
            {"type": "input", "block_id": DETAILS_BLOCK, "label": plain("Details for the escalation", 2000),
             "element": {"type": "plain_text_input", "action_id": DETAILS_BLOCK, "multiline": True,
                         "max_length": MAX_INPUT, "initial_value": clip("\n".join(lines), MAX_INPUT)}},
        ],
    }


def escalation_post(ctx: EscalationContext, user_id: str, details: str, usergroup: str | None) -> Message:
    """The message in the escalation channel: our group mention, then the user's details, escaped."""
    group = usergroup_mention(usergroup) + " " if usergroup else ""
    head = f"{group}:rotating_light: *Escalation* from {user_mention(user_id)}: *{escape(ctx.ref.label)}*"
    thread = [context(link(ctx.link, "Open the thread"))] if ctx.link else []
    return message([*sections(head), *sections(escape(details.strip()) or "(no details given)"), *thread])


def feedback_modal(lookup_id: int) -> dict[str, Any]:
    return {
        "type": "modal", "callback_id": FEEDBACK_VIEW, "private_metadata": str(lookup_id),
        "title": plain("Feedback", 24), "submit": plain("Send", 24), "close": plain("Skip", 24),
        "blocks": [
            *sections("Thanks, your *Not helpful* vote is recorded. What was wrong or missing? (optional)"),
            {"type": "input", "block_id": COMMENT_BLOCK, "optional": True, "label": plain("Comment", 2000),
             "element": {"type": "plain_text_input", "action_id": COMMENT_BLOCK, "multiline": True,
                         "max_length": 500}},
        ],
    }
