"""The at-most-once memory behind retry and duplicate-event handling."""
from __future__ import annotations

import threading

from bot.slack.dedupe import TTLStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_claim_is_true_once_within_the_ttl() -> None:
    clock = Clock()
    seen = TTLStore(ttl=600, clock=clock)
    assert seen.claim(("event", "Ev1")) and not seen.claim(("event", "Ev1"))
    clock.now += 599
    assert not seen.claim(("event", "Ev1"))
    clock.now += 2
    assert seen.claim(("event", "Ev1"))


def test_the_store_is_bounded() -> None:
    seen = TTLStore(ttl=600, max_keys=3, clock=Clock())
    for key in "abcd":
        assert seen.claim(key)
    assert seen.claim("a")  # the oldest key made room for newer ones
    assert not seen.claim("d")


def test_concurrent_claims_have_one_winner() -> None:
    seen = TTLStore()
    wins: list[bool] = []
    barrier = threading.Barrier(16)

    def race() -> None:
        barrier.wait()
        wins.append(seen.claim(("message", "C1", "1.2")))

    threads = [threading.Thread(target=race) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1
