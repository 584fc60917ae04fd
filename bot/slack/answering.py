"""Answering: the work after the ack (the engine, Block Kit, posting), on threads of the web process or in a
separate answer process.

Slack wants an ack within 3 seconds; the answer has no such deadline. In one process, acks and answers
share one GIL, so under load every ack waits behind answers being built (BENCHMARKS.md, section 3).
`voicecode serve` therefore hands each answer to a child process of lower CPU priority: the web process
only verifies, acks and enqueues. Tests and embedders may answer on a few threads of their own process instead.
Either way a listener only hands the job over, so Bolt can answer Slack's HTTP request as soon as it returns.
"""
from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import pickle
import queue
import select
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, Protocol

from slack_bolt import Respond
from slack_sdk import WebClient

from ..answer import Answer
from ..store import Store
from .blocks import Message, Reply, main_matches, render_answer, render_help, render_nothing_found
from .config import SlackConfig
from .dedupe import TTLStore
from .posting import make_client, post_or_respond, post_thread, respond_all, tell_failure, tls_for

log = logging.getLogger("voicecode.slack")

HELP_WORDS = {"", "help", "-h", "--help", "?"}
WORK_THREADS = 2  # answering in the web process: few, so acks do not queue for the GIL behind answers
ANSWER_THREADS = 16  # in the answer process an answer mostly waits for Slack; no acks there to keep prompt
ANSWER_NICENESS = 10  # acks have a deadline, answers do not: under a burst the web process gets the CPU first
STOP_TIMEOUT = 10.0  # seconds a stopping answer process gets to finish the answers it holds
PARENT_CHECK = 1.0  # seconds between checks that the web process (or the answer process) is still there
RETRY_LOAD = 30.0  # seconds between tries of an answer process that cannot load its engine or database
MAX_RESTART_DELAY = 60.0  # seconds, at most, between starts of answer processes that die before they are ready
READY, BROKEN = 1, 2  # what an answer process reports in its shared flag (0: still loading)

Kind = Literal["command", "mention", "passive", "shortcut"]


class Asks(Protocol):
    """The one engine method the Slack layer needs (bot.engine.Engine provides it)."""

    def ask(self, text: str) -> Answer: ...


@dataclass(frozen=True)
class Job:
    """One answer to give: what Slack sent (a command, event or shortcut payload), and how to reach the asker.

    Plain data, so it can cross to the answer process.
    """

    kind: Kind
    payload: dict[str, Any]
    text: str
    private: bool = False

    @property
    def response_url(self) -> str | None:
        """Where to answer the asker privately (commands and shortcuts carry one; events do not)."""
        return self.payload.get("response_url")


