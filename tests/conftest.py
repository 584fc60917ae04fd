"""Shared fixtures: one engine over the real knowledge for the whole run, and small helpers to ask it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from bot.answer import Answer
from bot.engine import Engine, get_engine

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
# The suite (and the CLI processes it starts) use a cache of their own, never the developer's.
os.environ["VOICECODE_CACHE_DIR"] = tempfile.mkdtemp(prefix="voicecode-test-cache-")


@pytest.fixture(scope="session")
def engine() -> Engine:
    return get_engine()


@pytest.fixture(scope="session")
def ask(engine: Engine):
    def _ask(text: str) -> Answer:
        return engine.ask(text)
    return _ask


def top(answer: Answer) -> tuple[str, str] | None:
    """(source, code) of the best match, or None."""
    return (answer.best.entry.source, answer.best.entry.code) if answer.best else None


def found(answer: Answer) -> list[tuple[str, str]]:
    """(source, code) of every recognised code, in order."""
    return [(m.entry.source, m.entry.code) for m in answer.recognised]
