"""The Web API client's process-wide settings: one TLS context for https, no dropped debug lines built."""
from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.slack.config import DEFAULT_API_URL, SlackConfig
from bot.slack.posting import SDK_LOGGERS, make_client, tls_context, tls_for


@pytest.fixture
def sdk_loggers() -> Iterator[list[logging.Logger]]:
    """slack_sdk's loggers as a fresh process has them (level unset); every level is restored after the test
    with setLevel, which also clears what the loggers cached of isEnabledFor's answers."""
    loggers = [logging.getLogger(name) for name in SDK_LOGGERS]
    root = logging.getLogger()
    before = [(logger, logger.level) for logger in (*loggers, root)]
    for logger in loggers:
        logger.setLevel(logging.NOTSET)
    yield loggers
    for logger, level in before:
        logger.setLevel(level)


def test_https_clients_share_one_tls_context() -> None:
    assert DEFAULT_API_URL.startswith("https:")
    first, second = make_client(SlackConfig(bot_token="xoxb-t")), make_client(SlackConfig(bot_token="xoxb-t"))
    assert first.ssl is tls_context() and second.ssl is tls_context()


def test_plain_http_gets_no_context() -> None:
    assert make_client(SlackConfig(bot_token="xoxb-t", api_url="http://127.0.0.1:1/api/")).ssl is None


def test_sdk_loggers_get_an_explicit_level(sdk_loggers: list[logging.Logger]) -> None:
    make_client(SlackConfig(bot_token="xoxb-t"))
    assert all(logger.level == logging.INFO for logger in sdk_loggers)


def test_sdk_debug_lines_stay_when_debug_logging_is_on(sdk_loggers: list[logging.Logger]) -> None:
    logging.getLogger().setLevel(logging.DEBUG)
    make_client(SlackConfig(bot_token="xoxb-t"))
    assert all(logger.level == logging.NOTSET for logger in sdk_loggers)


def test_the_context_follows_each_url_not_the_api_url() -> None:
    assert tls_for("https://hooks.slack.com/commands/T1/2/x") is tls_context()
    assert tls_for("http://127.0.0.1:8080/respond/1") is None
