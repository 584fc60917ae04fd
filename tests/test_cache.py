"""The engine cache: used when current, rebuilt when knowledge changes, harmless when broken or unwritable."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot import cache
from conftest import ROOT


@pytest.fixture()
def knowledge(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    target.mkdir()
    for name in ("voxifi.yaml", "sip.yaml", "q850.yaml", "vapi.yaml", "8x8-voice.yaml", "8x8-number-masking.yaml",
                 "8x8-voice-api.yaml", "freeswitch.yaml"):
        shutil.copy(ROOT / "knowledge" / name, target / name)
    return target


@pytest.fixture()
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache"
    monkeypatch.setenv("VOICECODE_CACHE_DIR", str(home))
    monkeypatch.delenv("VOICECODE_CACHE", raising=False)
    return home


def test_second_load_comes_from_cache(knowledge: Path, cache_home: Path) -> None:
    first = cache.cached_engine(knowledge)
    files = list(cache_home.glob("engine-*.pickle"))
    assert len(files) == 1
    second = cache.cached_engine(knowledge)
    assert second is not first and second.ask("-2008").best.entry.code == "-2008"


def test_edit_to_knowledge_rebuilds(knowledge: Path, cache_home: Path) -> None:
    cache.cached_engine(knowledge)
    path = knowledge / "voxifi.yaml"
    text = path.read_text(encoding="utf-8").replace("title: Rate limited by the Voxifi API", "title: Slow down, Voxifi says")
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10_000_000))
    engine = cache.cached_engine(knowledge)
    assert engine.catalog.by_key()["voxifi:429"].title == "Slow down, Voxifi says"
    assert len(list(cache_home.glob("engine-*.pickle"))) == 2


def test_corrupt_cache_is_rebuilt(knowledge: Path, cache_home: Path) -> None:
    cache.cached_engine(knowledge)
    (entry,) = cache_home.glob("engine-*.pickle")
    entry.write_bytes(b"not a pickle")
    assert cache.cached_engine(knowledge).ask("customer-busy").best.entry.code == "customer-busy"


def test_unwritable_cache_still_answers(knowledge: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("VOICECODE_CACHE_DIR", str(blocker / "sub"))
    assert cache.cached_engine(knowledge).ask("-2010").best is not None


def test_cache_off(knowledge: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICECODE_CACHE", "off")
    cache.cached_engine(knowledge)
    assert not cache_home.exists()
