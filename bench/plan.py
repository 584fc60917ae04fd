"""How much the benchmark measures: the full run behind BENCHMARKS.md, a quick one, and the CI smoke run."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """Every bound of a run: a plan fixes both the work done and the time it may take."""

    name: str
    sizes: tuple[int, ...]  # synthetic catalog sizes measured beside the real catalog, ascending
    samples: int  # timed asks per (catalog, kind of question), at most
    cell_seconds: float  # and at most this long per (catalog, kind)
    log_chars: int  # size of the pasted log
    cli_runs: int  # warm CLI runs on the real catalog (each paired with a baseline run)
    cli_synthetic_runs: int  # warm CLI runs on each synthetic catalog
    levels: tuple[tuple[int, int], ...]  # (concurrent clients, requests in all) per HTTP load level
    rounds: int  # times every level is run (odd: the median is a real round), the two apps taking turns first
    level_seconds: float  # a level stops sending after this long
    drain_timeout: float  # how long to wait for the bot's answers after a level
    memory_level: tuple[int, int]  # the load put on the server with the largest catalog before reading its RSS
    start_timeout: float  # for a server to become healthy

    @property
    def largest(self) -> int:
        return self.sizes[-1]


PLANS: dict[str, Plan] = {
    "full": Plan("full", (10_000, 100_000), samples=300, cell_seconds=8.0, log_chars=40_000, cli_runs=30,
                 cli_synthetic_runs=3, levels=((1, 300), (10, 1000), (50, 2000)), rounds=3,
                 level_seconds=60.0, drain_timeout=180.0, memory_level=(10, 20), start_timeout=180.0),
    "quick": Plan("quick", (10_000,), samples=60, cell_seconds=2.0, log_chars=40_000, cli_runs=8,
                  cli_synthetic_runs=2, levels=((1, 20), (10, 60), (50, 150)), rounds=3,
                  level_seconds=30.0, drain_timeout=90.0, memory_level=(10, 20), start_timeout=90.0),
    "tiny": Plan("tiny", (1_000,), samples=4, cell_seconds=0.5, log_chars=4_000, cli_runs=2,
                 cli_synthetic_runs=1, levels=((1, 3), (3, 6)), rounds=3, level_seconds=20.0,
                 drain_timeout=30.0, memory_level=(2, 2), start_timeout=60.0),
}
