"""Everything one run measured, and the issue's targets judged against it."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .cold_start import ColdStart
from .latency import Cell, Profile
from .load import BOT, BARE, Level, Memory
from .stats import median

REAL = "real"
TARGET_SIZE = 100_000
REAL_MEDIAN_MS = 1.0
REAL_P99_MS = 5.0
LARGE_P99_MS = 20.0
CLI_RATIO = 2.0
ACK_P99_MS = 50.0
ACK_CLIENTS = 50
THROUGHPUT_RATIO = 0.8


@dataclass(frozen=True)
class CatalogInfo:
    """A catalog the engine was timed on, and what building its engine cost."""

    label: str
    entries: int
    families: int
    build_s: float


@dataclass(frozen=True)
class Target:
    """One of issue 5's targets, the number it was judged on, and the verdict."""

    what: str
    measured: str
    met: bool


@dataclass(frozen=True)
class Pair:
    """The bot and the bare app at one level of concurrency in one round: measured back to back, so a slow
    moment of the machine hits both."""

    bot: Level
    bare: Level

    @property
    def ratio(self) -> float:
        return self.bot.throughput / self.bare.throughput if self.bare.throughput else 0.0

    @property
    def bot_p99_ms(self) -> float:
        """The bot's ack p99; a round in which no ack came back in time counts as infinitely slow."""
        return self.bot.p99_ms if self.bot.ok else math.inf


@dataclass
class Results:
    """Everything one run measured, filled in section by section; also what the JSON output holds."""

    plan: str
    command: str
    started: str
    machine: dict[str, str]
    duration_s: float = 0.0
    catalogs: list[CatalogInfo] = field(default_factory=list)
    latency: list[Cell] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)
    cold_start: list[ColdStart] = field(default_factory=list)
    http: list[Level] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)

    def targets(self) -> list[Target]:
        """Issue 5's targets, each with the number it was judged on; a target not measured is not listed."""
        return [*self._latency_targets(), *self._cli_targets(), *self._http_targets()]

    def missed(self, cell: Cell) -> bool:
        """Whether a latency cell misses the target for its catalog (only the real and 100k ones have one)."""
        if cell.catalog == REAL:
            return cell.median_ms > REAL_MEDIAN_MS or cell.p99_ms > REAL_P99_MS
        return cell.entries >= TARGET_SIZE and cell.p99_ms > LARGE_P99_MS

    def _latency_targets(self) -> list[Target]:
        out = []
        for cell in self.latency:
            if cell.catalog == REAL:
                what = f"{cell.kind}, real catalog: median ≤ {REAL_MEDIAN_MS:g} ms, p99 ≤ {REAL_P99_MS:g} ms"
                measured = f"median {cell.median_ms:.2f} ms, p99 {cell.p99_ms:.2f} ms"
            elif cell.entries >= TARGET_SIZE:
                what = f"{cell.kind}, {cell.entries:,} entries: p99 ≤ {LARGE_P99_MS:g} ms"
                measured = f"p99 {cell.p99_ms:.2f} ms"
            else:
                continue
            out.append(Target(what, measured, not self.missed(cell)))
        return out

    def _cli_targets(self) -> list[Target]:
        return [Target(f"CLI cold start, real catalog: ≤ {CLI_RATIO:g}x `import yaml, rapidfuzz`",
                       f"{c.ratio:.2f}x ({c.median_s * 1000:.0f} ms vs {c.baseline_median_s * 1000:.0f} ms)",
                       c.ratio <= CLI_RATIO) for c in self.cold_start if c.catalog == REAL]

    def pairs(self) -> dict[int, list[Pair]]:
        """Concurrent clients -> the bot and the bare app at that level, one pair per round."""
        bare = {(lv.clients, lv.round): lv for lv in self.http if lv.app == BARE}
        out: dict[int, list[Pair]] = {}
        for lv in self.http:
            if lv.app == BOT and (lv.clients, lv.round) in bare:
                out.setdefault(lv.clients, []).append(Pair(lv, bare[(lv.clients, lv.round)]))
        return dict(sorted(out.items()))

    def _http_targets(self) -> list[Target]:
        """Judged on the median over the rounds: of the bot's ack p99, and of the bot/bare throughput ratio."""
        pairs = self.pairs()
        out = []
        if ACK_CLIENTS in pairs:
            p99s = [p.bot_p99_ms for p in pairs[ACK_CLIENTS]]
            out.append(Target(f"HTTP ack p99 at {ACK_CLIENTS} concurrent clients ≤ {ACK_P99_MS:g} ms",
                              f"{median(p99s):.1f} ms ({_rounds(p99s, '{:.1f}')} ms)", median(p99s) <= ACK_P99_MS))
        for clients, paired in pairs.items():
            ratios = [p.ratio for p in paired]
            out.append(Target(f"HTTP throughput at {clients} concurrent: ≥ {THROUGHPUT_RATIO:g}x the bare app",
                              f"{median(ratios):.3f}x ({_rounds(ratios, '{:.3f}x')})",
                              median(ratios) >= THROUGHPUT_RATIO))
        return out


def _rounds(values: list[float], style: str) -> str:
    """`median of 3 rounds: 0.81x, 0.77x, 0.85x`."""
    return f"median of {len(values)} rounds: " + ", ".join(style.format(v) for v in values)
