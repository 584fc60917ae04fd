"""Running the bot: Socket Mode for local development, HTTP on gunicorn for production.

HTTP runs one gunicorn worker process with threads, because the dedupe memory is in-process and a retry
must meet the process that saw the first delivery. Answers are worked out in a child process of that
worker (bot.slack.answering), so acks never wait behind them. The app is built and the knowledge checked
before gunicorn starts, so a bad token or knowledge error stops `voicecode serve` with a message instead
of a worker crash loop.
"""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.error import URLError

from gunicorn.app.base import BaseApplication
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

from .answering import Answering, ProcessAnswering
from .app import build_app
from .config import ConfigError, Mode, load_config, startup_message

log = logging.getLogger("voicecode.slack")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
DEFAULT_PORT = 3000
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - a PaaS routes to the container's interface; VOICECODE_HOST narrows it
# A request holds a thread for about a millisecond (Bolt verifies it, its listener hands the work on): a few
# threads keep up with one interpreter lock, and more only take turns at it, which under load cost the bot
# acks (the answer process needs the CPU they spend waking and sleeping).
THREADS = 4

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wsgi_app(app: App, answering: Answering | None = None) -> WSGIApp:
    """Bolt at /slack/events plus GET /healthz for the platform's health checks (no Slack signature there);
    health is 503 while the answer process cannot run, so the platform restarts the bot."""
    bolt = SlackRequestHandler(app, path=EVENTS_PATH)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            ok = answering is None or answering.healthy()
            body = b"ok" if ok else b"answer process down"
            start_response("200 OK" if ok else "503 Service Unavailable",
                           [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
            return [body]
        return bolt(environ, start_response)

    return application


class GunicornServer(BaseApplication):
    """gunicorn with settings from code (no command-line parsing), serving an already built WSGI app."""

    def __init__(self, application: WSGIApp, options: dict[str, Any]):
        self.application = application
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        return self.application


def gunicorn_options(host: str, port: int, answering: Answering | None = None) -> dict[str, Any]:
    """One threaded worker; an answer process starts after the fork and finishes its answers on exit.

    No access log unless VOICECODE_ACCESS_LOG=1: the platform's router logs requests already, and a log line
    per request cost a third of the worker's throughput under load (BENCHMARKS.md, section 3).
    """
    options: dict[str, Any] = {
        "bind": f"{host}:{port}", "workers": 1, "worker_class": "gthread", "threads": THREADS, "timeout": 30,
        "graceful_timeout": 10, "errorlog": "-", "loglevel": "info"}
    if os.environ.get("VOICECODE_ACCESS_LOG", "").strip() == "1":
        options["accesslog"] = "-"
    if answering is not None:
        options["post_worker_init"] = lambda worker: answering.start()
        options["worker_exit"] = lambda server, worker: answering.stop()
    return options


def resolve_port(port: int | None) -> int:
    """--port, else $PORT (set by most platforms), else 3000."""
    if port:
        return port
    raw = os.environ.get("PORT", "").strip()
    if raw and not raw.isdigit():
        raise ConfigError(f"PORT must be a number, got {raw!r}")
    return int(raw) if raw else DEFAULT_PORT


def run_http(app: App, port: int, answering: Answering | None = None) -> int:
    """Serve `app` on gunicorn until it is stopped; `answering` (if the app answers elsewhere) runs alongside."""
    host = os.environ.get("VOICECODE_HOST", "").strip() or DEFAULT_HOST
    log.info("serving Slack events on http://%s:%d%s (health: %s)", host, port, EVENTS_PATH, HEALTH_PATH)
    try:
        GunicornServer(wsgi_app(app, answering), gunicorn_options(host, port, answering)).run()
    except SystemExit as stop:  # gunicorn's arbiter always leaves through sys.exit
        return int(stop.code or 0)
    return 0


def run_socket_mode(app: App, app_token: str, answering: Answering) -> int:
    handler = SocketModeHandler(app, app_token)
    try:
        answering.start()
        handler.start()
    except SlackApiError as err:
        print(f"voicecode: Slack refused the Socket Mode connection ({err.response.get('error')}); check "
              "SLACK_APP_TOKEN (xapp-..., scope connections:write) and that Socket Mode is enabled", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        handler.close()
        answering.stop()
    return 0


def serve(http: bool, port: int | None, config_path: str | None) -> int:
    """`voicecode serve [--http] [--port N] [--config FILE]`; returns the process exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    mode: Mode = "http" if http else "socket"
    try:
        config = load_config(config_path)
        port_number = resolve_port(port) if http else 0
    except ConfigError as exc:
        print(f"voicecode: {exc}", file=sys.stderr)
        return 2
    problems = config.problems(mode)
    if problems:
        print(startup_message(problems, mode), file=sys.stderr)
        return 2
    answering = ProcessAnswering(config)
    try:
        app = build_app(config, answering=answering)
    except BoltError as exc:
        print(f"voicecode: Slack rejected SLACK_BOT_TOKEN: {exc}", file=sys.stderr)
        return 2
    except URLError as exc:
        print(f"voicecode: cannot reach the Slack Web API at {config.api_url}: {exc.reason}", file=sys.stderr)
        return 2
    return run_http(app, port_number, answering) if http else run_socket_mode(app, config.app_token, answering)
