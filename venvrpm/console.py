"""The only module that imports rich: step lines, the live display, warnings and the error panel.

Messages go to stderr; stdout carries only results (the RPM path, a schema, a plan), so
``venvrpm build ... | xargs`` and ``venvrpm schema > schema.json`` work.

Three ways to look: on a terminal a live display (a spinner on the running step, a line with
its time for each finished one); on a terminal without it (``--json``, a dumb terminal) the
same lines, coloured; in CI (``CI=true``) or a pipe, plain timestamped lines without control codes.

A step that reports its total (venvrpm.progress) shows a bar with counts on the live display.
Elsewhere a step that runs long gets a line every :data:`PLAIN_INTERVAL` seconds (its name, its
time, its counts when it has a total), even when nothing moves: a CI log shows it is alive.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TextIO

from rich.console import Console as RichConsole
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.text import Text

from venvrpm import __version__
from venvrpm.errors import EXIT_BUG, EXIT_OK, CommandError, VenvrpmError, command_line, refused
from venvrpm.files import sha256_hex
from venvrpm.redact import redact, redact_all

if TYPE_CHECKING:
    from venvrpm.audit import Fix as AuditFix
    from venvrpm.audit import Report as AuditReport
    from venvrpm.cache import CacheEntry
    from venvrpm.doctor import Check
    from venvrpm.entrypoints import ManifestCheck
    from venvrpm.fetch import Filled
    from venvrpm.inspect import Inspection
    from venvrpm.lint import Linted
    from venvrpm.manifest import Manifest
    from venvrpm.pipeline import BuildResult
    from venvrpm.runner import OutputSink, Stream


PLAIN_INTERVAL = 10.0
"""Seconds between two progress lines of a step off the live display (CI logs, pipes)."""
_TOTAL = re.compile(r"^(\d+) (.+)$")


@dataclass(slots=True)
class Bar:
    """How far the running step is, when it reported its total."""

    total: int
    unit: str
    """What is counted: ``distributions``, ``files relocated``."""
    done: int = 0
    pattern: re.Pattern[str] | None = None
    """Output lines that count as done (venvrpm.progress.count_lines)."""


class _Counted(BarColumn):
    """The bar, only for a step with a total (rich would pulse one without)."""

    def render(self, task: Task) -> Text:  # type: ignore[override]
        return Text("") if task.total is None else super().render(task)  # type: ignore[return-value]


class _Counts(ProgressColumn):
    """``57/139 distributions``, for a step with a total."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        unit = task.fields.get("unit", "")
        return Text(f"{int(task.completed)}/{int(task.total)} {unit}")


