"""The answer process `voicecode serve` uses: it survives its own death, finishes what it holds when stopped,
reports failures to the asker, and tells the platform when it cannot run."""
from __future__ import annotations

import os
import multiprocessing
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack.answering import PARENT_CHECK, Job, ProcessAnswering, _next_job
from bot.slack.app import build_app
from bot.slack.config import SlackConfig
from bot.store import Store
from slack_support.bot_server import Bot, BotServer, running_bot_with_answer_process
from slack_support.fake_slack import FakeSlack
from slack_support.slack_requests import USER

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


def test_health_fails_while_the_answer_process_cannot_start(slack_config: SlackConfig, tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("source: [unclosed\n")
    answering = ProcessAnswering(slack_config, tmp_path)
    server = BotServer(build_app(slack_config, store=Store(slack_config.db_path), answering=answering), answering)
    try:
        answering.start()
        deadline = time.monotonic() + 20
        while answering._process.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert answering._process.exitcode not in (None, 0)
        assert _health(server) == 503
    finally:
        server.close()
        answering.stop()


def test_an_orphaned_answer_process_stops_waiting() -> None:
    reader, writer = multiprocessing.Pipe(duplex=False)
    started = time.monotonic()
    assert _next_job(reader, parent=-1) is None  # no process has pid -1: the parent is gone
    assert time.monotonic() - started < PARENT_CHECK + 2
    writer.close()
    assert _next_job(reader, parent=os.getppid()) is None  # and when the web process closed the pipe



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
