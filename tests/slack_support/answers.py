"""Answers built by hand, for rendering tests that must not depend on what the catalog says today."""
from __future__ import annotations

from bot.answer import Answer, FoundId, Match
from bot.catalog import Entry, Escalation, Source

SOURCE = Source(id="acme", vendor="Acme", title="Acme voice codes", doc_url="https://docs.acme.test/codes",
                vendor_words=("acme",), support_contact="support@acme.test", support_ids=("Acme call id",))


def entry(code: str, *, owner: str = "vendor-platform", normal: bool = False,
          fix: tuple[str, ...] = ("Retry the call.",), title: str | None = None, meaning: str = "The platform failed.",
          related: tuple[str, ...] = ()) -> Entry:
    return Entry(source="acme", code=code, title=title or f"Failure {code}", meaning=meaning,
                 symptom="The caller hears silence.", owner="nobody" if normal else owner, normal=normal, fix=fix,
                 escalation=Escalation(when="If it persists for 5 minutes.", to="none" if normal else "vendor-support",
                                       include=("Acme call id", "timestamps (UTC)")),
                 related=related)


def match(e: Entry, *, recognised: bool = True, score: float = 100.0, via: str = "exact",
          ids: tuple[FoundId, ...] = ()) -> Match:
    return Match(entry=e, source=SOURCE, score=score, via=via, token=e.code if recognised else None,
                 ids=list(ids), recognised=recognised)


def answer(query: str, *matches: Match, notes: tuple[str, ...] = (), ids: tuple[FoundId, ...] = ()) -> Answer:
    return Answer(query=query, matches=list(matches), ids=list(ids), notes=list(notes))