class _Elapsed(ProgressColumn):
    """The running step's time, as the finished lines show theirs: ``12.3s``."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.elapsed or 0.0:.1f}s", style="dim")


class Console:
    """Shows what a build reports, plainly in CI and logs, with colour on a terminal."""

    def __init__(
        self,
        *,
        quiet: bool = False,
        verbose: bool = False,
        animate: bool = True,
        stream: TextIO | None = None,
        terminal: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """*animate*: a live display when on a terminal (not with -q). *terminal*: None asks
        the stream (and ``CI``); True treats *stream* as a terminal (tests).
        """
        stream = stream or sys.stderr
        if terminal is None:
            plain = os.environ.get("CI") == "true" or not stream.isatty()
        else:
            plain = not terminal
        self.quiet = quiet
        self.verbose = verbose
        self.plain = plain
        self.err = RichConsole(
            file=stream,
            highlight=False,
            emoji=False,  # ":name:" in a package's strings is text, not an emoji
            no_color=plain or "NO_COLOR" in os.environ,
            force_terminal=False if plain else terminal,
            soft_wrap=True,
        )
        self.live = animate and not quiet and not plain and self.err.is_interactive
        """Whether steps show as a live display (else as lines)."""
        self.clock = clock
        self.started = clock()
        self.steps: list[tuple[str, float]] = []
        """(step, start on *clock*) in order, for timings."""
        self.ended: float | None = None
        """When the command finished (done), closing the last step."""
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self.bar: Bar | None = None
        """The running step's progress, when it reported a total."""
        self._shown = 0.0
        """When the running step's last line (its own or a progress line) was printed."""
        self._lines = threading.Lock()  # progress lines come from the heartbeat and the runner
        self._ticks = not self.live and not quiet and clock is time.monotonic
        """Whether a thread calls :meth:`tick` (a fake clock ticks when its test says)."""
        self._heartbeat: threading.Thread | None = None
        self._stop = threading.Event()

    def _stamp(self) -> str:
        return time.strftime("%H:%M:%S ") if self.plain else ""

    @property
    def current_step(self) -> str | None:
        """The step running now (the one that failed, in an error), or None."""
        return self.steps[-1][0] if self.steps and self.ended is None else None

    def report(self, kind: str, text: str) -> None:
        """Receive a pipeline event (see venvrpm.progress.Report)."""
        if kind in ("total", "advance", "count"):
            self._progress_report(kind, text)
            return
        text = redact(text)
        if kind == "step":
            self._close_step("✓", "green")
            self.bar = None
            self.steps.append((text, self.clock()))
            self._shown = self.steps[-1][1]
            self.ended = None
            self._start_heartbeat()
            if self.live:
                self._show(text)
                return
        if kind == "warning":
            self.err.print(f"{self._stamp()}[yellow]warning:[/] {terminal_safe(text)}")
            return
        if self.quiet or (kind == "detail" and not self.verbose):
            return
        if kind == "step":
            self.err.print(f"{self._stamp()}[bold]==>[/] {terminal_safe(text)}")
        else:
            # a Text, not print(style=): that would dim the live display's line too
            self.err.print(
                Text(f"{self._stamp()}    {terminal_safe(text, markup=False)}", style="dim")
            )

    @property
    def sink(self) -> OutputSink | None:
        """What a runner should hand its commands' output lines to (None: nothing to show).

        Off the live display too: a step counts its progress in its commands' lines."""
        return None if self.quiet and not self.verbose else self.output

    def _progress_report(self, kind: str, text: str) -> None:
        """A step's total, an advance, or which output lines count (venvrpm.progress)."""
        if kind == "total":
            match = _TOTAL.match(text)
            if match is None or not self.steps:
                return
            self.bar = Bar(int(match.group(1)), match.group(2))
            if self._progress is not None and self._task is not None:
                self._progress.update(self._task, total=self.bar.total, completed=0,
                                      unit=terminal_safe(self.bar.unit, markup=False))  # fmt: skip
        elif self.bar is None:
            return
        elif kind == "count":
            self.bar.pattern = re.compile(text)
        else:
            self._advance(int(text))

    def _advance(self, count: int) -> None:
        """*count* more units of the running step done: the bar moves, or, off the live
        display, a progress line once :data:`PLAIN_INTERVAL` has passed since the last."""
        bar = self.bar
        if bar is None:
            return
        bar.done = min(bar.total, bar.done + count)
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=bar.done)
            return
        self.tick()

    def tick(self) -> None:
        """Off the live display: a line for the running step (``building the project: 57/139
        distributions (41%), after 1m20s``) once :data:`PLAIN_INTERVAL` has passed since its
        last line. Called every second by a thread (with the real clock) and on each advance."""
        if self.quiet or self.live:
            return
        with self._lines:
            now = self.clock()
            if not self.steps or self.ended is not None or now - self._shown < PLAIN_INTERVAL:
                return
            self._shown = now
            step, start = self.steps[-1]
            text = f"{step}: "
            bar = self.bar
            if bar is not None:
                share = 100 * bar.done // max(bar.total, 1)
                text += f"{bar.done}/{bar.total} {bar.unit} ({share}%), "
            text += f"after {_duration(now - start)}"
            self.err.print(Text(f"{self._stamp()}    {terminal_safe(text, markup=False)}",
                                style="dim"))  # fmt: skip

    def _start_heartbeat(self) -> None:
        """Start the thread that calls :meth:`tick` every second, unless it runs."""
        if not self._ticks or self._heartbeat is not None:
            return
        self._stop.clear()

        def beat() -> None:
            while not self._stop.wait(1.0):
                self.tick()

        self._heartbeat = threading.Thread(target=beat, daemon=True, name="venvrpm-heartbeat")
        self._heartbeat.start()

    def output(self, stream: Stream, line: str, *, captured: bool) -> None:
        """A line a command printed (see venvrpm.runner.OutputSink).

        Captured output is shown with -v only, marked and dimmed; uncaptured output (a test
        run) is shown as it is. Either way above the live display, control codes made visible.
        """
        bar = self.bar
        if bar is not None and bar.pattern is not None:
            match = bar.pattern.search(line)
            if match is not None:
                self._advance(int(match["n"]) if "n" in bar.pattern.groupindex else 1)
        if captured and not self.verbose:
            return
        shown = terminal_safe(redact(line), markup=False)
        if captured:
            self.err.print(Text(f"{self._stamp()}    | {shown}", style="dim"))
        else:
            self.err.print(Text(shown))

    def notice(self, text: str) -> None:
        """Something the user must see even with -q (where a kept directory is)."""
        self.err.print(f"{self._stamp()}{terminal_safe(redact(text))}")

    def timings(self) -> list[dict[str, object]]:
        """Each step with the seconds it took (the last one until done, or now)."""
        last = self.ended if self.ended is not None else self.clock()
        ends = [start for _, start in self.steps[1:]] + [last]
        return [
            {"step": name, "seconds": round(end - start, 3)}
            for (name, start), end in zip(self.steps, ends, strict=True)
        ]

    def done(self, text: str) -> None:
        """The closing line of a successful command, with the time each step took."""
        self._close_step("✓", "green")
        self.close()
        self.ended = self.clock()
        if not self.quiet and not self.live and len(self.steps) > 1:
            spent = ", ".join(f"{t['step']} {t['seconds']:.1f}s" for t in self.timings())
            self.err.print(f"{self._stamp()}    steps: {terminal_safe(spent)}", style="dim")
        if not self.quiet:
            elapsed = self.ended - self.started
            self.err.print(
                f"{self._stamp()}[green]done[/] {terminal_safe(redact(text))} ({elapsed:.1f}s)"
            )

    def error(self, exc: VenvrpmError) -> None:
        """An expected failure: message, the step that was running, details, hint. No traceback."""
        step = self.current_step
        self._close_step("✗", "red")
        self.close()
        # every line of an error is masked: a command line or pip's output may hold an index
        # URL with its password (venvrpm.redact)
        self.err.print(f"[bold red]error:[/] {terminal_safe(redact(exc.message))}")
        if step is not None:
            spent = self.clock() - self.steps[-1][1]
            self.err.print(f"  step: {terminal_safe(step)} (after {spent:.1f}s)")
        for detail in exc.details:
            for i, line in enumerate(redact(detail).splitlines()):
                self.err.print(("  " if i == 0 else "    ") + terminal_safe(line))
        if isinstance(exc, CommandError) and not exc.details:
            self.err.print(f"  command: {terminal_safe(redact(command_line(exc.argv)))}")
        if exc.hint:
            self.err.print(f"[cyan]hint:[/] {terminal_safe(redact(exc.hint))}")

    def bug(self, exc: BaseException) -> None:
        """An exception venvrpm did not expect: a line saying it is a bug and where to report
        it, then the traceback (never hidden: it is what the report needs)."""
        self._close_step("✗", "red")
        self.close()
        self.err.print(f"[bold red]error:[/] {BUG_LINE}")
        self.err.print(f"  {terminal_safe(report_where())}")
        step = self.current_step
        if step is not None:
            self.err.print(f"  step: {terminal_safe(step)}")
        shown = "".join(traceback.format_exception(exc))
        self.err.print(Text(terminal_safe(redact(shown), markup=False)))

    def write_out(self, text: str) -> None:
        """*text* on stdout, where results go: flushed here, so that a refused write (a full
        disk, a closed pipe) is an error now, not a traceback at exit."""
        self.close()  # the live display and stdout may share a terminal
        with refused("writing to standard output", "free space where the output goes, or "
                     "send it elsewhere"):  # fmt: skip
            try:
                sys.stdout.write(text)
                sys.stdout.flush()
            except OSError:
                # what stayed in the buffer would be flushed again at exit, failing again
                # ("Exception ignored", exit 120): stdout goes nowhere from here on
                with contextlib.suppress(OSError, ValueError):
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, sys.stdout.fileno())
                    os.close(devnull)
                raise

    def write_err(self, text: str) -> None:
        """*text* on stderr as it is (a tool's own stderr: no markup, no wrapping), after the
        live display."""
        self.close()
        self.err.file.write(text)
        self.err.file.flush()

    def inspection(self, report: Inspection) -> None:
        """The human ``venvrpm inspect`` report on stdout."""
        self.write_out(render_inspection(report, sys.stdout))

    def audit(self, report: AuditReport) -> None:
        """The human ``venvrpm audit`` report on stdout."""
        self.write_out(render_audit(report, sys.stdout))

    def audit_fixed(self, fix: AuditFix, name: str, version: str) -> None:
        """What ``venvrpm audit --fix`` changed, and what to ship, on stdout."""
        lines = [f"re-locked {n}: {a} -> {b}" for n, a, b in fix.upgraded]
        lines += [f"no fix known for {n}: left as it is" for n in fix.unfixable]
        if fix.release is not None:
            lines.append(f"ship it as {name}-{version}-{fix.release}: set `release: {fix.release}` "
                         "in the manifest, then build")  # fmt: skip
        elif fix.upgraded:
            lines.append("raise the manifest's release before building: the update must be "
                         "newer than what is installed")  # fmt: skip
        self.write_out("".join(terminal_safe(line, markup=False) + "\n" for line in lines))

    def lint(self, linted: Linted) -> None:
        """``venvrpm lint``'s report on stdout; rpmlint's stderr and venvrpm's notes on
        stderr."""
        out, err = render_lint(linted)
        self.write_out(out)
        self.write_err(err)

    def write_json(self, document: object) -> None:
        """One JSON document on stdout, every string masked: an error's command line or
        output may hold an index URL with its password."""
        self.write_out(json.dumps(redact_all(document), indent=2, sort_keys=True) + "\n")

    def close(self) -> None:
        """Stop the live display and the heartbeat, if they run (before writing to stdout,
        and at exit)."""
        if self._heartbeat is not None:
            self._stop.set()
            if self._heartbeat is not threading.current_thread():
                self._heartbeat.join()
            self._heartbeat = None
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None

    def _show(self, step: str) -> None:
        """Make *step* the live display's running step."""
        if self._progress is None:
            self._progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}", markup=False),
                _Counted(bar_width=30), _Counts(), _Elapsed(),
                console=self.err, transient=True, redirect_stdout=False, redirect_stderr=False,
                get_time=self.clock,
            )  # fmt: skip
            self._progress.start()
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(terminal_safe(step, markup=False), total=None)

    def _close_step(self, mark: str, style: str) -> None:
        """On the live display, turn the running step into a finished line with its time."""
        if not self.live or self._task is None or not self.steps:
            return
        name, start = self.steps[-1]
        spent = f" {self.clock() - start:.1f}s"
        self.err.print(Text.assemble((f"{mark} ", style), terminal_safe(name, markup=False),
                                     (spent, "dim")))  # fmt: skip


