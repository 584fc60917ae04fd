"""`voicecode` command line: parses arguments and calls the library, nothing more."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from .catalog import KnowledgeError, default_knowledge_dir, validate

EXAMPLES = """examples:
  voicecode ask "-2008"
  voicecode ask "caller hears silence after transfer"
  cat call.log | voicecode ask -
  echo '"-2010"' | voicecode ask --json --batch
  voicecode lint knowledge/
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voicecode", description="Explain voice error codes: 8x8, Vapi, Voxifi, SIP, Q.850.",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer a code, a symptom in words, or a pasted log ('-' reads stdin)")
    ask.add_argument("text", nargs="*", help="the question; '-' or nothing with --batch reads standard input")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON (the scripting contract)")
    ask.add_argument("--batch", action="store_true", help="read one JSON-encoded string per line, answer each on one line")
    lint = sub.add_parser("lint", help="validate knowledge YAML; prints file:line: message, exit 1 on errors")
    lint.add_argument("path", nargs="?", type=Path, help="knowledge directory (default: the bundled knowledge/)")
    serve = sub.add_parser("serve", help="run the Slack bot (Socket Mode, or HTTP with --http)")
    serve.add_argument("--http", action="store_true", help="serve HTTP at /slack/events (production mode)")
    serve.add_argument("--port", type=int, help="HTTP port (default $PORT, else 3000)")
    serve.add_argument("--config", help="YAML config file (default $VOICECODE_CONFIG)")
    report = sub.add_parser("report", help="most looked-up codes, least helpful answers, unanswered questions")
    report.add_argument("--db", help="SQLite path (default $VOICECODE_DB)")
    report.add_argument("--limit", type=int, default=10)
    return p


def _question(args: argparse.Namespace, stdin: TextIO) -> str:
    if not args.text or args.text == ["-"]:
        return stdin.read()
    return " ".join(args.text)


def _batch(engine, stdin: TextIO, stdout: TextIO) -> int:  # type: ignore[no-untyped-def]
    """One JSON string per line in, one JSON answer per line out; a bad line gets an error object, never a crash."""
    failures = 0
    for number, line in enumerate(stdin, 1):
        if not line.strip():
            continue
        try:
            question = json.loads(line)
            if not isinstance(question, str):
                raise ValueError("each line must be a JSON string")
            out = engine.ask(question).to_json()
        except Exception as exc:  # noqa: BLE001 - one bad line must never cost the answers to the others
            failures += 1
            out = {"query": None, "matches": [], "error": f"line {number}: {exc}"}
        stdout.write(json.dumps(out) + "\n")  # ASCII escapes: lone surrogates and odd bytes stay valid JSON
        stdout.flush()
    return 1 if failures else 0


def _ask(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from .engine import get_engine
    from .render import render_text

    engine = get_engine()
    if args.batch:
        return _batch(engine, stdin, stdout)
    question = _question(args, stdin)
    if not question.strip():
        print("voicecode ask: nothing to answer; give a code, a symptom or '-' to read a log from stdin", file=sys.stderr)
        return 2
    answer = engine.ask(question)
    stdout.write(json.dumps(answer.to_json(), ensure_ascii=False, indent=2) + "\n" if args.json else render_text(answer))
    return 0


def _lint(args: argparse.Namespace) -> int:
    directory = args.path or default_knowledge_dir()
    catalog, problems = validate(directory)
    for problem in problems:
        print(problem)
    sys.stdout.flush()
    if problems:
        print(f"{len(problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    print(f"ok: {len(catalog.sources)} sources, {len(catalog.entries)} entries in {directory}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "lint":
            return _lint(args)
        if args.command == "ask":
            return _ask(args, sys.stdin, sys.stdout)
        from .cache import warm

        # Every command refuses to start on invalid knowledge. `serve` answers in a child process, which
        # loads the engine from the cache this warms.
        warm(default_knowledge_dir())
        if args.command == "serve":
            from .slack.server import serve

            return serve(http=args.http, port=args.port, config_path=args.config)
        from .store import report

        print(report(args.db, args.limit))
        return 0
    except KnowledgeError as exc:
        print("voicecode: the knowledge is invalid; fix these and run `voicecode lint`:", file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
