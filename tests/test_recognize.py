"""Recognition of codes in any text, and refusal of everything that only looks like a number."""
from __future__ import annotations

import pickle

import pytest

from bot.recognize import PHRASE_WORD, WORD_TOKEN, _Spans
from conftest import found, top

EIGHT = {("8x8-voice", "-2008"), ("8x8-number-masking", "-2008")}


@pytest.mark.parametrize("text", [
    "-2008", "\u22122008", "\u20132008", "2008", "error 2008", "errorCode=-2008", '{"errorCode": -2008}',
    "statusCode:-2008", "`-2008`", '"-2008"', "'-2008'", "```\nerrorCode=-2008\n```", "got -2008 again",
    "ERRORCODE=-2008", "&lt;-2008&gt;",
])
def test_forms_of_an_8x8_code(ask, text: str) -> None:
    assert top(ask(text)) in EIGHT, text


def test_api_status_code_in_json(ask) -> None:
    assert top(ask('{"statusCode":-1013,"statusMessage":"Invalid Callflow"}')) == ("8x8-voice-api", "-1013")
    assert top(ask("statusCode:-1013")) == ("8x8-voice-api", "-1013")


@pytest.mark.parametrize("text, code", [
    ("endedReason=customer-did-not-answer", "customer-did-not-answer"),
    ('"endedReason": "silence-timed-out"', "silence-timed-out"),
    ("`assistant-forwarded-call`", "assistant-forwarded-call"),
    ("CUSTOMER-BUSY", "customer-busy"),
    ("<https://dashboard.vapi.ai/calls/1|customer-ended-call>", "customer-ended-call"),
    ("endedReason=manually-canceled.", "manually-canceled"),
])
def test_vapi_code_forms(ask, text: str, code: str) -> None:
    assert top(ask(text)) == ("vapi", code)


def test_codes_in_order_of_appearance(ask) -> None:
    text = "10:00:01 endedReason=voicemail call=b1\n10:00:09 errorCode=-2010 session=ab12\n10:00:12 endedReason=customer-busy"
    got = found(ask(text))
    assert [c for _, c in got] == ["voicemail", "-2010", "customer-busy"]


def test_each_recognised_code_comes_before_alternatives(ask) -> None:
    answer = ask("errorCode=-2004 then errorCode=-2006")
    assert [m.entry.code for m in answer.matches[:2]] == ["-2004", "-2006"]
    assert all(m.recognised for m in answer.matches[:2])
    assert all(not m.recognised for m in answer.matches[2:])


def test_slack_escaped_text(ask) -> None:
    text = "&lt;@U123&gt; see `errorCode=-2005` &amp; <https://example.com/x|logs> <!channel>"
    assert top(ask(text))[1] == "-2005"


@pytest.mark.parametrize("text", [
    "2026-11-23 10:20:08 call failed",           # date and time
    "call at 12:20:10 lasted 2008 ms",            # duration
    "dial +442008123456 please",                  # phone number
    "proxy at 10.0.0.1:5060 refused",             # ip and port
    "id c0ffee00-2008-4000-8000-000000002008",    # uuid
    "hash 0x2008abcd and deadbeef-2008",          # hex ids
    "INC-2008 is open",                           # ticket
    "ref 20931 from the NOC",                     # reference number
    "took 120 seconds to connect",                # duration in words
    "websocket closed with code 1011",            # websocket close code (explained in a note)
    "-7777",                                      # unknown code
    "-4242",
])
def test_never_a_code(ask, text: str) -> None:
    assert ask(text).recognised == [], text


def test_ids_found_for_escalation(ask) -> None:
    answer = ask('ERROR 8x8 VSS sessionId=0c1d2e3f-1111-4a2b-9c3d-5e6f7a8b9c0d errorCode=-2003 at 2026-11-23T10:00:00Z')
    kinds = {i.kind for i in answer.ids}
    assert "8x8 sessionId" in kinds and "timestamp" in kinds
    assert any(i.value.startswith("0c1d2e3f") for i in answer.recognised[0].ids)


def test_vapi_call_id_in_end_of_call_report(ask) -> None:
    answer = ask('{"type":"end-of-call-report","endedReason":"assistant-request-returned-error","call":{"id":"c0ffee00-0000-4000-8000-000000000001"}}')
    assert ("Vapi call id", "c0ffee00-0000-4000-8000-000000000001") in {(i.kind, i.value) for i in answer.ids}


def test_long_log_paste(ask) -> None:
    lines = [f"2026-11-23T10:{i % 60:02d}:00Z worker ok latency=120ms call={i}" for i in range(400)]
    lines[123] = "2026-11-23T10:03:00Z endedReason=pipeline-error-openai-429-exceeded-quota call=123"
    answer = ask("\n".join(lines))
    assert [m.token for m in answer.recognised] == ["pipeline-error-openai-429-exceeded-quota"]