BUG_LINE = "this is a bug in venvrpm, please report it"
"""The line above the traceback of an exception venvrpm did not expect."""


def report_where() -> str:
    """Where and with what to report a bug: the versions the report needs."""
    return (
        f"to the venvrpm developers, with this output and the command that printed it "
        f"(venvrpm {__version__}, Python {platform.python_version()}, {platform.platform()})"
    )


def result_document(
    exit_code: int,
    *,
    error: VenvrpmError | None = None,
    step: str | None = None,
    steps: Sequence[dict[str, object]] = (),
    built: dict[str, object] | None = None,
) -> dict[str, object]:
    """The ``--json`` document (venvrpm/schema/result.schema.json), on every exit: success
    (*built*: what the build made), an error, an interrupt or a bug (*error*, *step*: the step
    that was running)."""
    document: dict[str, object] = {"ok": exit_code == EXIT_OK, "exit_code": exit_code}
    if error is not None:
        document["error"] = {"message": error.message, "hint": error.hint,
                             "details": list(error.details), "step": step}  # fmt: skip
    if built is not None:
        document.update(built, steps=list(steps))
    return document


def bug_error(exc: BaseException) -> VenvrpmError:
    """A bug, as the ``--json`` document's error (its exit code :data:`EXIT_BUG`)."""
    error = VenvrpmError(f"{BUG_LINE}: {type(exc).__name__}: {exc}", f"report it {report_where()}",
                         traceback.format_exception(exc))  # fmt: skip
    error.exit_code = EXIT_BUG
    return error


