"""The bot's WSGI app served on 127.0.0.1 (random port) in a thread, as a real HTTP server, with the
settings the tests assert against (passive channel, allowed alert bot, escalation routes)."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App

from bot.slack.answering import Answerer, Answering, Asks, ProcessAnswering, ThreadAnswering
from bot.slack.app import build_app
from bot.slack.config import EscalationTarget, SlackConfig
from bot.slack.server import EVENTS_PATH, wsgi_app
from bot.store import Store

from .fake_slack import BOT_TOKEN, FakeSlack
from .slack_requests import SECRET, SlackSender

PASSIVE_CHANNEL = "C0PASSIVE1"
ALERT_BOT = "B0ALERTS01"
ONCALL_CHANNEL = "C0ONCALL01"
ONCALL_GROUP = "S0ONCALL01"
CONFIG_CHANNEL = "C0CONFIG01"
CONFIG_GROUP = "S0CONFIG01"


def test_config(fake: FakeSlack, db_path: str) -> SlackConfig:
    """Passive mode in one channel, one monitoring bot allowed, `configuration` routed apart from the rest."""
    return SlackConfig(
        bot_token=BOT_TOKEN, signing_secret=SECRET, api_url=fake.api_url, db_path=db_path,
        passive_channels=frozenset({PASSIVE_CHANNEL}), allow_bots=frozenset({ALERT_BOT}),
        escalation={"configuration": EscalationTarget(CONFIG_CHANNEL, CONFIG_GROUP)},
        default_escalation=EscalationTarget(ONCALL_CHANNEL, ONCALL_GROUP),
    )


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


class BotServer:
    def __init__(self, app: App, answering: Answering | None = None):
        self.app = app
        self.httpd = make_server("127.0.0.1", 0, wsgi_app(app, answering), server_class=_ThreadingWSGIServer,
                                 handler_class=_QuietHandler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name="bot-http", daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def events_url(self) -> str:
        return self.base + EVENTS_PATH

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
        self.app.listener_runner.listener_executor.shutdown(wait=True)  # type: ignore[attr-defined]


@dataclass
class Bot:
    server: BotServer
    slack: SlackSender
    fake: FakeSlack
    store: Store
    config: SlackConfig
    answering: ProcessAnswering | None = None


@contextmanager
def running_bot(config: SlackConfig, engine: Asks, fake: FakeSlack) -> Iterator[Bot]:
    """The bot answering on threads of its own process, with `engine` (which may be a stand-in)."""
    store = Store(config.db_path)
    answering = ThreadAnswering(Answerer(config, engine, store))
    server = BotServer(build_app(config, answering, store))
    try:
        yield Bot(server, SlackSender(server.events_url), fake, store, config)
    finally:
        server.close()
        answering.stop()


@contextmanager
def running_bot_with_answer_process(config: SlackConfig, fake: FakeSlack) -> Iterator[Bot]:
    """The bot as `voicecode serve` runs it: listeners ack, a child process with the real engine answers."""
    store = Store(config.db_path)
    answering = ProcessAnswering(config)
    answering.start()
    deadline = time.monotonic() + 30
    while not answering.healthy():  # as a platform waits for /healthz before routing traffic
        assert time.monotonic() < deadline, "the answer process never became ready"
        time.sleep(0.05)
    server = BotServer(build_app(config, answering, store), answering)
    try:
        yield Bot(server, SlackSender(server.events_url), fake, store, config, answering)
    finally:
        server.close()
        answering.stop()
