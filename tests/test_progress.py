"""Progress of long steps: a bar with counts on a terminal, a line every PLAIN_INTERVAL
seconds elsewhere; counted by the library's loops or in its commands' output lines."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support.apps import make_smallapp
from tests.support.recording import Clock, RecordingRunner
from venvrpm import manifest, pipeline, progress, venvbuild, workspace
from venvrpm.console import PLAIN_INTERVAL, Console
from venvrpm.errors import CommandError
from venvrpm.runner import HostRunner, Runners

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def plain(clock: Clock) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    console = Console(stream=out, terminal=False, clock=clock)
    console.report("step", "installing 139 locked requirements")
    return console, out


def counts_lines(out: io.StringIO) -> list[str]:
    return [line for line in out.getvalue().splitlines() if "/139" in line]


def test_plain_mode_prints_the_counts_only_once_the_interval_has_passed() -> None:
    clock = Clock()
    console, out = plain(clock)
    progress.total(console.report, 139, "distributions")
    progress.advance(console.report, 10)
    clock.now += PLAIN_INTERVAL - 0.1
    progress.advance(console.report, 10)
    assert counts_lines(out) == [], "nothing before the interval"
    clock.now += 0.1
    progress.advance(console.report, 37)
    clock.now += 1.0
    progress.advance(console.report, 1)  # too soon after the last line
    (line,) = counts_lines(out)
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d     installing 139 locked requirements: 57/139 distributions \(41%\), "
        r"after 10s",
        line,
    ), line
    assert "\x1b" not in out.getvalue()
    clock.now += PLAIN_INTERVAL
    progress.advance(console.report, 500)  # never past the total
    assert counts_lines(out)[-1].endswith(" 139/139 distributions (100%), after 21s")


def test_plain_mode_prints_a_line_every_interval_while_a_step_runs_long() -> None:
    """A step stuck on one long command (an sdist compiling) moves no count: the clock alone
    says it is alive, with the step, its time and its counts when it has a total."""
    clock = Clock()
    out = io.StringIO()
    console = Console(stream=out, terminal=False, clock=clock)
    console.report("step", "building the project")
    clock.now += PLAIN_INTERVAL - 0.5
    console.tick()
    assert len(out.getvalue().splitlines()) == 1, "only the step line before the interval"
    clock.now += 0.5
    console.tick()
    clock.now += PLAIN_INTERVAL / 2
    console.tick()  # too soon after the last line
    clock.now += 65
    console.tick()
    lines = out.getvalue().splitlines()[1:]
    assert [line[9:] for line in lines] == [
        "    building the project: after 10s",
        "    building the project: after 1m20s",
    ], lines
    console.report("step", "installing 139 locked requirements")
    progress.total(console.report, 139, "distributions")
    progress.advance(console.report, 12)
    clock.now += PLAIN_INTERVAL
    console.tick()
    assert out.getvalue().splitlines()[-1][9:] == (
        "    installing 139 locked requirements: 12/139 distributions (8%), after 10s"
    )
    console.done("x")
    clock.now += 2 * PLAIN_INTERVAL
    before = out.getvalue()
    console.tick()
    assert out.getvalue() == before, "nothing once the command is done"


def test_the_clock_ticks_in_a_thread_only_off_the_live_display_and_with_a_real_clock() -> None:
    out = io.StringIO()
    console = Console(stream=out, terminal=False)
    console.report("step", "building the project")
    assert console._heartbeat is not None and console._heartbeat.is_alive()
    console.done("x")
    assert console._heartbeat is None
    faked = Console(stream=io.StringIO(), terminal=False, clock=Clock())
    faked.report("step", "building the project")
    assert faked._heartbeat is None, "a fake clock ticks when the test says"
    quiet = Console(stream=io.StringIO(), terminal=False, quiet=True)
    quiet.report("step", "building the project")
    assert quiet._heartbeat is None


def test_process_reads_finds_a_descendant_by_its_arguments_and_keeps_the_last_count(
    tmp_path: Path,
) -> None:
    """rpmbuild prints nothing per file: what it has read is the measure (/proc/PID/io)."""
    data = tmp_path / "data.bin"
    data.write_bytes(b"x" * 3_000_000)
    reads = progress.ProcessReads("python3", str(data))
    assert reads() == 0, "no such process yet: nothing read, no error"
    code = "import sys, time; open(sys.argv[1], 'rb').read(); time.sleep(1.5)"
    # a grandchild, as rpmbuild is under the runner's unshare wrapper
    proc = subprocess.Popen(["sh", "-c", f'python3 -c "{code}" "$0"; true', str(data)])
    try:
        deadline = time.monotonic() + 10
        while reads() < 3_000_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        last = reads()
        assert last >= 3_000_000, "the bytes it read, counted while it runs"
    finally:
        proc.wait()
    assert reads() == last, "once the process is gone, the last count stays"


def test_output_lines_that_match_the_pattern_count_even_when_not_shown() -> None:
    clock = Clock()
    console, out = plain(clock)
    assert console.sink is not None, "plain mode streams: its lines are counted"
    progress.total(console.report, 139, "distributions")
    progress.count_lines(console.report, re.compile(r"^(Collecting|Processing) \S"))
    for name in ("a", "b", "c"):
        console.output("stdout", f"Collecting {name}==1.0 (from -r lock (line 1))", captured=True)
        console.output("stdout", "  Downloading a-1.0.whl (10 kB)", captured=True)
    console.output("stdout", "Processing ./wheels/d-1.0-py3-none-any.whl", captured=True)
    assert console.bar is not None and console.bar.done == 4
    assert "Collecting" not in out.getvalue(), "captured lines show with -v only"


def test_a_group_n_in_the_pattern_says_how_many() -> None:
    console, _ = plain(Clock())
    progress.total(console.report, 139, "modules compiled")
    progress.count_lines(console.report, re.compile(r"^compiled (?P<n>\d+)$"))
    console.output("stderr", "compiled 100", captured=True)
    console.output("stderr", "compiled 7", captured=True)
    assert console.bar is not None and console.bar.done == 107


def test_a_new_step_or_a_new_total_starts_again_and_quiet_prints_nothing() -> None:
    clock = Clock()
    console, _ = plain(clock)
    progress.total(console.report, 139, "files relocated")
    progress.advance(console.report, 139)
    progress.total(console.report, 50, "modules compiled")
    assert console.bar is not None and (console.bar.done, console.bar.unit) == (
        0,
        "modules compiled",
    )
    console.report("step", "checking dependencies")
    assert console.bar is None
    progress.advance(console.report, 3)  # no total: ignored

    out = io.StringIO()
    quiet = Console(stream=out, terminal=False, quiet=True, clock=clock)
    quiet.report("step", "installing")
    progress.total(quiet.report, 139, "distributions")
    clock.now += 2 * PLAIN_INTERVAL
    progress.advance(quiet.report, 50)
    assert out.getvalue() == "" and quiet.sink is None


def test_the_live_display_shows_a_bar_with_counts(terminal_env: None) -> None:
    out = io.StringIO()
    console = Console(stream=out, terminal=True, clock=Clock())
    assert console.live
    console.report("step", "relocating to /opt/app")
    progress.total(console.report, 200, "files relocated")
    progress.advance(console.report, 50)
    assert console._progress is not None
    console._progress.refresh()
    text = ANSI.sub("", out.getvalue())
    assert "50/200 files relocated" in text
    assert "━" in text, "a bar"
    console.done("x")
    assert "50/200" not in ANSI.sub("", out.getvalue()).splitlines()[-1]


def test_a_ticker_reports_in_batches_and_flushes_the_rest() -> None:
    events: list[tuple[str, str]] = []
    ticker = progress.Ticker(lambda k, t: events.append((k, t)), every=3)
    for _ in range(7):
        ticker.tick()
    ticker.flush()
    assert events == [("advance", "3"), ("advance", "3"), ("advance", "1")]


@pytest.mark.integration
def test_a_build_reports_counts_for_install_relocation_and_bytecode(tmp_path: Path) -> None:
    """Orchestration: each long step's bar ends full, counted from what really happened."""
    m = manifest.load(make_smallapp(tmp_path / "app"))
    console = Console(stream=io.StringIO(), terminal=False, verbose=True)
    runner = RecordingRunner(HostRunner(1_700_000_000, on_output=console.sink))
    events: list[tuple[str, str]] = []
    ended: dict[str, tuple[int, int, str]] = {}

    def report(kind: str, text: str) -> None:
        bar = console.bar
        if kind == "step" and bar is not None and console.current_step:
            ended[console.current_step] = (bar.done, bar.total, bar.unit)
        events.append((kind, text))
        console.report(kind, text)

    with workspace.workspace(keep=False) as workdir:
        plan = pipeline.prepare(
            m, Runners(runner, runner), workdir=workdir, output_dir=tmp_path / "out",
            source_date_epoch=1_700_000_000, host_env={}, report=report,
        )  # fmt: skip
        pipeline.assemble(plan, Runners(runner, runner), report)
    install = "installing 4 locked requirements"
    assert ended[install] == (4, 4, "distributions installed"), events
    at = events.index(("step", install))
    assert ("total", "4 distributions installed") in events[at : at + 2]
    relocation = "relocating to /opt/smallapp"
    done, total, unit = ended[relocation]
    assert unit == "modules compiled" and done == total > 0, "the helper's lines were counted"
    relocated = [t for k, t in events if k == "total" and t.endswith("files relocated")]
    assert relocated and int(relocated[0].split()[0]) > 0