def checked_line(source: object, checked: ManifestCheck, version: str) -> str:
    """The closing line of ``venvrpm check``."""
    declared = ", entry points declared" if checked.declared else ""
    return f"{source}: valid; {checked.locked} locked requirements{declared}; version {version}"


def build_fields(result: BuildResult, loaded: Manifest) -> dict[str, object]:
    """A build's fields of the ``--json`` document (schema/result.schema.json)."""
    built: dict[str, object] = {
        "requires": list(result.requires), "files": result.files,
        "payload_size": result.payload_size,
        "bundled": [{"name": n, "version": v} for n, v in result.distributions],
        "warnings": list(result.warnings),
    }  # fmt: skip
    if result.rpm is not None:
        arch = result.rpm.name.removesuffix(".rpm").rsplit(".", 1)[-1]
        built["artifact"] = {
            "path": str(result.rpm), "sha256": sha256_hex(result.rpm),
            "size": result.rpm.stat().st_size, "name": loaded.name, "version": loaded.version,
            "release": loaded.release, "arch": arch,
        }  # fmt: skip
    if result.spec is not None:
        built["spec"] = str(result.spec)
    return built


def built_line(made: object, files: int, requires: int, *, rpm: bool) -> str:
    """The closing line of a build: what it made, its paths and requires."""
    if rpm:
        return f"{made} ({files} paths, {requires} requires, as rpm lists them)"
    return (f"{made} ({files} paths in %files, {requires} Requires: lines; "
            "rpmbuild adds its rpmlib() requires)")  # fmt: skip


