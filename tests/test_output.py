"""What a build shows: streamed command output (-v), the live display, plain lines, failures."""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.support.recording import Clock
from venvrpm.cli import main
from venvrpm.console import Console
from venvrpm.errors import CommandError, VenvrpmError
from venvrpm.runner import HostRunner, Stream

DATA = Path(__file__).parent / "data" / "manifests"
RESULT_SCHEMA = json.loads(
    (Path(__file__).parents[1] / "venvrpm" / "schema" / "result.schema.json").read_text()
)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# Writes to both pipes in turns, flushing each line, then exits 3.
INTERLEAVED = """\
import sys
for i in range(5):
    print(f"out {i}", flush=True)
    print(f"err {i}", file=sys.stderr, flush=True)
sys.exit(3)
"""


class Lines:
    """A sink that records what it was handed."""

    def __init__(self) -> None:
        self.got: list[tuple[Stream, str, bool]] = []

    def __call__(self, stream: Stream, line: str, *, captured: bool) -> None:
        self.got.append((stream, line, captured))

    def of(self, stream: Stream) -> list[str]:
        return [line for s, line, _ in self.got if s == stream]


# --- the runner -------------------------------------------------------------------------------


def test_lines_arrive_in_order_per_pipe_and_the_capture_is_unchanged() -> None:
    sink = Lines()
    argv = [sys.executable, "-c", INTERLEAVED]
    streamed = HostRunner(1, on_output=sink).run(argv, what="talking", check=False)
    silent = HostRunner(1).run(argv, what="talking", check=False)
    assert sink.of("stdout") == [f"out {i}" for i in range(5)]
    assert sink.of("stderr") == [f"err {i}" for i in range(5)]
    assert all(captured for _, _, captured in sink.got)
    assert streamed == silent, "streaming changes nothing in the result"
    assert streamed.returncode == 3


def test_a_failure_still_carries_the_captured_tail() -> None:
    sink = Lines()
    with pytest.raises(CommandError) as caught:
        HostRunner(1, on_output=sink).run(
            [sys.executable, "-c", INTERLEAVED], what="talking", hint="look"
        )
    assert caught.value.returncode == 3
    assert "out 4" in caught.value.output_tail and "err 4" in caught.value.output_tail
    assert caught.value.hint == "look"


def test_much_output_on_both_pipes_does_not_deadlock() -> None:
    """Far more than a pipe holds (64 KiB) on stderr, while stdout also fills."""
    script = (
        "import sys\n"
        "for i in range(4000):\n"
        "    sys.stderr.write('e' * 100 + '\\n')\n"
        "    if i % 10 == 0: sys.stdout.write('o' * 100 + '\\n')\n"
    )
    sink = Lines()
    # timeout(1) turns a deadlock into a failed assertion instead of a hung test run
    result = HostRunner(1, on_output=sink).run(
        ["timeout", "60", sys.executable, "-c", script], what="flooding", check=False
    )
    assert result.returncode == 0
    assert len(result.stderr) == 4000 * 101 and len(result.stdout) == 400 * 101
    assert len(sink.of("stderr")) == 4000 and len(sink.of("stdout")) == 400


def test_stdin_is_passed_while_streaming() -> None:
    sink = Lines()
    result = HostRunner(1, on_output=sink).run(["cat"], what="echo", stdin="a\nb\n")
    assert result.stdout == "a\nb\n"
    assert sink.of("stdout") == ["a", "b"]


def test_uncaptured_output_goes_to_the_sink_only() -> None:
    sink = Lines()
    result = HostRunner(1, on_output=sink).run(
        [sys.executable, "-c", INTERLEAVED], what="tests", check=False, capture=False
    )
    assert (result.stdout, result.stderr, result.returncode) == ("", "", 3)
    assert sink.got[0] in {("stdout", "out 0", False), ("stderr", "err 0", False)}
    assert len(sink.got) == 10


# --- the console ------------------------------------------------------------------------------


def test_plain_lines_are_timestamped_without_control_codes() -> None:
    out = io.StringIO()
    console = Console(stream=out, verbose=True)
    assert console.plain and not console.live
    console.report("step", "creating the virtualenv")
    console.report("info", "compiled 3 modules")
    console.output("stderr", "pip says \x1b[31mred\x1b[0m", captured=True)
    console.report("warning", "careful")
    console.done("dist/x.rpm")
    text = out.getvalue()
    assert "\x1b" not in text
    lines = text.splitlines()
    assert all(re.match(r"\d\d:\d\d:\d\d ", line) for line in lines), text
    assert "==> creating the virtualenv" in lines[0]
    assert lines[2].endswith("| pip says \\x1b[31mred\\x1b[0m")
    assert "warning: careful" in lines[3]


