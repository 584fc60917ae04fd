"""Assertions on what would appear in Slack: limits, and that nothing echoed can ping or forge a link."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

CONTROL = re.compile(r"<[^<>]*>")


def texts(blocks: list[dict[str, Any]], text: str = "") -> list[str]:
    """Every text Slack parses for mentions and links: the fallback and the mrkdwn objects (plain_text is inert)."""
    objects = [blk["text"] for blk in blocks if "text" in blk]
    objects += [e for blk in blocks for e in blk.get("elements", []) if e.get("type") == "mrkdwn"]
    return ([text] if text else []) + [o["text"] for o in objects if o["type"] == "mrkdwn"]


def control_sequences(pieces: Iterable[str]) -> list[str]:
    return [m.group(0) for piece in pieces for m in CONTROL.finditer(piece)]


def assert_only_allowed(pieces: Iterable[str], allowed: Iterable[str]) -> None:
    """Every `<...>` must be one of ours: a link to https, or exactly one of the allowed mentions."""
    allowed = set(allowed)
    for seq in control_sequences(pieces):
        assert seq in allowed or re.fullmatch(r"<https://[^\s<>|]+\|[^<>]*>", seq), f"unexpected control sequence {seq}"
        assert "evil" not in seq, f"user-supplied link rendered live: {seq}"


def assert_within_limits(blocks: list[dict[str, Any]], text: str) -> None:
    assert 0 < len(text) <= 40_000
    assert len(blocks) <= 50
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            assert len(block["text"]["text"]) <= 150
        elif kind == "section":
            assert 0 < len(block["text"]["text"]) <= 3000
        elif kind == "context":
            assert 0 < len(block["elements"]) <= 10
            assert all(len(e["text"]) <= 3000 for e in block["elements"])
        elif kind == "actions":
            for element in block["elements"]:
                assert len(element["text"]["text"]) <= 75
                assert len(element["value"]) <= 2000
                assert len(element["action_id"]) <= 255


def fences_balanced(pieces: Iterable[str]) -> bool:
    return all(piece.count("```") % 2 == 0 for piece in pieces)
