"""Rendering answers for Slack: escaping, Slack's size limits, splitting, and what each kind of answer says."""
from __future__ import annotations

import json

import pytest

from bot.answer import FoundId
from bot.slack import blocks as b
from slack_support.answers import answer, entry, match
from slack_support.checks import assert_only_allowed, assert_within_limits, fences_balanced, texts

EVIL = "<!channel> <!here> <@U0EVIL0001> <!subteam^S0EVIL0001> <https://evil.example/x|click me> &lt;!everyone&gt;"


def all_texts(messages: list[b.Message]) -> list[str]:
    return [t for m in messages for t in texts(m.blocks, m.text)]


def test_escape_handles_ampersand_first() -> None:
    assert b.escape("a & <b> &lt;") == "a &amp; &lt;b&gt; &amp;lt;"


def test_split_text_keeps_words_and_limits() -> None:
    text = " ".join(f"word{i:04d}" for i in range(2000))
    chunks = b.split_text(text, 3000)
    assert len(chunks) > 1
    assert all(len(c) <= 3000 for c in chunks)
    assert " ".join(chunks).split() == text.split()  # nothing lost, no word cut in two


def test_split_text_closes_and_reopens_a_cut_code_block() -> None:
    code = "\n".join(f"2026-11-22T10:00:{i % 60:02d}Z leg failed status -2008 session {i}" for i in range(200))
    chunks = b.split_text(f"Log:\n```\n{code}\n```\nafter", 1000)
    assert len(chunks) > 2
    assert all(len(c) <= 1000 for c in chunks)
    assert fences_balanced(chunks)
    assert chunks[1].startswith("```\n")


def test_split_text_prefers_line_breaks() -> None:
    lines = [f"line {i} " + "x" * 50 for i in range(100)]
    chunks = b.split_text("\n".join(lines), 500)
    assert all(chunk.split("\n")[0].startswith("line ") for chunk in chunks)


def test_clip_cuts_at_a_word_boundary() -> None:
    assert b.clip("alpha beta gamma", 12) == "alpha beta…"
    assert b.clip("short", 12) == "short"


def test_answer_headline_names_vendor_code_title_owner() -> None:
    reply = b.render_answer(answer("acme 42", match(entry("42", title="Media server down"))), lookup_id=1)
    parent, details = reply.threaded()
    assert "*Acme 42* · Media server down" in parent.text
    assert "owner: the vendor's platform" in parent.text
    assert "How to fix" in details[0].text and "1. Retry the call." in details[0].text


def test_normal_ending_says_not_an_error_and_offers_no_escalation() -> None:
    reply = b.render_answer(answer("acme ok", match(entry("ok", normal=True))), lookup_id=1,
                            escalation_owners={"nobody", "vendor-platform"})
    parent, details = reply.threaded()
    assert "not an error" in parent.text
    assert "Not an error." in details[0].text
    assert b.ESCALATE not in json.dumps(details[0].blocks)


def test_escalate_button_only_for_owners_with_a_route() -> None:
    ans = answer("acme 42", match(entry("42", owner="billing")))
    with_route = b.render_answer(ans, lookup_id=1, escalation_owners={"billing"}).combined()
    without = b.render_answer(ans, lookup_id=1, escalation_owners={"configuration"}).combined()
    assert b.ESCALATE in json.dumps([m.blocks for m in with_route])
    assert b.ESCALATE not in json.dumps([m.blocks for m in without])


def test_log_paste_gets_a_section_per_code_with_its_ids() -> None:
    first = match(entry("41"), ids=(FoundId("Acme call id", "call-aaa"),))
    second = match(entry("42"), ids=(FoundId("timestamp", "2026-11-22T10:00:05Z"),))
    reply = b.render_answer(answer("log", first, second), lookup_id=3, escalation_owners={"vendor-platform"})
    headers = [blk["text"]["text"] for m in reply.combined() for blk in m.blocks if blk["type"] == "header"]
    assert headers == ["Acme 41 · Failure 41", "Acme 42 · Failure 42"]
    body = "\n".join(all_texts(reply.combined()))
    assert "Acme call id: `call-aaa`" in body and "timestamp: `2026-11-22T10:00:05Z`" in body
    values = [e["value"] for m in reply.combined() for blk in m.blocks if blk["type"] == "actions"
              for e in blk["elements"] if e["action_id"] == b.ESCALATE]
    assert [b.EscalationRef.from_value(v).ids for v in values] == [(("Acme call id", "call-aaa"),),
                                                                   (("timestamp", "2026-11-22T10:00:05Z"),)]


