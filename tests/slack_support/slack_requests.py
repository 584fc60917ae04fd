"""Requests to the bot made exactly as Slack makes them: signed `v0:<ts>:<body>` HMAC-SHA256, form or JSON.

Payload builders follow the shapes in Slack's docs and bolt-python's scenario tests (slash command form,
event_callback JSON, block_actions / view_submission / message_action as a form field `payload`).
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .fake_slack import BOT_USER_ID, TEAM_ID

SECRET = "test-signing-secret-0123456789abcdef"
USER = "U0USER0001"
CHANNEL = "C0GENERAL1"
FORM = "application/x-www-form-urlencoded"
_event_ids = itertools.count(1)


def signature_headers(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@dataclass
class Response:
    status: int
    body: str
    elapsed: float
    headers: dict[str, str]


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


class SlackSender:
    """Posts signed requests to the bot's /slack/events URL."""

    def __init__(self, url: str, secret: str = SECRET):
        self.url = url
        self.secret = secret

    def post(self, body: bytes, content_type: str, headers: dict[str, str] | None = None, *,
             secret: str | None = None, timestamp: int | None = None, signed: bool = True) -> Response:
        sig = signature_headers(body, secret or self.secret, timestamp) if signed else {}
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": content_type, **sig, **(headers or {})})
        start = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return Response(resp.status, resp.read().decode(), time.monotonic() - start, _lower(resp.headers))
        except urllib.error.HTTPError as err:
            return Response(err.code, err.read().decode(), time.monotonic() - start, _lower(err.headers))

    def command(self, text: str, response_url: str, *, channel: str = CHANNEL, user: str = USER, **kw: Any) -> Response:
        return self.post(command_form(text, response_url, channel, user), FORM, **kw)

    def event(self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None,
              **kw: Any) -> Response:
        body = {"token": "legacy-verification-token", "team_id": TEAM_ID, "api_app_id": "A0000001",
                "type": "event_callback", "event_id": event_id or f"Ev{next(_event_ids):08d}",
                "event_time": int(time.time()), "event": event,
                "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True,
                                    "is_enterprise_install": False, "enterprise_id": None}]}
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else {}
        return self.post(json.dumps(body).encode(), "application/json", headers, **kw)

    def interaction(self, payload: dict[str, Any], **kw: Any) -> Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, FORM, **kw)


def command_form(text: str, response_url: str, channel: str = CHANNEL, user: str = USER) -> bytes:
    """The body of a /voicecode slash command as Slack posts it (form-encoded)."""
    form = {"token": "legacy-verification-token", "team_id": TEAM_ID, "team_domain": "fake",
            "channel_id": channel, "channel_name": "general", "user_id": user, "user_name": "oncall",
            "command": "/voicecode", "text": text, "response_url": response_url,
            "trigger_id": "13345224609.738474920.8088930838d88f008e0", "api_app_id": "A0000001"}
    return urlencode(form).encode()


def mention(text: str, ts: str, *, channel: str = CHANNEL, user: str = USER,
            thread_ts: str | None = None) -> dict[str, Any]:
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER_ID}> {text}", "ts": ts, "channel": channel,
             "event_ts": ts}
    return {**event, "thread_ts": thread_ts} if thread_ts else event


def message(text: str, ts: str, *, channel: str = CHANNEL, user: str | None = USER, **extra: Any) -> dict[str, Any]:
    event = {"type": "message", "text": text, "ts": ts, "channel": channel, "event_ts": ts, "channel_type": "channel"}
    return {**event, **({"user": user} if user else {}), **extra}


def block_action(action: dict[str, Any], *, message: dict[str, Any] | None, channel: str = CHANNEL,
                 user: str = USER, response_url: str, is_ephemeral: bool = False) -> dict[str, Any]:
    container = {"type": "message", "channel_id": channel, "is_ephemeral": is_ephemeral,
                 "message_ts": (message or {}).get("ts", "1700000099.000001")}
    payload = {"type": "block_actions", "user": {"id": user, "username": "oncall", "team_id": TEAM_ID},
               "api_app_id": "A0000001", "token": "legacy-verification-token", "container": container,
               "trigger_id": "1111.2222.trigger", "team": {"id": TEAM_ID, "domain": "fake"},
               "channel": {"id": channel, "name": "general"}, "response_url": response_url,
               "actions": [{**action, "block_id": "b1", "type": "button", "action_ts": str(time.time())}],
               "state": {"values": {}}}
    return {**payload, "message": message} if message else payload


def view_submission(view: dict[str, Any], values: dict[str, dict[str, Any]], user: str = USER) -> dict[str, Any]:
    """A submitted modal: `view` as our views.open sent it, `values` as {block_id: {action_id: {...}}}."""
    return {"type": "view_submission", "team": {"id": TEAM_ID, "domain": "fake"},
            "user": {"id": user, "username": "oncall", "team_id": TEAM_ID}, "api_app_id": "A0000001",
            "token": "legacy-verification-token", "trigger_id": "3333.4444.trigger",
            "view": {**view, "id": "V0000001", "team_id": TEAM_ID, "state": {"values": values}, "hash": "1.abc"},
            "response_urls": []}


def message_shortcut(message: dict[str, Any], response_url: str, *, channel: str = CHANNEL,
                     user: str = USER) -> dict[str, Any]:
    return {"type": "message_action", "callback_id": "explain_voice_codes", "trigger_id": "5555.6666.trigger",
            "message_ts": message["ts"], "message": message, "channel": {"id": channel, "name": "alerts"},
            "user": {"id": user, "name": "oncall"}, "team": {"id": TEAM_ID, "domain": "fake"},
            "token": "legacy-verification-token", "response_url": response_url}
