"""How a long step reports how far it is; the console alone decides how that looks.

Three kinds of report (``report(kind, text)``, as venvrpm.progress.Report) besides ``step``,
``info``, ``detail`` and ``warning``:

- ``total``: ``"N UNIT"``: the running step does N units (``139 distributions``); a new total
  in the same step starts counting again (relocation, then bytecode).
- ``advance``: ``"K"``: K more units done, counted by the library's own loops.
- ``count``: a regular expression: each line the step's commands print that it matches is one
  unit done, or as many as its group ``n`` says. How a tool's output looks (pip's ``Collecting``
  lines) is known where the tool is run, not in the console.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable, Iterator

Report = Callable[[str, str], None]
"""``report(kind, text)`` with kind ``step`` (a new step begins), ``info``, ``detail`` (shown
with -v only) or ``warning``; and ``total``, ``advance``, ``count`` for how far a long step is."""


def quiet(kind: str, text: str) -> None:
    """A reporter that drops everything."""
    return None


def total(report: Report, count: int, unit: str) -> None:
    """The running step does *count* units of *unit*."""
    report("total", f"{count} {unit}")


def advance(report: Report, count: int = 1) -> None:
    """*count* more units of the running step are done."""
    if count:
        report("advance", str(count))


def count_lines(report: Report, pattern: re.Pattern[str]) -> None:
    """Each output line of the running step's commands that *pattern* matches is a unit done
    (or ``int(match["n"])`` units, when it has a group ``n``)."""
    report("count", pattern.pattern)


class Ticker:
    """Advances *report* every *every* units, not on each one (a report per file of 21,600
    would cost more than the work); :meth:`flush` reports the rest."""

    def __init__(self, report: Report, every: int = 500) -> None:
        self.report = report
        self.every = every
        self.pending = 0

    def tick(self) -> None:
        """One more unit done."""
        self.pending += 1
        if self.pending >= self.every:
            self.flush()

    def flush(self) -> None:
        """Report what was done since the last report."""
        advance(self.report, self.pending)
        self.pending = 0


@contextlib.contextmanager
def watching(
    report: Report, count: int, unit: str, measure: Callable[[], int], interval: float = 0.5
) -> Iterator[None]:
    """Report *count* units of *unit*, then, while the body runs, how many *measure* finds
    done every *interval* seconds: for a command that prints nothing as it goes (pip installs
    without a line per distribution). Nothing is reported without a *count*."""
    if count <= 0:
        yield
        return
    total(report, count, unit)
    stop = threading.Event()
    seen = 0

    def poll() -> None:
        nonlocal seen
        while not stop.wait(interval):
            now = measure()
            advance(report, now - seen)
            seen = now

    poller = threading.Thread(target=poll, daemon=True, name="venvrpm-progress")
    poller.start()
    try:
        yield
    finally:
        stop.set()
        poller.join()
    advance(report, measure() - seen)


class ProcessReads:
    """How many bytes the running process *program* with *argument* among its arguments has
    read so far (``rchar`` of ``/proc/PID/io``): a measure for :func:`watching` of a command
    that prints nothing per file (rpmbuild). It is looked for among all processes, not the
    children: the runner may start it under a wrapper (``unshare --pid --fork``).

    Never raises: no such process (yet), no /proc or no right to read it is 0 read; once the
    process is gone, the last count stays."""

    def __init__(self, program: str, argument: str) -> None:
        self.program = os.fsencode(program)
        self.argument = os.fsencode(argument)
        self.pid: int | None = None
        self.read = 0

    def __call__(self) -> int:
        try:
            if self.pid is None:
                self.pid = self._find()
            if self.pid is not None:
                with open(f"/proc/{self.pid}/io", "rb") as fh:
                    for line in fh.read(4096).splitlines():
                        if line.startswith(b"rchar:"):
                            self.read = max(self.read, int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            pass  # gone (or never readable): the last count stays
        return self.read

    def _find(self) -> int | None:
        """The first process whose command line is *program* ... *argument* (a scan of /proc
        costs ~1 ms; it is done only until the process is found)."""
        with os.scandir("/proc") as entries:  # closed on the early return too
            for entry in entries:
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                        args = fh.read(65536).split(b"\0")
                except OSError:
                    continue
                if os.path.basename(args[0]) == self.program and self.argument in args[1:]:
                    return int(entry.name)
        return None