def fetched_lines(filled: Filled) -> tuple[str | None, str]:
    """``venvrpm fetch``'s info line on the skipped requirements (or None) and its closing line."""
    skipped = None
    if filled.skipped:
        names = ", ".join(f"{r.name}=={r.version}" for r in filled.skipped)
        skipped = f"{len(filled.skipped)} skipped, not for this interpreter: {names}"
    done = filled.fetched
    if not done.downloaded:
        return skipped, (
            f"{filled.wheelhouse} already holds all {len(done.present)} locked distributions"
        )
    return skipped, f"fetched {len(done.downloaded)}, already there {len(done.present)}"


def cache_document(root: object, limit: int, entries: Sequence[CacheEntry]) -> dict[str, object]:
    """``venvrpm cache list --json``."""
    return {
        "directory": str(root), "limit": limit, "size": sum(e.size for e in entries),
        "entries": [
            {"key": e.key, "app": e.app, "prefix": e.prefix, "interpreter": e.interpreter,
             "backend": e.backend, "size": e.size, "files": e.files, "created": e.created,
             "last_used": e.last_used}
            for e in entries
        ],
    }  # fmt: skip


def cache_listing(root: object, limit: int, entries: Sequence[CacheEntry]) -> tuple[str, str]:
    """``venvrpm cache list``: a line per environment (stdout) and the closing line."""
    lines = ""
    for e in entries:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_used))
        lines += (
            f"{e.key[:12]}  {e.app:<20} {e.size / 1024**2:8.1f} MiB {e.files:7d} files"
            f"  used {used}  {e.interpreter} {e.backend}\n"
        )
    total = sum(e.size for e in entries)
    done = (f"{len(entries)} environment(s), {total / 1024**2:.1f} MiB of "
            f"{limit / 1024**2:.0f} MiB in {root}")  # fmt: skip
    return lines, done


