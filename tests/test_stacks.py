"""Pasted output of real voice stacks (fixtures in fixtures/stack-logs.yaml): every code found, no noise."""
from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest
import yaml

CASES = yaml.safe_load((Path(__file__).parent / "fixtures" / "stack-logs.yaml").read_text(encoding="utf-8"))


def _stands_for(match, source: str, code: str) -> bool:
    entry = match.entry
    return entry.source == source and (entry.code == code or any(fnmatch.fnmatchcase(code, p) for p in entry.patterns))


@pytest.mark.parametrize("case", CASES, ids=[f"{c['stack']}-{i}" for i, c in enumerate(CASES)])
def test_stack_log(ask, case: dict) -> None:
    answer = ask(case["text"])
    if case.get("none"):
        assert answer.recognised == [], [(m.entry.key, m.token) for m in answer.recognised]
        return
    for source, code in case["found"]:
        assert any(_stands_for(m, source, code) for m in answer.recognised), (
            source, code, [(m.entry.key, m.token) for m in answer.recognised])
