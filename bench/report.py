"""BENCHMARKS.md, written from one run's results: method, machine, tables, and the targets met or missed."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from .cold_start import QUESTION
from .latency import Profile, ProfileRow
from .load import BARE, Level
from .plan import PLANS
from .results import ACK_CLIENTS, Results
from .stats import median

METHOD_LATENCY = """\
Each question goes through `Engine.ask`, in process, on an engine built once per catalog, passed through
the cache's pickle format (in memory, no I/O; the answer process and the CLI load theirs from the cache),
its plain-words index unpacked, and then frozen out of the cycle collector's reach (`gc.freeze()`), as
the bot's answer process holds it. Per catalog and kind of question, every question is asked once
untimed (regex compilation and first-use caches are start-up costs), then the questions are asked in
rotation and each ask is timed with `time.perf_counter_ns`, up to {samples} asks or {seconds:g} s per cell
(at least 3 asks). The median and p99 are nearest-rank over all asks of the kind, so a p99 from fewer
than 100 asks is the slowest ask.

Synthetic catalogs are the real catalog plus generated entries up to the size (`bench/synthetic.py`,
seeded): positive and negative numeric codes (45 %), kebab word codes (30 %), dotted phase codes (12 %),
UPPER_SNAKE codes (8 %) and wildcard families with patterns (5 %), in six extra sources. Their prose
(meaning, symptom, fix, keywords) is borrowed from real entries, so the plain-words index sees the word
frequencies of a catalog made of many vendors' lists; their codes never collide with the real ones, so
each question keeps its answer at every size.

Questions (`bench/queries.py`): exact codes in the forms people paste (`-2008`, `SIP/2.0 486 Busy Here`,
`NO_ROUTE_DESTINATION`, a Vapi code reached through its family, `Q.850 cause 16`, `voxifi 403`), typos of
codes, symptoms in words, and one log paste of {log_chars:,} characters (FreeSWITCH, Asterisk, Kamailio,
8x8, Vapi, Voxifi and Telnyx lines with timestamps, UUIDs, hosts and ports, ten lines per call).
"""

METHOD_CLI = """\
Wall time of a fresh process, from spawn to exit, `{command}` against `python -c "import yaml,
rapidfuzz"` with the same interpreter; runs of the two alternate. Each catalog gets a private, empty cache
directory (`VOICECODE_CACHE_DIR`), and synthetic catalogs are written as knowledge YAML (one file per
source, as people write them) and named by `VOICECODE_KNOWLEDGE`. The first run parses the YAML, builds
the engine and pickles it into the cache (bot/cache.py), as the first start after a deploy does: it is
reported on its own. The other runs find the cache warm.
"""

METHOD_HTTP = """\
`voicecode serve --http` (the real command: one gunicorn gthread worker, {threads} threads, Bolt behind
`bot.slack.server.wsgi_app`, whose listeners ack and hand each answer to the answer process the worker
starts, bot/slack/answering.py) and a bare Bolt app whose `/voicecode` handler only acks, served through
the same `bot.slack.server.run_http` (so: the same gunicorn settings and WSGI wrapper), run side by side on
127.0.0.1, both with `SLACK_API_URL` pointing at the fake Slack Web API of tests/slack_support running in
its own process. Both run Bolt with `process_before_response`, as the bot does: the listener runs in the
request's thread and the response goes out when it returns (Bolt's default hands the listener to an
executor and polls for its ack every 10 ms). Neither writes an access log (off in `voicecode serve` unless
`VOICECODE_ACCESS_LOG=1`).

