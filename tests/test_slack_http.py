"""The bot as a real HTTP server, driven by requests signed as Slack signs them, answering into a fake Slack.

Assertions are on what would appear in Slack: which messages, in which channel and thread, with what text.
"""
from __future__ import annotations

import json
import sqlite3
import time
import urllib.request

import pytest

from bot.slack import blocks as b
from bot.slack.config import SlackConfig
from slack_support.bot_server import (
    ALERT_BOT, CONFIG_CHANNEL, CONFIG_GROUP, ONCALL_CHANNEL, ONCALL_GROUP, PASSIVE_CHANNEL, Bot, running_bot,
)
from slack_support.checks import assert_only_allowed, assert_within_limits, fences_balanced, texts
from slack_support.fake_slack import BOT_ID, BOT_USER_ID, Call, FakeSlack
from slack_support.slack_requests import (
    CHANNEL, USER, block_action, mention, message, message_shortcut, view_submission,
)

pytest_plugins = ["conftest_slack"]

EVIL = "<!channel> <@U0EVIL0001> <!subteam^S0EVIL0001> <https://evil.example/x|click> &lt;!here&gt;"
LOG = (
    "2026-11-22T10:00:05Z 8x8 sessionId=abc-123-def status -2008 callB FAILED\n"
    "2026-11-22T10:00:09Z trunk reply SIP/2.0 503 Service Unavailable Call-ID: 7f3e@pbx\n"
)


def everything_posted(calls: list[Call]) -> list[str]:
    return [t for c in calls for t in texts(c.blocks, c.params.get("text", ""))]


def posted_text(call: Call) -> str:
    return "\n".join(texts(call.blocks, call.params.get("text", "")))


def test_slash_command_posts_a_headline_then_details_in_its_thread(bot: Bot) -> None:
    resp = bot.slack.command("-2008", bot.fake.response_url())
    assert resp.status == 200 and resp.elapsed < 3
    parent, *replies = bot.fake.wait_for("chat.postMessage", 2)
    bot.fake.settle()
    assert parent.params["channel"] == CHANNEL and "thread_ts" not in parent.params
    assert "*8x8 -2008*" in parent.params["text"] and "owner: your configuration" in parent.params["text"]
    assert f"<@{USER}> asked `-2008`" in parent.params["text"]
    posts = bot.fake.calls_to("chat.postMessage")
    threads = {c.params.get("thread_ts") for c in posts[1:]}
    assert len(threads) == 1 and None not in threads
    parent_ts = threads.pop()
    assert parent_ts.startswith("1700000000.")
    details = "\n".join(posted_text(c) for c in posts[1:])
    assert "How to fix" in details and "Escalate to" in details and "Other possible matches" in details
    for call in posts:
        assert_within_limits(call.blocks, call.params["text"])
    assert not bot.fake.calls_to("response_url")


def test_help_and_empty_command_answer_only_the_asker_in_the_ack(bot: Bot) -> None:
    for text in ("", "help", "-p --help"):
        resp = bot.slack.command(text, bot.fake.response_url(f"help-{text}"))
        helped = json.loads(resp.body)
        assert resp.status == 200 and resp.headers["content-type"].startswith("application/json")
        assert helped["response_type"] == "ephemeral" and "/voicecode 486" in helped["text"]
        assert_within_limits(helped["blocks"], helped["text"])
    bot.fake.settle()
    assert bot.fake.calls == [c for c in bot.fake.calls if c.method == "auth.test"]  # no Web API call, no post


def test_private_flag_answers_ephemerally_through_response_url(bot: Bot) -> None:
    bot.slack.command("-p 486", bot.fake.response_url("private"))
    first = bot.fake.wait_for("response_url")[0]
    bot.fake.settle()
    assert first.path == "/response/private" and first.params["response_type"] == "ephemeral"
    assert "Busy Here" in first.params["text"]
    assert not bot.fake.calls_to("chat.postMessage")


