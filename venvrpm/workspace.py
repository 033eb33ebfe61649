"""The work directory of a build: private, removed afterwards unless kept; a failure says where it is."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from venvrpm import stale
from venvrpm.errors import FULL, FULL_HINT, CommandError, VenvrpmError, refusal, refused


@contextlib.contextmanager
def workspace(keep: bool, parent: Path | None = None) -> Iterator[Path]:
    """A private work directory: removed afterwards unless *keep*; on failure the error says so."""
    # Resolved: tools (virtualenv) write the resolved spelling of a symlinked TMPDIR, and
    # relocation must cut out exactly what they wrote.
    base = Path(parent or tempfile.gettempdir())
    stale.remove(base, "venvrpm-", marked=True)
    with refused("making the work directory", "free space, or set TMPDIR to a writable directory"):
        path = Path(tempfile.mkdtemp(prefix=f"venvrpm-{os.getpid()}-", dir=base)).resolve()
    # debris if this process dies (SIGKILL): the next run removes it. A kept one is never
    # marked, so no later run removes it, even when this one is killed. The mark stays locked
    # while this build lives: a build in another PID namespace cannot tell its pid is alive.
    claim = None if keep else stale.mark(path)
    # Two halves: <path>/work is what a container or root build sees (mounted read-write);
    # <path>/host (BuildPlan.hostdir: the spec, rpmbuild's tree, the SRPM's scratch) is never
    # mounted, so code run in the build cannot plant links where the host writes.
    (path / "work").mkdir(mode=0o700)
    (path / "host").mkdir(mode=0o700)
    try:
        try:
            yield path / "work"
        except OSError as exc:
            if exc.errno not in FULL:
                raise  # anything else is a bug in venvrpm: it keeps its traceback
            # a full disk is the machine's, wherever venvrpm was writing
            raise refusal(exc, "writing the work directory", FULL_HINT) from exc
    except VenvrpmError as exc:
        if keep:
            exc.details = (*exc.details, f"work directory kept: {path}")
        elif isinstance(exc, CommandError) and any(str(path) in arg for arg in exc.argv):
            exc.details = (
                *exc.details,
                f"the paths under {path} in the command are gone: the work directory was "
                "removed; rerun with --keep-workdir to keep it and rerun the command",
            )
        elif exc.hint is None or "--keep-workdir" not in exc.hint:
            exc.details = (*exc.details, "rerun with --keep-workdir to inspect the work directory")
        raise
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)
        if claim is not None:
            os.close(claim)
