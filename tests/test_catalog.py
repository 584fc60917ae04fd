"""Loading and linting knowledge: every problem reported as file:line: message."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.catalog import KnowledgeError, OWNERS, load, validate
from conftest import ROOT

GOOD_ENTRY = """\
  - code: "E1"
    title: Something broke
    meaning: The thing broke.
    symptom: The caller heard nothing.
    owner: configuration
    fix:
      - Fix the thing.
    escalation:
      when: If it keeps breaking.
      to: vendor-support
      include: [call id]
"""
HEADER = """\
source: {sid}
vendor: Acme
title: Acme codes
doc_url: https://acme.example/errors
support:
  contact: support@acme.example
entries:
"""


def _write(tmp_path: Path, body: str, sid: str = "acme") -> Path:
    (tmp_path / f"{sid}.yaml").write_text(HEADER.format(sid=sid) + body, encoding="utf-8")
    return tmp_path


def test_real_knowledge_is_valid() -> None:
    catalog, problems = validate(ROOT / "knowledge")
    assert problems == []
    assert {"8x8-voice", "8x8-number-masking", "8x8-voice-api", "voxifi", "vapi", "sip", "q850"} <= set(catalog.sources)


def test_every_entry_has_the_required_content() -> None:
    for entry in load().entries:
        assert entry.title and entry.meaning and entry.symptom and entry.fix, entry.key
        assert entry.owner in OWNERS, entry.key
        assert entry.escalation.when, entry.key
        if entry.normal:
            assert entry.owner in ("nobody", "end-customer"), entry.key


def test_minimal_file_loads(tmp_path: Path) -> None:
    catalog = load(_write(tmp_path, GOOD_ENTRY))
    assert [e.code for e in catalog.entries] == ["E1"]
    assert catalog.entries[0].line == 8


@pytest.mark.parametrize("body, line, message", [
    (GOOD_ENTRY.replace("    escalation:", "    escalaton:"), 15, "unknown key 'escalaton'"),
    (GOOD_ENTRY.replace("    owner: configuration", "    owner: somebody"), 12, "owner 'somebody'"),
    (GOOD_ENTRY.replace("      - Fix the thing.", "      - Fix it: then test."), 14, "put the whole item in quotes"),
    (GOOD_ENTRY.replace("    meaning: The thing broke.\n", ""), 8, "missing required key 'meaning'"),
    (GOOD_ENTRY.replace('code: "E1"', "code: 42"), 8, "code must be a quoted string"),
    (GOOD_ENTRY.replace("to: vendor-support", "to: the boss"), 17, "escalation.to 'the boss'"),
    (GOOD_ENTRY + GOOD_ENTRY, 19, "'E1' is already used"),
    (GOOD_ENTRY.replace('    fix:', '    related: ["acme:nope"]\n    fix:'), 8, "relates to 'acme:nope'"),
    (GOOD_ENTRY.replace('code: "E1"', 'code: "E*"'), 8, "needs 'patterns'"),
    (GOOD_ENTRY.replace("title: Something broke", "title: " + "x" * 90), 9, "title is 90 characters"),
    ("  - code: [unclosed\n", 9, "invalid YAML"),
    (GOOD_ENTRY.replace("    symptom:", '    meaning: "never closed\n    symptom:'), 11, "a quote is opened and never closed"),
    (GOOD_ENTRY.replace("    symptom: The caller heard nothing.\n", "    symptom: The caller heard nothing.\n    title: Again\n"), 12,
     "'title' appears twice"),
    (GOOD_ENTRY.replace("title: Something broke", "title: 2024-01-01"), 9, "read as date"),
    ("  - just a sentence\n" + GOOD_ENTRY, 8, "entry #1 must be a mapping"),
    (GOOD_ENTRY.replace('code: "E1"', 'code: ""'), 8, "code is empty"),
    (GOOD_ENTRY.replace("    owner: configuration", "    owner: configuration\n    normal: true"), 13, "a normal ending is owned by"),
    (GOOD_ENTRY.replace('code: "E1"', 'code: "E*"').replace("    fix:", '    patterns: ["X*"]\n    fix:'), 13,
     "none of the patterns matches"),
])
def test_lint_reports_file_and_line(tmp_path: Path, body: str, line: int, message: str) -> None:
    _, problems = validate(_write(tmp_path, body))
    assert any(p.startswith(f"{tmp_path / 'acme.yaml'}:{line}: ") and message in p for p in problems), problems


def test_problems_are_sorted_and_missing_support_reported_once(tmp_path: Path) -> None:
    text = HEADER.format(sid="acme").replace("support:\n  contact: support@acme.example\n", "") + GOOD_ENTRY.replace(
        "owner: configuration", "owner: x")
    (tmp_path / "acme.yaml").write_text(text, encoding="utf-8")
    _, problems = validate(tmp_path)
    assert sum("support" in p for p in problems) == 1
    lines = [int(p.split(":")[1]) for p in problems]
    assert lines == sorted(lines)


def test_source_must_match_file_name(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text(HEADER.format(sid="acme") + GOOD_ENTRY, encoding="utf-8")
    _, problems = validate(tmp_path)
    assert any("must match the file name 'other.yaml'" in p for p in problems)


def test_empty_directory(tmp_path: Path) -> None:
    _, problems = validate(tmp_path)
    assert problems and "no knowledge files" in problems[0]


def test_load_raises_with_every_problem(tmp_path: Path) -> None:
    body = GOOD_ENTRY.replace("owner: configuration", "owner: x").replace("to: vendor-support", "to: y")
    with pytest.raises(KnowledgeError) as err:
        load(_write(tmp_path, body))
    assert len(err.value.problems) == 2


def _cli(*args: str, env_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    import os
    env = dict(os.environ)
    if env_dir is not None:
        env["VOICECODE_KNOWLEDGE"] = str(env_dir)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT)


def test_lint_command_exit_codes(tmp_path: Path) -> None:
    ok = _cli("lint")
    assert ok.returncode == 0 and ok.stdout.startswith("ok:")
    bad = _cli("lint", str(_write(tmp_path, GOOD_ENTRY.replace("owner: configuration", "owner: x"))))
    assert bad.returncode == 1 and "acme.yaml:12: entry 'E1': owner 'x'" in bad.stdout


def test_invalid_knowledge_stops_every_command(tmp_path: Path) -> None:
    bad_dir = _write(tmp_path, GOOD_ENTRY.replace("owner: configuration", "owner: x"))
    run = _cli("ask", "-2008", env_dir=bad_dir)
    assert run.returncode == 2
    assert "knowledge is invalid" in run.stderr and "acme.yaml:12:" in run.stderr


@pytest.mark.parametrize("command", [["report"], ["serve", "--http", "--port", "0"]])
def test_invalid_knowledge_stops_serve_and_report(tmp_path: Path, command: list[str]) -> None:
    bad_dir = _write(tmp_path, GOOD_ENTRY.replace("owner: configuration", "owner: x"))
    run = _cli(*command, env_dir=bad_dir)
    assert run.returncode == 2 and "acme.yaml:12:" in run.stderr
