"""The Vapi structured parser against the reference facets, and coverage of every published endedReason."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bot import vapi

FIXTURES = Path(__file__).parent / "fixtures"
ROWS = list(csv.DictReader((FIXTURES / "vapi-facets.tsv").open(encoding="utf-8"), delimiter="\t"))
CURRENT = [line.strip() for line in (FIXTURES / "vapi-ended-reasons.txt").open(encoding="utf-8") if line.strip()]


def _expected(row: dict[str, str]) -> dict[str, str | int]:
    want: dict[str, str | int] = {}
    if row["fault"]:
        want["fault"] = row["fault"]
    want["component"] = row["component"]
    if row["provider"]:
        want["vendor"] = row["provider"]
    if row["http_status"]:
        want["http_status"] = int(row["http_status"])
    return want


STRUCTURED = [r for r in ROWS if r["fault"] or r["provider"]]


@pytest.mark.parametrize("row", STRUCTURED, ids=[r["code"] for r in STRUCTURED])
def test_parser_agrees_with_reference_facets(row: dict[str, str]) -> None:
    assert vapi.parse(row["code"]) == _expected(row)


def test_parser_reads_codes_not_in_any_list() -> None:
    assert vapi.parse("pipeline-error-newvendor-429-exceeded-quota") == {"fault": "pipeline", "http_status": 429}
    assert vapi.parse("call.in-progress.error-providerfault-openai-529-brand-new") == {
        "fault": "providerfault", "component": "llm", "vendor": "openai", "http_status": 529}
    assert vapi.parse("pipeline-error-eleven-labs-some-future-reason") == {
        "fault": "pipeline", "component": "voice", "vendor": "eleven-labs"}


def test_unprefixed_codes_have_no_fault() -> None:
    assert "fault" not in vapi.parse("customer-ended-call")


def test_list_fixture_is_complete() -> None:
    assert len(CURRENT) == 571 and len(set(CURRENT)) == 571


@pytest.mark.parametrize("code", CURRENT)
def test_every_current_code_gets_an_answer(ask, code: str) -> None:
    answer = ask(code)
    assert answer.best is not None, code
    best = answer.best
    assert best.entry.source == "vapi"
    assert best.via in ("exact", "pattern"), (code, best.via)
    assert best.token == code
    if best.via == "exact":
        assert code == best.entry.code or code in best.entry.aliases
    else:
        assert best.entry.is_family
        import fnmatch
        assert any(fnmatch.fnmatchcase(code, p) for p in best.entry.patterns)
    assert best.entry.fix and best.entry.meaning


@pytest.mark.parametrize("row", [r for r in ROWS if r["status"] != "current"], ids=lambda r: r["code"])
def test_retired_and_newer_codes_get_an_answer(ask, row: dict[str, str]) -> None:
    answer = ask(row["code"])
    assert answer.best is not None and answer.best.entry.source == "vapi"
    assert answer.best.via in ("exact", "pattern")


@pytest.mark.parametrize("old, new", [
    ("pipeline-no-available-llm-model", "call.in-progress.error-pipeline-no-available-llm-model"),
    ("call.start.error-get-org", "call.start.error-vapifault-get-org"),
])
def test_older_spellings(ask, old: str, new: str) -> None:
    best = ask(old).best
    assert best is not None and best.entry.code == new and best.via == "exact"


def test_structured_family_facets(ask) -> None:
    best = ask("pipeline-error-anthropic-429-exceeded-quota").best
    assert best.facets["component"] == "llm" and best.facets["vendor"] == "anthropic" and best.facets["http_status"] == 429


def test_code_without_phase_prefix(ask) -> None:
    for short in ("vapifault-cartesia-voice-failed", "openai-llm-failed"):
        best = ask(short).best
        assert best is not None and best.entry.source == "vapi" and best.via in ("exact", "pattern"), short


def test_unknown_future_provider_code_falls_to_a_family(ask) -> None:
    best = ask("call.in-progress.error-vapifault-acme-voice-failed").best
    assert best is not None and best.via == "pattern" and best.entry.is_family
