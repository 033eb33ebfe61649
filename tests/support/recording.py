"""A runner that records every command (and its environment) and runs it for real."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from venvrpm.runner import HostRunner, Result


@dataclass
class Call:
    argv: tuple[str, ...]
    what: str
    env: dict[str, str]


@dataclass
class RecordingRunner:
    """Delegates to the real HostRunner; keeps the order of side effects for assertions."""

    inner: HostRunner
    calls: list[Call] = field(default_factory=list)

    def which(self, program: str) -> str | None:
        return self.inner.which(program)

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
        self.calls.append(Call(tuple(str(a) for a in argv), what, dict(env or {})))
        return self.inner.run(
            argv, what=what, cwd=cwd, env=env, stdin=stdin, check=check, hint=hint, capture=capture
        )


class Clock:
    """A clock the test sets (``clock.now += 11``): the console's time source in tests."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now
