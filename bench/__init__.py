"""Benchmarks for issue 5: engine latency by catalog size, CLI cold start, Slack HTTP load, memory.

Run `python -m bench` from the project root; it writes BENCHMARKS.md. No network: every server and the
fake Slack Web API listen on 127.0.0.1 only.
"""