def _compile_plan(tmp_path: Path) -> SimpleNamespace:
    """What compile_bytecode reads of a plan: a tree of 300 modules, then one whose
    ``__pycache__`` is a file, so that the helper dies after counting."""
    stage = tmp_path / "stage"
    venv = stage / "opt" / "app"
    for i in range(300):
        (venv / "a").mkdir(parents=True, exist_ok=True)
        (venv / "a" / f"m{i}.py").write_text(f"X = {i}\n")
    (venv / "z").mkdir()
    (venv / "z" / "broken.py").write_text("Y = 1\n")
    (venv / "z" / "__pycache__").write_text("not a directory")
    work = tmp_path / "work"
    work.mkdir()
    progress_file = work / "compile-progress"
    compile_tree = venvbuild.helper_source("compile_tree.py")
    return SimpleNamespace(
        venv_dir=venv, stage=stage, workdir=work, venv_python=Path(sys.executable),
        compile_progress=progress_file,
        compile_environment=(sys.executable, "-I", "-S", "-B", "-c", compile_tree, str(venv),
                             str(stage), str(progress_file)),
    )  # fmt: skip


def test_compile_progress_is_counted_and_kept_out_of_a_failures_tail(tmp_path: Path) -> None:
    """The helper's progress must not fill the "last lines of output" of its error."""
    plan = _compile_plan(tmp_path)
    console = Console(stream=io.StringIO(), terminal=False, verbose=True, clock=Clock())
    console.report("step", "relocating to /opt/app")
    runner = HostRunner(1_700_000_000, on_output=console.sink)
    with pytest.raises(CommandError) as failed:
        venvbuild.compile_bytecode(plan, runner, report=console.report)  # type: ignore[arg-type]
    tail = failed.value.output_tail
    assert "Error" in tail and "modules done" not in tail, tail
    (plan.venv_dir / "z" / "__pycache__").unlink()
    console.report("step", "relocating to /opt/app")
    done = venvbuild.compile_bytecode(plan, runner, report=console.report)  # type: ignore[arg-type]
    assert done.compiled == 1, "the 300 compiled before the failure are current"
    assert console.bar is not None and console.bar.done == console.bar.total == 301


