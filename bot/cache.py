"""A pickled engine per knowledge version, so `voicecode ask` does not parse YAML and rebuild indexes each run.

The cache key covers every knowledge file and every engine module (name, size, modification time), so an
edit to either rebuilds it. Invalid knowledge is never cached: loading raises before anything is written.
Set VOICECODE_CACHE=off to bypass it, VOICECODE_CACHE_DIR to move it.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path

from .catalog import load
from .engine import Engine

PACKAGE_DIR = Path(__file__).resolve().parent


def cache_dir() -> Path:
    env = os.environ.get("VOICECODE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "voicecode"


def fingerprint(directory: Path) -> str:
    """Hash of what the engine is built from: knowledge files, engine modules, Python version."""
    digest = hashlib.sha256(f"{sys.version_info[:2]}|{directory.resolve()}".encode())
    for path in sorted([*directory.glob("*.yaml"), *PACKAGE_DIR.glob("*.py")]):
        stat = path.stat()
        digest.update(f"{path.name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def _read(path: Path) -> Engine | None:
    try:
        with path.open("rb") as handle:
            engine = pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        return None
    return engine if isinstance(engine, Engine) else None


def _write(path: Path, engine: Engine) -> None:
    """Atomic write; a read-only or full disk only costs speed, never the answer."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".engine-")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(engine, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        return


def cached_engine(directory: Path) -> Engine:
    """The engine for `directory`, from the cache when it is current, else built and stored."""
    if os.environ.get("VOICECODE_CACHE", "").lower() in ("off", "0", "no"):
        return Engine(load(directory))
    path = cache_dir() / f"engine-{fingerprint(directory)}.pickle"
    engine = _read(path)
    if engine is None:
        engine = Engine(load(directory))
        _write(path, engine)
    return engine