@pytest.mark.parametrize("text", [
    "we have been an 8x8 customer since 2010",   # a year, even next to a vendor name
    "order #48012 shipped",                       # an order number
    'File "/app/handlers/vapi_hooks.py", line 88', # a file name that starts like a provider
    "upgrade to 2.10.1 before friday",            # a version
])
def test_more_non_codes(ask, text: str) -> None:
    assert ask(text).recognised == [], text


def test_hash_before_a_cause_number(ask) -> None:
    assert top(ask("q850 cause #21")) == ("q850", "21")


def test_verb_and_vendor_make_a_bare_number_an_8x8_code(ask) -> None:
    assert top(ask("got 2004 from the 8x8 ivr"))[1] == "-2004"


def test_unknown_negative_code_is_noted_not_guessed(ask) -> None:
    answer = ask("error -3007")
    assert answer.matches == [] and any("-3007 is not a code in the catalog" in n for n in answer.notes)


@pytest.mark.parametrize("text, port", [("is 5061 open on the sbc for tls?", 5061), ("registered on 5060", 5060)])
def test_well_known_ports_are_explained(ask, text: str, port: int) -> None:
    answer = ask(text)
    assert answer.matches == [] and any(f"{port} is the standard SIP" in n for n in answer.notes)


@pytest.mark.parametrize("text, code", [("_-2008_", "-2008"), ("*customer-busy*", "customer-busy"), ("~-2010~", "-2010")])
def test_slack_emphasis_around_a_code(ask, text: str, code: str) -> None:
    assert ask(text).best.entry.code == code and ask(text).best.via == "exact"


def test_ids_belong_to_their_own_log_line(ask) -> None:
    answer = ask("sessionId=s-one-1 errorCode=-2005\n-2010 sessionId=s-two-2")
    first, second = answer.recognised
    assert [i.value for i in first.ids] == ["s-one-1"]
    assert [i.value for i in second.ids] == ["s-two-2"]


def test_words_are_not_ids(ask) -> None:
    assert ask("call: failed, Session: expired, errorCode=-2007").ids == []


@pytest.mark.parametrize("text, first", [
    ("HTTP/1.1 404 Not Found", ("voxifi", "404")),
    ("api endpoint returned 404", ("voxifi", "404")),
    ("curl got 429 from voxifi", ("voxifi", "429")),
    ("SIP/2.0 404 Not Found", ("sip", "404")),
])
def test_layer_decides_between_http_and_sip(ask, text: str, first: tuple[str, str]) -> None:
    answer = ask(text)
    assert top(answer) == first
    assert len(answer.recognised) == 1  # the reason phrase belongs to the status, not a second code


def test_http_status_the_catalog_lacks(ask) -> None:
    answer = ask("our webhook server responded with HTTP 502")
    assert answer.matches == [] and any("HTTP 502 is not one of the HTTP statuses" in n for n in answer.notes)


def test_vendor_words_order_word_codes(ask) -> None:
    assert top(ask("q850 cause no-answer"))[0] == "q850"
    assert top(ask("voxifi status NO_ANSWER"))[0] == "voxifi"


@pytest.mark.parametrize("text", [" ".join(["2008"] * 8000), "-2008 " * 6600, "customer busy " * 2800])
def test_huge_repetitive_pastes_stay_fast(ask, text: str) -> None:
    import time
    started = time.perf_counter()
    answer = ask(text)
    assert time.perf_counter() - started < 5.0  # was minutes before the per-question context
    assert len(answer.recognised) <= 200


def test_code_keys_of_long_texts_are_not_memoised() -> None:
    from bot.text import _token_key, code_key

    _token_key.cache_clear()
    assert code_key("NO_ROUTE_DESTINATION") == code_key("no route destination") == "no-route-destination"
    paste = "Busy Here " * 500
    assert code_key(paste) == "-".join(["busy-here"] * 500)
    assert _token_key.cache_info().currsize == 2  # the two short ones only


# ---- fast paths must agree with the patterns they stand in for ------------------------------------

def _sample_texts(engine) -> list[str]:
    """Texts that hold every catalog code and alias, the stack fixtures' logs and a bench-sized paste, in
    several spellings, plus the non-ASCII letters re.I matches to ASCII ones (long s, Kelvin sign)."""
    import yaml
    from pathlib import Path

    from bench.queries import log_paste

    stacks = yaml.safe_load((Path(__file__).parent / "fixtures" / "stack-logs.yaml").read_text(encoding="utf-8"))
    texts = [case["text"] for case in stacks] + log_paste(6000).split("\n")
    for entry in engine.catalog.entries:
        for name in (entry.code, *entry.aliases):
            texts += [f"endedReason={name}", f'"STATUS": "{name.upper()}"', f"Hangup_Cause: {name.title()}",
                      f"sessionId={name}-1 callId={name} on {name}"]
    texts += [f"{vendor.upper()} said {vendor.title()}"
              for source in engine.catalog.sources.values() for vendor in source.vendor_words]
    return texts + [t.replace("s", "\u017f").replace("k", "\u212a") for t in texts[:400]]