def pruned_line(removed: Sequence[CacheEntry]) -> str:
    """``venvrpm cache prune``'s closing line."""
    freed = sum(e.size for e in removed)
    return f"removed {len(removed)} environment(s), {freed / 1024**2:.1f} MiB"


def doctor_report(found: Sequence[Check]) -> str:
    """``venvrpm doctor``'s table: a line per check, its hint below."""
    width = max(len(c.name) for c in found)
    text = ""
    for check in found:
        text += f"{check.name:<{width}}  {check.status:<7}  {check.detail}\n"
        if check.hint:
            text += f"{'':<{width}}           -> {check.hint}\n"
    return text


def render_lint(linted: Linted) -> tuple[str, str]:
    """(stdout, stderr) of ``venvrpm lint``: rpmlint's report; its stderr and venvrpm's notes.
    rpmlint quotes the package's summary, file names...: never let them act on the terminal."""
    out = terminal_safe(linted.output, markup=False)
    # venvrpm's own notes on stderr: stdout stays rpmlint's report
    notes = "".join(f"venvrpm: {n}\n" for n in linted.notes)
    return out, terminal_safe(linted.stderr, markup=False) + terminal_safe(notes, markup=False)


SCRIPTLET_LINES = 8
"""Lines of each scriptlet the human inspect report shows (--json has them whole)."""
SIZE_ROWS = 20
"""Top-level names the human inspect report lists before summing the rest."""
_PLAIN_WIDTH = 10_000  # off a terminal, never wrap: one line per row, for grep and diff
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 and C1 controls but tab and newline: ESC, CSI, OSC...
    "\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"  # bidi controls, invisible marks
    "\ud800-\udfff]"  # lone surrogates (JSON can carry them): writing one would raise
)


def _duration(seconds: float) -> str:
    """``45s``, ``1m20s``: a long step's time in a progress line."""
    whole = int(seconds)
    return f"{whole}s" if whole < 60 else f"{whole // 60}m{whole % 60:02d}s"