def test_captured_output_is_shown_only_when_verbose() -> None:
    out = io.StringIO()
    console = Console(stream=out)
    assert console.sink is not None, "streamed even so: progress counts the lines"
    assert Console(stream=io.StringIO(), quiet=True).sink is None, "-q: nothing to show"
    console.output("stdout", "noise", captured=True)
    console.output("stdout", "test output", captured=False)
    assert "noise" not in out.getvalue()
    assert "test output" in out.getvalue()


def test_live_display_finishes_each_step_with_its_time(terminal_env: None) -> None:
    out = io.StringIO()
    clock = Clock()
    console = Console(stream=out, terminal=True, verbose=True, clock=clock)
    assert console.live and console.sink is not None
    console.report("step", "creating the virtualenv")
    clock.now += 1.5
    console.output("stdout", "Successfully installed tinydep-1.0", captured=True)
    console.report("step", "running rpmbuild")
    clock.now += 2.0
    console.done("dist/x.rpm")
    text = ANSI.sub("", out.getvalue())
    assert "✓ creating the virtualenv 1.5s" in text
    assert "✓ running rpmbuild 2.0s" in text
    assert "| Successfully installed tinydep-1.0" in text
    assert "done dist/x.rpm (3.5s)" in text
    assert not re.search(r"\d\d:\d\d:\d\d ", text), "no timestamps on a terminal"
    assert [t["seconds"] for t in console.timings()] == [1.5, 2.0]


def test_quiet_or_json_on_a_terminal_means_no_live_display(terminal_env: None) -> None:
    assert not Console(stream=io.StringIO(), terminal=True, quiet=True).live
    assert not Console(stream=io.StringIO(), terminal=True, animate=False).live


def test_the_error_names_the_running_step_command_output_and_hint(terminal_env: None) -> None:
    tail = "\n".join(f"rpmbuild line {i}" for i in range(25))
    failure = CommandError("rpmbuild failed", ["rpmbuild", "-bb", "x.spec"], 1, tail, "keep it")
    for terminal in (False, True):
        out = io.StringIO()
        clock = Clock()
        console = Console(stream=out, terminal=terminal, clock=clock)
        console.report("step", "running rpmbuild")
        clock.now += 4.0
        console.error(failure)
        text = ANSI.sub("", out.getvalue())
        assert "error: rpmbuild failed" in text
        assert "step: running rpmbuild (after 4.0s)" in text
        assert "command: rpmbuild -bb x.spec" in text
        assert "rpmbuild line 0" in text and "rpmbuild line 24" in text
        assert "hint: keep it" in text
        assert console.current_step == "running rpmbuild"
        if terminal:
            assert "✗ running rpmbuild 4.0s" in text


def test_no_step_after_done_or_before_the_first() -> None:
    console = Console(stream=io.StringIO())
    assert console.current_step is None
    console.report("step", "a")
    console.done("ok")
    assert console.current_step is None
    console.error(VenvrpmError("later"))
    assert "step:" not in console.err.file.getvalue()  # type: ignore[attr-defined]


# --- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["build", "bundle", "lock", "fetch", "test"])
def test_quiet_and_verbose_together_is_a_usage_error(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "app.yaml", "-q", "-v"]) == 2
    captured = capsys.readouterr()
    assert "not allowed with argument" in captured.err and captured.out == ""
    assert f"usage: venvrpm {command}" in captured.err  # argparse's usage line, for humans


@pytest.mark.parametrize("argv", [["--help"], ["build", "--help"], ["--version"]])
def test_help_and_version_exit_0_without_a_document(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--json"] if argv[0] == "build" else argv)
    assert exited.value.code == 0
    assert "{" not in capsys.readouterr().out


def test_a_usage_error_is_said_with_a_hint_and_json_only_when_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["build"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error: venvrpm build: the following arguments are required: manifest" in captured.err
    assert "hint: `venvrpm build --help` lists the arguments" in captured.err
    # --json abbreviated as argparse would take it; after "--" it is no option
    assert main(["build", "--js", "--nope", "app.yaml"]) == 2
    assert json.loads(capsys.readouterr().out)["exit_code"] == 2
    assert main(["build", "--nope", "--", "--json"]) == 2
    assert capsys.readouterr().out == ""


def test_the_failing_step_is_in_the_error_and_the_json_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = tmp_path / "app"
    shutil.copytree(DATA, app)
    manifest = app / "good.yaml"
    manifest.write_text(manifest.read_text().replace("/usr/bin/python3.11", "/usr/bin/python3.99"))
    code = main(["build", str(manifest), "-o", str(tmp_path / "dist"), "--json"])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    step = "probing /usr/bin/python3.99 on this host"
    assert f"step: {step}" in captured.err
    document = json.loads(captured.out)
    jsonschema.validate(document, RESULT_SCHEMA)
    assert document["error"]["step"] == step
