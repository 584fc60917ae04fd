"""The fake Slack Web API (tests/slack_support) in a process of its own, so answering the bot's Web API calls
does not compete with the load clients for the benchmark process's interpreter lock.

`python -m bench.fake_api` prints its base URL on the first line, then serves on 127.0.0.1 until its
standard input closes. `/api/bench.counts` (with the bot token) says how many answers have arrived, so the
benchmark can wait until the bot's follow-up work after each ack is done.
"""
from __future__ import annotations

import json
import sys
import urllib.request
from typing import Any

from .fakes import BOT_TOKEN, FakeSlack

COUNTS = "bench.counts"


class CountingFakeSlack(FakeSlack):
    """FakeSlack plus one method that reports what it has received."""

    def _result(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == COUNTS:
            return {"counts": self.counts()}
        return super()._result(method, params)

    def counts(self) -> dict[str, int]:
        """Thread parents and response_url posts: each slash command's answer starts with exactly one."""
        with self._changed:
            calls = [c for c in self.calls if c.status == 200 and c.method != COUNTS]
        posts = [c for c in calls if c.method == "chat.postMessage"]
        parents = sum(1 for c in posts if not c.params.get("thread_ts"))
        responses = sum(1 for c in calls if c.method == "response_url")
        return {"parents": parents, "replies": len(posts) - parents, "response_url": responses,
                "answers": parents + responses, "calls": len(calls)}


def read_counts(api_url: str) -> dict[str, int]:
    """The fake's counters, asked over HTTP like any Web API method."""
    request = urllib.request.Request(f"{api_url}{COUNTS}", headers={"Authorization": f"Bearer {BOT_TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        return dict(json.loads(resp.read())["counts"])


def main() -> None:
    fake = CountingFakeSlack()
    print(fake.base, flush=True)
    sys.stdin.read()
    fake.close()


if __name__ == "__main__":
    main()
