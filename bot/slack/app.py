"""The Bolt app: one listener per kind of request, each acking first and doing the work after.

Ways in: the /voicecode slash command, @mentions, the "Explain voice codes" message shortcut and, per
channel, passive mode. Every answer goes to a thread; when the bot may not post there, the answer still
reaches the asker through the request's response_url, with a note saying why.
"""
from __future__ import annotations

import logging
import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from slack_bolt import Ack, App, BoltContext, Respond
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from ..answer import Answer
from ..store import Store
from .blocks import (
    COMMENT_BLOCK, DETAILS_BLOCK, ESCALATE, ESCALATE_VIEW, FEEDBACK_VIEW, HELPFUL, NOT_HELPFUL,
    EscalationContext, EscalationRef, Message, Reply, channel_mention, escalation_modal, escalation_post,
    feedback_modal, main_matches, render_answer, render_help, render_notice, render_nothing_found, user_mention,
)
from .config import SlackConfig
from .dedupe import TTLStore, dedupe_events

log = logging.getLogger("voicecode.slack")

COMMAND = "/voicecode"
SHORTCUT = "explain_voice_codes"
HELP_WORDS = {"", "help", "-h", "--help", "?"}
PRIVATE_FLAG = re.compile(r"^\s*(?:-p|--private)(?:\s+|$)")
# Errors meaning "this bot may not post here", as opposed to a broken request.
CANNOT_POST = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action",
               "restricted_action_read_only_channel", "restricted_action_thread_only_channel",
               "team_access_not_granted", "ekm_access_denied"}
MAX_RESPONSES = 5  # a response_url takes at most five posts
PERMALINK_TIMEOUT = 1.5
LISTENER_THREADS = 64  # listeners mostly wait (for a work slot or for Slack): threads are cheap here
WORK_SLOTS = 2
# The message fields a monitoring bot puts its text in (attachments and layout blocks, besides `text`).
TEXT_FIELDS = ("text", "pretext", "title")


class Asks(Protocol):
    """The one engine method the Slack layer needs (bot.engine.Engine provides it)."""

    def ask(self, text: str) -> Answer: ...


def make_client(config: SlackConfig) -> WebClient:
    """A Web API client that waits out rate limits and retries transient server and connection errors."""
    return WebClient(
        token=config.bot_token, base_url=config.api_url,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=2),
                        ServerErrorRetryHandler(max_retry_count=2)],
    )


class _SameTokenWarning(logging.Filter):
    """Bolt also reads SLACK_BOT_TOKEN from the environment and then warns that our client's (identical)
    token wins; that warning would only mislead whoever reads the startup log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


log.addFilter(_SameTokenWarning())


def build_app(config: SlackConfig, engine: Asks, store: Store | None = None) -> App:
    """The Bolt app with every listener registered; calls auth.test once to check the bot token.

    Bolt runs each listener on its executor and answers Slack once the listener acks. With Bolt's default of
    5 threads, new requests wait behind answers being posted and their ack comes late; so the executor is
    wide (acks never queue) and the heavy part of each answer takes one of a few work slots (VoiceBot.work).
    """
    executor = ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="voicecode-listener")
    app = App(client=make_client(config), signing_secret=config.signing_secret, logger=log,
              listener_executor=executor)
    VoiceBot(config, engine, store or Store(config.db_path)).register(app)
    return app


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """The question without the bot's own `<@U…>` (Slack puts it at the start of an app_mention)."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    return text.strip()


def parse_command(text: str) -> tuple[bool, str]:
    """(private?, question): leading -p / --private flags ask for an answer only the asker sees."""
    private = False
    while match := PRIVATE_FLAG.match(text):
        private, text = True, text[match.end():]
    return private, text.strip()


def message_text(message: dict[str, Any]) -> str:
    """All readable text of a message: `text`, attachments and layout blocks (alert bots use all three).

    rich_text blocks are skipped: they repeat `text` for messages people type.
    """
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key in TEXT_FIELDS and isinstance(value, str):
                    parts.append(value)
                elif key == "value" and isinstance(value, str) and "type" not in node:  # attachment fields
                    parts.append(value)
                else:
                    walk(value)

    blocks = [b for b in message.get("blocks") or [] if b.get("type") != "rich_text"]
    walk([{"text": message.get("text") or ""}, message.get("attachments") or [], blocks])
    return "\n".join(dict.fromkeys(p for p in parts if p.strip()))