def test_when_the_bot_is_not_in_the_channel_the_asker_still_gets_the_answer(bot: Bot) -> None:
    bot.fake.fail("chat.postMessage", "not_in_channel", channel=CHANNEL)
    bot.slack.command("486", bot.fake.response_url("fallback"))
    note, *answer = bot.fake.wait_for("response_url", 2)
    assert "not_in_channel" in note.params["text"] and "/invite @voicecode" in note.params["text"]
    assert all(c.params["response_type"] == "ephemeral" for c in [note, *answer])
    assert "Busy Here" in answer[0].params["text"]


def test_nothing_found_gives_tips_and_is_recorded_as_unanswered(bot: Bot) -> None:
    bot.slack.command("frobnicator wibble quux", bot.fake.response_url("none"))
    reply = bot.fake.wait_for("response_url")[0]
    assert "Nothing in the catalog matches" in reply.params["text"] and "Tips" in reply.params["text"]
    assert [q for q, _, _ in bot.store.unanswered(10)] == ["frobnicator wibble quux"]


def test_user_text_can_never_ping_or_forge_a_link(bot: Bot) -> None:
    bot.slack.command(f"{EVIL} -2008", bot.fake.response_url())
    bot.slack.event(mention(f"{EVIL} 486", "1700000100.000100"))
    bot.slack.command(f"{EVIL} nothing-matches-this-zzz", bot.fake.response_url("none"))
    bot.fake.wait_for("chat.postMessage", 3)
    bot.fake.wait_for("response_url")
    bot.fake.settle()
    pieces = everything_posted(bot.fake.calls_to("chat.postMessage") + bot.fake.calls_to("response_url"))
    assert_only_allowed(pieces, {f"<@{USER}>"})
    assert any("&lt;!here&gt;" in p for p in pieces)  # typed by the user: shown, as text


def test_mention_is_answered_in_its_thread_without_the_bot_mention(bot: Bot) -> None:
    bot.slack.event(mention("what is 486?", "1700000200.000100"))
    bot.slack.event(mention("and -2008", "1700000300.000100", thread_ts="1700000250.000001"))
    posts = bot.fake.wait_for("chat.postMessage", 2)
    by_thread = {c.params["thread_ts"]: posted_text(c) for c in posts}
    assert "Busy Here" in by_thread["1700000200.000100"]
    assert "8x8 -2008" in by_thread["1700000250.000001"]
    assert all(BOT_USER_ID not in t for t in by_thread.values())


def test_log_paste_explains_every_code_with_the_ids_found_near_it(bot: Bot) -> None:
    bot.slack.event(mention(f"```{LOG}```", "1700000400.000100"))
    bot.fake.wait_for("chat.postMessage")
    bot.fake.settle()
    posts = bot.fake.calls_to("chat.postMessage")
    headers = [blk["text"]["text"] for c in posts for blk in c.blocks if blk["type"] == "header"]
    assert any("-2008" in h for h in headers) and any("503" in h for h in headers)
    body = "\n".join(posted_text(c) for c in posts)
    assert "`abc-123-def`" in body and "`2026-11-22T10:00:05Z`" in body
    assert fences_balanced(everything_posted(posts))


def test_a_retried_event_gets_exactly_one_reply(bot: Bot) -> None:
    event = mention("486", "1700000500.000100")
    first = bot.slack.event(event, event_id="Ev0RETRY01")
    bot.fake.wait_for("chat.postMessage")
    retry = bot.slack.event(event, event_id="Ev0RETRY01", retry_num=1)
    # The same message also arrives as a plain `message` event with its own event_id.
    duplicate = bot.slack.event({**event, "type": "message"}, event_id="Ev0RETRY02")
    bot.fake.settle()
    assert [first.status, retry.status, duplicate.status] == [200, 200, 200]
    assert retry.headers.get("x-slack-no-retry") == "1"  # dropped before any listener, and Slack told to stop
    assert len(bot.fake.calls_to("chat.postMessage")) == 1


