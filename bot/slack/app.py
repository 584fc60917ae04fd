"""The Bolt app: one listener per kind of request, each acking first and doing the work after.

Ways in: the /voicecode slash command, @mentions, the "Explain voice codes" message shortcut and, per
channel, passive mode. Every answer goes to a thread; when the bot may not post there, the answer still
reaches the asker through the request's response_url, with a note saying why.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App, Args, BoltContext, Respond
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from ..store import Store
from .answering import HELP_WORDS, Answering, Job
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
LISTENER_THREADS = 16  # for the work after an ack that calls Slack (modals, escalations): rare and short
# The message fields a monitoring bot puts its text in (attachments and layout blocks, besides `text`).
TEXT_FIELDS = ("text", "pretext", "title")


class _SameTokenWarning(logging.Filter):
    """Bolt also reads SLACK_BOT_TOKEN from the environment and then warns that our client's (identical)
    token wins; that warning would only mislead whoever reads the startup log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


log.addFilter(_SameTokenWarning())


def build_app(config: SlackConfig, answering: Answering, store: Store | None = None) -> App:
    """The Bolt app with every listener registered; calls auth.test once to check the bot token.

    Every listener finishes quickly: it acks and hands an answer to `answering`, or it records a vote. So Bolt
    runs it in the request's own thread and answers Slack's request as soon as it returns
    (process_before_response); by default Bolt would hand it to an executor and poll for the ack every 10 ms.
    Work that calls Slack after the ack (a modal, an escalation post) runs as a Bolt lazy listener instead.
    """
    executor = ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="voicecode-listener")
    app = App(client=make_client(config), signing_secret=config.signing_secret, logger=log,
              listener_executor=executor, process_before_response=True)
    VoiceBot(config, store or Store(config.db_path), answering).register(app)
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
    quick = WebClient(token=client.token, base_url=client.base_url, timeout=PERMALINK_TIMEOUT, retry_handlers=[],
                      ssl=client.ssl)
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
        app.action(ESCALATE)(ack=_ack, lazy=[self.reported(self.open_escalation)])
        app.view(ESCALATE_VIEW)(ack=self.check_escalation, lazy=[self.reported(self.post_escalation)])
        for vote in (HELPFUL, NOT_HELPFUL):
            app.action(vote)(ack=self.on_vote, lazy=[self.reported(self.after_vote)])
        app.view(FEEDBACK_VIEW)(self.on_feedback_comment)
        app.error(self.on_error)

    def reported(self, work: Callable[[Args], None]) -> Callable[[Args], None]:
        """A lazy listener whose failure is logged and told like any listener's (Bolt's lazy runner would only
        log one line)."""

        def run(args: Args) -> None:
            try:
                work(args)
            except Exception as error:  # noqa: BLE001 - told to the person who clicked, never lost
                self.on_error(error, args.body, args.context, args.client, args.respond)

        return run

    # --- ways in ----------------------------------------------------------------------------------------

    def on_command(self, ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """`/voicecode [-p] <text>`: help is the ack itself (only the asker sees it); an answer from `answering`."""
        private, text = parse_command(command.get("text") or "")
        if text.lower() in HELP_WORDS:
            ack(response_type="ephemeral", **render_help().kwargs())
            return
        ack()
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

    def open_escalation(self, args: Args) -> None:
        """Escalate button (after its ack): open the modal prefilled with the code, the ids and a link to the
        thread."""
        body, client = args.body, args.client
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        source = body.get("message") or {}
        thread = None if container.get("is_ephemeral") else (
            source.get("thread_ts") or container.get("thread_ts") or container.get("message_ts"))
        link = thread_link(client, channel, thread) if thread else None
        ctx = EscalationContext(ref=EscalationRef.from_value(args.action["value"]), channel=channel,
                                thread_ts=thread, link=link)
        client.views_open(trigger_id=body["trigger_id"], view=escalation_modal(ctx))

    def check_escalation(self, ack: Ack, view: dict[str, Any]) -> None:
        """The escalation modal's submit: refused in the modal when no channel is configured for the owner."""
        if self.config.escalation_for(EscalationContext.from_metadata(view["private_metadata"]).ref.owner) is None:
            ack(response_action="errors",
                errors={DETAILS_BLOCK: "No escalation channel is configured for this owner (see VOICECODE_CONFIG)."})
            return
        ack()

    def post_escalation(self, args: Args) -> None:
        """Post to the owner's escalation channel with its user group, then say so in the original thread."""
        ctx = EscalationContext.from_metadata(args.view["private_metadata"])
        target = self.config.escalation_for(ctx.ref.owner)
        if target is None:
            return  # refused in the modal
        client, user = args.client, args.body["user"]["id"]
        details = args.view["state"]["values"][DETAILS_BLOCK][DETAILS_BLOCK].get("value") or ""
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

    def on_vote(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Helpful / Not helpful: one vote per user per answer (voting again changes it)."""
        ack()
        self.store.vote(int(action["value"]), body["user"]["id"], action["action_id"] == HELPFUL)

    def after_vote(self, args: Args) -> None:
        """Thanks for "Helpful"; "Not helpful" opens a modal asking why."""
        if args.action["action_id"] == HELPFUL:
            thread = (args.body.get("message") or {}).get("thread_ts")
            args.respond(response_type="ephemeral", replace_original=False, thread_ts=thread,
                         **render_notice("Thanks: recorded as *helpful*.").kwargs())
        else:
            args.client.views_open(trigger_id=args.body["trigger_id"], view=feedback_modal(int(args.action["value"])))

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


def _ack(ack: Ack) -> None:
    """The whole ack of a button whose work (a modal) follows as a lazy listener."""
    ack()
