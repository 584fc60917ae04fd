"""`python -m bench [--quick | --tiny] [--out FILE] [--json FILE]`: measure everything issue 5 asks, side by side.

The full run (about 5 minutes on 2 cores) writes BENCHMARKS.md; `--quick` (no 100k catalog, fewer
samples, about 2 minutes) and `--tiny` (the CI smoke run, seconds) print the report unless `--out` is
given, so a short run never replaces the committed numbers by accident. No network: everything listens on
127.0.0.1, and the Slack Web API is a local fake.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bot.catalog import Catalog, load
from bot.slack.server import THREADS

from . import cold_start, latency, load as http
from .machine import load_average, machine_info, source_stamp
from .plan import PLANS, Plan
from .queries import question_sets, slash_questions
from .report import render
from .results import REAL, CatalogInfo, Results
from .synthetic import synthetic_catalog, write_yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "BENCHMARKS.md"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="real and 10k catalogs only, fewer samples")
    size.add_argument("--tiny", action="store_true", help="the CI smoke configuration (seconds)")
    p.add_argument("--out", type=Path, help="Markdown report path (default: BENCHMARKS.md for a full run, "
                                            "else standard output)")
    p.add_argument("--json", type=Path, help="also write every measurement as JSON")
    return p


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _label(size: int) -> str:
    """`10k` for a synthetic catalog of 10,000 entries: the catalog's name in every table and scratch path."""
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def _engine_section(plan: Plan, results: Results, label: str, catalog: Catalog,
                    questions: dict[str, tuple[str, ...]], profiled: bool) -> None:
    """Latency of every kind of question on one catalog (and its profile, for the real and the largest)."""
    built, build_s = latency.build_engine(catalog)
    entries = len(catalog.entries)
    results.catalogs.append(CatalogInfo(label, entries, sum(e.is_family for e in catalog.entries), build_s))
    with latency.served(built) as engine:
        for kind, asked in questions.items():
            cell = latency.measure(engine, label, entries, kind, asked, plan.samples, plan.cell_seconds)
            results.latency.append(cell)
            _say(f"  {label} {kind}: median {cell.median_ms:.2f} ms, p99 {cell.p99_ms:.2f} ms ({cell.samples} asks)")
            if profiled:
                results.profiles.append(latency.profile(engine, label, kind, asked))


def _cli_section(results: Results, workdir: Path, label: str, knowledge: Path | None, runs: int) -> None:
    """CLI cold start on one catalog; its cache directory is the one the HTTP section's server uses."""
    env = cold_start.cli_env(workdir / f"cache-{label}", knowledge)
    entries = next(c.entries for c in results.catalogs if c.label == label)
    measured = cold_start.measure(label, entries, env, runs)
    results.cold_start.append(measured)
    _say(f"  CLI {label}: median {measured.median_s * 1000:.0f} ms, {measured.ratio:.2f}x the baseline")


def _engines_and_cli(plan: Plan, results: Results, workdir: Path) -> None:
    """One catalog at a time (a 100k engine takes gigabytes): latency, profile, CLI."""
    base = load()
    questions = question_sets(plan.log_chars)
    _say(f"engine latency and CLI, real catalog ({len(base.entries)} entries)")
    _engine_section(plan, results, REAL, base, questions, profiled=True)
    _cli_section(results, workdir, REAL, None, plan.cli_runs)
    for size in plan.sizes:
        _say(f"engine latency and CLI, synthetic catalog of {size:,} entries")
        catalog = synthetic_catalog(base, size)
        _engine_section(plan, results, _label(size), catalog, questions, profiled=size == plan.largest)
        knowledge = workdir / f"knowledge-{_label(size)}"
        write_yaml(catalog, knowledge)
        del catalog
        gc.collect()
        _cli_section(results, workdir, _label(size), knowledge, plan.cli_synthetic_runs)


def _http_section(plan: Plan, results: Results, workdir: Path) -> None:
    """The bot against the bare app on the real catalog, then the bot alone on the largest catalog."""
    questions = slash_questions()
    fake = http.FakeApi(workdir / "fake-slack.log")
    try:
        _say("HTTP load: bot and bare app on the real catalog")
        levels, memory = http.compare(fake, workdir, workdir / f"cache-{REAL}", results.catalogs[0].entries,
                                      questions, plan)
        results.http.extend(levels)
        results.memory.extend(memory)
        label = _label(plan.largest)
        _say(f"HTTP: bot serving {plan.largest:,} entries, for its memory")
        level, mem = http.largest(fake, workdir, workdir / f"cache-{label}", workdir / f"knowledge-{label}",
                                  plan.largest, questions, plan)
        results.http.append(level)
        results.memory.append(mem)
    finally:
        fake.close()


def _unchanged(stamp: str) -> None:
    if source_stamp(ROOT) != stamp:
        raise RuntimeError("bot/ changed while the benchmark ran, so it measured two versions; rerun it")


def run(plan: Plan, command: str) -> Results:
    """Every measurement of the plan, in a scratch directory removed afterwards (kept when a step fails)."""
    results = Results(plan=plan.name, command=command, machine=machine_info(ROOT),
                      started=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    started = time.perf_counter()
    stamp = source_stamp(ROOT)
    workdir = Path(tempfile.mkdtemp(prefix="voicecode-bench-"))
    try:
        _engines_and_cli(plan, results, workdir)
        _unchanged(stamp)
        _http_section(plan, results, workdir)
        _unchanged(stamp)
    except BaseException:
        _say(f"failed; logs and scratch files kept in {workdir}")
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    results.machine["load average at end"] = load_average()
    results.duration_s = time.perf_counter() - started
    return results


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    plan = PLANS["quick" if args.quick else "tiny" if args.tiny else "full"]
    command = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])])
    results = run(plan, command)
    markdown = render(results, THREADS, len(os.sched_getaffinity(0)))
    out = args.out or (DEFAULT_OUT if plan.name == "full" else None)
    if out is None:
        sys.stdout.write(markdown)
    else:
        out.write_text(markdown, encoding="utf-8")
        _say(f"wrote {out}")
    if args.json:
        args.json.write_text(json.dumps(dataclasses.asdict(results), indent=2) + "\n", encoding="utf-8")
    missed = [t.what for t in results.targets() if not t.met]
    _say(f"{len(results.targets()) - len(missed)} of {len(results.targets())} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
