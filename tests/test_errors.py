"""A failed command's error shows the whole argv, quoted as a shell reads it, and says whether
the paths it names still exist."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import pytest

from venvrpm import __version__, manifest, workspace
from venvrpm.cli import main
from venvrpm.console import Console
from venvrpm.errors import (
    EXIT_BUG,
    EXIT_BUILD_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    CommandError,
    SystemRefusal,
)
from venvrpm.runner import HostRunner, Mount, RootfsRunner

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _shown(exc: CommandError) -> str:
    out = io.StringIO()
    Console(stream=out, terminal=False).error(exc)
    return ANSI.sub("", out.getvalue())


def test_the_command_line_is_whole_and_rerunnable() -> None:
    argv = ["/opt/x/bin/python", "-m", "pip", "install", "--no-deps", "-r", "my lock.txt",
            *[f"--find-links=/w/{i}" for i in range(40)], "it's"]  # fmt: skip
    text = _shown(CommandError("installing failed", argv, 1, "boom"))
    (line,) = [ln for ln in text.splitlines() if ln.startswith("  command: ")]
    assert shlex.split(line.removeprefix("  command: ")) == argv
    assert "..." not in line and "…" not in line


def test_the_command_line_is_masked_and_terminal_safe() -> None:
    argv = ["pip", "--index-url", "https://user:s3cret@host/simple", "x\x1b]0;owned\x07"]
    text = _shown(CommandError("f", argv, 1, ""))
    assert "s3cret" not in text and "user:****@host" in text
    assert "\x1b]0;" not in text and "\x07" not in text


@pytest.mark.integration  # the real RootfsRunner (unshare, chroot)
def test_a_chrooted_command_is_shown_whole(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    runner = RootfsRunner(
        HostRunner(0), source_date_epoch=0, root=root, mounts=[Mount(tmp_path, False)],
        host_python="/usr/bin/python3", home=tmp_path,
    )  # fmt: skip
    argv = ["/bin/false", "a", "b", "c", "d"]
    with pytest.raises(CommandError) as failed:
        runner.run(argv, what="x")
    assert list(failed.value.argv) == argv


def test_a_removed_work_directory_is_said_plainly() -> None:
    with pytest.raises(CommandError) as failed, workspace.workspace(keep=False) as work:
        raise CommandError("pip failed", [str(work / "tools" / "pip"), "install"], 1, "")
    where = str(work.parent)
    assert any(
        f"the paths under {where} in the command are gone" in d and "--keep-workdir" in d
        for d in failed.value.details
    ), failed.value.details
    assert not work.parent.exists()


def test_a_kept_work_directory_makes_the_command_rerunnable() -> None:
    with pytest.raises(CommandError) as failed, workspace.workspace(keep=True) as work:
        raise CommandError("pip failed", [str(work / "tools" / "pip"), "install"], 1, "")
    assert f"work directory kept: {work.parent}" in failed.value.details
    assert not any("are gone" in d for d in failed.value.details)
    assert work.is_dir()


def test_the_environment_is_shown_so_env_i_reruns_the_command(tmp_path: Path) -> None:
    """The command ran in a scrubbed environment with venvrpm's own variables (PIP_*,
    PYTHONPATH, CFLAGS): the error lists them all, quoted, so `env -i ENV COMMAND` reruns it;
    and a password in one of them is masked."""
    script = tmp_path / "show"
    script.write_text('#!/bin/sh\necho "$PIP_CONFIG_FILE|$TZ|$PIP_INDEX_URL" >&2\nexit 3\n')
    script.chmod(0o755)
    env = {"PIP_CONFIG_FILE": "/dev/null", "PIP_INDEX_URL": "https://u:s3cret@host/simple",
           "CFLAGS": "-g0 -O2"}  # fmt: skip
    with pytest.raises(CommandError) as failed:
        HostRunner(0).run([str(script)], what="showing", env=env)
    text = _shown(failed.value)
    (line,) = [ln for ln in text.splitlines() if ln.startswith("  environment: ")]
    words = dict(w.split("=", 1) for w in shlex.split(line.removeprefix("  environment: ")))
    assert words["PIP_CONFIG_FILE"] == "/dev/null" and words["CFLAGS"] == "-g0 -O2"
    assert words["TZ"] == "UTC" and words["SOURCE_DATE_EPOCH"] == "0"
    assert "s3cret" not in text and "u:****@host" in words["PIP_INDEX_URL"]
    # pasted back (with the real password), it reruns the command as venvrpm ran it
    words["PIP_INDEX_URL"] = env["PIP_INDEX_URL"]
    rerun = subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in words.items()), str(script)],
                           capture_output=True, text=True)  # fmt: skip
    assert (rerun.returncode, rerun.stderr) == (3, "/dev/null|UTC|https://u:s3cret@host/simple\n")


# --- the error door: every exit has its code, its message and, with --json, its document ------

RESULT_SCHEMA = json.loads(
    (Path(__file__).parents[1] / "venvrpm" / "schema" / "result.schema.json").read_text()
)
MANIFESTS = Path(__file__).parent / "data" / "manifests"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A valid manifest (its lock beside it) in a directory of its own."""
    shutil.copytree(MANIFESTS, tmp_path / "app")
    return tmp_path / "app" / "good.yaml"


def _document(out: str) -> dict[str, object]:
    document = json.loads(out)
    jsonschema.validate(document, RESULT_SCHEMA)
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("bug", [ZeroDivisionError("division by zero"),
                                 PermissionError(13, "Permission denied", "/x")])  # fmt: skip
