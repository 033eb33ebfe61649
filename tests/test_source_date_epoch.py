"""SOURCE_DATE_EPOCH: where it comes from, and the build saying so (an mtime is no silent default)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from venvrpm import manifest, sourcedate
from venvrpm.cli import main

APP = """\
name: app
version: '1.0'
summary: s
license: MIT
python: /usr/bin/python3
requirements: requirements.txt
"""


def _app(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "requirements.txt").write_text("six==1.16.0 --hash=sha256:" + "0" * 64 + "\n")
    os.utime(tmp_path / "requirements.txt", (1_600_000_000, 1_600_000_000))
    app = tmp_path / "app.yaml"
    app.write_text(APP + extra)
    return app


def test_the_environment_comes_first(tmp_path: Path) -> None:
    loaded = manifest.load(_app(tmp_path))
    assert sourcedate.source_date_epoch({"SOURCE_DATE_EPOCH": "123"}, loaded) == (
        123,
        "the environment's SOURCE_DATE_EPOCH",
    )


def test_then_the_newest_changelog_entry(tmp_path: Path) -> None:
    changelog = (
        "changelog:\n"
        "  - {date: '2024-05-01', author: A <a@example.invalid>, text: '- b'}\n"
        "  - {date: '2023-01-01', author: A <a@example.invalid>, text: '- a'}\n"
    )
    loaded = manifest.load(_app(tmp_path, changelog))
    assert sourcedate.source_date_epoch({}, loaded) == (
        1_714_521_600,
        "the newest changelog entry (2024-05-01)",
    )


def test_then_the_last_commit(tmp_path: Path) -> None:
    git = shutil.which("git")
    assert git is not None
    app = _app(tmp_path)
    env = {**os.environ, "GIT_COMMITTER_DATE": "@1650000000 +0000", "GIT_AUTHOR_DATE":
           "@1650000000 +0000"}  # fmt: skip
    for argv in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c",
                 "user.email=t@example.invalid", "commit", "-qm", "x"]):  # fmt: skip
        subprocess.run([git, "-C", str(tmp_path), *argv], check=True, env=env)
    epoch, source = sourcedate.source_date_epoch({}, manifest.load(app))
    assert epoch == 1_650_000_000 and source == f"the last git commit of {tmp_path}"


def test_else_the_locks_mtime_and_the_build_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _app(tmp_path)
    epoch, source = sourcedate.source_date_epoch({}, manifest.load(app))
    assert epoch == 1_600_000_000
    assert source.startswith("the modification time of requirements.txt (no changelog, no git")
    # the build prints it before anything else; here it then stops at the interpreter probe
    app.write_text(app.read_text().replace("/usr/bin/python3", "/nonexistent/python3"))
    assert main(["build", str(app), "-o", str(tmp_path / "dist")]) != 0
    err = capsys.readouterr().err
    assert (
        "SOURCE_DATE_EPOCH 1600000000 from the modification time of requirements.txt "
        "(no changelog, no git" in err
    )