def test_others_notes_and_feedback_buttons() -> None:
    ans = answer("acme 4x", match(entry("42"), recognised=False, via="fuzzy", score=81),
                 match(entry("43"), recognised=False, via="fuzzy", score=70), notes=("4x is not a code <here>",))
    reply = b.render_answer(ans, lookup_id=9)
    body = "\n".join(all_texts(reply.combined()))
    assert "Other possible matches" in body and "close spelling, 70%" in body
    assert "4x is not a code &lt;here&gt;" in body
    feedback = [e for m in reply.combined() for blk in m.blocks if blk["type"] == "actions" for e in blk["elements"]]
    assert {(e["action_id"], e["value"]) for e in feedback} >= {(b.HELPFUL, "9"), (b.NOT_HELPFUL, "9")}


def test_no_feedback_buttons_without_a_stored_lookup() -> None:
    reply = b.render_answer(answer("acme 42", match(entry("42"))), lookup_id=None)
    assert b.HELPFUL not in json.dumps([m.blocks for m in reply.combined()])


def test_nothing_echoed_can_ping_or_link() -> None:
    risky = entry("42", title="Title <!here>", meaning=f"Meaning {EVIL}", fix=(f"Step {EVIL}",))
    ans = answer(f"{EVIL} 42", match(risky, ids=(FoundId("Acme call id", "<!channel>"),)), notes=(EVIL,))
    reply = b.render_answer(ans, lookup_id=1, asker="U0USER0001", escalation_owners={"vendor-platform"})
    parent, details = reply.threaded()
    pieces = all_texts([parent, *details]) + [b.render_nothing_found(ans).text]
    assert_only_allowed(pieces, {"<@U0USER0001>"})
    assert "<@U0USER0001> asked" in parent.text


def test_a_huge_log_paste_is_split_into_messages_within_limits() -> None:
    long_fix = tuple(f"Step {i}: " + "check the trunk configuration and the carrier route " * 8 for i in range(12))
    matches = [match(entry(str(100 + i), fix=long_fix), ids=(FoundId("Acme call id", f"call-{i}"),)) for i in range(40)]
    reply = b.render_answer(answer("paste", *matches), lookup_id=1, asker="U0USER0001",
                            escalation_owners={"vendor-platform"})
    parent, details = reply.threaded()
    assert len(details) > 3
    for msg in [parent, *details]:
        assert_within_limits(msg.blocks, msg.text)
        assert fences_balanced(texts(msg.blocks))
    assert "…and 30 more codes" in parent.text
    headers = [blk for m in details for blk in m.blocks if blk["type"] == "header"]
    assert len(headers) == 40  # every code kept, none dropped by the split


@pytest.mark.parametrize("size", [0, 50, 400])
def test_escalation_ref_value_stays_within_limits(size: int) -> None:
    ref = b.EscalationRef(key="acme:42", owner="vendor-platform", label="Acme 42 · " + "t" * 200,
                          ids=tuple(("Acme call id", f"call-{i:040d}") for i in range(size)))
    value = ref.to_value()
    assert len(value) <= b.MAX_VALUE
    assert b.EscalationRef.from_value(value).key == "acme:42"
    ctx = b.EscalationContext(ref, "C0GENERAL1", "1700000000.000001", "https://fake.slack.test/archives/x")
    assert len(ctx.to_metadata()) <= b.MAX_METADATA
    assert b.EscalationContext.from_metadata(ctx.to_metadata()).thread_ts == "1700000000.000001"


def test_escalation_post_mentions_our_group_and_escapes_the_details() -> None:
    ref = b.EscalationRef(key="acme:42", owner="vendor-platform", label="Acme 42 · Failure", ids=())
    ctx = b.EscalationContext(ref, "C0GENERAL1", "1.2", "https://fake.slack.test/archives/C0GENERAL1/p12")
    post = b.escalation_post(ctx, "U0USER0001", f"details {EVIL}", "S0ONCALL01")
    assert post.text.startswith("<!subteam^S0ONCALL01> ")
    assert_only_allowed(texts(post.blocks, post.text), {"<!subteam^S0ONCALL01>", "<@U0USER0001>"})


def test_help_lists_the_ways_in() -> None:
    text = b.render_help().text
    for needle in ("/voicecode 486", "-p", "Mention @voicecode", "Explain voice codes", "&lt;pasted log lines&gt;"):
        assert needle in text


def test_see_also_names_related_entries() -> None:
    linked = match(entry("42", related=("acme:43",)))
    body = "\n".join(all_texts(b.render_answer(answer("acme 42", linked), lookup_id=1).combined()))
    assert "*See also:* `acme:43`" in body
    linked.related = [entry("43", title="Linked failure")]
    body = "\n".join(all_texts(b.render_answer(answer("acme 42", linked), lookup_id=1).combined()))
    assert "*See also:* `acme 43` Linked failure" in body
