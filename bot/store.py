"""Durable record of what people asked and whether the answers helped, for whoever keeps the catalog.

SQLite (stdlib) in WAL mode so the bot's threads, its answer process and `voicecode report` can use the
file at once. Each thread keeps its own connection (a connection per operation cost more than the lookup
it recorded). With WAL, synchronous=NORMAL keeps every commit through a crash of the process; only a power
loss may take back the last few. Question text is kept only for questions nothing answered (that is what
the report needs); answered lookups keep just the codes.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

DEFAULT_DB = "voicecode.db"
MAX_QUERY = 500
SCHEMA = """
CREATE TABLE IF NOT EXISTS lookups (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    surface TEXT NOT NULL,
    answered INTEGER NOT NULL,
    question TEXT
);
CREATE TABLE IF NOT EXISTS lookup_codes (
    lookup_id INTEGER NOT NULL REFERENCES lookups(id),
    position INTEGER NOT NULL,
    entry_key TEXT NOT NULL,
    PRIMARY KEY (lookup_id, position)
);
CREATE INDEX IF NOT EXISTS lookup_codes_key ON lookup_codes(entry_key);
CREATE TABLE IF NOT EXISTS votes (
    lookup_id INTEGER NOT NULL REFERENCES lookups(id),
    user_id TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    comment TEXT,
    at REAL NOT NULL,
    PRIMARY KEY (lookup_id, user_id)
);
"""


class Store:
    """Lookups, votes and unanswered questions in one SQLite file."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = str(path)
        self._local = threading.local()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, in a transaction committed on success and rolled back on error."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10)
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        with db:
            yield db

    def record_lookup(self, keys: Sequence[str], question: str, surface: str) -> int:
        """Store one question and the codes it was answered with (none: unanswered); returns the lookup id.

        Who asked and where is not kept: the report does not need it.
        """
        answered = bool(keys)
        with self._connect() as db:
            cur = db.execute(
                "INSERT INTO lookups (at, surface, answered, question) VALUES (?, ?, ?, ?)",
                (time.time(), surface, int(answered), None if answered else question.strip()[:MAX_QUERY]),
            )
            lookup_id = int(cur.lastrowid or 0)
            db.executemany("INSERT INTO lookup_codes (lookup_id, position, entry_key) VALUES (?, ?, ?)",
                           [(lookup_id, i, key) for i, key in enumerate(keys)])
        return lookup_id

    def vote(self, lookup_id: int, user_id: str, helpful: bool) -> None:
        """One vote per user per answer: voting again changes the vote and keeps any comment."""
        with self._connect() as db:
            db.execute(
                "INSERT INTO votes (lookup_id, user_id, helpful, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (lookup_id, user_id) DO UPDATE SET helpful = excluded.helpful, at = excluded.at",
                (lookup_id, user_id, int(helpful), time.time()),
            )

    def comment(self, lookup_id: int, user_id: str, comment: str) -> None:
        """Attach a comment to the user's vote (a comment only comes with "Not helpful")."""
        with self._connect() as db:
            db.execute(
                "INSERT INTO votes (lookup_id, user_id, helpful, comment, at) VALUES (?, ?, 0, ?, ?) "
                "ON CONFLICT (lookup_id, user_id) DO UPDATE SET comment = excluded.comment, at = excluded.at",
                (lookup_id, user_id, comment.strip()[:MAX_QUERY] or None, time.time()),
            )

    def top_codes(self, limit: int) -> list[tuple[str, int]]:
        with self._connect() as db:
            return db.execute(
                "SELECT entry_key, COUNT(*) AS n FROM lookup_codes GROUP BY entry_key "
                "ORDER BY n DESC, entry_key LIMIT ?", (limit,)).fetchall()

    def least_helpful(self, limit: int) -> list[tuple[str, int, int, str | None]]:
        """(code, not helpful, helpful, latest comment) for codes with at least one "Not helpful" vote.

        A vote counts for the first code of the answer it was given on (the headline the reader judged).
        """
        with self._connect() as db:
            return db.execute(
                "SELECT c.entry_key, SUM(v.helpful = 0) AS bad, SUM(v.helpful = 1) AS good, "
                "(SELECT v2.comment FROM votes v2 JOIN lookup_codes c2 ON c2.lookup_id = v2.lookup_id "
                " AND c2.position = 0 WHERE c2.entry_key = c.entry_key AND v2.comment IS NOT NULL "
                " ORDER BY v2.at DESC LIMIT 1) "
                "FROM votes v JOIN lookup_codes c ON c.lookup_id = v.lookup_id AND c.position = 0 "
                "GROUP BY c.entry_key HAVING bad > 0 ORDER BY bad - good DESC, bad DESC, c.entry_key LIMIT ?",
                (limit,)).fetchall()

    def unanswered(self, limit: int) -> list[tuple[str, int, float]]:
        """(question, times asked, last asked) for questions that found nothing, most asked first."""
        with self._connect() as db:
            return db.execute(
                "SELECT question, COUNT(*) AS n, MAX(at) AS last FROM lookups WHERE answered = 0 "
                "GROUP BY lower(question) ORDER BY n DESC, last DESC LIMIT ?", (limit,)).fetchall()


def default_db_path(environ: Mapping[str, str] | None = None) -> str:
    """$VOICECODE_DB, else voicecode.db in the working directory."""
    env = os.environ if environ is None else environ
    return env.get("VOICECODE_DB", "").strip() or DEFAULT_DB


def report(db_path: str | None = None, limit: int = 10) -> str:
    """The catalog keeper's report: most looked-up codes, least helpful answers, unanswered questions."""
    path = db_path or default_db_path()
    if not Path(path).exists():
        return f"No feedback database at {path} yet: nothing has been recorded (the bot writes it; see VOICECODE_DB)."
    store = Store(path)
    sections = [
        _section("Most looked-up codes", [f"{n:>5}  {key}" for key, n in store.top_codes(limit)],
                 "no lookups recorded yet"),
        _section("Least helpful answers", [_unhelpful_line(*row) for row in store.least_helpful(limit)],
                 "no \"Not helpful\" votes yet"),
        _section("Unanswered questions",
                 [f"{n:>5}x  {q}   (last {_day(last)})" for q, n, last in store.unanswered(limit)],
                 "none: every question found an answer"),
    ]
    return f"voicecode report ({path})\n\n" + "\n\n".join(sections) + "\n"


def _section(title: str, lines: list[str], empty: str) -> str:
    return "\n".join([title, "-" * len(title), *(lines or [f"  ({empty})"])])


def _unhelpful_line(key: str, bad: int, good: int, comment: str | None) -> str:
    line = f"{bad:>5} not helpful / {good} helpful  {key}"
    return f"{line}\n         latest comment: {comment}" if comment else line


def _day(at: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(at))
