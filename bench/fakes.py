"""The Slack test doubles of tests/slack_support, reused so the benchmark signs requests and answers Web API
calls exactly as the tests do (and stays right when they change)."""
from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
if str(TESTS) not in sys.path:  # the tests import their helpers as `slack_support`, from tests/
    sys.path.insert(0, str(TESTS))

from slack_support.fake_slack import BOT_TOKEN, FakeSlack  # noqa: E402
from slack_support.slack_requests import FORM, SECRET, command_form, signature_headers  # noqa: E402

__all__ = ["BOT_TOKEN", "FORM", "SECRET", "FakeSlack", "command_form", "signature_headers"]
