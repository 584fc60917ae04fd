"""The Slack layer: renders engine answers as Block Kit threads and serves them over HTTP or Socket Mode.

Nothing here decides what a code means; that is the engine's job. This package only turns an Answer into
messages Slack accepts, and keeps Slack's delivery rules (ack in 3 s, retries, limits, escaping).
"""
