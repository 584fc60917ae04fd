"""The Web API client's process-wide settings: one TLS context for https, no dropped debug lines built."""
from __future__ import annotations

import logging

from bot.slack.config import SlackConfig
from bot.slack.posting import SDK_LOGGERS, make_client, tls_context


def _config(api_url: str) -> SlackConfig:
    return SlackConfig(bot_token="xoxb-t", signing_secret="s", app_token="", api_url=api_url, db_path=":memory:",
                       passive_channels=frozenset(), allow_bots=False, escalation={}, default_escalation=None)


def test_https_clients_share_one_tls_context() -> None:
    first, second = make_client(_config("https://slack.com/api/")), make_client(_config("https://slack.com/api/"))
    assert first.ssl is tls_context() and second.ssl is tls_context()


def test_plain_http_gets_no_context() -> None:
    assert make_client(_config("http://127.0.0.1:1/api/")).ssl is None


def test_sdk_loggers_get_an_explicit_level() -> None:
    make_client(_config("http://127.0.0.1:1/api/"))
    for name in SDK_LOGGERS:
        assert logging.getLogger(name).level > logging.DEBUG
