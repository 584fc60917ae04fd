"""Answering: the work after the ack (the engine, Block Kit, posting), in the listener's thread or in a
separate answer process.

Slack wants an ack within 3 seconds; the answer has no such deadline. In one process, acks and answers
share one GIL, so under load every ack waits behind answers being built (BENCHMARKS.md, section 3).
`voicecode serve` therefore hands each answer to a child process of lower CPU priority: the web process
only verifies, acks and enqueues. Tests and embedders may answer in the listener's thread instead.
"""
from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import pickle
import sqlite3
import threading
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
from .posting import make_client, post_or_respond, post_thread, respond_all, tell_failure

log = logging.getLogger("voicecode.slack")

HELP_WORDS = {"", "help", "-h", "--help", "?"}
WORK_SLOTS = 2
ANSWER_THREADS = 16  # in the answer process an answer mostly waits for Slack; no acks there to keep prompt
ANSWER_NICENESS = 10  # acks have a deadline, answers do not: under a burst the web process gets the CPU first
STOP_TIMEOUT = 10.0  # seconds a stopping answer process gets to finish the answers it holds
PARENT_CHECK = 1.0  # seconds between checks that the web process is still there

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
            channel, user, thread_ts = _where(job)
            log.error("%s failed (channel %s, user %s)", job.kind, channel, user, exc_info=error)
            tell_failure(error, client, respond, "app_mention" if job.kind == "mention" else job.kind, channel, user,
                         thread_ts)

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


class Answering(Protocol):
    """Where answers are worked out: `submit` returns at once or after answering, as the kind decides."""

    def submit(self, job: Job, client: WebClient, respond: Respond | None) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def healthy(self) -> bool: ...


class InlineAnswering:
    """Answers in the listener's own thread (after its ack), a few at a time to keep acks prompt."""

    def __init__(self, answerer: Answerer):
        self.answerer = answerer
        self.work = threading.BoundedSemaphore(WORK_SLOTS)

    def submit(self, job: Job, client: WebClient, respond: Respond | None) -> None:
        with self.work:
            self.answerer.run(job, client, respond)

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def healthy(self) -> bool:
        return True


class ProcessAnswering:
    """Answers in a child process with its own engine, store connection and Web API client.

    Jobs go to the child through a pipe. A child that dies is replaced on the next job or health check, and
    the jobs it had not yet read are handed to its successor; only the answers it was working on are lost
    (and the death is logged).
    """

    def __init__(self, config: SlackConfig, knowledge_dir: Path | None = None):
        self.config = config
        self.knowledge_dir = knowledge_dir
        self._context = multiprocessing.get_context("spawn")  # a fork would copy the web process's threads
        self._lock = threading.Lock()
        self._process: Any = None
        self._reader: Connection | None = None
        self._writer: Connection | None = None
        self._ready: Any = None  # a shared flag the child raises once its engine is loaded

    def start(self) -> None:
        """Start the child; called in the process that will submit (a gunicorn worker, after its fork)."""
        with self._lock:
            self._ensure_running()

    def _ensure_running(self) -> None:
        if self._process is not None and self._process.is_alive():
            return
        unread = self._unread()
        if self._process is not None:
            log.error("the answer process (pid %s) stopped with exit code %s; starting a new one (%d jobs passed on)",
                      self._process.pid, self._process.exitcode, len(unread))
        self._reader, self._writer = self._context.Pipe(duplex=False)
        self._ready = self._context.RawValue("b", 0)  # lock-free: a killed child cannot leave it locked
        self._process = self._context.Process(
            target=answer_process, args=(self.config, self.knowledge_dir, self._reader, os.getpid(), self._ready),
            name="voicecode-answers", daemon=True)
        self._process.start()
        for job in unread:
            self._writer.send(job)

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
        return jobs

    def submit(self, job: Job, client: WebClient, respond: Respond | None) -> None:
        with self._lock:
            self._ensure_running()
            assert self._writer is not None
            self._writer.send(job)

    def healthy(self) -> bool:
        """Whether the child was running, engine loaded, at this check (what /healthz reports). A stopped one
        is started again, so one crash fails the checks until its successor is ready, and a crash loop keeps
        them failing."""
        with self._lock:
            ready = self._process is not None and self._process.is_alive() and bool(self._ready.value)
            self._ensure_running()
        return ready

    def stop(self) -> None:
        """Let the child finish the answers it holds, then end it; forced after STOP_TIMEOUT."""
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


def answer_process(config: SlackConfig, knowledge_dir: Path | None, jobs: Connection, parent: int, ready: Any) -> None:
    """The answer process: answers jobs until told to stop or until its web process is gone."""
    from ..engine import get_engine  # the child builds its own engine (from the cache when it is warm)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.nice(ANSWER_NICENESS)
    answerer = Answerer(config, get_engine(knowledge_dir), Store(config.db_path))
    gc.freeze()  # the engine lives as long as the process: collections need not walk it again and again
    client = make_client(config)
    ready.value = 1
    log.info("answer process %d ready", os.getpid())
    with ThreadPoolExecutor(max_workers=ANSWER_THREADS, thread_name_prefix="voicecode-answer") as pool:
        while (job := _next_job(jobs, parent)) is not None:
            respond = Respond(response_url=job.response_url) if job.response_url else None
            pool.submit(answerer.run, job, client, respond)


def _next_job(jobs: Connection, parent: int) -> Job | None:
    """The next job; None when the web process asks to stop or has gone (an orphan must not linger)."""
    while not jobs.poll(PARENT_CHECK):
        if os.getppid() != parent:
            log.warning("the web process has gone; the answer process stops")
            return None
    try:
        return jobs.recv()  # type: ignore[no-any-return]
    except EOFError:
        return None
