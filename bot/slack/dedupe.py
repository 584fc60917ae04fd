"""At-most-once handling of Slack deliveries.

Bolt runs listeners again for every retry Slack sends (X-Slack-Retry-Num), and a message that mentions the
bot arrives twice (app_mention and message). Both must produce one reply, so deliveries are claimed in a
TTL store: by event_id in a global middleware, and by (channel, ts) where a listener answers a message.
The store is in-process, which is why the HTTP server runs a single worker process.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from slack_bolt.response import BoltResponse

DEFAULT_TTL = 600.0
DEFAULT_MAX_KEYS = 50_000


class TTLStore:
    """A thread-safe set whose members expire after `ttl` seconds; `claim` is an atomic set-if-absent."""

    def __init__(self, ttl: float = DEFAULT_TTL, max_keys: int = DEFAULT_MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_keys = max_keys
        self._clock = clock
        self._expires: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, key: Hashable) -> bool:
        """True the first time `key` is seen within the TTL, False for every repeat."""
        with self._lock:
            now = self._clock()
            self._evict(now)
            if key in self._expires:
                return False
            self._expires[key] = now + self.ttl
            return True

    def _evict(self, now: float) -> None:
        # Keys are inserted in expiry order (constant TTL), so expired ones sit at the front.
        while self._expires and (next(iter(self._expires.values())) <= now or len(self._expires) >= self.max_keys):
            self._expires.popitem(last=False)


def dedupe_events(seen: TTLStore) -> Callable[..., BoltResponse | None]:
    """Global middleware: a repeated event_id is acknowledged with 200 and never reaches a listener."""

    # Bolt injects arguments by name, hence `next`.
    def middleware(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse | None:  # noqa: A002
        event_id = body.get("event_id")
        if event_id and not seen.claim(("event", event_id)):
            return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})
        return next()

    return middleware
