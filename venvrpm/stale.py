"""Debris of killed builds: names carrying the pid of a process that is gone.

Only what this user's venvrpm made and marked as in progress is debris. A work directory is
marked (:data:`IN_PROGRESS`) when it is made, unless it is to be kept: a ``--keep-workdir``
directory, even of a killed build, and another user's directory are never removed.

A pid says nothing across PID namespaces (CI containers sharing a TMPDIR as the same user see
each other's files, not each other's processes), so a marked directory is removed only when
nobody holds the lock on its mark: the build that made it holds ``flock(LOCK_EX)`` on it for
its whole life, and the kernel drops the lock when that build dies, however it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import stat
from pathlib import Path

# what tempfile.mkdtemp/mkstemp make after our prefix: 8 characters of [a-z0-9_]
_RANDOM = r"[a-z0-9_]{8}"

IN_PROGRESS = ".venvrpm-in-progress"
"""The file in a work directory that says: a build is using it; remove it if that build died."""


def mark(directory: Path) -> int:
    """Mark *directory* (just made, ours) as in progress: debris once its process dies.

    Returns the descriptor that holds the mark's lock: keep it open while the directory is in
    use, close it after removing the directory. The mark is locked under another name and then
    renamed into place, so no other process ever sees it unlocked while this one lives.
    """
    pending = directory / f"{IN_PROGRESS}.new"
    flags = os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(pending, flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(pending, directory / IN_PROGRESS)
    except BaseException:
        os.close(fd)
        raise
    return fd


def remove(
    directory: Path, prefix: str, suffix: str = "", *, marked: bool = False, trees: bool = False
) -> None:
    """Remove ``PREFIX<pid>-<random>SUFFIX`` entries (what mkdtemp/mkstemp made for us) whose
    process is gone. Names of any other shape, entries of another user and, with *marked*,
    directories without the :data:`IN_PROGRESS` mark are never touched; no link is followed.

    A name says nothing about who made what carries it: whoever can write *directory* can
    rename any entry of it to a debris name (an output directory shared without the sticky
    bit). So only what they could remove themselves is removed: a file, a link, an empty
    directory. A directory with contents is removed whole only with *trees* (the directory
    is private to this user: the cache's ``tmp/``, the work directory) or *marked*; with
    *trees*, not while a live process holds its :func:`claim`.
    """
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
        if marked:
            if is_dir:
                _remove_unclaimed(entry, euid)
            continue  # else not made by venvrpm
        if is_dir and trees:
            _remove_unclaimed_tree(entry)
        elif is_dir:
            with contextlib.suppress(OSError):
                os.rmdir(entry)  # empty only: what is inside may be a tree renamed here
        else:
            with contextlib.suppress(OSError):
                entry.unlink()


def claim(directory: Path) -> int:
    """Hold ``flock(LOCK_EX)`` on *directory* (just made, ours) while it is in use: :func:`remove`
    with *trees* leaves it alone even when its pid looks dead here (another PID namespace).
    Returns the descriptor: close it once the directory is removed or renamed away. Where the
    filesystem has no flock on directories (NFS), the directory is unclaimed, as before."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # just made: nobody else holds it
    return fd


def _remove_unclaimed_tree(directory: Path) -> None:
    """Remove *directory* whole unless a live process holds its :func:`claim`."""
    try:
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(directory, flags)
    except OSError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a live build holds it
        except OSError:
            pass  # no flock here (NFS): nothing can be claimed, the pid decides
        shutil.rmtree(directory, ignore_errors=True)  # never follows a link
    finally:
        os.close(fd)


def _remove_unclaimed(directory: Path, euid: int) -> None:
    """Remove *directory* if it carries our mark and no process holds the mark's lock (its
    pid may belong to another PID namespace). Unmarked: kept (``--keep-workdir``)."""
    try:
        # no link followed, no FIFO waited on
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(directory / IN_PROGRESS, flags)
    except OSError:
        return
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != euid:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # a live build holds it
        shutil.rmtree(directory, ignore_errors=True)  # never follows a link
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True