def thread_link(client: WebClient, channel: str, ts: str) -> str:
    """A link to the thread for the escalation channel; constructed when Slack does not give a permalink fast.

    The modal's trigger_id expires 3 s after the click, so this one call gets no retries and a short timeout.
    """
    quick = WebClient(token=client.token, base_url=client.base_url, timeout=PERMALINK_TIMEOUT, retry_handlers=[])
    try:
        return str(quick.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
    except (SlackApiError, OSError) as err:
        reason = _error(err) if isinstance(err, SlackApiError) else repr(err)
        log.info("chat.getPermalink failed (%s) for %s; using a constructed link", reason, channel)
        return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def post_all(client: WebClient, channel: str, messages: list[Message], thread_ts: str | None) -> str:
    """Post in order; the first message starts the thread when `thread_ts` is None. Returns the thread ts."""
    root = thread_ts
    for msg in messages:
        resp = client.chat_postMessage(channel=channel, thread_ts=root, unfurl_links=False, unfurl_media=False,
                                       **msg.kwargs())
        root = root or str(resp["ts"])
    return str(root)


def respond_all(respond: Respond, messages: list[Message]) -> None:
    """Ephemeral messages through response_url, within its five-post limit."""
    if len(messages) > MAX_RESPONSES:
        cut = render_notice("The rest is too long to show privately; ask again without `-p` to get it in a thread.")
        messages = [*messages[: MAX_RESPONSES - 1], cut]
    for msg in messages:
        respond(response_type="ephemeral", replace_original=False, **msg.kwargs())


def cannot_post_note(err: SlackApiError) -> Message:
    code = _error(err)
    if code in CANNOT_POST:
        why = (f"I can't post in this conversation (`{code}`): invite me with `/invite @voicecode`, "
               "or use me in a channel I'm in.")
    else:
        why = f"Slack refused my reply (`{code}`)."
    return render_notice(f":warning: {why} Here is the answer, only for you:")


def _error(err: SlackApiError) -> str:
    return str(err.response.get("error", "unknown_error"))


class VoiceBot:
    """What the listeners share: settings, the engine, the feedback store and the at-most-once memory."""

    def __init__(self, config: SlackConfig, engine: Asks, store: Store, seen: TTLStore | None = None):
        self.config = config
        self.engine = engine
        self.store = store
        self.seen = seen or TTLStore()
        # Answering is CPU work under one GIL: a few at a time keeps acks (which need the GIL briefly) prompt.
        self.work = threading.BoundedSemaphore(WORK_SLOTS)

    def register(self, app: App) -> None:
        app.use(dedupe_events(self.seen))
        app.command(COMMAND)(self.on_command)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.shortcut(SHORTCUT)(self.on_shortcut)
        app.action(ESCALATE)(self.on_escalate)
        app.view(ESCALATE_VIEW)(self.on_escalate_submit)
        app.action(HELPFUL)(self.on_feedback)
        app.action(NOT_HELPFUL)(self.on_feedback)
        app.view(FEEDBACK_VIEW)(self.on_feedback_comment)
        app.error(self.on_error)

    # --- shared steps -----------------------------------------------------------------------------------

    def lookup(self, text: str, surface: str) -> tuple[Answer, int | None]:
        answer = self.engine.ask(text)
        return answer, self.record(answer, surface)

    def record(self, answer: Answer, surface: str) -> int | None:
        """Store the lookup; a broken database must not cost the on-call engineer their answer."""
        keys = [m.entry.key for m in main_matches(answer)]
        try:
            return self.store.record_lookup(keys, answer.query, surface)
        except sqlite3.Error:
            log.exception("could not record a %s lookup in %s", surface, self.store.path)
            return None

    def render(self, answer: Answer, lookup_id: int | None, asker: str | None = None) -> Reply:
        return render_answer(answer, lookup_id=lookup_id, asker=asker,
                             escalation_owners=self.config.escalation_owners())

    def answer_messages(self, text: str) -> list[Message]:
        """Help, the answer, or "nothing found": the thread replies to a mention."""
        if text.lower() in HELP_WORDS:
            return [render_help()]
        answer, lookup_id = self.lookup(text, "mention")
        return self.render(answer, lookup_id).combined() if answer.matches else [render_nothing_found(answer)]

    def tell_user(self, client: WebClient, channel: str, user: str, thread_ts: str | None, text: str) -> None:
        """A note only `user` sees; logged instead when Slack refuses even that."""
        try:
            client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, **render_notice(text).kwargs())
        except SlackApiError as err:
            log.warning("could not tell %s in %s: %s (note was: %s)", user, channel, _error(err), text)

    def post_thread(self, client: WebClient, channel: str, thread_ts: str, messages: list[Message],
                    user: str | None) -> None:
        try:
            post_all(client, channel, messages, thread_ts)
        except SlackApiError as err:
            log.warning("could not reply in %s thread %s: %s", channel, thread_ts, _error(err))
            if user:
                self.tell_user(client, channel, user, thread_ts, f":warning: I couldn't reply here (`{_error(err)}`).")

    def post_or_respond(self, client: WebClient, respond: Respond, channel: str, thread_ts: str | None,
                        messages: list[Message], private_copy: list[Message]) -> None:
        """Post in the conversation; when Slack refuses, the asker gets `private_copy` and the reason instead."""
        try:
            post_all(client, channel, messages, thread_ts)
        except SlackApiError as err:
            log.warning("answer not posted in %s: %s; answering via response_url", channel, _error(err))
            respond_all(respond, [cannot_post_note(err), *private_copy])

    # --- ways in ----------------------------------------------------------------------------------------

    def on_command(self, ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """`/voicecode [-p] <text>`: a headline in the channel, details in its thread (or all ephemeral)."""
        ack()
        private, text = parse_command(command.get("text") or "")
        if text.lower() in HELP_WORDS:
            respond(response_type="ephemeral", **render_help().kwargs())
            return
        with self.work:
            answer, lookup_id = self.lookup(text, "command")
            if not answer.matches:
                respond(response_type="ephemeral", **render_nothing_found(answer).kwargs())
                return
            reply = self.render(answer, lookup_id, asker=command["user_id"])
            if private:
                respond_all(respond, reply.combined())
                return
            parent, details = reply.threaded()
            self.post_or_respond(client, respond, command["channel_id"], None, [parent, *details], reply.combined())

    def on_mention(self, event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        """`@voicecode <text>`: answered in the mention's thread (or the thread it was made in)."""
        channel, ts = event["channel"], event["ts"]
        if not self.seen.claim(("message", channel, ts)):
            return
        text = strip_mention(event.get("text") or "", context.bot_user_id)
        with self.work:
            messages = self.answer_messages(text)
            self.post_thread(client, channel, event.get("thread_ts") or ts, messages, event.get("user"))

    def on_message(self, event: dict[str, Any], client: WebClient) -> None:
        """Passive mode; for every other message this listener only exists so Slack gets a 200, not a 404."""
        if not self.passive_applies(event):
            return
        channel, ts = event["channel"], event["ts"]
        with self.work:
            answer = self.engine.ask(event.get("text") or "")
            if not answer.recognised or not self.seen.claim(("message", channel, ts)):
                return
            lookup_id = self.record(answer, "passive")
            self.post_thread(client, channel, event.get("thread_ts") or ts, self.render(answer, lookup_id).combined(), None)

    def passive_applies(self, event: dict[str, Any]) -> bool:
        """Passive channels only; new messages only; other bots only when allowed (Bolt already drops our own
        messages). A message that also mentions the bot is answered once: both listeners claim (channel, ts)."""
        if event.get("channel") not in self.config.passive_channels:
            return False
        if event.get("subtype") not in (None, "bot_message", "thread_broadcast", "file_share"):
            return False
        bot_id = event.get("bot_id")
        return not bot_id or self.config.answers_bot(bot_id)

    def on_shortcut(self, ack: Ack, shortcut: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """The "Explain voice codes" shortcut: every code in the message, answered in that message's thread."""
        ack()
        source = shortcut["message"]
        channel, user = shortcut["channel"]["id"], shortcut["user"]["id"]
        with self.work:
            answer, lookup_id = self.lookup(message_text(source), "shortcut")
            if not answer.matches:
                respond(response_type="ephemeral", **render_nothing_found(answer).kwargs())
                return
            messages = self.render(answer, lookup_id, asker=user).combined()
            self.post_or_respond(client, respond, channel, source.get("thread_ts") or source["ts"], messages, messages)

    # --- buttons and modals -----------------------------------------------------------------------------

    def on_escalate(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        """Escalate button: open the modal prefilled with the code, the ids and a link to the thread."""
        ack()
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        source = body.get("message") or {}
        thread = None if container.get("is_ephemeral") else (
            source.get("thread_ts") or container.get("thread_ts") or container.get("message_ts"))
        link = thread_link(client, channel, thread) if thread else None
        ctx = EscalationContext(ref=EscalationRef.from_value(action["value"]), channel=channel, thread_ts=thread,
                                link=link)
        client.views_open(trigger_id=body["trigger_id"], view=escalation_modal(ctx))

    def on_escalate_submit(self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        """Post to the owner's escalation channel with its user group, then say so in the original thread."""
        ctx = EscalationContext.from_metadata(view["private_metadata"])
        target = self.config.escalation_for(ctx.ref.owner)
        if target is None:
            ack(response_action="errors",
                errors={DETAILS_BLOCK: "No escalation channel is configured for this owner (see VOICECODE_CONFIG)."})
            return
        ack()
        user = body["user"]["id"]
        details = view["state"]["values"][DETAILS_BLOCK][DETAILS_BLOCK].get("value") or ""
        try:
            client.chat_postMessage(channel=target.channel, unfurl_links=False,
                                    **escalation_post(ctx, user, details, target.usergroup).kwargs())
        except SlackApiError as err:
            log.warning("escalation of %s to %s failed: %s", ctx.ref.key, target.channel, _error(err))
            self.tell_user(client, ctx.channel, user, ctx.thread_ts,
                           f":x: I couldn't post the escalation in {channel_mention(target.channel)} "
                           f"(`{_error(err)}`). Invite me there with `/invite @voicecode`, or escalate by hand.")
            return
        note = f":arrow_up: Escalated to {channel_mention(target.channel)} by {user_mention(user)}."
        if ctx.thread_ts:
            self.post_thread(client, ctx.channel, ctx.thread_ts, [render_notice(note)], user)
        else:
            self.tell_user(client, ctx.channel, user, None, note)

    def on_feedback(self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient,
                    respond: Respond) -> None:
        """Helpful / Not helpful: one vote per user per answer (voting again changes it); "Not helpful" asks why."""
        ack()
        lookup_id, user = int(action["value"]), body["user"]["id"]
        helpful = action["action_id"] == HELPFUL
        self.store.vote(lookup_id, user, helpful)
        if helpful:
            thread = (body.get("message") or {}).get("thread_ts")
            respond(response_type="ephemeral", replace_original=False, thread_ts=thread,
                    **render_notice("Thanks: recorded as *helpful*.").kwargs())
        else:
            client.views_open(trigger_id=body["trigger_id"], view=feedback_modal(lookup_id))

    def on_feedback_comment(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        ack()
        comment = view["state"]["values"][COMMENT_BLOCK][COMMENT_BLOCK].get("value") or ""
        if comment.strip():
            self.store.comment(int(view["private_metadata"]), body["user"]["id"], comment)

    def on_error(self, error: Exception, body: dict[str, Any], context: BoltContext, client: WebClient,
                 respond: Respond) -> None:
        """Log what failed with enough context to find it (never the body: it holds a token), and tell the
        person who asked: through response_url, or ephemerally for a mention. Passive mode stays silent."""
        event = body.get("event") or {}
        kind = event.get("type") or body.get("type") or ("slash_command" if "command" in body else "unknown")
        log.error("%s failed (team %s, channel %s, user %s)", kind, context.team_id, context.channel_id,
                  context.user_id, exc_info=error)
        note = (f":x: voicecode failed on this request (`{type(error).__name__}`); it is logged. "
                "Try again, or use the `voicecode ask` CLI.")
        if context.response_url:
            try:
                respond(response_type="ephemeral", replace_original=False, **render_notice(note).kwargs())
            except Exception:  # noqa: BLE001 - the error path must not raise again
                log.exception("could not tell the user about the error")
        elif kind == "app_mention" and context.channel_id and context.user_id:
            self.tell_user(client, context.channel_id, context.user_id, event.get("thread_ts") or event.get("ts"), note)