def human_size(size: int) -> str:
    """``512 B``, ``77.9 KiB``, ``1.2 GiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def render_inspection(report: Inspection, stream: TextIO | None = None) -> str:
    """The human ``venvrpm inspect`` report, for *stream* (stdout by default): tables on a
    terminal, plain aligned text otherwise. Returned, not written: Console.write_out writes it
    (a refused write is an error, not a traceback)."""
    from rich.padding import Padding
    from rich.table import Table

    out = _capturing(stream or sys.stdout)

    def table(*columns: str, right: tuple[str, ...] = ()) -> Table:
        # no box: the same aligned columns on a terminal (with bold headings) and in a pipe
        grid = Table(
            box=None, show_header=bool(columns), header_style="bold", pad_edge=False,
            padding=(0, 2, 0, 0),
        )  # fmt: skip
        for column in columns or ("", ""):
            justify: Literal["left", "right"] = "right" if column in right else "left"
            grid.add_column(column, justify=justify, overflow="fold")
        return grid

    h = report.header
    built = report.build_time_utc
    rows: list[tuple[str, str | None]] = [
        ("name", h.name),
        ("epoch", None if h.epoch is None else str(h.epoch)),
        ("version", h.version),
        ("release", h.release),
        ("arch", h.arch),
        ("summary", h.summary),
        ("license", h.license),
        ("url", h.url),
        ("built", f"{built} on {h.build_host}" if built and h.build_host else built),
        ("installed size", f"{human_size(h.size)}, {_count(len(h.files), 'file')}"),
        ("rpm file", human_size(report.file_size)),
        ("sha256", report.sha256),
        ("payload", h.payload_compressor or "(not recorded)"),
        ("signature", _signature_text(report)),
        ("source rpm", h.source_rpm or "none: this is a source RPM"),
    ]
    facts = table()
    for key, value in rows:
        if value is not None:
            facts.add_row(key, terminal_safe(value))

    with out.capture() as captured:
        out.print(f"[bold]{terminal_safe(report.path.name)}[/]")
        out.print(Padding(facts, (0, 0, 0, 2)))

        source = {"payload": "the shipped list", "provides": "the Provides"}
        where = source.get(report.bundled_source or "", "")
        heading = f"bundled distributions: {len(report.bundled)}"
        if where:
            heading += f", from {where}"
        if report.interpreter:
            heading += f" (interpreter {report.interpreter})"
        _heading(out, heading)
        if report.bundled:
            dists = table("name", "version", "origin", "hashes", right=("hashes",))
            for d in report.bundled:
                dists.add_row(terminal_safe(d.name), terminal_safe(d.version), terminal_safe(d.origin or "-"),
                              str(len(d.hashes)))  # fmt: skip
            out.print(Padding(dists, (0, 0, 0, 2)))

        _heading(out, "size by top-level name under site-packages, largest first")
        sizes = table("name", "size", "files", right=("size", "files"))
        for entry in report.sizes[:SIZE_ROWS]:
            sizes.add_row(terminal_safe(entry.name), human_size(entry.size), str(entry.files))
        rest = report.sizes[SIZE_ROWS:]
        if rest:
            sizes.add_row(
                f"({len(rest)} more)", human_size(sum(e.size for e in rest)),
                str(sum(e.files for e in rest)),
            )  # fmt: skip
        sizes.add_row("other", human_size(report.other.size), str(report.other.files))
        out.print(Padding(sizes, (0, 0, 0, 2)))

        for title, deps in (("requires", h.requires), ("provides", h.provides)):
            _heading(out, f"{title}: {len(deps)}")
            for dep in deps:
                out.print(f"  {terminal_safe(str(dep))}")

        _heading(out, f"scriptlets: {len(h.scriptlets)}")
        for scriptlet in h.scriptlets:
            using = f" ({scriptlet.interpreter})" if scriptlet.interpreter else ""
            out.print(f"  [bold]%{scriptlet.name}[/]{terminal_safe(using)}")
            lines = scriptlet.body.splitlines()
            for line in lines[:SCRIPTLET_LINES]:
                out.print(f"    {terminal_safe(line)}")
            if len(lines) > SCRIPTLET_LINES:
                more = _count(len(lines) - SCRIPTLET_LINES, "more line")
                out.print(f"    ... {more} (--json shows them whole)", style="dim")

        for note in report.notes:
            out.print()
            out.print(f"[yellow]note:[/] {terminal_safe(note)}")
    return "".join(line.rstrip() + "\n" for line in captured.get().splitlines())


def _capturing(stream: TextIO) -> RichConsole:
    """A rich console whose output is captured, styled for *stream*: tables on a terminal,
    plain aligned text otherwise."""
    import io
    import shutil

    plain = os.environ.get("CI") == "true" or not stream.isatty()
    return RichConsole(
        file=io.StringIO(),  # captured by the caller: rich never writes to *stream* itself
        highlight=False,
        emoji=False,
        no_color=plain or "NO_COLOR" in os.environ,
        force_terminal=not plain,
        soft_wrap=True,
        width=_PLAIN_WIDTH if plain else shutil.get_terminal_size().columns,
    )


def render_audit(report: AuditReport, stream: TextIO | None = None) -> str:
    """The human ``venvrpm audit`` report: the database, then one row per finding."""
    from rich.table import Table

    out = _capturing(stream or sys.stdout)
    db = report.database
    newest = db.newest.strftime("%Y-%m-%d") if db.newest else "unknown"
    age = "" if report.age_days is None else f", {report.age_days:.0f} days old"
    with out.capture() as captured:
        out.print(f"[bold]database[/] {terminal_safe(str(db.path))} ({db.kind}, "
                  f"{_count(db.records, 'record')}, newest {newest}{age})")  # fmt: skip
        out.print(f"  sha256 {db.sha256}")
        names = len({(s.name, s.version) for s in report.shipped})
        shown = f"{_count(names, 'distribution version')}"
        if report.kind != "manifest":
            shown += f" in {_count(len({s.where for s in report.shipped}), 'package')}"
        out.print(f"[bold]audited[/] {terminal_safe(report.target)}: {shown}")
        for title, rows in (("vulnerabilities", report.open),
                            ("ignored", [f for f in report.findings if f.ignored_by])):  # fmt: skip
            if not rows:
                continue
            _heading(out, f"{title}: {len(rows)}")
            grid = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 2, 0, 0))
            for column in ("distribution", "version", "id", "aliases", "fixed in", "summary", "in"):
                grid.add_column(column, overflow="fold")
            for f in rows:
                v = f.vulnerability
                grid.add_row(*(terminal_safe(t) for t in (
                    f.name, f.version, v.id, ", ".join(v.aliases) or "-", v.fixed_in or "no fix",
                    v.summary[:100] or "-", ", ".join(f.where),
                )))  # fmt: skip
            out.print(grid)
        for f in report.findings:
            if f.ignored_by is not None:
                out.print(f"[dim]{terminal_safe(f.vulnerability.id)} ignored until "
                          f"{f.ignored_by.expires}: {terminal_safe(f.ignored_by.reason)}[/]")  # fmt: skip
            elif f.expired is not None:
                out.print(f"[yellow]expired ignore:[/] {terminal_safe(f.expired.id)} expired on "
                          f"{f.expired.expires}; {terminal_safe(f.vulnerability.id)} is shown again")  # fmt: skip
        if report.native:
            _heading(out, f"native libraries bundled in wheels: {len(report.native)} "
                     "(not covered by PyPI advisories: check them against their own)")  # fmt: skip
            grid = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 2, 0, 0))
            for column in ("library", "version", "path", "in"):
                grid.add_column(column, overflow="fold")
            for where, library in report.native:
                grid.add_row(*(terminal_safe(t) for t in (
                    library.name, library.version or "-", library.path, where)))  # fmt: skip
            out.print(grid)
        elif report.kind == "manifest":
            out.print("[dim]native libraries inside wheels are listed for an RPM or --installed "
                      "(a lock does not tell them)[/]")  # fmt: skip
        for note in report.notes:
            out.print(f"[yellow]note:[/] {terminal_safe(note)}")
        if not report.open:
            out.print()
            out.print("[green]no known vulnerability[/] in what was audited")
    return "".join(line.rstrip() + "\n" for line in captured.get().splitlines())


def terminal_safe(text: str, *, markup: bool = True) -> str:
    """*text* made harmless to show: the one way venvrpm shows strings it did not write.

    Control characters (ESC, CSI, OSC, BEL, CR...; tab and newline stay), bidi controls and
    invisible marks are written out (``\\x1b``, ``\\u202e``): an RPM's summary, a file name or
    rpmlint's quote of them must neither act on the terminal nor reorder what it shows. With
    *markup* (text given to rich as markup), ``[...]`` is escaped so that it shows literally.
    """
    visible = _UNSAFE.sub(_written_out, text)
    return escape(visible) if markup else visible


def _written_out(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _heading(out: RichConsole, text: str) -> None:
    out.print()
    out.print(f"[bold]{terminal_safe(text)}[/]")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _signature_text(report: Inspection) -> str:
    if not report.header.signatures:
        return "unsigned"
    ids = ", ".join(report.key_ids)
    return f"key {ids} ({report.header.signatures[0].split(',')[0]})"