def test_a_bug_keeps_its_traceback_under_the_bug_line(
    app: Path, bug: Exception, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """An exception venvrpm did not expect (a stray OSError too) is a bug: the traceback is
    shown, under a line saying so and where to report it, with its own exit code."""

    def broken(*args: object, **kwargs: object) -> None:
        raise bug

    monkeypatch.setattr(manifest, "load", broken)
    assert main(["check", str(app)]) == EXIT_BUG
    err = capsys.readouterr().err
    assert "this is a bug in venvrpm, please report it" in err
    assert f"venvrpm {__version__}" in err and "Python " in err
    assert "Traceback (most recent call last)" in err and "in broken" in err
    assert type(bug).__name__ in err


def test_a_bug_still_writes_the_json_document(
    app: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(manifest, "load", broken)
    assert main(["build", str(app), "--json", "-o", str(app.parent / "dist")]) == EXIT_BUG
    captured = capsys.readouterr()
    document = _document(captured.out)
    assert document["ok"] is False and document["exit_code"] == EXIT_BUG
    error = document["error"]
    assert isinstance(error, dict) and "ZeroDivisionError" in error["message"]
    assert "Traceback" in captured.err


@pytest.mark.parametrize(("signum", "code", "message"), [
    (signal.SIGINT, EXIT_INTERRUPTED, "interrupted"),
    (signal.SIGTERM, EXIT_TERMINATED, "terminated"),
])  # fmt: skip
def test_an_interrupt_writes_the_json_document(
    app: Path, signum: int, code: int, message: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A real signal, delivered while the build loads its manifest."""

    def signalled(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signum)

    monkeypatch.setattr(manifest, "load", signalled)
    assert main(["build", str(app), "--json", "-o", str(app.parent / "dist")]) == code
    captured = capsys.readouterr()
    document = _document(captured.out)
    assert document["ok"] is False and document["exit_code"] == code
    error = document["error"]
    assert isinstance(error, dict) and message in error["message"]
    assert f"error: {message}" in captured.err and "Traceback" not in captured.err
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN


def test_a_work_directory_that_cannot_be_made_is_said_with_json(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """TMPDIR is a file: the machine's refusal, a clean message and hint, exit 1, a document."""
    not_a_dir = tmp_path / "tmpfile"
    not_a_dir.write_text("a file, not a directory")
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_dir))
    code = main(["build", str(app), "--dry-run", "--json", "-o", str(tmp_path / "dist")])
    captured = capsys.readouterr()
    assert code == EXIT_BUILD_FAILED, captured.err
    assert "Traceback" not in captured.err and "bug in venvrpm" not in captured.err
    assert f"making the work directory: Not a directory ({not_a_dir}" in captured.err
    assert "hint:" in captured.err and "TMPDIR" in captured.err
    document = _document(captured.out)
    assert document["exit_code"] == EXIT_BUILD_FAILED


def test_a_full_stdout_is_said_plainly() -> None:
    """/dev/full as stdout: the machine refuses the write; no traceback, exit 1."""
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "venvrpm", "schema"], stdout=full,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert done.returncode == EXIT_BUILD_FAILED, done.stderr
    assert "writing to standard output: No space left on device" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def _tiny_rpm(tmp_path: Path) -> Path:
    """A real, empty noarch RPM (rpmbuild), for the commands that read one."""
    spec = tmp_path / "tiny.spec"
    spec.write_text(
        "Name: tiny\nVersion: 1\nRelease: 1\nSummary: tiny\nLicense: MIT\nBuildArch: noarch\n"
        "%description\ntiny\n%files\n"
    )
    top = tmp_path / "top"
    subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}", str(spec)], check=True,
                   capture_output=True)  # fmt: skip
    return next(top.glob("RPMS/noarch/*.rpm"))


@pytest.mark.integration  # builds a real RPM with rpmbuild
@pytest.mark.parametrize("command", ["inspect", "lint"])
def test_a_full_stdout_is_said_plainly_by_the_rpm_reports(command: str, tmp_path: Path) -> None:
    """inspect and lint write their reports through the console too: a refused write to
    stdout is said, exit 1, not a bug's traceback."""
    rpm = _tiny_rpm(tmp_path)
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "venvrpm", command, str(rpm)], stdout=full,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert done.returncode == EXIT_BUILD_FAILED, done.stderr
    assert "writing to standard output: No space left on device" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_exit_codes_are_named_not_written_as_numbers() -> None:
    """Every ``return N`` of the CLI names its code (errors.EXIT_*)."""
    source = (Path(__file__).parents[1] / "venvrpm" / "cli.py").read_text()
    literal = re.findall(r"return \d+\b", source)
    assert literal == []


def test_a_full_disk_under_the_work_directory_is_the_machines() -> None:
    """/dev/full refuses every write with ENOSPC, as a full disk does: said, no traceback."""
    with pytest.raises(SystemRefusal) as failed, workspace.workspace(keep=False):  # noqa: SIM117
        with open("/dev/full", "w") as full:
            full.write("x")
            full.flush()
    assert failed.value.message.startswith("writing the work directory: No space left on device")
    assert failed.value.hint and "TMPDIR" in failed.value.hint
    assert failed.value.exit_code == EXIT_BUILD_FAILED


def test_another_os_error_under_the_work_directory_stays_a_bug(tmp_path: Path) -> None:
    """Only a full disk is the machine's wherever it happens: a missing file is venvrpm's."""
    with pytest.raises(FileNotFoundError), workspace.workspace(keep=False):
        (tmp_path / "absent").read_text()