Requests are slash commands exactly as Slack sends them: form body, `X-Slack-Signature` (v0 HMAC-SHA256) and
`X-Slack-Request-Timestamp`, signed and encoded before the level starts and sent each on a new connection by a
bare socket client (bench/load.py), so the load generator's own Python work stays small beside the servers'.
The texts rotate through the exact, typo and symptom questions. Per level, N client threads each send their
share of the requests back to back; ack latency is from sending a request to reading its whole response (what
Slack waits for), throughput is acks per second of the level's wall time. Every level is run {rounds} times,
the two apps taking turns to go first; the targets are judged on the median over the rounds (nearest rank) of
the bot's ack p99 and of the ratio of the two apps' throughputs within a round, which were measured back to
back. A request not answered with 200 within Slack's 3 s counts as failed (missing from "200 OK" and from the
latency percentiles), as Slack would show the user an error. Before each level the bot's answers for the
previous one must all have reached the fake Slack (thread parent or response_url post per command): "drain" is
how long that took after the level's last ack. Server CPU is user plus system time of the gunicorn arbiter,
worker and answer process (/proc/PID/stat) over the level and its drain, per request: for the bot it includes
the answer's work; "cores busy" is that CPU over the same wall time. One warm-up pass of the questions per
server is not counted. The client threads, the fake Slack and the servers share the machine's {cores} cores.
"""

METHOD_MEMORY = """\
Read from /proc after the load: `VmHWM` (peak resident set) of the gunicorn worker that serves requests,
of the answer process it starts (the bot's engine lives there; the bare app has none) and of the arbiter,
and the proportional set size (`Pss`, shared pages split between the processes) of every process of the
server together (arbiter, worker, answer process and the multiprocessing helper), which is the memory the
server really costs. "Start to healthy" ends when /healthz answers 200, which for the bot means its
answer process has loaded the engine. The largest catalog is served from the warm engine cache, after a
small load of {requests} commands from {clients} clients.
"""


def render(results: Results, threads: int, cores: int) -> str:
    """The whole of BENCHMARKS.md."""
    plan = PLANS[results.plan]
    parts = [
        _header(results), _targets(results), _machine(results),
        "## 1. Engine latency\n\n" + METHOD_LATENCY.format(samples=plan.samples, seconds=plan.cell_seconds,
                                                              log_chars=plan.log_chars),
        _catalogs(results), _growth(results), _cells(results), _profiles(results),
        "## 2. CLI cold start\n\n" + METHOD_CLI.format(command=f'voicecode ask "{QUESTION}"'),
        _cold_start(results),
        "## 3. HTTP mode under load\n\n" + METHOD_HTTP.format(threads=threads, cores=cores, rounds=plan.rounds),
        _http(results),
        "## 4. Memory\n\n" + METHOD_MEMORY.format(clients=plan.memory_level[0], requests=plan.memory_level[1]),
        _memory(results),
    ]
    return "\n".join(p.rstrip() + "\n" for p in parts)


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def _header(results: Results) -> str:
    return (f"# Benchmarks\n\nWritten by `{results.command}` (plan `{results.plan}`), started {results.started}, "
            f"took {results.duration_s / 60:.1f} min. Do not edit by hand: rerun the command. Issue 5 sets the "
            "targets; the method of each measurement is in its section, the code in `bench/`.\n")


def _targets(results: Results) -> str:
    rows = [(t.what, t.measured, "met" if t.met else "**missed**") for t in results.targets()]
    met = sum(1 for t in results.targets() if t.met)
    return f"## Targets\n\n{met} of {len(rows)} met.\n\n" + _table(("target", "measured", ""), rows)


def _machine(results: Results) -> str:
    return "## Machine\n\n" + _table(("", ""), results.machine.items())


def _catalogs(results: Results) -> str:
    rows = [(c.label, f"{c.entries:,}", f"{c.families:,}", f"{c.build_s:.2f}") for c in results.catalogs]
    return "Catalogs (engine build = `Engine(catalog)`, what a cache miss costs after parsing):\n\n" + _table(
        ("catalog", "entries", "families", "engine build (s)"), rows)


def _growth(results: Results) -> str:
    """Kinds down, catalog sizes across: the growth table the issue asks for."""
    labels = [c.label for c in results.catalogs]
    kinds = list(dict.fromkeys(c.kind for c in results.latency))
    cells = {(c.catalog, c.kind): c for c in results.latency}
    rows = [(kind, *(f"{_ms(cells[(lb, kind)].median_ms)} / {_ms(cells[(lb, kind)].p99_ms)}"
                     if (lb, kind) in cells else "–" for lb in labels)) for kind in kinds]
    header = ("median / p99 (ms)", *(f"{c.label} ({c.entries:,})" for c in results.catalogs))
    return "Growth with catalog size:\n\n" + _table(header, rows)


def _cells(results: Results) -> str:
    rows = [(c.catalog, f"{c.entries:,}", c.kind, c.samples, _ms(c.median_ms), _ms(c.p99_ms), _ms(c.max_ms),
             "**missed**" if results.missed(c) else "") for c in results.latency]
    return "Every cell:\n\n" + _table(("catalog", "entries", "kind", "asks", "median ms", "p99 ms", "max ms",
                                       "target"), rows)


def _profiles(results: Results) -> str:
    """Profiles only where a target is missed: that is where the time has to come from."""
    missed = {(c.catalog, c.kind) for c in results.latency if results.missed(c)}
    shown = [p for p in results.profiles if (p.catalog, p.kind) in missed]
    intro = ("### Where the time goes\n\nOne cProfile pass over the kind's questions, for each cell that misses "
             "its target; times are per question asked and include the profiler's overhead. \"Own\" is time in "
             "the function itself, \"total\" includes what it calls.\n")
    if not shown:
        return intro + "\nEvery profiled cell meets its target.\n"
    return intro + "\n".join(_profile(p) for p in shown)


def _profile(profile: Profile) -> str:
    def rows(items: tuple[ProfileRow, ...]) -> list[tuple[object, ...]]:
        return [(f"`{r.function}`", f"{r.calls:,.1f}", _ms(r.own_ms), _ms(r.cumulative_ms)) for r in items]

    header = ("function", "calls / question", "own ms", "total ms")
    return (f"\n**{profile.kind}, {profile.catalog} catalog** ({_ms(profile.ms_per_question)} ms per question "
            "under the profiler). Most own time:\n\n" + _table(header, rows(profile.hot))
            + "\nThe project's functions by total time:\n\n" + _table(header, rows(profile.stages)))


def _cold_start(results: Results) -> str:
    rows = [(c.catalog, f"{c.entries:,}", f"{c.first_s:.2f}",
             c.runs, f"{c.median_s * 1000:.0f}", f"{c.p90_s * 1000:.0f}", f"{c.baseline_median_s * 1000:.0f}",
             f"{c.ratio:.2f}x") for c in results.cold_start]
    header = ("catalog", "entries", "first run (s)", "warm runs", "median ms", "p90 ms", "baseline median ms",
              "ratio")
    commands = sorted({c.command for c in results.cold_start})
    return f"Command run: {', '.join(f'`{c}`' for c in commands)}.\n\n" + _table(header, rows)


def _http(results: Results) -> str:
    rows = [(lv.app, lv.clients, lv.round, lv.requests, lv.ok, f"{lv.throughput:.0f}", _ms(lv.p50_ms),
             _ms(lv.p99_ms), _ms(lv.max_ms), "–" if lv.answers is None else f"{lv.answers}",
             "–" if lv.app == BARE else (f"{lv.drain_s:.2f}" if lv.drain_s is not None else "timed out"),
             f"{lv.cpu_ms:.1f}", f"{lv.cores:.2f}")
            for lv in results.http]
    header = ("app", "clients", "round", "requests", "200 OK", "acks/s", "ack p50 ms", "ack p99 ms",
              "ack max ms", "answers posted", "drain s", "server CPU ms / request", "server cores busy")
    return _table(header, rows) + _ratios(results)


def _ratios(results: Results) -> str:
    """Per level: the bot/bare throughput ratio and the bot's extra ack p99 in each round, and their medians."""
    pairs = results.pairs()
    rows = [(clients, ", ".join(f"{p.ratio:.2f}x" for p in paired), f"{median([p.ratio for p in paired]):.3f}x",
             ", ".join(f"{p.bot.p99_ms - p.bare.p99_ms:+.1f}" for p in paired),
             f"{median([p.bot_p99_ms for p in paired]):.1f} / {median([p.bare.p99_ms for p in paired]):.1f}")
            for clients, paired in pairs.items()]
    header = ("clients", "throughput ratio per round", "median ratio", "ack p99 difference per round (ms)",
              "median ack p99 of each app over its rounds, bot / bare (ms)")
    bare = [p.bare for p in pairs.get(ACK_CLIENTS, [])]
    return "\nBot against the bare app:\n\n" + _table(header, rows) + _floor(bare)


def _floor(bare: list[Level]) -> str:
    """What the stack itself allows: N clients in a closed loop wait N / throughput on average (Little's law)."""
    throughput = median([lv.throughput for lv in bare]) if bare else 0.0
    if not throughput:
        return ""
    return (f"\nThe floor of the stack on this machine: {ACK_CLIENTS} clients that each send their next request as "
            f"soon as the last is acked wait {ACK_CLIENTS} / throughput on average (Little's law), so the bare "
            f"app's {throughput:.0f} acks/s (median of its rounds) alone mean {ACK_CLIENTS * 1000 / throughput:.0f} "
            f"ms per ack before any bot work; its ack p99 was {_ms(median([lv.p99_ms for lv in bare]))} ms.\n")


def _memory(results: Results) -> str:
    rows = [(m.app, f"{m.entries:,}" if m.entries else "–", f"{m.startup_s:.1f}", f"{m.worker_peak_mib:.0f}",
             f"{m.answer_peak_mib:.0f}" if m.answer_peak_mib else "–", f"{m.arbiter_peak_mib:.0f}",
             f"{m.pss_total_mib:.0f}", str(m.processes))
            for m in results.memory]
    header = ("server", "catalog entries", "start to healthy (s)", "web worker peak RSS MiB",
              "answer process peak RSS MiB", "arbiter peak RSS MiB", "PSS total MiB", "processes")
    return _table(header, rows)

