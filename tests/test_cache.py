"""The engine cache: used when current, rebuilt when knowledge changes, harmless when broken or unwritable,
and never read from a place someone else could have written."""
from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot import cache
from bot.catalog import KnowledgeError
from conftest import ROOT


@pytest.fixture()
def knowledge(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", target, ignore=shutil.ignore_patterns("*.md"))
    return target


@pytest.fixture()
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache"
    monkeypatch.setenv("VOICECODE_CACHE_DIR", str(home))
    monkeypatch.delenv("VOICECODE_CACHE", raising=False)
    return home


def _no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("the catalog was parsed although the cache was current")
    monkeypatch.setattr(cache, "load", refuse)


def test_second_load_comes_from_cache(knowledge: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.cached_engine(knowledge)
    assert len(list(cache_home.glob("engine-*.pickle"))) == 1
    assert cache_home.stat().st_mode & 0o777 == 0o700
    _no_loading(monkeypatch)
    assert cache.cached_engine(knowledge).ask("-2008").best.entry.code == "-2008"


def test_edit_to_knowledge_rebuilds_and_replaces(knowledge: Path, cache_home: Path) -> None:
    cache.cached_engine(knowledge)
    path = knowledge / "voxifi.yaml"
    text = path.read_text(encoding="utf-8").replace("title: Rate limited by the Voxifi API", "title: Slow down, Voxifi says")
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10_000_000))
    engine = cache.cached_engine(knowledge)
    assert engine.catalog.by_key()["voxifi:429"].title == "Slow down, Voxifi says"
    assert len(list(cache_home.glob("engine-*.pickle"))) == 1  # the stale one is gone


@pytest.mark.parametrize("damage", [b"not a pickle", b"\x80\x05\x95" + b"\xff" * 64, b""])
def test_damaged_cache_is_rebuilt(knowledge: Path, cache_home: Path, damage: bytes) -> None:
    cache.cached_engine(knowledge)
    (entry,) = cache_home.glob("engine-*.pickle")
    entry.write_bytes(damage)
    assert cache.cached_engine(knowledge).ask("customer-busy").best.entry.code == "customer-busy"


class _Planted:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (Path(os.environ["PLANTED_MARK"]),))


def test_a_cache_others_can_write_is_never_unpickled(knowledge: Path, cache_home: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cache.cached_engine(knowledge)
    (entry,) = cache_home.glob("engine-*.pickle")
    mark = tmp_path / "planted-code-ran"
    monkeypatch.setenv("PLANTED_MARK", str(mark))
    entry.write_bytes(pickle.dumps(_Planted()))
    cache_home.chmod(0o777)
    assert cache.cached_engine(knowledge).ask("-2010").best is not None
    assert not mark.exists()


def test_unwritable_cache_still_answers(knowledge: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("VOICECODE_CACHE_DIR", str(blocker / "sub"))
    assert cache.cached_engine(knowledge).ask("-2010").best is not None


def test_cache_off(knowledge: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICECODE_CACHE", "off")
    cache.cached_engine(knowledge)
    assert not cache_home.exists()


def test_engine_from_cache_answers_exactly_like_a_fresh_one(knowledge: Path, cache_home: Path) -> None:
    fresh = cache.cached_engine(knowledge)
    unpickled = cache._read(next(cache_home.glob("engine-*.pickle")))
    assert unpickled is not None and unpickled is not fresh
    for question in ("-2008", "voxifi NO_ANSWER", "SIP/2.0 486 Busy Here", "caller hears a busy signal",
                     "asistant-not-found", "pipeline-error-openai-429-exceeded-quota", "Customer Did Not Answer"):
        assert unpickled.ask(question).to_json() == fresh.ask(question).to_json(), question


def test_reloaded_is_what_a_cache_entry_gives_back(knowledge: Path, cache_home: Path) -> None:
    fresh = cache.cached_engine(knowledge)
    again = cache.reloaded(fresh)
    assert again is not fresh and again._symptoms is None  # packed, as in the file: unpacked on first use
    stored = cache._read(next(cache_home.glob("engine-*.pickle")))
    assert stored is not None
    for question in ("-2008", "caller hears a busy signal", "asistant-not-found"):
        assert again.ask(question).to_json() == stored.ask(question).to_json() == fresh.ask(question).to_json()


def test_plain_words_index_is_unpacked_only_when_needed_and_shares_the_catalog(knowledge: Path,
                                                                              cache_home: Path) -> None:
    cache.cached_engine(knowledge)
    engine = cache._read(next(cache_home.glob("engine-*.pickle")))
    assert engine is not None
    engine.ask("-2008")
    assert engine._symptoms is None  # a code question never touched it
    words = engine.ask("caller hears a busy signal")
    assert engine._symptoms is not None and engine._symptoms_state is None  # the packed copy is not kept
    entries = {id(e) for e in engine.catalog.entries}
    assert words.matches and all(id(m.entry) in entries for m in words.matches)
    assert pickle.loads(pickle.dumps(engine)).ask("caller hears a busy signal").to_json() == words.to_json()


def test_warm_builds_in_a_child_and_keeps_nothing_here(knowledge: Path, cache_home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _no_loading(monkeypatch)  # this process never parses: the child does, and leaves the engine in the cache
    cache.warm(knowledge)
    assert len(list(cache_home.glob("engine-*.pickle"))) == 1
    cache.warm(knowledge)  # current: nothing to do, not even a child
    assert cache.cached_engine(knowledge).ask("-2008").matches


def test_warm_reports_every_problem_of_invalid_knowledge(knowledge: Path, cache_home: Path) -> None:
    (knowledge / "zz-broken.yaml").write_text("source: [unclosed\n")
    with pytest.raises(KnowledgeError) as raised:
        cache.warm(knowledge)
    assert raised.value.problems and all("zz-broken.yaml:" in p for p in raised.value.problems)
    assert not list(cache_home.glob("engine-*.pickle"))


def test_warm_with_the_cache_off_still_checks(knowledge: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICECODE_CACHE", "off")
    (knowledge / "zz-broken.yaml").write_text("source: [unclosed\n")
    with pytest.raises(KnowledgeError):
        cache.warm(knowledge)


def test_threads_asking_at_once_unpack_the_plain_words_index_once(knowledge: Path, cache_home: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    from bot import engine as engine_module

    engine = pickle.loads(pickle.dumps(cache.cached_engine(knowledge)))
    unpacked: list[int] = []

    def slow_loads(data: bytes) -> object:
        unpacked.append(1)
        time.sleep(0.2)  # long enough for every thread to arrive while the first one unpacks
        return pickle.loads(data)

    monkeypatch.setattr(engine_module, "pickle", SimpleNamespace(loads=slow_loads))
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(engine.symptoms)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(unpacked) == 1 and len({id(index) for index in seen}) == 1
