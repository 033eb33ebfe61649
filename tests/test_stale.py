"""Debris of killed builds is removed; what was kept, or is another user's, never is."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from venvrpm import stale, workspace

_ENTER = (
    "import os, signal, sys, pathlib\n"
    "from venvrpm import workspace\n"
    "with workspace.workspace(keep={keep}, parent=pathlib.Path(sys.argv[1])) as work:\n"
    "    print(work.parent, flush=True)\n"
    "    {then}\n"
)


def _workspace_of(parent: Path, *, keep: bool, then: str) -> Path:
    """The work directory of a venvrpm process that made one under *parent* and then *then*."""
    code = _ENTER.format(keep=keep, then=then)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(parent)], capture_output=True, text=True, check=False
    )
    return Path(proc.stdout.strip())


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A TMPDIR of the test's own."""
    (tmp_path / "base").mkdir()
    return tmp_path / "base"


def _next_run(parent: Path) -> None:
    with workspace.workspace(keep=False, parent=parent):
        pass


def _dead_pid() -> int:
    # above pid_max: no process can have it (a recently reaped pid may be reused)
    return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1


def test_a_kept_work_directory_survives_the_next_run(base: Path) -> None:
    kept = _workspace_of(base, keep=True, then="pass")
    assert kept.is_dir() and kept.name.startswith("venvrpm-")
    _next_run(base)
    assert kept.is_dir(), "--keep-workdir was removed by the next run"


def test_a_killed_builds_work_directory_is_removed_by_the_next_run(base: Path) -> None:
    killed = _workspace_of(base, keep=False, then="os.kill(os.getpid(), signal.SIGKILL)")
    assert killed.is_dir()
    _next_run(base)
    assert not killed.exists()
    assert list(base.iterdir()) == []


def test_a_killed_build_that_asked_to_keep_keeps_its_directory(base: Path) -> None:
    kept = _workspace_of(base, keep=True, then="os.kill(os.getpid(), signal.SIGKILL)")
    _next_run(base)
    assert kept.is_dir()


def test_another_users_directory_is_never_removed(base: Path) -> None:
    theirs = _workspace_of(base, keep=False, then="os.kill(os.getpid(), signal.SIGKILL)")
    other = 65534 if os.geteuid() == 0 else None
    if other is None:  # as a user, another user's directory cannot be made: pretend with ours
        return
    for path in (theirs, *theirs.rglob("*")):
        os.lchown(path, other, other)
    _next_run(base)
    assert theirs.is_dir(), "another user's directory was removed"


def test_a_link_with_a_debris_name_is_not_followed(base: Path) -> None:
    victim = base / "victim"
    victim.mkdir()
    (victim / "precious").write_text("x")
    (victim / ".venvrpm-in-progress").write_text("")
    link = base / f"venvrpm-{_dead_pid()}-abcdefgh"
    link.symlink_to(victim)
    _next_run(base)
    assert (victim / "precious").is_file()


def test_only_the_marked_shape_is_touched(base: Path) -> None:
    """An unmarked directory (a kept one, or made by an older venvrpm) of the debris shape."""
    plain = base / f"venvrpm-{_dead_pid()}-abcdefgh"
    plain.mkdir()
    _next_run(base)
    assert plain.is_dir()


def test_a_live_build_whose_pid_looks_dead_keeps_its_directory(base: Path) -> None:
    """A build in another PID namespace (CI containers sharing TMPDIR, same uid) has a pid that
    looks dead here: its directory was removed under it. A live build holds a lock on its
    mark; only a directory whose mark nobody holds is debris."""
    live = base / f"venvrpm-{_dead_pid()}-abcdefgh"
    live.mkdir()
    (live / stale.IN_PROGRESS).touch()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys\n"
         "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('locked', flush=True)\n"
         "sys.stdin.read()\n",
         str(live / stale.IN_PROGRESS)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        _next_run(base)
        assert live.is_dir(), "a live build's directory was removed"
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait()
        holder.stdout.close()
    _next_run(base)  # its holder is gone now: debris
    assert not live.exists()


def test_a_build_holds_the_lock_on_its_mark_while_it_runs(base: Path) -> None:
    with workspace.workspace(keep=False, parent=base) as work:
        fd = os.open(work.parent / stale.IN_PROGRESS, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    assert list(base.iterdir()) == []


def test_a_mark_planted_as_a_link_is_not_opened(base: Path) -> None:
    victim = base / "fifo"
    os.mkfifo(victim)
    debris = base / f"venvrpm-{_dead_pid()}-abcdefgh"
    debris.mkdir()
    (debris / stale.IN_PROGRESS).symlink_to(victim)
    _next_run(base)  # would block on the FIFO if the link were followed
    assert debris.is_dir()
