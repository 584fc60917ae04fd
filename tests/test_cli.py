"""The `voicecode` command as a user runs it: ask in words, from stdin, as JSON, and in batch mode."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

MATCH_KEYS = {"source", "code", "title", "score", "via", "patterns", "facets", "token"}


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)


def test_ask_prints_the_answer() -> None:
    out = run("ask", "-2008")
    assert out.returncode == 0
    assert "-2008" in out.stdout and "How to fix it" in out.stdout and "Escalate" in out.stdout
    assert "Other likely matches" in out.stdout  # the Number Masking twin


def test_ask_reads_a_log_from_stdin() -> None:
    out = run("ask", "-", stdin="10:00 endedReason=customer-busy call=1\n10:01 errorCode=-2010 session=ab\n")
    assert out.returncode == 0
    assert out.stdout.index("customer-busy") < out.stdout.index("-2010")


def test_normal_ending_says_not_an_error() -> None:
    assert "NOT AN ERROR" in run("ask", "customer-ended-call").stdout


def test_nothing_found_gives_tips() -> None:
    out = run("ask", "lunch order for friday")
    assert out.returncode == 0 and "No credible match" in out.stdout and "Tips" in out.stdout


def test_json_contract() -> None:
    out = run("ask", "--json", "pipeline-error-openai-429-exceeded-quota")
    data = json.loads(out.stdout)
    assert set(data) == {"query", "matches"}
    assert data["query"] == "pipeline-error-openai-429-exceeded-quota"
    match = data["matches"][0]
    assert set(match) == MATCH_KEYS
    assert match["via"] in ("exact", "pattern") and match["token"] == "pipeline-error-openai-429-exceeded-quota"
    assert match["facets"] == {"fault": "pipeline", "component": "llm", "vendor": "openai", "http_status": 429}
    assert 0 <= match["score"] <= 100


def test_json_no_match_is_empty_list() -> None:
    data = json.loads(run("ask", "--json", "-7777").stdout)
    assert data == {"query": "-7777", "matches": []}


def test_batch_one_line_per_question_and_bad_lines() -> None:
    lines = [json.dumps("-2008"), "not json", json.dumps(["a list"]), json.dumps("customer-busy"), ""]
    out = run("ask", "--json", "--batch", stdin="\n".join(lines) + "\n")
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(answers) == 4
    assert answers[0]["matches"][0]["code"] == "-2008"
    assert answers[1]["matches"] == [] and "line 2" in answers[1]["error"]
    assert "line 3" in answers[2]["error"]
    assert answers[3]["matches"][0]["code"] == "customer-busy"
    assert out.returncode == 1


def test_batch_flushes_each_line() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "ask", "--json", "--batch"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        proc.stdin.write(json.dumps("-2010") + "\n")
        proc.stdin.flush()
        first = proc.stdout.readline()  # would block forever without a flush per line
        assert json.loads(first)["matches"][0]["code"] == "-2010"
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_empty_question_is_a_usage_error() -> None:
    out = run("ask", "-", stdin="   \n")
    assert out.returncode == 2 and "nothing to answer" in out.stderr


def test_batch_survives_lone_surrogates_and_odd_text() -> None:
    lines = ['"\\ud800 -2008"', '"\\u0000\\u0007 customer-busy"', '"' + "9" * 100000 + '"', '"ok -2010"']
    out = run("ask", "--json", "--batch", stdin="\n".join(lines) + "\n")
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(answers) == 4 and out.returncode == 0
    assert answers[0]["matches"][0]["code"] == "-2008"
    assert answers[1]["matches"][0]["code"] == "customer-busy"
    assert answers[2]["matches"] == []
    assert answers[3]["matches"][0]["code"] == "-2010"
    out.stdout.encode("ascii")  # every line is plain ASCII JSON


def test_json_token_is_null_for_words_and_typos() -> None:
    for question in ("caller hears a busy signal", "asistant-not-found"):
        data = json.loads(run("ask", "--json", question).stdout)
        assert data["matches"] and all(m["token"] is None for m in data["matches"] if m["via"] in ("symptom", "fuzzy"))
        assert data["matches"][0]["via"] in ("symptom", "fuzzy")


def test_a_warm_ask_imports_nothing_only_servers_or_cache_writes_need(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VOICECODE_CACHE_DIR": str(tmp_path / "cache")}
    probe = ("import sys, runpy; sys.argv = ['voicecode', 'ask', '-2008']\n"
             "try:\n    runpy.run_module('bot.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('multiprocessing', 'concurrent.futures', 'tempfile', 'slack_bolt', 'slack_sdk')"
             " if m in sys.modules))")
    for _ in range(2):  # the first run writes the cache; the second finds it warm, as most CLI starts do
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env,
                             timeout=60)
    assert out.returncode == 0 and out.stdout.strip().endswith("[]"), out.stdout[-300:] + out.stderr[-300:]
