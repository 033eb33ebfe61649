"""The only module that imports rich: step lines, warnings and the error panel.

Messages go to stderr; stdout carries only results (the RPM path, a schema, a plan), so
``venvrpm build ... | xargs`` and ``venvrpm schema > schema.json`` work.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from rich.console import Console as RichConsole
from rich.markup import escape

from venvrpm.errors import CommandError, VenvrpmError


class Console:
    """Shows what a build reports, plainly in CI and logs, with colour on a terminal."""

    def __init__(self, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        stream = stream or sys.stderr
        plain = os.environ.get("CI") == "true" or not stream.isatty()
        self.quiet = quiet
        self.plain = plain
        self.err = RichConsole(
            file=stream,
            highlight=False,
            no_color=plain or "NO_COLOR" in os.environ,
            force_terminal=False if plain else None,
            soft_wrap=True,
        )
        self.started = time.monotonic()
        self.steps: list[tuple[str, float]] = []
        """(step, monotonic start) in order, for timings."""

    def _stamp(self) -> str:
        return time.strftime("%H:%M:%S ") if self.plain else ""

    def report(self, kind: str, text: str) -> None:
        """Receive a pipeline event (see venvrpm.pipeline.Reporter)."""
        if kind == "step":
            self.steps.append((text, time.monotonic()))
        if kind == "warning":
            self.err.print(f"{self._stamp()}[yellow]warning:[/] {escape(text)}")
            return
        if self.quiet:
            return
        if kind == "step":
            self.err.print(f"{self._stamp()}[bold]==>[/] {escape(text)}")
        else:
            self.err.print(f"{self._stamp()}    {escape(text)}", style="dim")

    def notice(self, text: str) -> None:
        """Something the user must see even with -q (where a kept directory is)."""
        self.err.print(f"{self._stamp()}{escape(text)}")

    def timings(self) -> list[dict[str, object]]:
        """Each step with the seconds it took (the last one until now)."""
        ends = [start for _, start in self.steps[1:]] + [time.monotonic()]
        return [
            {"step": name, "seconds": round(end - start, 3)}
            for (name, start), end in zip(self.steps, ends, strict=True)
        ]

    def done(self, text: str) -> None:
        """The closing line of a successful command, with the time each step took."""
        if not self.quiet and len(self.steps) > 1:
            spent = ", ".join(f"{t['step']} {t['seconds']:.1f}s" for t in self.timings())
            self.err.print(f"{self._stamp()}    steps: {escape(spent)}", style="dim")
        if not self.quiet:
            elapsed = time.monotonic() - self.started
            self.err.print(f"{self._stamp()}[green]done[/] {escape(text)} ({elapsed:.1f}s)")

    def error(self, exc: VenvrpmError) -> None:
        """An expected failure: message, details, hint. No traceback."""
        self.err.print(f"[bold red]error:[/] {escape(exc.message)}")
        for detail in exc.details:
            for i, line in enumerate(detail.splitlines()):
                self.err.print(("  " if i == 0 else "    ") + escape(line))
        if isinstance(exc, CommandError) and not exc.details:
            self.err.print(f"  command: {escape(' '.join(exc.argv))}")
        if exc.hint:
            self.err.print(f"[cyan]hint:[/] {escape(exc.hint)}")