@pytest.mark.integration
def test_rpmbuild_reports_how_much_of_a_sizeable_payload_it_has_packed(tmp_path: Path) -> None:
    """Orchestration: rpmbuild prints nothing per file; its progress is measured (bytes read)."""
    m = manifest.load(make_smallapp(tmp_path / "app"))
    runner = RecordingRunner(HostRunner(1_700_000_000))
    events: list[tuple[str, str]] = []
    plans: list[pipeline.BuildPlan] = []

    def report(kind: str, text: str) -> None:
        events.append((kind, text))
        if (kind, text) == ("step", "listing the payload"):
            # a sizeable payload, not compressible, so that rpmbuild takes a while
            (plans[0].venv_dir / "big.bin").write_bytes(os.urandom(96 << 20))

    with workspace.workspace(keep=False) as workdir:
        plan = pipeline.prepare(
            m, Runners(runner, runner), workdir=workdir, output_dir=tmp_path / "out",
            source_date_epoch=1_700_000_000, host_env={}, report=report,
        )  # fmt: skip
        plans.append(plan)
        pipeline.build(plan, Runners(runner, runner), report)
    at = events.index(("step", "running rpmbuild"))
    step = events[at + 1 : events.index(("step", "verifying the RPM"))]
    totals = [t for k, t in step if k == "total"]
    assert len(totals) == 1 and totals[0].endswith(" MB packed"), step
    total = int(totals[0].split()[0])
    assert total >= 96
    done = sum(int(t) for k, t in step if k == "advance")
    # sampled twice a second while rpmbuild runs: how far the last sample got depends on the
    # machine's load (46 of 101 MB with the suite on both cores), so only that it moved is sure
    assert done > 0, f"measured {done} of {total} MB"
