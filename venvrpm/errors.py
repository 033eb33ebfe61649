"""The one exception root. ``cli.py`` alone turns these into a message, a hint and an exit code."""

from __future__ import annotations

import contextlib
import errno
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

EXIT_OK = 0
"""The command did what it was asked."""
EXIT_BUILD_FAILED = 1
"""A build, tool or test failed, a lock is stale, or the machine refused an I/O."""
EXIT_USAGE = 2
"""A usage or manifest error: nothing was built or changed."""
EXIT_BUG = 70
"""An exception venvrpm did not expect: a bug, shown with its traceback (EX_SOFTWARE)."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (SIGINT): 128 + the signal's number, as a shell reports it."""
EXIT_TERMINATED = 143
"""SIGTERM (a cancelled CI job, ``timeout``): 128 + the signal's number."""


class VenvrpmError(Exception):
    """An expected failure with a message for humans and a hint on what to do next."""

    exit_code = EXIT_BUILD_FAILED

    def __init__(self, message: str, hint: str | None = None, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = tuple(details)


class UsageError(VenvrpmError):
    """Bad command-line arguments."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a manifest, located by key path and YAML line."""

    path: str
    """Dotted key path, e.g. ``files[0].dest``; empty for the document itself."""
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "manifest"
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class ManifestError(VenvrpmError):
    """The manifest is invalid; carries every problem found, not just the first."""

    exit_code = EXIT_USAGE

    def __init__(self, source: str, problems: Sequence[Problem], hint: str | None = None) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(
            f"{source}: {count} {noun} in the manifest",
            hint or "fix the keys named above; `venvrpm schema` prints every key and its type",
            details=[str(p) for p in self.problems],
        )


class ToolMissingError(VenvrpmError):
    """A program venvrpm needs is not installed."""


class CommandError(VenvrpmError):
    """A subprocess failed; carries the command and the end of its output."""

    def __init__(
        self,
        message: str,
        argv: Sequence[str],
        returncode: int,
        output_tail: str,
        hint: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.output_tail = output_tail
        details = [f"command: {command_line(self.argv)}"]
        if env is not None:
            # venvrpm starts every command from a scrubbed environment: `env -i`, these and the
            # command rerun it as it ran
            details.append(f"environment: {environment_line(env)}")
        details.append(f"exit status: {returncode}")
        if output_tail:
            details.append("last lines of output:\n" + output_tail)
        super().__init__(message, hint, details)


def command_line(argv: Sequence[str]) -> str:
    """*argv* whole, quoted as a shell reads it: what the user can paste to rerun it.

    Never shortened. Masking credentials and escaping control characters is the console's
    job (venvrpm.redact, console.terminal_safe), as for every line it shows.
    """
    return shlex.join(argv)


def environment_line(env: Mapping[str, str]) -> str:
    """*env* as ``K=V`` words, sorted and quoted as a shell reads them."""
    return " ".join(shlex.quote(f"{key}={value}") for key, value in sorted(env.items()))


class SystemRefusal(VenvrpmError):
    """The operating system refused an I/O venvrpm needs: a full disk, a read-only directory,
    a file where a directory should be. The machine's fault, not venvrpm's: no traceback."""


FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
"""A full disk or an exhausted quota: the machine's, whichever write of venvrpm met it."""
FULL_HINT = (
    "free space or choose another directory: -o DIR, TMPDIR=DIR, VENVRPM_CACHE_DIR=DIR "
    "(or --no-cache)"
)


def refusal(exc: OSError, doing: str, hint: str) -> SystemRefusal:
    """*exc* as the message ``DOING: No space left on device (PATH)`` with *hint*."""
    where = f" ({exc.filename})" if exc.filename else ""
    return SystemRefusal(f"{doing}: {exc.strerror or exc}{where}", hint)


@contextlib.contextmanager
def refused(doing: str, hint: str) -> Iterator[None]:
    """Turn an OSError of the I/O inside into a :class:`SystemRefusal` saying what was being
    done. Only around I/O whose failure is the machine's (a directory the user chose, the
    disk): elsewhere an OSError is a bug in venvrpm and keeps its traceback."""
    try:
        yield
    except OSError as exc:
        raise refusal(exc, doing, hint) from exc


class LockError(VenvrpmError):
    """The hash-locked requirements file cannot be installed as it is."""


class LockFileError(LockError):
    """The lock file itself is unusable (missing, unreadable, a line outside the grammar)."""

    exit_code = EXIT_USAGE


class RelocationError(VenvrpmError):
    """The staging path could not be removed from the payload."""


class PayloadError(VenvrpmError):
    """The payload holds something an RPM cannot carry faithfully."""


MAX_DETAILS_SHOWN = 20


def at_most(lines: list[str]) -> list[str]:
    """*lines* for an error's details: the first MAX_DETAILS_SHOWN, then how many more."""
    shown = lines[:MAX_DETAILS_SHOWN]
    if len(lines) > MAX_DETAILS_SHOWN:
        shown.append(f"... and {len(lines) - MAX_DETAILS_SHOWN} more")
    return shown
