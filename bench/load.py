"""HTTP mode under load: signed /voicecode slash commands against `voicecode serve --http` and a bare Bolt app.

Both servers run at once on the same stack (gunicorn, one gthread worker, bot.slack.server's settings) and
are loaded in turn at each level of concurrency, so a slow moment of the machine hits both. Each client
sends its requests one after another (a closed loop), each on a new connection, signed like Slack signs
them (tests/slack_support). The ack latency is what Slack would wait for: from connecting to reading the
whole response. The client is lean on purpose: its requests are signed and encoded before the level
starts, and each exchange is a bare socket write and read, so on a small machine the load generator's own
Python work (urllib builds and parses much more per request) does not queue the acks it times. After each
level the benchmark waits until the fake Slack Web API has received every answer, so no level starts with
the previous level's follow-up work still queued.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .cold_start import voicecode_command
from .fake_api import read_counts
from .fakes import BOT_TOKEN, FORM, SECRET, command_form, signature_headers
from .plan import Plan
from .stats import median, percentile

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SLACK_ENV = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "VOICECODE_CONFIG",
             "VOICECODE_DB", "VOICECODE_KNOWLEDGE", "VOICECODE_CACHE", "VOICECODE_ACCESS_LOG", "PORT")
STOP_TIMEOUT = 20.0
REQUEST_TIMEOUT = 10.0  # seconds a client waits for a response at most
ACK_DEADLINE = 3.0  # seconds Slack waits for an ack; a later one is an error for the user
BOT = "voicecode serve --http"
BARE = "bare Bolt app (ack only)"
MIB = 1024.0
FAKE_NICENESS = 19  # the fake Slack's work is Slack's own in production: it must not take the clients' CPU


@dataclass(frozen=True)
class Level:
    """One app at one level of concurrency; latencies in milliseconds."""

    app: str
    clients: int
    requests: int
    ok: int
    seconds: float
    throughput: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    answers: int | None
    drain_s: float | None
    cpu_ms: float  # server CPU (arbiter and workers, user and system) per request, follow-up work included
    cores: float  # that CPU over the level's wall time including the drain: cores kept busy
    round: int = 1  # which run of this level (bench.plan.Plan.rounds)


@dataclass(frozen=True)
class Memory:
    """Resident memory of one server in MiB: the gunicorn worker that serves, the answer process it started
    (0 for the bare app), the arbiter, and the proportional set size of them all (shared pages counted once)."""

    app: str
    entries: int
    startup_s: float
    worker_peak_mib: float
    answer_peak_mib: float
    arbiter_peak_mib: float
    pss_total_mib: float
    processes: int


class FakeApi:
    """`python -m bench.fake_api` as a child process; stops when its stdin closes."""

    def __init__(self, log: Path):
        self.log = log.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.fake_api"], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        os.setpriority(os.PRIO_PROCESS, self.proc.pid, FAKE_NICENESS)
        assert self.proc.stdout is not None
        self.base = self.proc.stdout.readline().strip()
        if not self.base.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"the fake Slack Web API did not start; see {log}")

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    @property
    def response_url(self) -> str:
        return f"{self.base}/response/bench"

    def answers(self) -> int:
        return read_counts(self.api_url)["answers"]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        _stop(self.proc)
        self.log.close()


class Server:
    """A server process started by the benchmark, healthy on /healthz before it is used."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path, start_timeout: float):
        self.name = name
        self.port = free_port()
        self.started = time.perf_counter()
        self.log = log.open("w")
        self.proc = subprocess.Popen([*argv, str(self.port)], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.startup_s = self._wait_healthy(log, start_timeout)
        except RuntimeError:
            self.close()
            raise

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.base}/slack/events"

    def _wait_healthy(self, log: Path, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {log}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return time.perf_counter() - self.started
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} was not healthy within {timeout:.0f} s; see {log}")

    def memory(self, entries: int) -> Memory:
        workers = children(self.proc.pid)
        if not workers:
            raise RuntimeError(f"{self.name}: no gunicorn worker found under pid {self.proc.pid}")
        helpers = [pid for worker in workers for pid in descendants(worker)]
        everything = (self.proc.pid, *workers, *helpers)
        return Memory(self.name, entries, self.startup_s, _peak_mib(workers), _peak_mib(helpers),
                      _peak_mib([self.proc.pid]), sum(_pss_kib(pid) for pid in everything) / MIB, len(everything))

    def cpu_seconds(self) -> float:
        """User and system CPU the arbiter, its workers and their answer processes have used so far."""
        return sum(_cpu_seconds(pid) for pid in (self.proc.pid, *descendants(self.proc.pid)))

    def close(self) -> None:
        """Stop the arbiter; a process of its tree that outlives it (after a SIGKILL) is ours to end, by its id."""
        workers = {pid: _cmdline(pid) for pid in descendants(self.proc.pid)}
        _stop(self.proc)
        for pid, cmdline in workers.items():
            if cmdline and _cmdline(pid) == cmdline:
                _kill_quietly(pid)
        self.log.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_env(api_url: str, workdir: Path, cache_dir: Path, knowledge: Path | None) -> dict[str, str]:
    """Tokens the fake accepts, the fake's URL, a private database and cache, loopback only."""
    env = {k: v for k, v in os.environ.items() if k not in SLACK_ENV}
    env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=api_url,
               VOICECODE_DB=str(workdir / "voicecode.db"), VOICECODE_HOST=HOST, VOICECODE_CACHE_DIR=str(cache_dir),
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    if knowledge is not None:
        env["VOICECODE_KNOWLEDGE"] = str(knowledge)
    return env


