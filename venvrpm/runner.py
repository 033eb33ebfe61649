"""The one place venvrpm runs programs.

argv lists only (never a shell), a scrubbed environment with ``SOURCE_DATE_EPOCH`` set, output
captured, and on failure a CommandError that carries the command and the end of its output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from venvrpm.errors import CommandError, ToolMissingError

TAIL_LINES = 25

# What survives the scrub. Locale and TZ are pinned so tools' output and timestamps don't vary
# with the user's shell; HOME stays so pip can use its cache.
_KEPT = ("PATH", "HOME", "TMPDIR", "USER", "LOGNAME", "TERM")


@dataclass(frozen=True, slots=True)
class Result:
    """What a finished command printed."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last lines of stdout then stderr, for error messages."""
        text = "\n".join(part.rstrip() for part in (self.stdout, self.stderr) if part.strip())
        return "\n".join(text.splitlines()[-lines:])


class Runner(Protocol):
    """Runs commands on the build host (other backends implement the same interface)."""

    def run(
        self,
        argv: Sequence[str],
        *,
        what: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        check: bool = True,
        hint: str | None = None,
        capture: bool = True,
    ) -> Result:
        """Run *argv*; *what* names the step in messages. Raise CommandError when *check* and it fails.

        With *capture* false the command's output goes to our stderr as it comes (test runs).
        """
        ...

    def which(self, program: str) -> str | None:
        """The absolute path of *program* on this runner's PATH, or None."""
        ...


def base_environment(
    source_date_epoch: int, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The scrubbed environment every command starts from."""
    env = {key: os.environ[key] for key in _KEPT if key in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", TZ="UTC")
    env["SOURCE_DATE_EPOCH"] = str(source_date_epoch)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if extra:
        env.update(extra)
    return env


class HostRunner:
    """Runs commands directly on the build host."""

    def __init__(
        self,
        source_date_epoch: int,
        on_command: Callable[[Sequence[str]], None] | None = None,
    ) -> None:
        self.source_date_epoch = source_date_epoch
        self.on_command = on_command

    def which(self, program: str) -> str | None:
        return shutil.which(program, path=base_environment(self.source_date_epoch)["PATH"])

    def run(
        self,
        argv: Sequence[str],
        *,
        what: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        check: bool = True,
        hint: str | None = None,
        capture: bool = True,
    ) -> Result:
        argv = tuple(str(a) for a in argv)
        if self.on_command:
            self.on_command(argv)
        try:
            proc = subprocess.run(
                argv,
                cwd=cwd,
                env=base_environment(self.source_date_epoch, env),
                input=stdin,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture else sys.stderr.fileno(),
                stderr=subprocess.PIPE if capture else sys.stderr.fileno(),
                text=True,
                errors="replace",
                check=False,
            )
        except FileNotFoundError:
            raise ToolMissingError(
                f"{what}: {argv[0]} is not installed", hint or f"install {Path(argv[0]).name}"
            ) from None
        except PermissionError as exc:
            raise ToolMissingError(f"{what}: cannot run {argv[0]}: {exc}", hint) from None
        result = Result(argv, proc.returncode, proc.stdout or "", proc.stderr or "")
        if check and proc.returncode != 0:
            raise CommandError(f"{what} failed", argv, proc.returncode, result.tail(), hint)
        return result
