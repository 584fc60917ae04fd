"""The answer object: what the engine found for one question, rendered by the terminal and by Slack alike.

It carries entries and scores, never formatting; `to_json` is the exact contract scripts rely on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .catalog import Entry, Source

# How a match was reached when the question itself holds the code: its `token` is what was recognised.
RECOGNISED_VIAS = ("exact", "pattern", "context")


@dataclass(frozen=True)
class FoundId:
    """An id or fact found in the question that support will ask for (a session id, a timestamp...)."""

    kind: str
    value: str


@dataclass
class Match:
    entry: Entry
    source: Source
    score: float
    via: str
    token: str | None = None
    facets: dict[str, str | int] = field(default_factory=dict)
    related: list[Entry] = field(default_factory=list)
    ids: list[FoundId] = field(default_factory=list)
    recognised: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.entry.source,
            "code": self.entry.code,
            "title": self.entry.title,
            "score": round(self.score, 1),
            "via": self.via,
            "patterns": list(self.entry.patterns),
            "facets": dict(self.facets),
            "token": self.token if self.via in RECOGNISED_VIAS else None,
        }


@dataclass
class Answer:
    query: str
    matches: list[Match] = field(default_factory=list)
    ids: list[FoundId] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None

    @property
    def recognised(self) -> list[Match]:
        """The matches that stand for codes found in the text, in order of appearance."""
        return [m for m in self.matches if m.recognised]

    @property
    def others(self) -> list[Match]:
        """Matches that are alternatives rather than codes found in the text."""
        return [m for m in self.matches if not m.recognised]

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "matches": [m.to_json() for m in self.matches]}
