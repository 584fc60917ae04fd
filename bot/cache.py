"""A pickled engine per knowledge version, so `voicecode ask` does not parse YAML and rebuild indexes each run.

The key covers every knowledge file (name, size, modification time), the engine's own source code as it
was imported, the Python version and a format number, so an edit to either rebuilds it and a process never
stores old code under a new key. Invalid knowledge is never cached: loading raises before anything is written.

Unpickling runs code, so a cache file is only read from a directory that belongs to the current user and
that nobody else can write to (created 0700), and only if the file itself belongs to the user. Older
entries for the same knowledge directory are removed when a new one is written.
Set VOICECODE_CACHE=off to bypass the cache, VOICECODE_CACHE_DIR to move it.
"""
from __future__ import annotations

import gc
import hashlib
import os
import pickle
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .catalog import KnowledgeError, load
from .engine import Engine

FORMAT = 2
PROTOCOL = pickle.HIGHEST_PROTOCOL
PACKAGE_DIR = Path(__file__).resolve().parent
_CODE_HASH = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(PACKAGE_DIR.glob("*.py")))).hexdigest()


def cache_dir() -> Path:
    env = os.environ.get("VOICECODE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "voicecode"


def _directory_key(directory: Path) -> str:
    return hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:12]


def fingerprint(directory: Path) -> str:
    """Hash of what the engine is built from: knowledge files, engine code, Python version, cache format."""
    digest = hashlib.sha256(f"{FORMAT}|{sys.version_info[:2]}|{_CODE_HASH}".encode())
    for path in sorted(directory.glob("*.yaml")):
        info = path.stat()
        digest.update(f"{path.name}|{info.st_size}|{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def _private(path: Path) -> bool:
    """Owned by us and not writable by group or others: nobody else can have planted what we unpickle."""
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Unpickling creates many objects and none are garbage: cycle collection during it is wasted time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _trusted(path: Path) -> bool:
    return _private(path.parent) and _private(path)


def _read(path: Path) -> Engine | None:
    if not _trusted(path):
        return None
    try:
        with path.open("rb") as handle, _collector_paused():
            engine = pickle.load(handle)
    except Exception:  # noqa: BLE001 - any damage to a cache file only means rebuilding it
        return None
    return engine if isinstance(engine, Engine) else None


def reloaded(engine: Engine) -> Engine:
    """`engine` as a cache entry gives it back, for measuring the engine the bot really answers with: the
    answer process and the CLI load theirs from the cache, and unpickled indexes lie together in memory where
    built ones are scattered over the heap (about a tenth faster at 100,000 entries)."""
    packed = pickle.dumps(engine, protocol=PROTOCOL)
    with _collector_paused():
        return pickle.loads(packed)


def _write(path: Path, engine: Engine) -> None:
    """Atomic write into a private directory; a read-only or full disk only costs speed, never the answer."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(path.parent):
            return
        import tempfile  # here, not at the top: a CLI start that finds the cache warm never needs it

        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".engine-")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(engine, handle, protocol=PROTOCOL)
        os.replace(tmp, path)
        for old in path.parent.glob(path.name.rsplit("-", 1)[0] + "-*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        return


def _enabled() -> bool:
    return os.environ.get("VOICECODE_CACHE", "").lower() not in ("off", "0", "no")


def _path(directory: Path) -> Path:
    return cache_dir() / f"engine-{_directory_key(directory)}-{fingerprint(directory)}.pickle"


def warm(directory: Path) -> None:
    """Check the knowledge and leave a current engine in the cache, without keeping one in this process.

    For a process that only starts others (`voicecode serve`'s arbiter, whose memory every worker inherits):
    an engine of a large catalog would stay in its heap for good. A current cache entry already proves the
    knowledge valid (invalid knowledge is never written); otherwise a child process builds and stores it.
    Raises KnowledgeError, with every problem, when the knowledge is invalid.
    """
    if _enabled() and _trusted(_path(directory)):
        return
    import multiprocessing  # here, not at the top: 9 ms of every CLI start, and only a server start needs them
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as child:
        problems = child.submit(_build_and_store, directory).result()
    if problems:
        raise KnowledgeError(problems)


def _build_and_store(directory: Path) -> list[str]:
    """In the child: the knowledge's problems (none when the engine was built and stored)."""
    try:
        cached_engine(directory)
    except KnowledgeError as error:
        return error.problems
    return []


def cached_engine(directory: Path) -> Engine:
    """The engine for `directory`, from the cache when it is current, else built and stored."""
    if not _enabled():
        return Engine(load(directory))
    path = _path(directory)
    engine = _read(path)
    if engine is None:
        engine = Engine(load(directory))
        _write(path, engine)
    return engine
