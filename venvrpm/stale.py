"""Debris of killed builds: names carrying the pid of a process that is gone."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

# what tempfile.mkdtemp/mkstemp make after our prefix: 8 characters of [a-z0-9_]
_RANDOM = r"[a-z0-9_]{8}"


def remove(directory: Path, prefix: str, suffix: str = "") -> None:
    """Remove ``PREFIX<pid>-<random>SUFFIX`` entries (what mkdtemp/mkstemp made for us) whose
    process is gone. Names of any other shape are never touched."""
    if not directory.is_dir():
        return
    shape = re.compile(re.escape(prefix) + r"(\d+)[-.]" + _RANDOM + re.escape(suffix) + "$")
    for entry in directory.iterdir():
        match = shape.match(entry.name)
        if match is None or _alive(int(match.group(1))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True
