"""Debris of killed builds: names carrying the pid of a process that is gone.

Only what this user's venvrpm made and marked as in progress is debris. A work directory is
marked (:data:`IN_PROGRESS`) when it is made, unless it is to be kept: a ``--keep-workdir``
directory, even of a killed build, and another user's directory are never removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
from pathlib import Path

# what tempfile.mkdtemp/mkstemp make after our prefix: 8 characters of [a-z0-9_]
_RANDOM = r"[a-z0-9_]{8}"

IN_PROGRESS = ".venvrpm-in-progress"
"""The file in a work directory that says: a build is using it; remove it if that build died."""


def mark(directory: Path) -> None:
    """Mark *directory* (just made, ours) as in progress: debris if its process dies."""
    os.close(os.open(directory / IN_PROGRESS, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def remove(directory: Path, prefix: str, suffix: str = "", *, marked: bool = False) -> None:
    """Remove ``PREFIX<pid>-<random>SUFFIX`` entries (what mkdtemp/mkstemp made for us) whose
    process is gone. Names of any other shape, entries of another user and, with *marked*,
    directories without the :data:`IN_PROGRESS` mark are never touched; no link is followed."""
    if not directory.is_dir():
        return
    shape = re.compile(re.escape(prefix) + r"(\d+)[-.]" + _RANDOM + re.escape(suffix) + "$")
    euid = os.geteuid()
    for entry in directory.iterdir():
        match = shape.match(entry.name)
        if match is None or _alive(int(match.group(1))):
            continue
        try:
            info = os.lstat(entry)
        except OSError:
            continue
        if info.st_uid != euid:
            continue  # another user's: theirs to remove (root would remove anyone's)
        is_dir = stat.S_ISDIR(info.st_mode)
        if marked and not (is_dir and _marked(entry, euid)):
            continue  # kept (--keep-workdir), or not made by venvrpm
        if is_dir:
            shutil.rmtree(entry, ignore_errors=True)  # never follows a link
        else:
            with contextlib.suppress(OSError):
                entry.unlink()


def _marked(directory: Path, euid: int) -> bool:
    try:
        info = os.lstat(directory / IN_PROGRESS)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_uid == euid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True