def test_forged_stale_or_unsigned_requests_get_401(bot: Bot) -> None:
    url = bot.fake.response_url()
    assert bot.slack.command("486", url, secret="not-the-secret").status == 401
    assert bot.slack.command("486", url, timestamp=int(time.time()) - 600).status == 401
    assert bot.slack.command("486", url, signed=False).status == 401
    assert bot.slack.event(mention("486", "1700000600.000100"), secret="wrong").status == 401
    bot.fake.settle(0.2)
    assert not bot.fake.calls_to("chat.postMessage") and not bot.fake.calls_to("response_url")


def test_url_verification_and_health_check(bot: Bot) -> None:
    body = json.dumps({"token": "t", "challenge": "c-123", "type": "url_verification"}).encode()
    resp = bot.slack.post(body, "application/json")
    assert resp.status == 200 and json.loads(resp.body) == {"challenge": "c-123"}
    with urllib.request.urlopen(bot.server.base + "/healthz", timeout=5) as health:
        assert health.status == 200 and health.read() == b"ok"


def test_message_shortcut_explains_an_alert_in_its_thread(bot: Bot) -> None:
    alert = {"type": "message", "ts": "1700000700.000100", "bot_id": ALERT_BOT, "text": "",
             "attachments": [{"title": "Calls failing", "text": "status -2008 on leg B",
                              "fields": [{"title": "sip", "value": "SIP/2.0 503 Service Unavailable"}]}]}
    resp = bot.slack.interaction(message_shortcut(alert, bot.fake.response_url("sc")))
    assert resp.status == 200
    post = bot.fake.wait_for("chat.postMessage")[0]
    assert post.params["thread_ts"] == "1700000700.000100"
    assert "-2008" in posted_text(post) and "503" in posted_text(post)
    in_thread = {**alert, "ts": "1700000701.000100", "thread_ts": "1700000690.000001"}
    bot.slack.interaction(message_shortcut(in_thread, bot.fake.response_url("sc2")))
    assert bot.fake.wait_for("chat.postMessage", 2)[-1].params["thread_ts"] == "1700000690.000001"


def test_shortcut_in_a_channel_without_the_bot_answers_the_user_privately(bot: Bot) -> None:
    bot.fake.fail("chat.postMessage", "channel_not_found")
    msg = {"type": "message", "ts": "1700000800.000100", "user": "U0OTHER001", "text": "got 486 again"}
    bot.slack.interaction(message_shortcut(msg, bot.fake.response_url("sc")))
    note, answer = bot.fake.wait_for("response_url", 2)
    assert "channel_not_found" in note.params["text"] and "Busy Here" in answer.params["text"]


@pytest.mark.parametrize("event, answered", [
    pytest.param(message("trunk says 486", "1700000900.000100", channel=PASSIVE_CHANNEL), True, id="person"),
    pytest.param(message("486", "1700000900.000200", channel=CHANNEL), False, id="passive-off-here"),
    pytest.param(message("no codes here, just chatting", "1700000900.000300", channel=PASSIVE_CHANNEL), False,
                 id="no-code"),
    pytest.param(message("486", "1700000900.000400", channel=PASSIVE_CHANNEL, user=None, bot_id=BOT_ID,
                         subtype="bot_message"), False, id="own-bot"),
    pytest.param(message("alert: 486", "1700000900.000500", channel=PASSIVE_CHANNEL, user=None, bot_id=ALERT_BOT,
                         subtype="bot_message"), True, id="allowed-bot"),
    pytest.param(message("alert: 486", "1700000900.000600", channel=PASSIVE_CHANNEL, user=None,
                         bot_id="B0OTHERBOT", subtype="bot_message"), False, id="other-bot"),
    pytest.param(message("486", "1700000900.000700", channel=PASSIVE_CHANNEL, subtype="message_changed"), False,
                 id="edit"),
])
def test_passive_mode(bot: Bot, event: dict, answered: bool) -> None:
    assert bot.slack.event(event).status == 200
    if answered:
        post = bot.fake.wait_for("chat.postMessage")[0]
        assert post.params["thread_ts"] == event["ts"] and "Busy Here" in posted_text(post)
    bot.fake.settle()
    assert len(bot.fake.calls_to("chat.postMessage")) == int(answered)


