"""A failed command's error shows the whole argv, quoted as a shell reads it, and says whether
the paths it names still exist."""

from __future__ import annotations

import io
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from venvrpm import workspace
from venvrpm.console import Console
from venvrpm.errors import CommandError
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