class Answerer:
    """Turns a job into messages in Slack: look it up, record it, render it, post it with its fallbacks."""

    def __init__(self, config: SlackConfig, engine: Asks, store: Store, seen: TTLStore | None = None):
        self.config = config
        self.engine = engine
        self.store = store
        self.seen = seen or TTLStore()  # (channel, ts) claims: a message gets one answer whatever its event id

    def run(self, job: Job, client: WebClient, respond: Respond | None) -> None:
        """Answer `job`; a failure is logged with context and told to the asker, never raised."""
        try:
            getattr(self, f"_{job.kind}")(job, client, respond)
        except Exception as error:  # noqa: BLE001 - one failed answer must not take others down
            channel, user, _ = _where(job)
            log.error("%s failed (channel %s, user %s)", job.kind, channel, user, exc_info=error)
            tell_job_failure(error, job, client, respond)

    # --- kinds of job -------------------------------------------------------------------------------

    def _command(self, job: Job, client: WebClient, respond: Respond) -> None:
        """`/voicecode [-p] <text>`: a headline in the channel, details in its thread (or all ephemeral)."""
        command = job.payload
        answer, lookup_id = self.lookup(job.text, "command")
        if not answer.matches:
            respond(response_type="ephemeral", **render_nothing_found(answer).kwargs())
            return
        reply = self.render(answer, lookup_id, asker=command["user_id"])
        if job.private:
            respond_all(respond, reply.combined())
            return
        parent, details = reply.threaded()
        post_or_respond(client, respond, command["channel_id"], None, [parent, *details], reply.combined())

    def _mention(self, job: Job, client: WebClient, respond: Respond | None) -> None:
        """`@voicecode <text>`: answered in the mention's thread (or the thread it was made in)."""
        event = job.payload
        channel, ts = event["channel"], event["ts"]
        if not self.seen.claim(("message", channel, ts)):
            return
        post_thread(client, channel, event.get("thread_ts") or ts, self.answer_messages(job.text), event.get("user"))

    def _passive(self, job: Job, client: WebClient, respond: Respond | None) -> None:
        """A message in a passive channel: answered only when it holds a recognised code."""
        event = job.payload
        channel, ts = event["channel"], event["ts"]
        answer = self.engine.ask(job.text)
        if not answer.recognised or not self.seen.claim(("message", channel, ts)):
            return
        lookup_id = self.record(answer, "passive")
        post_thread(client, channel, event.get("thread_ts") or ts, self.render(answer, lookup_id).combined(), None)

    def _shortcut(self, job: Job, client: WebClient, respond: Respond) -> None:
        """The "Explain voice codes" shortcut: every code in the message, answered in that message's thread."""
        shortcut = job.payload
        source = shortcut["message"]
        answer, lookup_id = self.lookup(job.text, "shortcut")
        if not answer.matches:
            respond(response_type="ephemeral", **render_nothing_found(answer).kwargs())
            return
        messages = self.render(answer, lookup_id, asker=shortcut["user"]["id"]).combined()
        post_or_respond(client, respond, shortcut["channel"]["id"], source.get("thread_ts") or source["ts"],
                        messages, messages)

    # --- shared steps -------------------------------------------------------------------------------

    def lookup(self, text: str, surface: str) -> tuple[Answer, int | None]:
        answer = self.engine.ask(text)
        return answer, self.record(answer, surface)

    def record(self, answer: Answer, surface: str) -> int | None:
        """Store the lookup; a broken database must not cost the on-call engineer their answer."""
        keys = [m.entry.key for m in main_matches(answer)]
        try:
            return self.store.record_lookup(keys, answer.query, surface)
        except sqlite3.Error:
            log.exception("could not record a %s lookup in %s", surface, self.store.path)
            return None

    def render(self, answer: Answer, lookup_id: int | None, asker: str | None = None) -> Reply:
        return render_answer(answer, lookup_id=lookup_id, asker=asker,
                             escalation_owners=self.config.escalation_owners())

    def answer_messages(self, text: str) -> list[Message]:
        """Help, the answer, or "nothing found": the thread replies to a mention."""
        if text.lower() in HELP_WORDS:
            return [render_help()]
        answer, lookup_id = self.lookup(text, "mention")
        return self.render(answer, lookup_id).combined() if answer.matches else [render_nothing_found(answer)]


def _where(job: Job) -> tuple[str | None, str | None, str | None]:
    """(channel, user, thread ts) of a job, for the log and for telling the asker."""
    p = job.payload
    if job.kind == "command":
        return p.get("channel_id"), p.get("user_id"), None
    if job.kind == "shortcut":
        return (p.get("channel") or {}).get("id"), (p.get("user") or {}).get("id"), None
    return p.get("channel"), p.get("user"), p.get("thread_ts") or p.get("ts")


def tell_job_failure(error: BaseException, job: Job, client: WebClient, respond: Respond | None) -> None:
    """Tell the asker that their job failed, where a job of its kind can be told (passive mode stays silent)."""
    channel, user, thread_ts = _where(job)
    tell_failure(error, client, respond, "app_mention" if job.kind == "mention" else job.kind, channel, user, thread_ts)


class Answering(Protocol):
    """Where answers are worked out: `submit` returns at once or after answering, as the kind decides."""

    def submit(self, job: Job, client: WebClient, respond: Respond | None) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def healthy(self) -> bool: ...


class ThreadAnswering:
    """Answers on a few threads of this process; the listener only queues the job."""

    def __init__(self, answerer: Answerer):
        self.answerer = answerer
        self.pool = ThreadPoolExecutor(max_workers=WORK_THREADS, thread_name_prefix="voicecode-answer")

    def submit(self, job: Job, client: WebClient, respond: Respond | None) -> None:
        self.pool.submit(self.answerer.run, job, client, respond)

    def start(self) -> None:
        return None

    def stop(self) -> None:
        """Finish the answers already queued."""
        self.pool.shutdown(wait=True)

    def healthy(self) -> bool:
        return True


