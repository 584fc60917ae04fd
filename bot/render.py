"""Terminal rendering of an Answer: the same facts the Slack thread shows, as plain text."""
from __future__ import annotations

import textwrap

from .answer import Answer, Match
from .catalog import ESCALATE_TO, OWNERS

WIDTH = 100
MAX_DETAILED = 4
NO_MATCH_TIPS = (
    "Paste the exact code or the log line that holds it (e.g. -2008, customer-did-not-answer, SIP/2.0 486).",
    "Name the vendor or layer if you know it (8x8, number masking, Vapi, Voxifi, SIP, Q.850).",
    "Describe what the caller experienced in a few words (\"phone never rang\", \"silence after transfer\").",
)


def _wrap(text: str, indent: str = "   ") -> str:
    return textwrap.fill(" ".join(text.split()), WIDTH, initial_indent=indent, subsequent_indent=indent)


def facets_line(match: Match) -> str:
    """`component=llm vendor=openai http_status=429` for structured codes, else empty."""
    return " ".join(f"{k}={v}" for k, v in match.facets.items())


def headline(match: Match) -> str:
    e = match.entry
    return f"{match.source.vendor} {e.code}: {e.title}"


def _detail(match: Match) -> list[str]:
    e, s = match.entry, match.source
    lines = [f"== {headline(match)}", f"   source {s.id} | via {match.via} | score {match.score:.0f}"
             + (f" | seen as {match.token!r}" if match.token and match.token != e.code else "")]
    if match.facets:
        lines.append(f"   parsed: {facets_line(match)}")
    if e.normal:
        lines.append("   NOT AN ERROR: this is a normal ending.")
    lines += ["", " What it means:", _wrap(e.meaning), "", " What the caller experienced:", _wrap(e.symptom),
              "", f" Who owns it: {OWNERS.get(e.owner, e.owner)}", "", " How to fix it:"]
    lines += [textwrap.fill(f"{i}. {step}", WIDTH, initial_indent="   ", subsequent_indent="      ")
              for i, step in enumerate(e.fix, 1)]
    esc = e.escalation
    lines += ["", f" Escalate to {ESCALATE_TO.get(esc.to, esc.to)}:", _wrap(esc.when)]
    if esc.to == "vendor-support" and s.support_contact:
        lines.append(_wrap(f"Contact: {s.support_contact}"))
    include = esc.include or s.support_ids
    if include:
        lines.append(_wrap("Include: " + "; ".join(include)))
    if match.ids:
        lines.append(_wrap("Found near this code: " + "; ".join(f"{i.kind} {i.value}" for i in match.ids)))
    if match.related:
        lines += ["", " See also:"] + [f"   - {r.source} {r.code}: {r.title}" for r in match.related]
    lines.append(f"\n Docs: {e.doc_url or s.doc_url}")
    return lines


def render_text(answer: Answer) -> str:
    """The full terminal answer: details for the best matches, one line for the rest, then notes."""
    if not answer.matches:
        out = ["No credible match in the catalog for this question."]
        out += [f"Note: {n}" for n in answer.notes]
        out += ["Tips:"] + [f"  - {t}" for t in NO_MATCH_TIPS]
        return "\n".join(out) + "\n"
    detailed = answer.recognised[:MAX_DETAILED] or answer.matches[:1]
    out: list[str] = []
    for match in detailed:
        out += _detail(match) + [""]
    rest = [m for m in answer.matches if m not in detailed]
    if rest:
        out.append("Other likely matches:")
        out += [f"  - {headline(m)}  ({m.source.id}, {m.via}, {m.score:.0f})" for m in rest]
    if answer.ids:
        out.append("Ids in your text: " + "; ".join(f"{i.kind} {i.value}" for i in answer.ids))
    out += [f"Note: {n}" for n in answer.notes]
    return "\n".join(out).rstrip() + "\n"
