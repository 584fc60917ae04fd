"""Per-question latency through Engine.ask, per kind of question and catalog size, and where the time goes.

Each (catalog, kind) cell first asks every question once (regex compilation, lazy imports and first-use
caches are start-up costs, not per-question costs), then cycles through the questions, timing each ask,
until it has `samples` timings or `seconds` have passed (but at least MIN_SAMPLES, so a slow cell still
reports something). The profile is one cProfile pass over each kind's questions.
"""
from __future__ import annotations

import cProfile
import gc
import pstats
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot import cache
from bot.catalog import Catalog
from bot.engine import Engine

from .stats import median, percentile

MIN_SAMPLES = 3
PROFILE_ROWS = 8
STAGE_ROWS = 5
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Cell:
    """Latency of one kind of question on one catalog, in milliseconds."""

    catalog: str
    entries: int
    kind: str
    samples: int
    median_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class ProfileRow:
    """One function's share of a kind of question: calls and milliseconds per question asked."""

    function: str
    calls: float
    own_ms: float
    cumulative_ms: float


@dataclass(frozen=True)
class Profile:
    """`hot`: the most own time (where to optimise); `stages`: the project's functions by total time (which
    step of answering it is)."""

    catalog: str
    kind: str
    ms_per_question: float
    hot: tuple[ProfileRow, ...]
    stages: tuple[ProfileRow, ...]


def build_engine(catalog: Catalog) -> tuple[Engine, float]:
    """The engine as the bot holds it, passed through the cache's format (`cache.reloaded`), and the seconds
    the build took (what a cache miss costs on top of parsing YAML)."""
    start = time.perf_counter()
    engine = Engine(catalog)
    seconds = time.perf_counter() - start
    return cache.reloaded(engine), seconds


@contextmanager
def served(engine: Engine) -> Iterator[Engine]:
    """The engine as the answer process holds it: out of the cycle collector's reach (gc.freeze, as
    bot/slack/answering.py does once it is loaded), so a collection does not walk 100,000 entries' indexes
    in the middle of an ask. Its plain-words index is unpacked first, as the answer process does before it
    says it is ready: unpacked after the freeze, its millions of objects made every full collection take
    150 ms. Unfrozen afterwards, so the engine can be freed."""
    engine.symptoms  # noqa: B018 - unpacked now, to be frozen with the rest
    gc.collect()
    gc.freeze()
    try:
        yield engine
    finally:
        gc.unfreeze()


def time_asks(engine: Engine, questions: tuple[str, ...], samples: int, seconds: float) -> list[float]:
    """Milliseconds per ask, questions in rotation, bounded by `samples` and `seconds`."""
    for question in questions:
        engine.ask(question)
    timings: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(timings) < samples and (len(timings) < MIN_SAMPLES or time.perf_counter() < deadline):
        question = questions[len(timings) % len(questions)]
        start = time.perf_counter_ns()
        engine.ask(question)
        timings.append((time.perf_counter_ns() - start) / 1e6)
    return timings


def measure(engine: Engine, catalog: str, entries: int, kind: str, questions: tuple[str, ...], samples: int,
            seconds: float) -> Cell:
    timings = time_asks(engine, questions, samples, seconds)
    return Cell(catalog, entries, kind, len(timings), median(timings), percentile(timings, 99), max(timings))


def profile(engine: Engine, catalog: str, kind: str, questions: tuple[str, ...]) -> Profile:
    """The functions with the most own time over one pass of `questions`, per question asked."""
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for question in questions:
        engine.ask(question)
    profiler.disable()
    per_question = (time.perf_counter() - start) * 1000 / len(questions)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    n = len(questions)
    rows = [ProfileRow(_label(key), calls / n, own * 1000 / n, cumulative * 1000 / n)
            for key, (_, calls, own, cumulative, _) in stats.items()]
    hot = sorted(rows, key=lambda r: -r.own_ms)[:PROFILE_ROWS]
    ours = [r for r in rows if r.function.startswith("bot/") and not r.function.endswith("(ask)")]
    stages = sorted(ours, key=lambda r: -r.cumulative_ms)[:STAGE_ROWS]
    return Profile(catalog, kind, per_question, tuple(hot), tuple(stages))


def _label(key: tuple[str, int, str]) -> str:
    """`bot/recognize.py:158(fuzzy)`; library files relative to site-packages; builtins as cProfile names them."""
    filename, line, name = key
    if filename == "~":
        return name
    path = Path(filename)
    if path.is_relative_to(ROOT):
        shown = str(path.relative_to(ROOT))
    elif "site-packages" in path.parts:
        shown = "/".join(path.parts[path.parts.index("site-packages") + 1:])
    else:
        shown = path.name
    return f"{shown}:{line}({name})"
