"""Every row of every seed table is an entry, and asking for its code finds it first."""
from __future__ import annotations

import re

import pytest

from conftest import SHARED, top

EIGHT_X_EIGHT = ["-2001", "-2002", "-2003", "-2004", "-2005", "-2006", "-2007", "-2008", "-2009", "-2010", "-9999"]
VOXIFI = ["queued", "ringing", "in-progress", "completed", "failed", "busy", "no-answer", "canceled",
          "insufficient-balance", "invalid-phone-number", "no-phone-number-assigned", "agent-not-found",
          "200", "400", "401", "403", "404", "429", "500",
          "webhook-connection-failed", "webhook-timeout", "webhook-invalid-signature", "webhook-4xx-response"]
API_STATUS = ["1", "-9999"] + [f"-{n}" for n in range(1001, 1021)]


def _keys(engine, source: str) -> set[str]:
    return {e.code for e in engine.catalog.entries if e.source == source}


@pytest.mark.parametrize("source, codes", [
    ("8x8-voice", EIGHT_X_EIGHT), ("8x8-number-masking", EIGHT_X_EIGHT), ("voxifi", VOXIFI), ("8x8-voice-api", API_STATUS),
])
def test_seed_rows_are_entries(engine, source: str, codes: list[str]) -> None:
    assert set(codes) <= _keys(engine, source)


def test_seed_tables_match_the_lists() -> None:
    """When the seed documents are beside the project, the code lists above are exactly their tables."""
    seeds = sorted((SHARED / "seeds").glob("*.txt"))
    if not seeds:
        pytest.skip("../shared/seeds not present")
    text = "\n".join(p.read_text(encoding="utf-8") for p in seeds)
    assert set(re.findall(r"^\| (-\d{4}) \|", text, re.M)) == set(EIGHT_X_EIGHT)
    vapi_codes = set(re.findall(r"`((?:call|assistant|customer|pipeline|twilio|vonage|phone|worker|manually|exceeded|silence|voicemail)[a-z0-9.\-]*)`", text))
    assert len(vapi_codes) > 50


def test_vapi_seed_codes_are_answered(ask) -> None:
    seeds = sorted((SHARED / "seeds").glob("*.txt"))
    if not seeds:
        pytest.skip("../shared/seeds not present")
    text = "\n".join(p.read_text(encoding="utf-8") for p in seeds)
    codes = {c for c in re.findall(r"`([a-z][a-z0-9.\-]+[a-z0-9])`", text) if "-" in c}
    assert len(codes) > 50
    for code in sorted(codes):
        best = ask(code).best
        assert best is not None and best.entry.source == "vapi" and best.via in ("exact", "pattern"), code


@pytest.mark.parametrize("code", EIGHT_X_EIGHT)
def test_8x8_codes_answer_with_both_twins(ask, code: str) -> None:
    answer = ask(code)
    sources = [m.entry.source for m in answer.matches[:2]]
    assert top(answer) == ("8x8-voice", code)
    assert "8x8-number-masking" in sources


@pytest.mark.parametrize("code", [c for c in VOXIFI if not c.isdigit()])
def test_voxifi_named_codes(ask, code: str) -> None:
    assert top(ask(code)) == ("voxifi", code)


@pytest.mark.parametrize("code", ["-2004", "-2007", "-2008", "-2010"])
def test_masking_has_its_own_troubleshooting(engine, code: str) -> None:
    by_key = engine.catalog.by_key()
    voice, masking = by_key[f"8x8-voice:{code}"], by_key[f"8x8-number-masking:{code}"]
    assert voice.meaning != masking.meaning and voice.fix != masking.fix


def test_masking_steered_by_words(ask) -> None:
    assert top(ask("number masking -2005")) == ("8x8-number-masking", "-2005")
