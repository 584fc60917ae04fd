"""Fixtures for the Slack tests: a fake Slack Web API, and the bot served over real HTTP against it.

Loaded with `pytest_plugins = ["conftest_slack"]` from the Slack test modules; the real engine comes from
the shared `engine` fixture in conftest.py.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack.answering import Asks
from bot.slack.config import SlackConfig
from slack_support.bot_server import Bot, running_bot, running_bot_with_answer_process, test_config
from slack_support.fake_slack import FakeSlack


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture
def slack_config(fake_slack: FakeSlack, tmp_path: Path) -> SlackConfig:
    return test_config(fake_slack, str(tmp_path / "voicecode.db"))


@pytest.fixture(params=["answer-threads", "answer-process"])
def bot(request: pytest.FixtureRequest, slack_config: SlackConfig, engine: Asks, fake_slack: FakeSlack) -> Iterator[Bot]:
    """The bot over real HTTP, answering on threads of its own process and, as `voicecode serve` does, in a child
    process: every Slack behaviour is checked both ways."""
    if request.param == "answer-process":
        with running_bot_with_answer_process(slack_config, fake_slack) as running:
            yield running
    else:
        with running_bot(slack_config, engine, fake_slack) as running:
            yield running
