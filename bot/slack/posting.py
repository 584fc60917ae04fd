"""Delivering messages to Slack, with the fallbacks a user would expect when Slack says no.

Shared by the listeners (escalations, notes) and by whoever answers (in the listener's thread or in the
answer process): a reply that cannot go to the channel still reaches the asker, with the reason.
"""
from __future__ import annotations

import functools
import logging
import ssl

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from .blocks import Message, render_notice
from .config import SlackConfig

log = logging.getLogger("voicecode.slack")

# Errors meaning "this bot may not post here", as opposed to a broken request.
CANNOT_POST = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action",
               "restricted_action_read_only_channel", "restricted_action_thread_only_channel",
               "team_access_not_granted", "ekm_access_denied"}
MAX_RESPONSES = 5  # a response_url takes at most five posts


# slack_sdk builds each request's and response's debug line (the whole JSON body) whenever its logger's own
# level is NOTSET: it tests `logger.level <= DEBUG`, not `isEnabledFor(DEBUG)`.
SDK_LOGGERS = ("slack_sdk.web.base_client", "slack_sdk.webhook.client")


def quiet_sdk_debug() -> None:
    """Give slack_sdk's loggers an explicit level (INFO) unless debug logging is on, so no Web API call or
    response_url post formats a debug line that is then dropped."""
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET and not logger.isEnabledFor(logging.DEBUG):
            logger.setLevel(logging.INFO)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context per process. Without one, every HTTPS connection urllib opens (one per Web API call or
    response_url post) builds a default context and loads the system's CA certificates again: ~30 ms of CPU."""
    return ssl.create_default_context()


def tls_for(url: str) -> ssl.SSLContext | None:
    """The shared context for an https URL; None for plain http (a local fake), where urlopen would build an
    opener per call just because a context was given."""
    return tls_context() if url.startswith("https:") else None


def make_client(config: SlackConfig) -> WebClient:
    """A Web API client that waits out rate limits and retries transient server and connection errors."""
    quiet_sdk_debug()
    return WebClient(
        token=config.bot_token, base_url=config.api_url, ssl=tls_for(config.api_url),
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=2),
                        ServerErrorRetryHandler(max_retry_count=2)],
    )


def slack_error(err: SlackApiError) -> str:
    """The `error` field of Slack's answer (`not_in_channel`, ...)."""
    return str(err.response.get("error", "unknown_error"))


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
    code = slack_error(err)
    if code in CANNOT_POST:
        why = (f"I can't post in this conversation (`{code}`): invite me with `/invite @voicecode`, "
               "or use me in a channel I'm in.")
    else:
        why = f"Slack refused my reply (`{code}`)."
    return render_notice(f":warning: {why} Here is the answer, only for you:")


def tell_user(client: WebClient, channel: str, user: str, thread_ts: str | None, text: str) -> None:
    """A note only `user` sees; logged instead when Slack refuses even that."""
    try:
        client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, **render_notice(text).kwargs())
    except SlackApiError as err:
        log.warning("could not tell %s in %s: %s (note was: %s)", user, channel, slack_error(err), text)


def post_thread(client: WebClient, channel: str, thread_ts: str, messages: list[Message], user: str | None) -> None:
    """Replies in a thread; when Slack refuses, the person who asked (if any) is told why."""
    try:
        post_all(client, channel, messages, thread_ts)
    except SlackApiError as err:
        log.warning("could not reply in %s thread %s: %s", channel, thread_ts, slack_error(err))
        if user:
            tell_user(client, channel, user, thread_ts, f":warning: I couldn't reply here (`{slack_error(err)}`).")


def post_or_respond(client: WebClient, respond: Respond, channel: str, thread_ts: str | None,
                    messages: list[Message], private_copy: list[Message]) -> None:
    """Post in the conversation; when Slack refuses, the asker gets `private_copy` and the reason instead."""
    try:
        post_all(client, channel, messages, thread_ts)
    except SlackApiError as err:
        log.warning("answer not posted in %s: %s; answering via response_url", channel, slack_error(err))
        respond_all(respond, [cannot_post_note(err), *private_copy])


def failure_note(error: BaseException) -> str:
    return (f":x: voicecode failed on this request (`{type(error).__name__}`); it is logged. "
            "Try again, or use the `voicecode ask` CLI.")


def tell_failure(error: BaseException, client: WebClient, respond: Respond | None, kind: str,
                 channel: str | None, user: str | None, thread_ts: str | None) -> None:
    """Tell the person who asked that their request failed: through response_url when there is one, else
    ephemerally for a mention. Passive mode stays silent. Never raises: this is the error path."""
    note = render_notice(failure_note(error))
    try:
        if respond is not None:
            respond(response_type="ephemeral", replace_original=False, **note.kwargs())
        elif kind == "app_mention" and channel and user:
            tell_user(client, channel, user, thread_ts, failure_note(error))
    except Exception:  # noqa: BLE001 - the error path must not raise again
        log.exception("could not tell the user about the error")