def test_a_message_is_answered_at_most_once_whatever_its_event_id(bot: Bot) -> None:
    asked = mention("486", "1700000950.000100")
    seen = message("trunk says 486", "1700000950.000200", channel=PASSIVE_CHANNEL)
    for event in (asked, asked, seen, seen):
        assert bot.slack.event(event).status == 200  # each delivery has a fresh event_id
    bot.fake.wait_for("chat.postMessage", 2)
    bot.fake.settle()
    assert sorted(c.params["thread_ts"] for c in bot.fake.calls_to("chat.postMessage")) == [
        "1700000950.000100", "1700000950.000200"]


def test_passive_channel_message_mentioning_the_bot_is_answered_once(bot: Bot) -> None:
    event = mention("486", "1700001000.000100", channel=PASSIVE_CHANNEL)
    bot.slack.event({**event, "type": "message"})
    bot.slack.event(event)
    bot.fake.wait_for("chat.postMessage")
    bot.fake.settle()
    assert len(bot.fake.calls_to("chat.postMessage")) == 1


def _button(call: Call, action_id: str) -> dict:
    return next(e for blk in call.blocks if blk["type"] == "actions" for e in blk["elements"]
                if e["action_id"] == action_id)


def _answer_with(bot: Bot, text: str, action_id: str) -> tuple[Call, dict]:
    bot.slack.event(mention(text, "1700001100.000100"))
    bot.fake.wait_for("chat.postMessage")
    bot.fake.settle()
    call = next(c for c in bot.fake.calls_to("chat.postMessage") if any(
        e.get("action_id") == action_id for blk in c.blocks for e in blk.get("elements", [])))
    return call, _button(call, action_id)


def _submit_escalation(bot: Bot, view: dict, details: str) -> None:
    values = {b.DETAILS_BLOCK: {b.DETAILS_BLOCK: {"type": "plain_text_input", "value": details}}}
    assert bot.slack.interaction(view_submission(view, values)).status == 200


@pytest.mark.parametrize("code, channel, group", [
    pytest.param("-2008 sessionId=abc-123-def", CONFIG_CHANNEL, CONFIG_GROUP, id="owner-route"),
    pytest.param("sip 503", ONCALL_CHANNEL, ONCALL_GROUP, id="default-route"),
])
def test_escalation_posts_to_the_owner_channel_and_notes_it_in_the_thread(bot: Bot, code: str, channel: str,
                                                                         group: str) -> None:
    post, button = _answer_with(bot, code, b.ESCALATE)
    thread = post.params["thread_ts"]
    message_ = {"type": "message", "ts": "1700001100.999999", "thread_ts": thread, "bot_id": BOT_ID}
    bot.slack.interaction(block_action(button, message=message_, response_url=bot.fake.response_url("esc")))
    opened = bot.fake.wait_for("views.open")[0]
    view = opened.params["view"]
    prefilled = view["blocks"][-1]["element"]["initial_value"]
    assert opened.params["trigger_id"] == "1111.2222.trigger"
    assert code.split()[0].replace("sip", "SIP") in prefilled or code.split()[1] in prefilled
    assert f"Thread: https://fake.slack.test/archives/{CHANNEL}/p{thread.replace('.', '')}" in prefilled
    if "sessionId" in code:
        assert "8x8 sessionId: abc-123-def" in prefilled
    _submit_escalation(bot, view, prefilled + f"\ncustomer impact: all calls {EVIL}")
    escalation, note = bot.fake.wait_for("chat.postMessage", 3)[1:]
    assert escalation.params["channel"] == channel
    assert escalation.params["text"].startswith(f"<!subteam^{group}> ")
    assert_only_allowed(texts(escalation.blocks, escalation.params["text"]), {f"<!subteam^{group}>", f"<@{USER}>"})
    assert note.params["channel"] == CHANNEL and note.params["thread_ts"] == thread
    assert f"Escalated to <#{channel}> by <@{USER}>" in note.params["text"]


