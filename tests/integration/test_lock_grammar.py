"""Lock lines for other interpreters: skipped alike by fetch and build (issue 15, item 4)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.apps import make_smallapp
from venvrpm import fetch
from venvrpm.cli import main
from venvrpm.errors import LockError
from venvrpm.lockfile import parse as lockfile_parse
from venvrpm.lockfile import read as lockfile_read
from venvrpm.runner import HostRunner

pytestmark = pytest.mark.integration

# A line pip-compile writes when a dependency is only needed elsewhere; its file is nowhere.
PY2_ONLY = 'py2only==1.0 ; python_version < "3" \\\n    --hash=sha256:' + "c" * 64 + "\n"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    manifest = make_smallapp(tmp_path / "app")
    lock = manifest.parent / "requirements.lock"
    lock.write_text(lock.read_text() + PY2_ONLY)
    return manifest


def test_fetch_does_not_want_a_line_the_target_skips(
    app: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", "file:///nonexistent/simple")  # any fetch would fail
    assert main(["fetch", str(app)]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "already holds all 4 locked distributions" in err, err
    assert "1 skipped" in err and "py2only" in err, err


def test_build_offline_without_the_skipped_distribution(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["build", str(app), "--offline", "-o", str(app.parent / "dist")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert len(list((app.parent / "dist").glob("smallapp-*.rpm"))) == 1


def test_relocking_drops_header_lines_and_never_hands_them_to_pip_compile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A lock with an include: refused by build, fixed by re-locking, which hands pip-compile
    none of the old lock's other lines either (its index lines: build would ignore them)."""
    manifest = make_smallapp(tmp_path / "app", extra_manifest="lock:\n  inputs: []\n")
    lock = manifest.parent / "requirements.lock"
    good = lock.read_text()
    # pip-compile reads an old lock to keep its pins: these would reach other sources
    (manifest.parent / "extra.txt").write_text("-f https://evil.invalid/extra/\n")
    lock.write_text(
        "--index-url https://evil.invalid/simple\n--trusted-host evil.invalid\n-rextra.txt\n" + good
    )
    assert main(["build", str(manifest), "-o", str(tmp_path / "dist")]) == 2
    err = capsys.readouterr().err
    assert "requirements.lock line 3: '-rextra.txt' is not allowed in a lock" in err, err
    assert "line 1" not in err and "line 2" not in err, "index lines are ignored, not refused"
    assert main(["lock", str(manifest)]) == 0, capsys.readouterr().err
    relocked = lock.read_text()
    assert "evil" not in relocked and "-r" not in relocked.replace("--hash", "")
    pins = {(r.name, r.version) for r in lockfile_read(lock).requirements}
    assert ("tinydep", "1.0") in pins
    assert main(["lock", str(manifest), "--check"]) == 0, capsys.readouterr().err


def test_fetch_counts_a_line_only_when_its_file_arrived(tmp_path: Path) -> None:
    """Handed a line its marker skips, pip exits 0 having downloaded nothing: not "fetched"."""
    lock = lockfile_parse(PY2_ONLY, tmp_path / "requirements.lock")  # not for_target: on purpose
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {"PIP_CONFIG_FILE": "/dev/null", "PIP_NO_INDEX": "1"}
    with pytest.raises(LockError) as info:
        fetch.fetch(lock, tmp_path / "wheels", [sys.executable, "-m", "pip"],
                    HostRunner(0), env, scratch)  # fmt: skip
    assert info.value.details == ("py2only==1.0: pip downloaded no file the lock names",)
