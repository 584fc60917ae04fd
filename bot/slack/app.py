"""The Bolt app: one listener per kind of request, each acking first and doing the work after.

Ways in: the /voicecode slash command, @mentions, the "Explain voice codes" message shortcut and, per
channel, passive mode. Every answer goes to a thread; when the bot may not post there, the answer still
reaches the asker through the request's response_url, with a note saying why.
"""
from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from ..store import Store
from .answering import HELP_WORDS, Answerer, Answering, Asks, InlineAnswering, Job
from .blocks import (
    COMMENT_BLOCK, DETAILS_BLOCK, ESCALATE, ESCALATE_VIEW, FEEDBACK_VIEW, HELPFUL, NOT_HELPFUL,
    EscalationContext, EscalationRef, channel_mention, escalation_modal, escalation_post, feedback_modal,
    render_help, render_notice, user_mention,
)
from .config import SlackConfig
from .dedupe import TTLStore, dedupe_events
from .posting import make_client, post_thread, slack_error, tell_failure, tell_user

log = logging.getLogger("voicecode.slack")

COMMAND = "/voicecode"
SHORTCUT = "explain_voice_codes"
PRIVATE_FLAG = re.compile(r"^\s*(?:-p|--private)(?:\s+|$)")
PERMALINK_TIMEOUT = 1.5
LISTENER_THREADS = 64  # answering in-thread, listeners mostly wait (for a work slot or for Slack): threads are cheap
# The message fields a monitoring bot puts its text in (attachments and layout blocks, besides `text`).
TEXT_FIELDS = ("text", "pretext", "title")


class _SameTokenWarning(logging.Filter):
    """Bolt also reads SLACK_BOT_TOKEN from the environment and then warns that our client's (identical)
    token wins; that warning would only mislead whoever reads the startup log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


log.addFilter(_SameTokenWarning())


def build_app(config: SlackConfig, engine: Asks | None = None, store: Store | None = None,
              answering: Answering | None = None) -> App:
    """The Bolt app with every listener registered; calls auth.test once to check the bot token.

    Answers are worked out by `answering`: by default in the listener's thread with `engine`;
    `voicecode serve` passes a ProcessAnswering so the web process only acks. Bolt runs each listener on its
    executor; with Bolt's default of 5 threads new requests would wait behind answers, so it is wide.
    """
    store = store or Store(config.db_path)
    if answering is None:
        if engine is None:
            raise ValueError("build_app needs an engine or an answering")
        answering = InlineAnswering(Answerer(config, engine, store))
    executor = ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="voicecode-listener")
    app = App(client=make_client(config), signing_secret=config.signing_secret, logger=log,
              listener_executor=executor)
    VoiceBot(config, store, answering).register(app)
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
        reason = slack_error(err) if isinstance(err, SlackApiError) else repr(err)
        log.info("chat.getPermalink failed (%s) for %s; using a constructed link", reason, channel)
        return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


class VoiceBot:
    """The listeners: each acks first, then hands the answer to `answering`; buttons and modals are quick."""

    def __init__(self, config: SlackConfig, store: Store, answering: Answering, seen: TTLStore | None = None):
        self.config = config
        self.store = store
        self.answering = answering
        self.seen = seen or TTLStore()

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

    # --- ways in ----------------------------------------------------------------------------------------

    def on_command(self, ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """`/voicecode [-p] <text>`: help at once; an answer from `answering`."""
        ack()
        private, text = parse_command(command.get("text") or "")
        if text.lower() in HELP_WORDS:
            respond(response_type="ephemeral", **render_help().kwargs())
            return
        self.answering.submit(Job("command", command, text, private), client, respond)

    def on_mention(self, event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        """`@voicecode <text>`: answered in the mention's thread (or the thread it was made in)."""
        text = strip_mention(event.get("text") or "", context.bot_user_id)
        self.answering.submit(Job("mention", event, text), client, None)

    def on_message(self, event: dict[str, Any], client: WebClient) -> None:
        """Passive mode; for every other message this listener only exists so Slack gets a 200, not a 404."""
        if self.passive_applies(event):
            self.answering.submit(Job("passive", event, event.get("text") or ""), client, None)

    def passive_applies(self, event: dict[str, Any]) -> bool:
        """Passive channels only; new messages only; other bots only when allowed (Bolt already drops our own
        messages). A message that also mentions the bot is answered once: both answers claim (channel, ts)."""
        if event.get("channel") not in self.config.passive_channels:
            return False
        if event.get("subtype") not in (None, "bot_message", "thread_broadcast", "file_share"):
            return False
        bot_id = event.get("bot_id")
        return not bot_id or self.config.answers_bot(bot_id)

    def on_shortcut(self, ack: Ack, shortcut: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """The "Explain voice codes" shortcut: every code in the message, answered in that message's thread."""
        ack()
        self.answering.submit(Job("shortcut", shortcut, message_text(shortcut["message"])), client, respond)

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
            log.warning("escalation of %s to %s failed: %s", ctx.ref.key, target.channel, slack_error(err))
            tell_user(client, ctx.channel, user, ctx.thread_ts,
                      f":x: I couldn't post the escalation in {channel_mention(target.channel)} "
                      f"(`{slack_error(err)}`). Invite me there with `/invite @voicecode`, or escalate by hand.")
            return
        note = f":arrow_up: Escalated to {channel_mention(target.channel)} by {user_mention(user)}."
        if ctx.thread_ts:
            post_thread(client, ctx.channel, ctx.thread_ts, [render_notice(note)], user)
        else:
            tell_user(client, ctx.channel, user, None, note)

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
        tell_failure(error, client, respond if context.response_url else None, kind, context.channel_id,
                     context.user_id, event.get("thread_ts") or event.get("ts"))
