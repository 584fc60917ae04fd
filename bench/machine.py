"""What the numbers were measured on: they mean little without the CPU, the Python and the package versions."""
from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

MEASURED = ("bot", "knowledge")
PACKAGES = ("voicecode", "slack-bolt", "slack-sdk", "gunicorn", "PyYAML", "RapidFuzz")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit(root: Path) -> str:
    """The commit measured, marked when what is measured (not the benchmark itself) differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *MEASURED], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} (with uncommitted changes in {', '.join(MEASURED)})" if dirty else head


def load_average() -> str:
    """1, 5 and 15 minute load averages: other work on the machine shows up here, and in the numbers."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine_info(root: Path) -> dict[str, str]:
    """CPU, cores, memory, OS, Python, libyaml and package versions, and the commit, as report rows."""
    import yaml

    info = {
        "CPU": _cpu_model(),
        "cores (usable)": f"{len(os.sched_getaffinity(0))} of {os.cpu_count()}",
        "memory": _memory_gib(),
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        "libyaml (C loader)": "yes" if yaml.__with_libyaml__ else "no",
        "load average at start": load_average(),
        "commit": _commit(root),
    }
    info.update({name: _version(name) for name in PACKAGES})
    return info


def source_stamp(root: Path) -> str:
    """Names, sizes and modification times of the bot's code: a run whose code changed midway measured two
    versions (and the engine it pickled no longer matches the code that loads it)."""
    digest = hashlib.sha256()
    for path in sorted((root / "bot").rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()

