"""The feedback store and `voicecode report`."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bot.store import Store, report


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "voicecode.db")


def test_wal_mode(store: Store) -> None:
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_one_vote_per_user_per_answer_and_it_can_change(store: Store) -> None:
    lookup = store.record_lookup(["sip:486"], "486", "command")
    store.vote(lookup, "U1", True)
    store.vote(lookup, "U1", False)
    store.comment(lookup, "U1", "  missing the carrier step  ")
    store.vote(lookup, "U2", True)
    store.vote(lookup, "U1", False)  # voting again keeps the comment
    with sqlite3.connect(store.path) as db:
        rows = db.execute("SELECT user_id, helpful, comment FROM votes ORDER BY user_id").fetchall()
    assert rows == [("U1", 0, "missing the carrier step"), ("U2", 1, None)]


def test_only_unanswered_questions_keep_their_text(store: Store) -> None:
    store.record_lookup(["sip:486"], "486 from +15551234567", "command")
    store.record_lookup([], "Strange beeping", "mention")
    store.record_lookup([], "strange beeping", "command")
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT question FROM lookups WHERE answered = 1").fetchall() == [(None,)]
    assert [(q.lower(), n) for q, n, _ in store.unanswered(10)] == [("strange beeping", 2)]


def test_report_lists_top_codes_least_helpful_and_unanswered(store: Store) -> None:
    for _ in range(3):
        store.record_lookup(["sip:503", "q850:34"], "log", "mention")
    bad = store.record_lookup(["vapi:pipeline-error"], "x", "command")
    store.vote(bad, "U1", False)
    store.comment(bad, "U1", "wrong owner")
    store.vote(bad, "U2", False)
    store.vote(store.record_lookup(["sip:503"], "503", "command"), "U3", True)
    store.record_lookup([], "what is error 77?", "command")
    text = report(store.path, limit=5)
    top = text.split("Most looked-up codes")[1].split("Least helpful")[0]
    assert top.index("sip:503") < top.index("q850:34") and "    4  sip:503" in top
    assert "2 not helpful / 0 helpful  vapi:pipeline-error" in text and "latest comment: wrong owner" in text
    assert "1x  what is error 77?" in text


def test_report_on_an_empty_or_missing_database(tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "no lookups recorded yet" in report(store.path)
    monkeypatch.setenv("VOICECODE_DB", str(tmp_path / "absent.db"))
    assert "No feedback database at" in report()
    assert not (tmp_path / "absent.db").exists()


def test_concurrent_writers(store: Store) -> None:
    def write(n: int) -> None:
        for i in range(20):
            store.vote(store.record_lookup([f"sip:{n}"], "q", "command"), f"U{i}", i % 2 == 0)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 160


def test_a_failed_write_is_rolled_back_and_the_next_one_lands(store: Store) -> None:
    kept = store.record_lookup(["sip:486"], "q", "command")
    with pytest.raises(sqlite3.IntegrityError), store._connect() as db:
        db.execute("INSERT INTO lookups (at, surface, answered) VALUES (1, 'command', 1)")
        db.execute("INSERT INTO votes (lookup_id, user_id, helpful, at) VALUES (NULL, 'U1', 1, 1)")  # NOT NULL
    assert store.record_lookup([], "after the failure", "command") == kept + 1  # the half-done insert is gone
    assert len(store.unanswered(10)) == 1


def test_writes_from_another_process_are_seen(store: Store) -> None:
    first = store.record_lookup(["sip:486"], "q", "command")
    Store(store.path).record_lookup(["sip:503"], "q", "command")  # another connection, as the answer process has
    assert dict(store.top_codes(10)) == {"sip:486": 1, "sip:503": 1} and first == 1
