"""Ids and facts in pasted text that a vendor's support will ask for (session ids, call ids, times, numbers).

Found once per question; a log paste also gets them per code, from the lines around each code.
"""
from __future__ import annotations

import re

from .answer import FoundId
from .text import line_around

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_IDVAL = rf"(?:{_UUID}|[A-Za-z0-9][A-Za-z0-9_.\-]{{1,80}})"
_SEP = r"""["']?\s*[:=]\s*["']?"""

# (kind, pattern, text every match holds); the first group is the value. Order matters only for the label
# of equal values. The needle lets a line without it skip the pattern; a re.I pattern's needle is lower
# case and is looked for in the lower-cased line.
_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("8x8 sessionId", re.compile(rf"\bsession(?:_?id|Id)?{_SEP}({_IDVAL})", re.I), "session"),
    ("8x8 callId", re.compile(rf"\b(?:callA|callB|leg)[^{{}}]{{0,40}}?callId{_SEP}({_IDVAL})"), "callId"),
    ("Call-ID", re.compile(r"^\s*(?:Call-ID|i)\s*:\s*(\S+)", re.I | re.M), ":"),
    ("call id", re.compile(rf"""(?:\bcall_?id|\bcallId|\bcall[._]id|"call"\s*:\s*\{{\s*"id"|\bcall){_SEP}({_IDVAL})""", re.I),
     "call"),
    ("assistant id", re.compile(rf"\bassistant_?id{_SEP}({_IDVAL})", re.I), "assistant"),
    ("subAccountId", re.compile(rf"\bsub_?account_?id{_SEP}({_IDVAL})", re.I), "sub"),
    ("timestamp", re.compile(r"\b(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)"), "-"),
    ("time", re.compile(r"(?<![\d:.])(\d\d:\d\d:\d\d(?:\.\d+)?)(?![\d:])"), ":"),
    ("phone number", re.compile(r"(?<![\w+])(\+\d{8,15})\b"), "+"),
)

# Each rule with whether its needle is looked for in the lower-cased line (a re.I pattern).
_NEEDLES = tuple((kind, rx, needle, bool(rx.flags & re.I)) for kind, rx, needle in _RULES)

MAX_IDS = 40


def _call_id_label(text: str) -> str:
    """Name a generic call id after the vendor the text is about, as support desks ask for it."""
    low = text.lower()
    for word, label in (("vapi", "Vapi call id"), ("endedreason", "Vapi call id"), ("voxifi", "Voxifi call id"),
                        ("8x8", "8x8 callId")):
        if word in low:
            return label
    return "call id"


def find_ids(text: str) -> list[FoundId]:
    """Every id in `text`, first appearance first, without duplicates (at most MAX_IDS: a ticket needs a few)."""
    found: list[tuple[int, FoundId]] = []
    seen: set[str] = set()
    stamped: list[tuple[int, int]] = []
    call_label = ""
    for kind, rx in _may_match(text):
        for m in rx.finditer(text):
            value = m.group(1).strip("\"',;")
            if value in seen or len(value) < 2 or len(found) >= MAX_IDS or not any(c.isdigit() for c in value):
                continue  # an id has digits: "call: failed" and "Session: expired" name no id
            if kind == "time" and any(a <= m.start(1) < b for a, b in stamped):
                continue
            if kind == "timestamp":
                stamped.append(m.span(1))
            if kind == "call id":
                call_label = call_label or _call_id_label(text)
            seen.add(value)
            found.append((m.start(1), FoundId(call_label if kind == "call id" else kind, value)))
    return [f for _, f in sorted(found, key=lambda p: p[0])]


def _may_match(text: str) -> list[tuple[str, re.Pattern[str]]]:
    """The rules whose needle `text` holds, in order: a log line names few of the kinds."""
    # re.I also matches a few non-ASCII letters to ASCII ones (the long s, the Kelvin sign), which lower()
    # does not map: outside ASCII, every case-blind rule is tried.
    lower = text.lower() if text.isascii() else None
    return [(kind, rx) for kind, rx, needle, blind in _NEEDLES
            if ((lower is None or needle in lower) if blind else needle in text)]


class LineIds:
    """Ids per line of one text: in a log, the record a code belongs to. Each line is read once, since a
    paste asks for the same lines again and again (once per code on them)."""

    def __init__(self, text: str):
        self.text = text
        self._by_line: dict[int, list[FoundId]] = {}

    def near(self, position: int) -> list[FoundId]:
        """Ids on the line holding `position`."""
        start, line = line_around(self.text, position)
        if start not in self._by_line:
            self._by_line[start] = find_ids(line)
        return self._by_line[start]
