"""Ranking: exact > pattern > fuzzy > symptom, vendor words steer, and nothing credible means no match."""
from __future__ import annotations

import pytest

from conftest import top


@pytest.mark.parametrize("typo, code", [
    ("asistant-not-found", "assistant-not-found"),
    ("custommer-ended-call", "customer-ended-call"),
    ("vonage-completd", "vonage-completed"),
    ("customer-did-not-anwser", "customer-did-not-answer"),
    ("call.start.error-subscripton-frozen", "call.start.error-subscription-frozen"),
])
def test_code_typos(ask, typo: str, code: str) -> None:
    best = ask(typo).best
    assert best is not None and (best.entry.source, best.entry.code) == ("vapi", code)
    assert best.via == "fuzzy" and best.score < 100


def test_exact_beats_everything(ask) -> None:
    answer = ask("customer-busy")
    assert answer.best.via == "exact" and answer.best.score == 100
    assert all(m.score < 100 for m in answer.matches[1:])


@pytest.mark.parametrize("question, expected", [
    ("caller hears a busy signal", {("vapi", "customer-busy"), ("voxifi", "busy")}),
    ("we are out of credits", {("vapi", "call.start.error-subscription-insufficient-credits"), ("voxifi", "insufficient-balance")}),
    ("the audio file for the prompt could not be downloaded", {("8x8-voice", "-2006"), ("8x8-number-masking", "-2006")}),
    ("assistant id does not exist", {("vapi", "assistant-not-found")}),
    ("our caller id is not whitelisted", {("8x8-voice", "-2008"), ("8x8-number-masking", "-2008"), ("8x8-voice-api", "-1014")}),
    ("voicemail picked up instead of the customer", {("vapi", "voicemail")}),
])
def test_symptoms_in_words(ask, question: str, expected: set) -> None:
    assert top(ask(question)) in expected


def test_symptom_synonyms(ask) -> None:
    answer = ask("dead air after the transfer")
    assert answer.best is not None and answer.best.via == "symptom"


def test_vendor_words_steer(ask) -> None:
    assert top(ask("concurrent call limit reached on 8x8"))[0].startswith("8x8")
    assert top(ask("rate limited by the voxifi api")) == ("voxifi", "429")
    assert top(ask("masking trunk capacity exceeded")) == ("8x8-number-masking", "-2010")


def test_ambiguous_code_shows_alternatives(ask) -> None:
    answer = ask("-2008")
    assert [m.entry.source for m in answer.matches[:2]] == ["8x8-voice", "8x8-number-masking"]
    assert answer.matches[0].recognised and not answer.matches[1].recognised


@pytest.mark.parametrize("question", [
    "lunch order for friday", "-7777", "can someone review my PR", "the office coffee machine is broken",
    "what time is the standup", "deploy the frontend to staging", "", "   ", "?!", "1234567890",
])
def test_nothing_credible(ask, question: str) -> None:
    assert ask(question).matches == []


def test_scores_are_bounded(ask) -> None:
    for q in ("-2008", "silence after transfer", "asistant-not-found", "pipeline-error-openai-500-server-error"):
        for m in ask(q).matches:
            assert 0 <= m.score <= 100


def test_normal_ending_is_marked(ask) -> None:
    best = ask("customer-ended-call").best
    assert best.entry.normal and best.entry.owner == "nobody"


def test_families_carry_query_facets(ask) -> None:
    best = ask("speech to text provider returning 500").best
    assert best.entry.source == "vapi" and best.facets.get("component") == "transcriber"


def test_related_entries_resolved(ask) -> None:
    best = ask("call.in-progress.error-providerfault-outbound-sip-480-temporarily-unavailable").best
    assert ("sip", "480") in {(r.source, r.code) for r in best.related}


@pytest.mark.parametrize("question", [
    "our webhook answers 404 and voxifi stops sending events",
    "voxifi: the webhook returned 400 for every call.completed event",
])
def test_a_code_said_with_its_keyword_words_reads_as_that_entry(ask, question: str) -> None:
    matches = ask(question).matches
    assert (matches[0].entry.key, matches[0].via, matches[0].recognised) == ("voxifi:webhook-4xx-response", "context", True)
    assert matches[1].entry.source == "voxifi" and matches[1].via == "exact"  # the plain code stays, second


@pytest.mark.parametrize("question", [
    "voxifi api returns 404",  # no webhook words: the API's own status
    "voxifi 404\nwebhook delivery ok",  # the words must be on the code's line
    "sip 404 on the webhook",  # the keyword's entry is of another source than the code read
])
def test_a_code_without_its_keyword_words_keeps_its_plain_reading(ask, question: str) -> None:
    assert ask(question).best.via == "exact"


def test_context_keywords_are_indexed_by_their_one_number(engine) -> None:
    readings = {entry.key: words for entry, words in engine.contexts["404"]}
    assert readings["voxifi:webhook-4xx-response"] == frozenset({"webhook"})
    assert all(not any(w.isdigit() for w in words) for words in readings.values())