class ProcessAnswering:
    """Answers in a child process with its own engine, store connection and Web API client.

    `submit` only queues the job: a sender thread writes it to the child's pipe, so a request never waits
    for the pipe even when the child is far behind. A child that dies is replaced, and the jobs it had not
    yet read go to its successor; only the answers it was working on are lost (and the death is logged). A
    child that keeps dying before it is ready is restarted less and less often, up to once a minute.
    """

    def __init__(self, config: SlackConfig, knowledge_dir: Path | None = None, retry_load: float = RETRY_LOAD):
        self.config = config
        self.knowledge_dir = knowledge_dir
        self.retry_load = retry_load
        self._context = multiprocessing.get_context("spawn")  # a fork would copy the web process's threads
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        self._process: Any = None
        self._reader: Connection | None = None
        self._writer: Connection | None = None
        self._ready: Any = None  # a shared flag the child sets: READY, or BROKEN while it cannot load
        self._early_deaths = 0  # children in a row that died before they were ready
        self._next_start = 0.0  # time.monotonic() before which no child is started (after early deaths)

    def start(self) -> None:
        """Start the child and the sender thread; called in the process that will submit (a gunicorn worker,
        after its fork)."""
        with self._lock:
            self._ensure_running()
            if self._sender is None:
                self._sender = threading.Thread(target=self._send_jobs, name="voicecode-jobs", daemon=True)
                self._sender.start()

    def submit(self, job: Job, client: WebClient, respond: Respond | None) -> None:
        if self._sender is None:
            self.start()
        self._jobs.put(job)

    def healthy(self) -> bool:
        """Whether the child was running with its engine loaded at this check (what /healthz reports). A
        stopped one is started again, so one crash fails the checks until its successor is ready."""
        with self._lock:
            ready = self._process is not None and self._process.is_alive() and self._ready.value == READY
            self._ensure_running()
        return ready

    def stop(self) -> None:
        """Hand over the queued jobs, let the child finish the answers it holds, then end it; forced after
        STOP_TIMEOUT."""
        if self._sender is not None:
            self._jobs.put(None)
            self._sender.join(STOP_TIMEOUT)
        with self._lock:
            if self._process is None or self._writer is None:
                return
            if self._process.is_alive():
                self._writer.send(None)
                self._process.join(STOP_TIMEOUT)
            if self._process.is_alive():
                log.warning("the answer process did not finish within %.0f s; stopping it", STOP_TIMEOUT)
                self._process.terminate()
                self._process.join(STOP_TIMEOUT)
            self._process = None

    # --- the sender thread ------------------------------------------------------------------------------

    def _send_jobs(self) -> None:
        """Each queued job to the child, in order, until `stop` queues None."""
        while (job := self._jobs.get()) is not None:
            while not self._send(job):
                pass

    def _send(self, job: Job) -> bool:
        """Writes `job` to the running child once its pipe has room; False when it must be tried again (no
        child yet, or the child went while waiting)."""
        with self._lock:
            running = self._ensure_running()
            writer, wait = self._writer, self._next_start - time.monotonic()
        if not running or writer is None:
            time.sleep(min(max(wait, 0.05), PARENT_CHECK))
            return False
        try:
            if not select.select([], [writer.fileno()], [], PARENT_CHECK)[1]:
                return False  # a full pipe: is the child still there? (checked on the next try)
            writer.send(job)
        except (OSError, ValueError):  # the pipe was closed by a restart meanwhile
            return False
        return True

    # --- the child --------------------------------------------------------------------------------------

    def _ensure_running(self) -> bool:
        """A child is running (started now if needed); False while a child that died early is waited out."""
        if self._process is not None and self._process.is_alive():
            return True
        if self._process is not None:
            self._note_death()
        if time.monotonic() < self._next_start:
            return False
        unread = self._unread()
        self._reader, self._writer = self._context.Pipe(duplex=False)
        self._ready = self._context.RawValue("b", 0)  # lock-free: a killed child cannot leave it locked
        self._process = self._context.Process(
            target=answer_process, name="voicecode-answers", daemon=True,
            args=(self.config, self.knowledge_dir, self._reader, os.getpid(), self._ready, self.retry_load))
        self._process.start()
        for job in unread:
            self._writer.send(job)
        return True

    def _note_death(self) -> None:
        """Log a child's death once, and space out restarts of children that die before they are ready."""
        early = self._ready.value == 0
        self._early_deaths = self._early_deaths + 1 if early else 0
        delay = min(2.0 ** (self._early_deaths - 1), MAX_RESTART_DELAY) if self._early_deaths > 1 else 0.0
        self._next_start = time.monotonic() + delay
        log.error("the answer process (pid %s) stopped with exit code %s%s; %s", self._process.pid,
                  self._process.exitcode, " before it was ready" if early else "",
                  f"starting a new one in {delay:.0f} s" if delay else "starting a new one")
        self._process = None

    def _unread(self) -> list[Job]:
        """Jobs still in the pipe of a child that has gone (ours is the other copy of its reading end)."""
        jobs: list[Job] = []
        if self._reader is None or self._writer is None:
            return jobs
        try:
            while self._reader.poll():
                job = self._reader.recv()
                if job is not None:
                    jobs.append(job)
        except (EOFError, OSError, pickle.UnpicklingError):
            log.warning("a job half read by the stopped answer process is lost")
        self._reader.close()
        self._writer.close()
        if jobs:
            log.info("%d jobs the stopped answer process never read go to the next one", len(jobs))
        return jobs


