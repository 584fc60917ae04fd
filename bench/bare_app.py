"""The baseline for HTTP mode: a Bolt app whose /voicecode handler only acks, on the bot's own server stack.

`python -m bench.bare_app PORT` serves it through bot.slack.server.run_http (same gunicorn worker, threads
and WSGI wrapper as `voicecode serve --http`), with the same environment variables and the Bolt setting the
bot uses (process_before_response: the ack is sent when the listener returns, not polled for), so the
difference between the two is exactly the bot's work: its listeners, the engine, the store and the Web API
calls after the ack.
"""
from __future__ import annotations

import logging
import os
import sys

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack.server import run_http


def bare_app() -> App:
    """auth.test goes to SLACK_API_URL at start, as it does for the bot."""
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"], process_before_response=True)

    @app.command("/voicecode")
    def only_ack(ack: Ack) -> None:
        ack()

    return app


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_http(bare_app(), int(sys.argv[1]))


if __name__ == "__main__":
    sys.exit(main())