@pytest.mark.parametrize("trouble", ["error", "rate-limited"])
def test_escalation_link_is_constructed_when_permalink_fails(bot: Bot, trouble: str) -> None:
    if trouble == "error":
        bot.fake.fail("chat.getPermalink", "message_not_found")
    else:
        bot.fake.rate_limit("chat.getPermalink")
    post, button = _answer_with(bot, "486", b.ESCALATE)
    msg = {"type": "message", "ts": "1700001100.999999", "thread_ts": post.params["thread_ts"]}
    bot.slack.interaction(block_action(button, message=msg, response_url=bot.fake.response_url()))
    view = bot.fake.wait_for("views.open", timeout=1.0)[0].params["view"]  # well inside the 3 s trigger_id life
    ts = post.params["thread_ts"].replace(".", "")
    assert f"https://slack.com/archives/{CHANNEL}/p{ts}" in view["blocks"][-1]["element"]["initial_value"]


def test_escalating_from_a_private_answer_reports_back_privately(bot: Bot) -> None:
    bot.slack.command("-p 486", bot.fake.response_url("private"))
    bot.fake.wait_for("response_url")
    bot.fake.settle()
    button = next(e for c in bot.fake.calls_to("response_url") for blk in c.blocks if blk["type"] == "actions"
                  for e in blk["elements"] if e["action_id"] == b.ESCALATE)
    bot.slack.interaction(block_action(button, message=None, is_ephemeral=True, response_url=bot.fake.response_url()))
    view = bot.fake.wait_for("views.open")[0].params["view"]
    assert "Thread:" not in view["blocks"][-1]["element"]["initial_value"]
    _submit_escalation(bot, view, "no thread, asked privately")
    assert bot.fake.wait_for("chat.postMessage")[0].params["channel"] == ONCALL_CHANNEL
    told = bot.fake.wait_for("chat.postEphemeral")[0]
    assert told.params["user"] == USER and f"Escalated to <#{ONCALL_CHANNEL}>" in told.params["text"]


def test_failed_escalation_post_is_told_to_the_user(bot: Bot) -> None:
    post, button = _answer_with(bot, "486", b.ESCALATE)
    bot.fake.fail("chat.postMessage", "not_in_channel", channel=ONCALL_CHANNEL)
    msg = {"type": "message", "ts": "1700001100.999999", "thread_ts": post.params["thread_ts"]}
    bot.slack.interaction(block_action(button, message=msg, response_url=bot.fake.response_url()))
    _submit_escalation(bot, bot.fake.wait_for("views.open")[0].params["view"], "details")
    told = bot.fake.wait_for("chat.postEphemeral")[0]
    assert told.params["user"] == USER and "not_in_channel" in told.params["text"]


def test_acks_never_wait_for_the_slack_calls_after_them(bot: Bot) -> None:
    post, button = _answer_with(bot, "486", b.ESCALATE)
    for method in ("chat.postMessage", "chat.getPermalink", "views.open", "response_url"):
        bot.fake.slow(method, 2.0)
    msg = {"type": "message", "ts": "1700001100.999999", "thread_ts": post.params["thread_ts"]}
    acks = [bot.slack.command("486", bot.fake.response_url("slow")),
            bot.slack.event(mention("-2008", "1700001400.000100")),
            bot.slack.interaction(block_action(button, message=msg, response_url=bot.fake.response_url("esc"))),
            bot.slack.interaction(block_action(_button(post, b.HELPFUL), message=msg,
                                               response_url=bot.fake.response_url("fb")))]
    assert [r.status for r in acks] == [200] * 4
    assert max(r.elapsed for r in acks) < 1.0, [round(r.elapsed, 2) for r in acks]
    assert bot.fake.wait_for("views.open", timeout=10)[0].params["trigger_id"] == "1111.2222.trigger"
    bot.fake.wait_for("chat.postMessage", count=3, timeout=15)  # the first answer's, then both new ones
    bot.fake.wait_for("response_url", timeout=10)