class _ChildAnswers:
    """The answer process's answerer or, while its engine or database cannot be loaded (knowledge edited into
    an invalid state, a database it cannot open), the reason, told to each asker instead of an answer.
    Loading is tried again every `retry` seconds, so a fix is picked up without a restart."""

    def __init__(self, config: SlackConfig, knowledge_dir: Path | None, ready: Any, retry: float):
        self.config, self.knowledge_dir, self.ready, self.retry = config, knowledge_dir, ready, retry
        self.answerer: Answerer | None = None
        self.error: Exception | None = None
        self.tried = 0.0

    def load(self) -> None:
        from ..engine import get_engine  # the child builds its own engine (from the cache when it is warm)

        self.tried = time.monotonic()
        try:
            engine = get_engine(self.knowledge_dir)
            engine.symptoms  # noqa: B018 - unpacked now, before the process says it is ready, not by a first asker
            self.answerer = Answerer(self.config, engine, Store(self.config.db_path))
        except Exception as error:  # noqa: BLE001 - told to askers and retried, never a crash loop
            self.error = error
            self.ready.value = BROKEN
            log.error("the answer process cannot load its engine or database; every asker is told so, and it "
                      "tries again every %.0f s", self.retry, exc_info=error)
            return
        gc.freeze()  # the engine lives as long as the process: collections need not walk it again and again
        self.ready.value = READY
        log.info("answer process %d ready", os.getpid())

    def retry_if_due(self) -> None:
        if self.answerer is None and time.monotonic() - self.tried >= self.retry:
            self.load()

    def run(self, job: Job, client: WebClient, respond: Respond | None) -> None:
        if self.answerer is not None:
            self.answerer.run(job, client, respond)
        else:
            tell_job_failure(self.error or RuntimeError("not loaded"), job, client, respond)


def answer_process(config: SlackConfig, knowledge_dir: Path | None, jobs: Connection, parent: int, ready: Any,
                   retry_load: float = RETRY_LOAD) -> None:
    """The answer process: answers jobs until told to stop or until its web process is gone."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.nice(ANSWER_NICENESS)
    answers = _ChildAnswers(config, knowledge_dir, ready, retry_load)
    answers.load()
    client = make_client(config)
    with ThreadPoolExecutor(max_workers=ANSWER_THREADS, thread_name_prefix="voicecode-answer") as pool:
        while (job := _next_job(jobs, parent, answers.retry_if_due)) is not None:
            answers.retry_if_due()
            url = job.response_url
            respond = Respond(response_url=url, ssl=tls_for(url)) if url else None
            pool.submit(answers.run, job, client, respond)


def _next_job(jobs: Connection, parent: int, idle: Callable[[], None]) -> Job | None:
    """The next job; None when the web process asks to stop or has gone (an orphan must not linger)."""
    while not jobs.poll(PARENT_CHECK):
        if os.getppid() != parent:
            log.warning("the web process has gone; the answer process stops")
            return None
        idle()
    try:
        return jobs.recv()  # type: ignore[no-any-return]
    except EOFError:
        return None