def test_keyed_words_read_as_the_case_blind_pattern(engine) -> None:
    from bot.recognize import KEYED_WORD, _keyed_words

    texts = _sample_texts(engine)
    assert any(_keyed_words(t) for t in texts) and _keyed_words("\u017ftatus=busy")  # long s: not ASCII
    for text in texts:
        assert _keyed_words(text) == [m.span(1) for m in KEYED_WORD.finditer(text)], text


def test_id_needles_never_skip_a_rule_that_matches(engine) -> None:
    from bot.ids import _RULES, _may_match

    every_kind = 'assistantId=asst-1 subAccountId=sub-2 +15550100101 "call": {"id": "c-3"} 10:00:01 leg callId=c-4'
    for text in [*_sample_texts(engine), every_kind, "Call-ID: a1@host", "\u017fe\u017f\u017fion=abc123"]:
        kept = {kind for kind, _ in _may_match(text)}
        assert {kind for kind, rx, _ in _RULES if rx.search(text)} <= kept, text


def test_vendor_needles_never_skip_a_source_the_text_names(engine) -> None:
    recognizer = engine.recognizer
    texts = _sample_texts(engine)
    for text in texts:
        assert recognizer.mentioned(text) == {sid for sid, rx in recognizer.vendor_rx.items() if rx.search(text)}, text
    assert any(recognizer.mentioned(t) for t in texts)


def test_phrase_starts_never_skip_a_phrase(engine) -> None:
    from bot.recognize import _entire_key, _Words
    from bot.text import code_key

    recognizer = engine.recognizer
    texts = [name.replace("-", " ") for e in engine.catalog.entries for name in (e.code, *e.aliases)]
    texts += [f"10:00:01 got {t.title()} then {t.upper()}, {t}" for t in texts] + _sample_texts(engine)
    found = 0
    for text in texts:
        words, stripped = _Words(text), text.strip().strip("\"'`.,;:!?()[]{}")
        free = bytearray(len(text) + 1)
        full = [i for i in range(len(words.lower)) if recognizer._phrase_at(text, words, free, i, code_key(stripped))]
        starts = recognizer._phrase_starts(words.lower, _entire_key(stripped))
        assert set(full) <= set(starts), text
        found += len(full)
    assert found > len(engine.catalog.entries)  # the texts hold phrases to find


def test_typos_are_looked_for_only_when_no_code_was_recognised(engine, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    real = engine.recognizer.fuzzy
    monkeypatch.setattr(engine.recognizer, "fuzzy", lambda token: asked.append(token) or real(token))
    engine.recognizer.find("endedReason=customer-busy; then custommer-ended-call on the retry")
    assert asked == []  # a recognised code wins over any typo: the costly search is skipped
    hits = engine.recognizer.find("we saw custommer-ended-call on the retry of that call today").hits
    assert asked == ["custommer-ended-call"] and [h.context for h in hits] == ["fuzzy"]


@pytest.mark.parametrize("text", ["", "  ", "Busy", "SIP/2.0 486 Busy Here", " a-b.c_d x\ny-z ", "42 -- 43",
                                  "endedReason=customer-busy\ncallId=c0ffee00-0000-4000-8000-000000000001 done"])
def test_spans_are_the_matches_and_positions_finditer_gives(text: str) -> None:
    for pattern in (PHRASE_WORD, WORD_TOKEN):
        spans = _Spans(pattern, text)
        assert list(zip(spans.found, spans.starts, spans.ends)) == [(m.group(1), *m.span()) for m in pattern.finditer(text)]


def test_typo_keys_are_pickled_as_one_string_and_come_back_whole(engine) -> None:
    keys = engine.recognizer.fuzzy_keys
    rebuilt, (joined,) = keys.__reduce__()
    assert isinstance(joined, str) and joined.count("\n") == len(keys) - 1  # one string: one block of memory
    again = pickle.loads(pickle.dumps(keys))
    assert type(again) is type(keys) and again == keys == sorted(keys, key=lambda k: (len(k), k))
    assert rebuilt("") == [] and all(k in engine.recognizer.by_key for k in keys)


def test_ids_of_a_long_paste_come_from_the_lines_of_its_codes_not_of_its_typos(ask) -> None:
    filler = "\n".join(f"2026-12-03 08:{i % 60:02d}:00 INFO heartbeat ok" for i in range(150))
    paste = (f"{filler}\ncallId=7d3c1f9e-1111-4a2b-9c3d-000000000001 endedReason=customer-busy\n"
             f"callId=7d3c1f9e-2222-4a2b-9c3d-000000000002 note custommer-ended-call\n{filler}")
    assert len(paste) > 4000
    ids = [i.value for i in ask(paste).ids]
    assert any(v.endswith("0001") for v in ids) and not any(v.endswith("0002") for v in ids)
