"""A local stand-in for the Slack Web API and for response_url endpoints.

It records every call (method, parameters, headers) and answers the way Slack does: `ok` with a fresh `ts`
for posts, a canned bot identity for auth.test, errors such as `not_in_channel` when a test asks for them,
and a 429 with Retry-After when a test wants a rate limit.
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT_TOKEN = "xoxb-test-token"
BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0000001"


@dataclass
class Call:
    method: str  # a Web API method ("chat.postMessage") or "response_url"
    params: dict[str, Any]
    headers: dict[str, str]
    path: str
    status: int = 200

    @property
    def blocks(self) -> list[dict[str, Any]]:
        raw = self.params.get("blocks") or []
        return json.loads(raw) if isinstance(raw, str) else raw


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._failures: dict[tuple[str, str | None], str] = {}
        self._rate_limits: dict[str, int] = {}
        self._delays: dict[str, float] = {}
        self._ts = itertools.count(1)
        self._changed = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="fake-slack", daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.base}/response/{name}"

    def fail(self, method: str, error: str, channel: str | None = None) -> None:
        """Answer `method` (for `channel`, or any channel) with {"ok": false, "error": error}."""
        self._failures[(method, channel)] = error

    def rate_limit(self, method: str, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and Retry-After: 1."""
        self._rate_limits[method] = times

    def slow(self, method: str, seconds: float) -> None:
        """Answer every call of `method` (or "response_url") only after `seconds`: Slack on a bad day."""
        self._delays[method] = seconds

    def calls_to(self, method: str, status: int = 200) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.method == method and c.status == status]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """The first `count` successful calls of `method`; fails the test if they do not come in time."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := [c for c in self.calls if c.method == method and c.status == 200]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [c.method for c in self.calls]
                    raise AssertionError(f"expected {count} {method} call(s), got {len(found)}; calls: {seen}")
                self._changed.wait(left)
            return found

    def settle(self, quiet: float = 0.3) -> None:
        """Wait until no call has arrived for `quiet` seconds (to assert that nothing more is posted)."""
        while True:
            before = len(self.calls)
            time.sleep(quiet)
            if len(self.calls) == before:
                return

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    # --- answering ---------------------------------------------------------------------------------------

    def record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def answer(self, method: str, params: dict[str, Any], token: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._changed:
            limited = self._rate_limits.get(method, 0) > 0
            if limited:
                self._rate_limits[method] -= 1
        if limited:
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
        if token != BOT_TOKEN:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        channel = params.get("channel")
        error = self._failures.get((method, channel)) or self._failures.get((method, None))
        if error:
            return 200, {"ok": False, "error": error}, {}
        return 200, {"ok": True, **self._result(method, params)}, {}

    def _result(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        ts = f"1700000000.{next(self._ts):06d}"
        if method == "auth.test":
            return {"url": "https://fake.slack.test/", "team": "Fake", "user": "voicecode", "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}
        if method == "chat.postMessage":
            return {"channel": params.get("channel"), "ts": ts,
                    "message": {"text": params.get("text"), "ts": ts, "bot_id": BOT_ID}}
        if method == "chat.postEphemeral":
            return {"message_ts": ts}
        if method == "chat.getPermalink":
            channel, msg_ts = params.get("channel"), str(params.get("message_ts"))
            return {"channel": channel,
                    "permalink": f"https://fake.slack.test/archives/{channel}/p{msg_ts.replace('.', '')}"}
        if method == "views.open":
            view = params.get("view")
            return {"view": {"id": "V0000001", **(json.loads(view) if isinstance(view, str) else view)}}
        return {}


def _handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
            return

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._serve(dict(parse_qsl(urlsplit(self.path).query)))

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if "json" in (self.headers.get("Content-Type") or ""):
                params = json.loads(raw or "{}")
            else:
                params = dict(parse_qsl(raw))
            self._serve({**dict(parse_qsl(urlsplit(self.path).query)), **params})

        def _serve(self, params: dict[str, Any]) -> None:
            path = urlsplit(self.path).path
            headers = {k.lower(): v for k, v in self.headers.items()}
            time.sleep(fake._delays.get("response_url" if path.startswith("/response/") else path.removeprefix("/api/"), 0))
            if path.startswith("/response/"):
                fake.record(Call("response_url", params, headers, path))
                self._send(200, b"ok", {"Content-Type": "text/plain"})
                return
            method = path.removeprefix("/api/")
            token = (headers.get("authorization") or "").removeprefix("Bearer ") or params.get("token", "")
            status, body, extra = fake.answer(method, params, token)
            fake.record(Call(method, params, headers, path, status))
            self._send(status, json.dumps(body).encode(), {"Content-Type": "application/json", **extra})

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