def load_level(server: Server, fake: FakeApi, questions: tuple[str, ...], clients: int, per_client: int,
               seconds: float, drain_timeout: float | None, round_number: int = 1) -> Level:
    """`clients` threads each sending `per_client` commands (stopping early after `seconds`), then, for the
    bot, the wait until every answer has reached the fake Slack."""
    before = fake.answers() if drain_timeout is not None else 0
    cpu_before = server.cpu_seconds()
    timings, sent, elapsed = _fire(server.events_url, fake.response_url, questions, clients, per_client, seconds)
    answers, drain = (None, None)
    if drain_timeout is not None:
        answers, drain = _drain(fake, before + sent, drain_timeout)
        answers -= before
    cpu = server.cpu_seconds() - cpu_before
    ok = [ms for ms in timings if ms is not None]
    shown = ok or [float("nan")]
    return Level(server.name, clients, sent, len(ok), elapsed, len(ok) / elapsed, median(shown),
                 percentile(shown, 99), max(shown), answers, drain, cpu * 1000 / max(sent, 1),
                 cpu / (elapsed + (drain or 0.0)), round_number)


def _fire(url: str, response_url: str, questions: tuple[str, ...], clients: int, per_client: int,
          seconds: float) -> tuple[list[float | None], int, float]:
    """(ack milliseconds per request, None for a failure; requests sent; wall seconds of the level)."""
    address, path = _address(url)
    requests = [[signed_command(address, path, questions[(i * per_client + j) % len(questions)], response_url)
                 for j in range(per_client)] for i in range(clients)]
    start_line = threading.Barrier(clients + 1)
    results: list[list[float | None]] = [[] for _ in range(clients)]
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        start_line.wait()
        for request in requests[index]:
            if time.monotonic() > deadline:
                return
            try:
                status, elapsed = exchange(address, request)
            except OSError:
                results[index].append(None)
                continue
            results[index].append(elapsed * 1000 if status == 200 and elapsed <= ACK_DEADLINE else None)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start_line.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0) + 15)
    elapsed = time.perf_counter() - started
    flat = [ms for per in results for ms in per]
    return flat, len(flat), elapsed


def _address(url: str) -> tuple[tuple[str, int], str]:
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"not a loopback server URL: {url}")
    return (parts.hostname, parts.port), parts.path


def signed_command(address: tuple[str, int], path: str, text: str, response_url: str) -> bytes:
    """A whole HTTP/1.1 request for one slash command, signed now (Bolt accepts a signature for 5 minutes)."""
    body = command_form(text, response_url)
    headers = {"Host": f"{address[0]}:{address[1]}", "Content-Type": FORM, "Content-Length": str(len(body)),
               "Connection": "close", **signature_headers(body, SECRET)}
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + body


