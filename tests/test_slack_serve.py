"""`serve()`: HTTP mode on gunicorn in a real subprocess, startup errors, and Socket Mode dispatch."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.slack.answering import Answerer, ThreadAnswering
from bot.slack.app import build_app
from bot.slack.config import SlackConfig
from bot.slack.server import gunicorn_options, serve
from bot.store import Store
from slack_support.fake_slack import BOT_TOKEN, FakeSlack
from slack_support.slack_requests import CHANNEL, SECRET, USER, SlackSender

pytest_plugins = ["conftest_slack"]

ROOT = Path(__file__).resolve().parent.parent
SLACK_ENV = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "VOICECODE_CONFIG",
             "VOICECODE_DB", "PORT")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(base: str, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"serve exited early:\n{proc.communicate()[0]}"
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as resp:
                assert resp.read() == b"ok"
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError("the server never became healthy")


def test_serve_http_runs_gunicorn_with_signed_events_and_healthz(fake_slack: FakeSlack, tmp_path: Path) -> None:
    port = _free_port()
    config = tmp_path / "voicecode.yaml"
    config.write_text("escalation:\n  default: {channel: C0ONCALL01, usergroup: S0ONCALL01}\n")
    env = {k: v for k, v in os.environ.items() if k not in SLACK_ENV}
    env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake_slack.api_url,
               VOICECODE_DB=str(tmp_path / "voicecode.db"), VOICECODE_HOST="127.0.0.1",
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    script = "import sys; from bot.slack.server import serve; sys.exit(serve(True, int(sys.argv[1]), sys.argv[2]))"
    proc = subprocess.Popen([sys.executable, "-c", script, str(port), str(config)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, proc)
        slack = SlackSender(f"{base}/slack/events")
        assert slack.command("486", fake_slack.response_url()).status == 200
        parent, reply = fake_slack.wait_for("chat.postMessage", 2)
        assert reply.params["thread_ts"] and "Busy Here" in parent.params["text"]
        assert slack.command("486", fake_slack.response_url(), secret="forged").status == 401
        missing = urllib.request.Request(f"{base}/elsewhere")
        with pytest.raises(urllib.error.HTTPError) as not_found:
            urllib.request.urlopen(missing, timeout=5)
        assert not_found.value.code == 404
    finally:
        proc.terminate()
        output = proc.communicate(timeout=15)[0]
    assert proc.returncode == 0, output
    assert BOT_TOKEN not in output and SECRET not in output
    assert (tmp_path / "voicecode.db").exists()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in SLACK_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_missing_tokens_give_one_message_naming_each(clean_env: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert serve(http=True, port=None, config_path=None) == 2
    err = capsys.readouterr().err
    assert err.count("\n  - ") == 2
    assert "SLACK_BOT_TOKEN is not set" in err and "SLACK_SIGNING_SECRET is not set" in err
    assert "OAuth & Permissions" in err and "Signing Secret" in err


def test_socket_mode_without_app_token_names_it_and_never_echoes_secrets(clean_env: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("SLACK_BOT_TOKEN", "xoxb-super-secret-value")
    assert serve(http=False, port=None, config_path=None) == 2
    err = capsys.readouterr().err
    assert "SLACK_APP_TOKEN is not set" in err and "--http" in err
    assert "super-secret" not in err


def test_a_rejected_token_or_bad_config_stops_with_a_clear_message(
        clean_env: pytest.MonkeyPatch, fake_slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")
    clean_env.setenv("SLACK_SIGNING_SECRET", SECRET)
    clean_env.setenv("SLACK_API_URL", fake_slack.api_url)
    clean_env.setenv("VOICECODE_DB", str(tmp_path / "voicecode.db"))
    assert serve(http=True, port=_free_port(), config_path=None) == 2
    assert "Slack rejected SLACK_BOT_TOKEN" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("passive_chanels: [C0123ABCD]\n")
    assert serve(http=True, port=None, config_path=str(bad)) == 2
    assert "unknown key 'passive_chanels'" in capsys.readouterr().err


class _RecordingSocketClient:
    """Stands in for the WebSocket client: keeps the responses the handler sends back to Slack."""

    def __init__(self, logger: Any):
        self.logger = logger
        self.responses: list[SocketModeResponse] = []

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.responses.append(response)


def test_socket_mode_handler_dispatches_to_the_same_listeners(slack_config: SlackConfig, engine: Any,
                                                              fake_slack: FakeSlack) -> None:
    store = Store(slack_config.db_path)
    answering = ThreadAnswering(Answerer(slack_config, engine, store))
    app = build_app(slack_config, answering, store)
    handler = SocketModeHandler(app, "xapp-1-test")
    try:
        assert handler.app is app
        client = _RecordingSocketClient(app.logger)
        command = {"team_id": "T0000001", "channel_id": CHANNEL, "user_id": USER, "command": "/voicecode",
                   "text": "486", "response_url": fake_slack.response_url(), "trigger_id": "1.2.3"}
        handler.handle(client, SocketModeRequest(type="slash_commands", envelope_id="env-1", payload=command))
        assert [r.envelope_id for r in client.responses] == ["env-1"]
        parent = fake_slack.wait_for("chat.postMessage", 2)[0]
        assert "Busy Here" in parent.params["text"]
    finally:
        handler.close()
        answering.stop()


def test_socket_mode_with_a_refused_app_token_stops_with_a_clear_message(
        clean_env: pytest.MonkeyPatch, fake_slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in (("SLACK_BOT_TOKEN", BOT_TOKEN), ("SLACK_APP_TOKEN", "xapp-revoked"),
                        ("SLACK_API_URL", fake_slack.api_url), ("VOICECODE_DB", str(tmp_path / "voicecode.db"))):
        clean_env.setenv(name, value)
    assert serve(http=False, port=None, config_path=None) == 2
    assert "Slack refused the Socket Mode connection (invalid_auth)" in capsys.readouterr().err
    assert fake_slack.calls_to("apps.connections.open")


@pytest.mark.parametrize("setting, logged", [(None, False), ("1", True), ("0", False), ("yes", False)])
def test_access_log_only_when_asked(monkeypatch: pytest.MonkeyPatch, setting: str | None, logged: bool) -> None:
    if setting is None:
        monkeypatch.delenv("VOICECODE_ACCESS_LOG", raising=False)
    else:
        monkeypatch.setenv("VOICECODE_ACCESS_LOG", setting)
    options = gunicorn_options("127.0.0.1", 3000)
    assert ("accesslog" in options) is logged
    assert options["workers"] == 1 and options["errorlog"] == "-"
