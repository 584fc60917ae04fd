"""The answer process `voicecode serve` uses: it survives its own death, finishes what it holds when stopped,
reports failures to the asker, and tells the platform when it cannot run."""
from __future__ import annotations

import multiprocessing
import multiprocessing.sharedctypes
import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.slack import answering as answering_module
from bot.slack.answering import PARENT_CHECK, Job, ProcessAnswering, _next_job
from bot.slack.app import build_app
from bot.slack.config import SlackConfig
from bot.store import Store
from conftest import ROOT
from slack_support.bot_server import Bot, BotServer, running_bot_with_answer_process
from slack_support.fake_slack import FakeSlack
from slack_support.slack_requests import USER, SlackSender

pytest_plugins = ["conftest_slack"]


@pytest.fixture
def served(slack_config: SlackConfig, fake_slack: FakeSlack) -> Iterator[Bot]:
    with running_bot_with_answer_process(slack_config, fake_slack) as running:
        yield running


def _answering(bot: Bot) -> ProcessAnswering:
    assert bot.answering is not None
    return bot.answering


def _health(server: BotServer) -> int:
    try:
        with urllib.request.urlopen(f"{server.base}/healthz", timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def _wait_healthy(server: BotServer, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while _health(server) != 200:
        assert time.monotonic() < deadline, "the answer process never became ready"
        time.sleep(0.05)


def test_health_waits_for_the_engine_to_be_loaded(slack_config: SlackConfig) -> None:
    answering = ProcessAnswering(slack_config)
    answering.start()
    try:
        assert not answering.healthy()  # just spawned: still importing and loading its engine
        deadline = time.monotonic() + 20
        while not answering.healthy():
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        answering.stop()


def test_a_killed_answer_process_is_replaced_and_answers_again(served: Bot) -> None:
    served.slack.command("486", served.fake.response_url("first"))
    served.fake.wait_for("chat.postMessage", 2, timeout=15)
    child = _answering(served)._process
    os.kill(child.pid, signal.SIGKILL)
    child.join(5)
    assert _health(served.server) == 503  # the check that finds it dead fails...
    _wait_healthy(served.server)  # ...until the new one is ready
    served.fake.calls.clear()
    assert served.slack.command("-2008", served.fake.response_url("second")).status == 200
    parent = served.fake.wait_for("chat.postMessage", 1, timeout=15)[0]
    assert "-2008" in parent.params["text"]


def test_stopping_finishes_every_answer_already_acked(served: Bot) -> None:
    for n in range(4):
        assert served.slack.command("486", served.fake.response_url(f"r{n}")).status == 200
    _answering(served).stop()
    parents = [c for c in served.fake.calls_to("chat.postMessage") if "thread_ts" not in c.params]
    assert len(parents) == 4


def test_a_failing_answer_in_the_child_is_told_to_the_asker(served: Bot) -> None:
    broken = Job("command", {"user_id": USER, "response_url": served.fake.response_url("broken")}, "486")  # no channel
    _answering(served).submit(broken, served.server.app.client, None)
    told = served.fake.wait_for("response_url", timeout=15)[0]
    assert "KeyError" in told.params["text"] and told.params["response_type"] == "ephemeral"


def test_knowledge_that_cannot_load_is_told_to_askers_until_it_is_fixed(slack_config: SlackConfig,
                                                                        fake_slack: FakeSlack, tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    broken = knowledge / "zz-broken.yaml"
    broken.write_text("source: [unclosed\n")
    answering = ProcessAnswering(slack_config, knowledge, retry_load=0.5)
    server = BotServer(build_app(slack_config, answering, Store(slack_config.db_path)), answering)
    slack = SlackSender(server.events_url)
    try:
        answering.start()
        assert slack.command("486", fake_slack.response_url("broken")).status == 200
        told = fake_slack.wait_for("response_url", timeout=20)[0]
        assert "KnowledgeError" in told.params["text"] and told.params["response_type"] == "ephemeral"
        child = answering._process
        assert child.is_alive() and _health(server) == 503  # no crash loop: one process, telling askers
        broken.unlink()
        _wait_healthy(server, timeout=30)
        assert answering._process is child
        assert slack.command("486", fake_slack.response_url("fixed")).status == 200
        assert "Busy Here" in fake_slack.wait_for("chat.postMessage", timeout=20)[0].params["text"]
    finally:
        server.close()
        answering.stop()


class _DyingProcess:
    """A child that dies before it is ready, as soon as it is started."""

    started: list[float] = []

    def __init__(self, **kwargs: object):
        self.pid, self.exitcode = 4242, -9

    def start(self) -> None:
        self.started.append(answering_module.time.monotonic())

    def is_alive(self) -> bool:
        return False


class _DyingContext:
    def Pipe(self, duplex: bool) -> tuple:  # noqa: N802 - multiprocessing's name
        return multiprocessing.Pipe(duplex=duplex)

    def RawValue(self, kind: str, value: int) -> multiprocessing.sharedctypes.Synchronized:  # noqa: N802
        return multiprocessing.RawValue(kind, value)

    Process = _DyingProcess


def test_a_process_that_keeps_dying_early_is_restarted_less_and_less_often(slack_config: SlackConfig,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    # the module's own clock only: multiprocessing's waits need the real one
    monkeypatch.setattr(answering_module, "time", SimpleNamespace(monotonic=lambda: clock[0], sleep=time.sleep))
    _DyingProcess.started = []
    answering = ProcessAnswering(slack_config)
    answering._context = _DyingContext()
    for _ in range(400):  # health checks every half second for 200 s
        assert not answering.healthy()
        clock[0] += 0.5
    gaps = [round(b - a, 1) for a, b in zip(_DyingProcess.started, _DyingProcess.started[1:])]
    # each death is seen at the next check (0.5 s); the first is restarted at once, later ones after a wait
    assert gaps[:7] == [0.5, 2.5, 4.5, 8.5, 16.5, 32.5, 60.5]
    assert set(gaps[7:]) == {60.5}


def test_a_busy_answer_process_never_holds_up_an_ack(served: Bot) -> None:
    served.slack.command("486", served.fake.response_url("warm"))
    served.fake.wait_for("chat.postMessage", 2, timeout=15)
    child = _answering(served)._process
    os.kill(child.pid, signal.SIGSTOP)  # it reads nothing: its pipe (64 KiB) fills up
    served.fake.calls.clear()
    try:
        question = "486 " + "x" * 3000
        acks = [served.slack.command(question, served.fake.response_url(f"r{n}")) for n in range(40)]
    finally:
        os.kill(child.pid, signal.SIGCONT)
    assert all(a.status == 200 for a in acks) and max(a.elapsed for a in acks) < 1.0
    parents = served.fake.wait_for("chat.postMessage", 40, timeout=60)
    assert len({c.params["text"] for c in parents}) >= 1


def test_an_orphaned_answer_process_stops_waiting() -> None:
    reader, writer = multiprocessing.Pipe(duplex=False)
    started = time.monotonic()
    assert _next_job(reader, -1, lambda: None) is None  # no process has pid -1: the parent is gone
    assert time.monotonic() - started < PARENT_CHECK + 2
    writer.close()
    assert _next_job(reader, os.getppid(), lambda: None) is None  # and when the web process closed the pipe



def test_jobs_a_dead_answer_process_never_read_go_to_its_successor(served: Bot) -> None:
    served.slack.command("486", served.fake.response_url("warm"))
    served.fake.wait_for("chat.postMessage", 2, timeout=15)
    child = _answering(served)._process
    os.kill(child.pid, signal.SIGSTOP)  # it can no longer read: acked commands wait in its pipe
    served.fake.calls.clear()
    for n in range(3):
        assert served.slack.command("-2008", served.fake.response_url(f"r{n}")).status == 200
    os.kill(child.pid, signal.SIGKILL)
    child.join(5)
    assert _health(served.server) == 503
    served.fake.wait_for("chat.postMessage", 6, timeout=15)
    served.fake.settle()
    parents = [c for c in served.fake.calls_to("chat.postMessage") if "thread_ts" not in c.params]
    assert len(parents) == 3
