"""`venvrpm lock` and `venvrpm test` with the real pip-compile, offline from a test wheelhouse."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support import tinybackend
from tests.support.apps import make_smallapp, project_builds_with_the_backend_wheel
from tests.support.recording import RecordingRunner
from venvrpm import lock, lockfile, manifest, venvbuild
from venvrpm.cli import main
from venvrpm.runner import HostRunner

pytestmark = pytest.mark.integration

LOCK_CONFIG = """\
lock:
  inputs: [requirements.in]
  environments:
    dev:
      inputs: [requirements-dev.in]
      output: requirements-dev.lock
test:
  command: [minitest]
"""

MINITEST = """\
import importlib.util, pathlib, sys, traceback

def main():
    failed = 0
    for path in sorted(pathlib.Path("tests").glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name in sorted(n for n in dir(module) if n.startswith("test_")):
            try:
                getattr(module, name)()
                print(f"PASS {path.name}::{name}")
            except Exception:
                failed += 1
                print(f"FAIL {path.name}::{name}")
                traceback.print_exc()
    sys.exit(1 if failed else 0)
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """The test app with lock inputs, a dev environment with a tiny test runner, and tests."""
    return make_app(tmp_path)


@pytest.fixture(scope="module")
def locked_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test app, locked once per module (``venvrpm lock``: main and dev) for the tests
    that start from a locked app; test_lock_main_and_dev_offline checks that first lock."""
    base = tmp_path_factory.mktemp("locked")
    with pytest.MonkeyPatch.context() as mp:  # what tests/conftest.py gives a test
        for key in [k for k in os.environ if k.startswith("PIP_")]:
            mp.delenv(key)
        for key, sub in (("TMPDIR", "tmp"), ("VENVRPM_CACHE_DIR", "cache"),
                         ("XDG_CONFIG_HOME", "config")):  # fmt: skip
            (base / sub).mkdir()
            mp.setenv(key, str(base / sub))
        mp.setattr(tempfile, "tempdir", str(base / "tmp"))
        manifest_path = make_app(base)
        assert cli("lock", str(manifest_path)) == 0
    return manifest_path.parent


@pytest.fixture
def locked_app(locked_template: Path, tmp_path: Path) -> Path:
    """A private copy of the locked test app."""
    shutil.copytree(locked_template, tmp_path / "app", symlinks=True)
    return tmp_path / "app" / "app.yaml"


def make_app(base: Path) -> Path:
    """The test app under *base*/app, without its lock; returns its manifest."""
    manifest_path = make_smallapp(base / "app", extra_manifest=LOCK_CONFIG)
    root = manifest_path.parent
    tinybackend.write_wheel(
        root / "wheels", "minitest", "0.1", {"minitest/__init__.py": MINITEST},
        entry_points={"minitest": "minitest:main"},
    )  # fmt: skip
    (root / "requirements.in").write_text("tinydep\n")
    (root / "requirements-dev.in").write_text("minitest\ntinydep\n")
    (root / "project" / "tests").mkdir()
    (root / "project" / "tests" / "test_app.py").write_text(
        "import smallapp, tinydep\n\n"
        "def test_dependency():\n    assert tinydep.VALUE == 'tinydep 1.0'\n"
    )
    (root / "requirements.lock").unlink()
    return manifest_path


def cli(*args: str) -> int:
    return main([*args])


def test_lock_main_and_dev_offline(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("lock", str(app)) == 0
    root = app.parent
    main_lock = lockfile.read(root / "requirements.lock")
    pins = {r.name: r.version for r in main_lock.requirements}
    # requirements.in plus the project's own dependencies (sdist-only one included)
    assert pins == {
        "tinydep": "1.0",
        "awkward-data": "1.0",
        "tinynative": "1.0",
        "sdistonly": "2.0",
    }
    assert all(r.hashes for r in main_lock.requirements)
    text = (root / "requirements.lock").read_text()
    assert text.startswith("# Locked by `venvrpm lock` for /usr/bin/python3.11 (cpython 3.11")
    assert "# via smallapp (project/pyproject.toml)" in text
    dev = lockfile.read(root / "requirements-dev.lock")
    assert {r.name: r.version for r in dev.requirements} == {"minitest": "0.1", "tinydep": "1.0"}
    assert "-c requirements.lock" in (root / "requirements-dev.lock").read_text()
    # build uses the main lock only: the test runner never reaches the RPM
    assert cli("build", str(app), "-o", str(root / "dist"), "-q") == 0
    (rpm,) = (root / "dist").glob("*.rpm")
    listing = subprocess.run(
        ["rpm", "-qpl", str(rpm)], capture_output=True, text=True, check=True
    ).stdout
    assert "/site-packages/tinydep/" in listing and "minitest" not in listing


def test_markers_are_evaluated_by_the_target_interpreter(app: Path) -> None:
    root = app.parent
    m = manifest.load(app)
    runner = RecordingRunner(HostRunner(1))
    interpreter = venvbuild.probe_interpreter(runner, m.python)
    for name in ("onlyhere", "onlyelsewhere"):
        tinybackend.write_wheel(root / "wheels", name, "1.0", {f"{name}/__init__.py": ""})
    version = interpreter.version
    (root / "requirements.in").write_text(
        f'onlyhere ; python_full_version == "{version}"\n'
        f'onlyelsewhere ; python_full_version != "{version}"\n'
    )
    workdir = root / "work"
    workdir.mkdir()
    lock.lock(m, m.locks[0], interpreter, runner, workdir)
    pins = {r.name: r.marker for r in lockfile.read(m.requirements).requirements}
    assert "onlyhere" in pins and "onlyelsewhere" not in pins
    # pip-compile ran in a venv the manifest's interpreter made, not venvrpm's own Python
    made = next(c for c in runner.calls if c.what == "creating the locking environment").argv
    assert made[:3] == ("/usr/bin/python3.11", "-m", "virtualenv")
    compiled = next(c for c in runner.calls if "pip-compile" in c.what).argv
    assert compiled[0] == str(workdir / "lock-tools" / "bin" / "python")
    cfg = (workdir / "lock-tools" / "pyvenv.cfg").read_text()
    assert f"version_info = {version}" in cfg or f"version = {version}" in cfg


def test_check_both_ways_without_network(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = app.parent

    def check_offline() -> subprocess.CompletedProcess[str]:
        # `unshare -n`: no network at all, proving --check never needs it
        return subprocess.run(
            ["unshare", "-n", sys.executable, "-m", "venvrpm", "lock", str(app), "--check"],
            capture_output=True, text=True,
        )  # fmt: skip

    missing = check_offline()
    assert missing.returncode == 1 and "main: requirements.lock does not exist" in missing.stderr
    assert cli("lock", str(app)) == 0
    fresh = check_offline()
    assert fresh.returncode == 0, fresh.stderr
    assert "2 lock(s) up to date" in fresh.stderr

    (root / "requirements.in").write_text("tinydep>=2\n")
    stale = check_offline()
    assert stale.returncode == 1
    assert "main: requirements.in changed since requirements.lock was made" in stale.stderr
    assert (
        "tinydep>=2 (from requirements.in) is not satisfied by requirements.lock (tinydep==1.0)"
        in stale.stderr
    )
    assert "dev: requirements.lock" not in stale.stderr  # the main lock did not change

    (root / "requirements.in").write_text("tinydep\n")
    (root / "requirements-dev.in").write_text("minitest\ntinydep\nawkward-data\n")
    dev_stale = check_offline()
    assert dev_stale.returncode == 1
    assert "dev: requirements-dev.in changed" in dev_stale.stderr
    assert (
        "dev: awkward-data (from requirements-dev.in) is missing from requirements-dev.lock"
        in dev_stale.stderr
    )
    assert "main:" not in dev_stale.stderr

    app.write_text(
        app.read_text().replace("python: /usr/bin/python3.11", "python: /usr/bin/python3")
    )
    moved = check_offline()
    assert (
        "was made for /usr/bin/python3.11" in moved.stderr
        and "interpreter is /usr/bin/python3 " in moved.stderr
    )


def test_resolution_failure_keeps_the_previous_lock(
    locked_app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = locked_app
    before = (app.parent / "requirements.lock").read_bytes()
    capsys.readouterr()
    (app.parent / "requirements.in").write_text("tinydep==1.0\ntinydep==2.0\n")
    assert cli("lock", str(app)) == 1
    err = capsys.readouterr().err
    assert "pip-compile could not resolve the main lock; requirements.lock is unchanged" in err
    assert "Cannot install tinydep==1.0 and tinydep==2.0" in err
    assert "Traceback" not in err
    assert (app.parent / "requirements.lock").read_bytes() == before
    assert sorted(p.name for p in app.parent.iterdir() if p.name.startswith(".")) == []


def test_upgrade_and_upgrade_package(locked_app: Path) -> None:
    app = locked_app
    root = app.parent
    tinybackend.write_wheel(
        root / "wheels", "tinydep", "1.1", {"tinydep/__init__.py": "VALUE = 'tinydep 1.1'\n"}
    )
    tinybackend.write_wheel(
        root / "wheels", "awkward-data", "1.1", {"awkward_data/__init__.py": ""}
    )

    def pins() -> dict[str, str]:
        return {r.name: r.version for r in lockfile.read(root / "requirements.lock").requirements}

    assert cli("lock", str(app)) == 0
    assert pins()["tinydep"] == "1.0", "existing pins are kept without --upgrade"
    assert cli("lock", str(app), "--upgrade-package", "tinydep", "--env", "main") == 0
    assert (pins()["tinydep"], pins()["awkward-data"]) == ("1.1", "1.0")
    assert cli("lock", str(app), "--upgrade") == 0
    assert pins()["awkward-data"] == "1.1"
    dev = {r.name: r.version for r in lockfile.read(root / "requirements-dev.lock").requirements}
    assert dev["tinydep"] == "1.1", "the dev lock follows the main lock's versions"


def test_pip_and_setuptools_are_locked_when_needed_at_run_time(app: Path) -> None:
    root = app.parent
    tinybackend.write_wheel(root / "wheels", "setuptools", "99.0", {"setuptools/__init__.py": ""})
    tinybackend.write_wheel(root / "wheels", "needs-setuptools", "1.0", {"needs_setuptools/__init__.py": ""},
                            requires=["setuptools"])  # fmt: skip
    (root / "requirements.in").write_text("needs-setuptools\n")
    assert cli("lock", str(app), "--env", "main") == 0
    pins = {r.name for r in lockfile.read(root / "requirements.lock").requirements}
    assert "setuptools" in pins


def test_venvrpm_test_passes_and_fails_with_the_project_tests(
    locked_app: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    app = locked_app
    assert cli("test", str(app)) == 0
    assert "PASS test_app.py::test_dependency" in capfd.readouterr().err
    tests = app.parent / "project" / "tests" / "test_app.py"
    tests.write_text(tests.read_text() + "\ndef test_broken():\n    assert 1 == 2\n")
    assert cli("test", str(app)) == 1
    err = capfd.readouterr().err
    assert "FAIL test_app.py::test_broken" in err
    assert "the tests failed: `minitest` exited with 1" in err


def test_build_refuses_unusable_lock_and_points_to_venvrpm_lock(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (app.parent / "requirements.lock").write_text("tinydep>=1\n")
    assert cli("build", str(app), "-o", str(app.parent / "dist")) == 2  # a bad lock is bad input
    err = capsys.readouterr().err
    assert "requirements.lock line 1: tinydep is not pinned" in err
    assert "venvrpm lock app.yaml" in err


def test_nothing_to_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_smallapp(tmp_path / "bare")
    text = re.sub(r"project: project\n", "", app.read_text())
    app.write_text(text)
    assert cli("lock", str(app)) == 2
    assert "nothing to lock" in capsys.readouterr().err


def test_the_documented_tox_environment_runs_the_same_check(locked_app: Path) -> None:
    """docs/locking.md's tox recipe, taken from the docs as written."""
    docs = (Path(__file__).parents[2] / "docs" / "locking.md").read_text()
    ini = re.search(r"```ini\n(\[testenv:shipped\].*?)```", docs, re.DOTALL)
    assert ini, "the tox recipe is gone from docs/locking.md"
    recipe = ini.group(1).replace("pytest -q {posargs}", "minitest {posargs}")
    app = locked_app
    (app.parent / "tox.ini").write_text("[tox]\nenv_list = shipped\n\n" + recipe)
    run = subprocess.run(
        [sys.executable, "-m", "tox", "-e", "shipped"],
        cwd=app.parent,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "PASS test_app.py::test_dependency" in run.stdout


def test_check_follows_nested_files_and_survives_a_move(app: Path) -> None:

    root = app.parent
    (root / "base.in").write_text("tinydep\n")
    (root / "requirements.in").write_text("-r base.in\n")
    assert cli("lock", str(app), "--env", "main") == 0
    moved = root.parent / "moved"
    shutil.copytree(root, moved, symlinks=True)
    check = subprocess.run(
        [sys.executable, "-m", "venvrpm", "lock", str(moved / "app.yaml"), "--check", "--env", "main"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr  # same tree elsewhere: still fresh
    (root / "base.in").write_text("tinydep>=2\n")
    stale = subprocess.run(
        [sys.executable, "-m", "venvrpm", "lock", str(app), "--check", "--env", "main"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert stale.returncode == 1
    assert "main: base.in changed since requirements.lock was made" in stale.stderr
    assert "tinydep>=2 (from base.in) is not satisfied" in stale.stderr


def test_venvrpm_test_installs_with_the_build_lock(
    app: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """`venvrpm test` installs as `build` does: build isolation off, so the hash-checked build
    lock must be installed first (it was not: the project's backend could not be imported)."""
    from tests.integration.test_build_requirements import backend_wheel

    root = app.parent
    backend_wheel(root / "wheels")
    project_builds_with_the_backend_wheel(root)
    assert cli("lock", str(app)) == 0
    assert (root / "requirements-build.lock").is_file()
    assert cli("test", str(app)) == 0, capfd.readouterr().err
    assert "PASS test_app.py::test_dependency" in capfd.readouterr().err


def test_venvrpm_test_runs_the_projects_own_scripts(
    locked_app: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The project's console script in the test venv runs the test venv's interpreter: it was
    installed for the final prefix (``#!<prefix>/bin/python``), which is not there (or is the
    installed RPM's) when `venvrpm test` runs."""
    app = locked_app
    app.write_text(app.read_text().replace("command: [minitest]", "command: [smallapp]"))
    assert cli("test", str(app)) == 0, capfd.readouterr().err
    out = capfd.readouterr().err  # the tests' output is shown on stderr
    assert '"tinydep": "tinydep 1.0"' in out
    prefix = re.search(r'"prefix": "([^"]*)"', out)
    assert prefix is not None
    assert Path(prefix.group(1)).is_relative_to(tempfile.gettempdir()), out


@pytest.mark.parametrize("where", ["lock is a directory", "directory is a file"])
def test_a_lock_that_cannot_be_written_is_said_with_its_path(
    locked_app: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """The lock's directory is the user's: a write the machine refuses there (pip-compile's
    scratch, the lock itself) is said with the path, exit 1, not a bug's traceback."""
    root = locked_app.parent
    dev = root / "requirements-dev.lock"
    dev.unlink()
    if where == "lock is a directory":
        dev.mkdir()
        shown = "requirements-dev.lock"
    else:
        (root / "blocked").write_text("a file where the lock's directory should be\n")
        text = locked_app.read_text()
        locked_app.write_text(text.replace("output: requirements-dev.lock",
                                           "output: blocked/requirements-dev.lock"))  # fmt: skip
        shown = "blocked/requirements-dev.lock"
    assert cli("lock", str(locked_app), "--env", "dev") == 1
    err = capsys.readouterr().err
    assert f"writing the lock {shown}: " in err, err
    assert "Traceback" not in err and "bug in venvrpm" not in err
