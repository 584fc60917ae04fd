"""SIP and Q.850 codes as voice stacks really log them (FreeSWITCH, Asterisk, Kamailio, LiveKit, Telnyx...)."""
from __future__ import annotations

import pytest

from conftest import found, top


@pytest.mark.parametrize("text, expected", [
    # status lines and plain mentions
    ("SIP/2.0 486 Busy Here", ("sip", "486")),
    ("SIP/2.0 480 Temporarily Unavailable", ("sip", "480")),
    ("sip 503 from the carrier", ("sip", "503")),
    ("sip 603 decline", ("sip", "603")),
    ("the carrier answers the INVITE with 404", ("sip", "404")),
    # Q.850 forms
    ('Reason: Q.850;cause=21;text="CALL_REJECTED"', ("q850", "21")),
    ("cause=16", ("q850", "16")),
    ("hangup cause 17", ("q850", "17")),
    ("Q.850 cause 31", ("q850", "31")),
    # FreeSWITCH
    ("hangup_cause=NO_ROUTE_DESTINATION", ("q850", "3")),
    ('{"hangupCause": "RECOVERY_ON_TIMER_EXPIRE"}', ("q850", "102")),
    ("Originate Failed. Cause: NO_ANSWER", ("q850", "19")),
    ('session:hangup("CALL_REJECTED")', ("q850", "21")),
    ("2026-11-23 10:00:00.123456 [NOTICE] switch_channel.c:1118 Hangup sofia/external/+15551234567@10.0.0.1 [CS_EXECUTE] [ORIGINATOR_CANCEL]",
     ("freeswitch", "ORIGINATOR_CANCEL")),
    # Asterisk
    ('Got SIP response 404 "Not Found" back from 10.0.0.1:5060', ("sip", "404")),
    ("HANGUPCAUSE=21", ("q850", "21")),
    ("X-Asterisk-HangupCauseCode: 21", ("q850", "21")),
    ("DISCONNECTED [reason=404 (Not Found)]", ("sip", "404")),
    # Kamailio / OpenSIPS / drachtio / jambonz
    ("reply 408 Request Timeout", ("sip", "408")),
    ("SipError: INVITE failed with status: 503", ("sip", "503")),
    # LiveKit
    ("sip status: 486 (BUSY_HERE)", ("sip", "486")),
    ('"sip_status_code": "480"', ("sip", "480")),
    ("INVITE response 403", ("sip", "403")),
    # Telnyx / Twilio / Vonage
    ("causeCode=31", ("q850", "31")),
    ('"hangup_cause": "call_rejected"', ("q850", "21")),
    ("SipResponseCode=487", ("sip", "487")),
    ("sip_hangup_cause: 480", ("sip", "480")),
])
def test_stack_forms(ask, text: str, expected: tuple[str, str]) -> None:
    assert expected in found(ask(text)), (text, found(ask(text)))


@pytest.mark.parametrize("phrase, expected", [
    ("Busy Here", ("sip", "486")),
    ("Temporarily Unavailable", ("sip", "480")),
    ("Request Terminated", ("sip", "487")),
    ("Normal Temporary Failure", ("q850", "41")),
    ("Recovery on timer expiry", ("q850", "102")),
])
def test_reason_phrases_without_number(ask, phrase: str, expected: tuple[str, str]) -> None:
    assert top(ask(phrase)) == expected


def test_freeswitch_cause_never_read_as_sip(ask) -> None:
    answer = ask("[ORIGINATOR_CANCEL]")
    assert ("sip", "487") not in found(answer)
    assert top(answer) == ("freeswitch", "ORIGINATOR_CANCEL")


@pytest.mark.parametrize("text", ["reply 466 from the proxy", "SIP/2.0 499 Whatever"])
def test_unregistered_sip_code(ask, text: str) -> None:
    answer = ask(text)
    assert answer.matches == []
    assert any("not a registered SIP response code" in n for n in answer.notes)


def test_vapi_sip_code_links_to_sip_entry(ask) -> None:
    answer = ask("call.in-progress.error-providerfault-outbound-sip-480-temporarily-unavailable")
    assert answer.best.entry.source == "vapi"
    assert ("sip", "480") in {(r.source, r.code) for r in answer.best.related}


def test_sip_and_q850_link_both_ways(engine) -> None:
    by_key = engine.catalog.by_key()
    assert "q850:17" in by_key["sip:486"].related
    assert "sip:486" in by_key["q850:17"].related


@pytest.mark.parametrize("text, first", [
    ("sip 404", "sip"), ("INVITE got 404 from the trunk", "sip"), ("carrier returned 503", "sip"),
    ("voxifi api returned 404", "voxifi"), ("http 404 from the endpoint", "voxifi"), ("voxifi 429", "voxifi"),
])
def test_bare_numbers_ranked_by_context(ask, text: str, first: str) -> None:
    assert top(ask(text))[0] == first, text


def test_bare_number_shows_alternatives(ask) -> None:
    sources = {m.entry.source for m in ask("404").matches}
    assert {"sip", "voxifi"} <= sources


def test_cross_source_see_also(engine) -> None:
    related = set(engine.catalog.by_key()["8x8-voice:-2010"].related)
    assert {"sip:503", "q850:34"} <= related


@pytest.mark.parametrize("text", [
    "rtp ports 10000-20000 are open", "registered on port 5060", "tls on 5061", "websocket closed with 1011",
    "the call lasted 120 seconds", "latency 350 ms on the trunk", "INC-4411 opened", "see ref 20931",
])
def test_telephony_non_codes(ask, text: str) -> None:
    assert ask(text).recognised == [], text


@pytest.mark.parametrize("text, vendor", [("Twilio error 13227 on the outbound leg", "Twilio"),
                                          ("twilio says 21215", "Twilio")])
def test_other_vendor_codes_get_a_note(ask, text: str, vendor: str) -> None:
    answer = ask(text)
    assert answer.matches == []
    assert any(vendor in n and "not in the" in n for n in answer.notes)


@pytest.mark.parametrize("text, expected", [
    ("La llamada falló con el código -2008", ("8x8-voice", "-2008")),
    ("Fehler beim Anruf: hangup_cause=NO_ANSWER", ("q850", "19")),
    ("A chamada terminou com SIP 486", ("sip", "486")),
])
def test_other_languages(ask, text: str, expected: tuple[str, str]) -> None:
    assert expected in found(ask(text))
