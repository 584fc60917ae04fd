"""CLI cold start: `voicecode ask "-2008"` as a fresh process, against importing yaml and rapidfuzz alone.

The baseline is the floor any Python CLI using these libraries pays (interpreter start plus imports), so
the ratio says how much the engine adds. Runs of the two commands alternate, so a slow moment of the
machine hits both. The first run of `voicecode` with an empty cache directory builds the pickled engine
(bot/cache.py) and is reported on its own; the other runs find the cache warm.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .stats import median, percentile

QUESTION = "-2008"
BASELINE = (sys.executable, "-c", "import yaml, rapidfuzz")
RUN_TIMEOUT = 600.0  # the first run on 100,000 entries parses ~100 MB of YAML


@dataclass(frozen=True)
class ColdStart:
    """Wall seconds of the CLI on one catalog: first (cache-building) run, then warm runs, and the baseline."""

    catalog: str
    entries: int
    command: str
    first_s: float
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
    """The environment of every CLI run: a private cache directory, the catalog to answer from, and Python's
    bytecode cache on as on any normal install (some shells here set PYTHONDONTWRITEBYTECODE, which makes
    every start recompile the modules and says nothing about the product)."""
    dropped = ("VOICECODE_KNOWLEDGE", "VOICECODE_CACHE", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["VOICECODE_CACHE_DIR"] = str(cache_dir)
    if knowledge is not None:
        env["VOICECODE_KNOWLEDGE"] = str(knowledge)
    return env


def wall(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn to exit; a failing run stops the benchmark (its time would be meaningless)."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=RUN_TIMEOUT, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return elapsed


def measure(catalog: str, entries: int, env: dict[str, str], runs: int) -> ColdStart:
    """The first run (on an empty cache directory), then `runs` alternating warm runs of CLI and baseline."""
    argv = [*voicecode_command(), "ask", QUESTION]
    first = wall(argv, env)
    cli: list[float] = []
    base: list[float] = []
    for _ in range(runs):
        base.append(wall(list(BASELINE), env))
        cli.append(wall(argv, env))
    shown = " ".join([Path(argv[0]).name, *argv[1:]])
    return ColdStart(catalog, entries, shown, first, runs, median(cli), percentile(cli, 90), median(base),
                     median(cli) / median(base))