def exchange(address: tuple[str, int], request: bytes) -> tuple[int, float]:
    """(HTTP status, seconds from connecting to the end of the response) of one request on a new connection."""
    started = time.perf_counter()
    with socket.create_connection(address, timeout=REQUEST_TIMEOUT) as sock:
        sock.sendall(request)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    elapsed = time.perf_counter() - started
    status_line = bytes(received[:received.find(b"\r\n")]).split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise OSError(f"no HTTP status line in the response: {bytes(received[:80])!r}")
    return int(status_line[1]), elapsed


def _drain(fake: FakeApi, expected: int, timeout: float) -> tuple[int, float | None]:
    """(answers received, seconds until all `expected` had arrived, or None if they did not in time)."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while True:
        got = fake.answers()
        if got >= expected:
            return got, time.perf_counter() - started
        if time.monotonic() > deadline:
            return got, None
        time.sleep(0.05)


def warm_up(server: Server, fake: FakeApi, questions: tuple[str, ...], drain_timeout: float | None) -> None:
    """One sequential pass of the questions: first-request costs (imports, SQLite, regexes) are not load."""
    load_level(server, fake, questions, 1, len(questions), 60.0, drain_timeout)


def children(pid: int) -> list[int]:
    """Child process ids of `pid` (the gunicorn workers of an arbiter), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def descendants(pid: int) -> list[int]:
    """Children, grandchildren and so on of `pid`."""
    found = []
    for child in children(pid):
        found += [child, *descendants(child)]
    return found


def _peak_mib(pids: list[int]) -> float:
    """The largest peak resident set (VmHWM) among `pids`, 0 when there are none."""
    return max((_status_kib(pid, "VmHWM") for pid in pids), default=0) / MIB


def _cpu_seconds(pid: int) -> float:
    """utime + stime from /proc/<pid>/stat (fields 14 and 15), 0 for a process that has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def _pss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """SIGTERM (gunicorn shuts down gracefully), then SIGKILL if it has not exited in time."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def compare(fake: FakeApi, workdir: Path, cache_dir: Path, entries: int, questions: tuple[str, ...],
            plan: Plan) -> tuple[list[Level], list[Memory]]:
    """The bot on the real catalog and the bare app, loaded in turn at every level, in `plan.rounds` rounds
    that alternate which of the two goes first; then their memory."""
    env = server_env(fake.api_url, workdir, cache_dir, None)
    servers: list[Server] = []
    try:
        bare = Server(BARE, [sys.executable, "-m", "bench.bare_app"], env, workdir / "bare.log", plan.start_timeout)
        servers.append(bare)
        bot = Server(BOT, [*voicecode_command(), "serve", "--http", "--port"], env, workdir / "bot.log",
                     plan.start_timeout)
        servers.append(bot)
        warm_up(bare, fake, questions, None)
        warm_up(bot, fake, questions, plan.drain_timeout)
        pair = ((bare, None), (bot, plan.drain_timeout))
        levels = [load_level(server, fake, questions, clients, max(total // clients, 1), plan.level_seconds, drain,
                             number)
                  for number in range(1, plan.rounds + 1)
                  for clients, total in plan.levels
                  for server, drain in (pair if number % 2 else pair[::-1])]
        return levels, [bot.memory(entries), bare.memory(0)]
    finally:
        for server in servers:
            server.close()


def largest(fake: FakeApi, workdir: Path, cache_dir: Path, knowledge: Path, entries: int,
            questions: tuple[str, ...], plan: Plan) -> tuple[Level, Memory]:
    """The bot serving the largest synthetic catalog (from the warm engine cache) under a small load."""
    env = server_env(fake.api_url, workdir, cache_dir, knowledge)
    server = Server(f"{BOT} ({entries:,} entries)", [*voicecode_command(), "serve", "--http", "--port"], env,
                    workdir / "bot-largest.log", plan.start_timeout)
    try:
        clients, total = plan.memory_level
        level = load_level(server, fake, questions, clients, max(total // clients, 1), plan.level_seconds,
                           plan.drain_timeout)
        return level, server.memory(entries)
    finally:
        server.close()

