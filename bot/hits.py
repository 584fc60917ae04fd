"""What recognition produces: codes found in a question, and the facts about the question they depend on."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .catalog import Entry
from .text import line_around

MAX_HITS = 200  # a paste with more codes than this is a dump, not a question; the first ones are answered


@dataclass
class Candidate:
    entry: Entry
    via: str
    facets: dict[str, str | int] = field(default_factory=dict)


@dataclass
class Hit:
    """One code found in the text and the catalog entries it can stand for, most likely first."""

    start: int
    end: int
    token: str
    candidates: list[Candidate]
    strong: bool
    context: str = ""
    score: float = 100.0


@dataclass
class Recognition:
    hits: list[Hit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # A code-shaped token the catalog does not hold (-3007, SIP 466): the answer is the note, not a guess.
    unknown_code: bool = False
    # The text's numbers are a port, a close code or a measurement: only clear words may still match.
    explained: bool = False

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def explain(self, message: str) -> None:
        """A number that is something else (a port, a close code): say so, and trust only clear words."""
        self.note(message)
        self.explained = True

    def note_unknown(self, message: str) -> None:
        self.note(message)
        self.unknown_code = True


@dataclass(frozen=True)
class Line:
    text: str
    sip: bool
    http: bool
    websocket: bool


class Question:
    """Facts about the whole question, worked out once per question rather than once per number in it."""

    def __init__(self, text: str, mentioned: frozenset[str], sip_words: re.Pattern[str], http_words: re.Pattern[str],
                 websocket_words: re.Pattern[str]):
        self.text = text
        self.mentioned = mentioned
        self.sip = bool(sip_words.search(text))
        self.http = bool(http_words.search(text))
        self.stripped = text.strip().strip("\"'`.,;:!?()[]{}")
        self.word_count = len(self.stripped.split())
        self.short = self.word_count <= 3  # "-2008", "voxifi 403", "alert: 486": a code and a word or two
        self._patterns = (sip_words, http_words, websocket_words)
        self._lines: dict[int, Line] = {}
        self.memo: dict[tuple[str, str, str, Line], Hit | None] = {}

    def line_at(self, position: int) -> tuple[int, Line]:
        """The line holding `position`: where it starts, and what it talks about."""
        start, body = line_around(self.text, position)
        if start not in self._lines:
            sip, http, websocket = (bool(p.search(body)) for p in self._patterns)
            self._lines[start] = Line(body, sip and not http, http, websocket)
        return start, self._lines[start]