def test_a_failing_modal_is_told_to_the_user_who_clicked(bot: Bot) -> None:
    post, button = _answer_with(bot, "486", b.ESCALATE)
    bot.fake.fail("views.open", "expired_trigger_id")
    msg = {"type": "message", "ts": "1700001100.999999", "thread_ts": post.params["thread_ts"]}
    assert bot.slack.interaction(block_action(button, message=msg, response_url=bot.fake.response_url("esc"))).status == 200
    told = bot.fake.wait_for("response_url")[0]
    assert told.path == "/response/esc" and told.params["response_type"] == "ephemeral"
    assert "SlackApiError" in told.params["text"]


def test_feedback_votes_are_stored_once_per_user_and_changeable(bot: Bot) -> None:
    post, helpful = _answer_with(bot, "486", b.HELPFUL)
    msg = {"type": "message", "ts": "1700001100.999999", "thread_ts": post.params["thread_ts"]}
    bot.slack.interaction(block_action(helpful, message=msg, response_url=bot.fake.response_url("fb")))
    thanks = bot.fake.wait_for("response_url")[0]
    assert thanks.params["response_type"] == "ephemeral" and "helpful" in thanks.params["text"]
    bot.slack.interaction(block_action(_button(post, b.NOT_HELPFUL), message=msg, response_url=bot.fake.response_url()))
    view = bot.fake.wait_for("views.open")[0].params["view"]
    assert view["callback_id"] == b.FEEDBACK_VIEW
    comment = {b.COMMENT_BLOCK: {b.COMMENT_BLOCK: {"type": "plain_text_input", "value": "missing the carrier step"}}}
    bot.slack.interaction(view_submission(view, comment))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with sqlite3.connect(bot.config.db_path) as db:
            rows = db.execute("SELECT lookup_id, user_id, helpful, comment FROM votes").fetchall()
        if rows and rows[0][3]:
            break
        time.sleep(0.05)
    assert rows == [(int(helpful["value"]), USER, 0, "missing the carrier step")]
    assert "sip:486" in "\n".join(f"{k}" for k, *_ in bot.store.least_helpful(10))


def test_rate_limited_post_is_retried_after_retry_after(bot: Bot) -> None:
    bot.fake.rate_limit("chat.postMessage")
    bot.slack.event(mention("486", "1700001200.000100"))
    post = bot.fake.wait_for("chat.postMessage", timeout=6)[0]
    assert post.params["thread_ts"] == "1700001200.000100"
    assert len(bot.fake.calls_to("chat.postMessage", status=429)) == 1


def test_a_failing_listener_is_logged_and_told_to_the_user(slack_config: SlackConfig, fake_slack: FakeSlack) -> None:
    class Broken:
        def ask(self, text: str):
            raise RuntimeError("catalog exploded")

    with running_bot(slack_config, Broken(), fake_slack) as broken:
        assert broken.slack.command("486", fake_slack.response_url("err")).status == 200
        told = fake_slack.wait_for("response_url")[0]
        broken.slack.event(mention("486", "1700001300.000100"))
        ephemeral = fake_slack.wait_for("chat.postEphemeral")[0]
        broken.slack.event(message("486", "1700001300.000200", channel=PASSIVE_CHANNEL))
        fake_slack.settle()
    assert "RuntimeError" in told.params["text"] and told.params["response_type"] == "ephemeral"
    assert ephemeral.params["user"] == USER and ephemeral.params["thread_ts"] == "1700001300.000100"
    assert len(fake_slack.calls_to("chat.postEphemeral")) == 1  # passive mode fails silently
    assert not fake_slack.calls_to("chat.postMessage")
