"""CLI cold start: `voicecode ask "-2008"` as a fresh process, against importing yaml and rapidfuzz alone.

The baseline is the floor any Python CLI using these libraries pays (interpreter start plus imports), so
the ratio says how much the engine adds. Runs of the two commands alternate, so a slow moment of the
machine hits both. The first run of `voicecode` with an empty cache directory builds the pickled engine
(bot/cache.py) and is reported on its own; the other runs find the cache warm.
"""
from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bot.cache import fingerprint
from bot.engine import Engine

from .stats import median, percentile

QUESTION = "-2008"
BASELINE = (sys.executable, "-c", "import yaml, rapidfuzz")
RUN_TIMEOUT = 120.0


@dataclass(frozen=True)
class ColdStart:
    """Wall seconds of the CLI on one catalog: first (cache-building) run, then warm runs, and the baseline."""

    catalog: str
    entries: int
    command: str
    first_s: float | None
    runs: int
    median_s: float
    p90_s: float
    baseline_median_s: float
    ratio: float


def voicecode_command() -> list[str]:
    """The installed `voicecode` script next to this Python, else the module (same code, no shim)."""
    script = Path(sys.executable).with_name("voicecode")
    if script.exists():
        return [str(script)]
    found = shutil.which("voicecode")
    return [found] if found else [sys.executable, "-m", "bot.cli"]


def cli_env(cache_dir: Path, knowledge: Path | None) -> dict[str, str]:
    """The environment of every CLI run: a private cache directory, and the catalog to answer from."""
    env = {k: v for k, v in os.environ.items() if k not in ("VOICECODE_KNOWLEDGE", "VOICECODE_CACHE")}
    env["VOICECODE_CACHE_DIR"] = str(cache_dir)
    if knowledge is not None:
        env["VOICECODE_KNOWLEDGE"] = str(knowledge)
    return env


def prewarm_cache(engine: Engine, knowledge: Path, cache_dir: Path) -> None:
    """Store `engine` where bot/cache.py looks for the engine of `knowledge`, as a first run would.

    For catalogs too big to write and parse as YAML within the benchmark's time budget; if bot/cache.py
    ever names its files differently, the CLI misses this file and the run reports the failure.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / f"engine-{fingerprint(knowledge)}.pickle").open("wb") as handle:
        pickle.dump(engine, handle, protocol=pickle.HIGHEST_PROTOCOL)


def wall(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn to exit; a failing run stops the benchmark (its time would be meaningless)."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=RUN_TIMEOUT, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return elapsed


def measure(catalog: str, entries: int, env: dict[str, str], runs: int, first_run: bool) -> ColdStart:
    """`runs` alternating warm runs of the CLI and the baseline, after the first run when `first_run`."""
    argv = [*voicecode_command(), "ask", QUESTION]
    first = wall(argv, env) if first_run else None
    if not first_run:
        wall(argv, env)  # the page cache and the pickle file are warm for every later run too
    cli: list[float] = []
    base: list[float] = []
    for _ in range(runs):
        base.append(wall(list(BASELINE), env))
        cli.append(wall(argv, env))
    shown = " ".join([Path(argv[0]).name, *argv[1:]])
    return ColdStart(catalog, entries, shown, first, runs, median(cli), percentile(cli, 90), median(base),
                     median(cli) / median(base))
