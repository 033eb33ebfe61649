"""Locks written by other tools build as they are: each file made here by the real tool
(uv pip compile, uv export, Poetry's export, pip-compile with its default options), then built
into an RPM that installs without --nodeps into the test root and runs.

uv and pip-compile resolve offline from the test wheelhouse. uv lock and Poetry record hashes
only from an index (none from a local directory): they read the wheelhouse from a loopback PEP
503 index (tests/support/index.py), and write its address into the lock, which venvrpm ignores.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import require_tools
from tests.support import index, locktools, target
from tests.support.apps import AWKWARD_NAMES, VERSIONS, make_smallapp
from venvrpm import lockfile
from venvrpm.cli import main

pytestmark = pytest.mark.integration

PYTHON = "/usr/bin/python3.11"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """The test app (project, wheelhouse); its hand-written lock removed: a tool writes it."""
    manifest = make_smallapp(tmp_path / "app")
    (manifest.parent / "requirements.lock").unlink()
    return manifest


def uv_environment(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(tmp_path / "home"),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "UV_NO_CONFIG": "1",
        "UV_PYTHON_DOWNLOADS": "never",
    }


def builds_installs_and_runs(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], ignored: list[str]
) -> None:
    """Build *manifest*, saying once that it ignores each of *ignored*; install the RPM
    without --nodeps into a fresh root and run the app."""
    require_tools("rpm", "chroot", "debootstrap")
    capsys.readouterr()
    assert main(["build", str(manifest), "-o", str(tmp_path / "dist")]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if ": ignored " in line]
    assert len(notes) == (1 if ignored else 0), err
    for shown in ignored:
        assert shown in notes[0], notes
    (rpm,) = (tmp_path / "dist").glob("*.rpm")
    root = target.fresh_root(tmp_path / "root")
    install = target.rpm(root, "-i", str(rpm), check=False)
    assert install.returncode == 0, install.stderr
    run = target.chroot(root, "/usr/bin/smallapp")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert (report["tinydep"], report["native"], report["sdistonly"], report["awkward"]) == (
        "tinydep 1.0", 42, "built from sdist", len(AWKWARD_NAMES)
    )  # fmt: skip


def pins(lock: Path, project: Path | None = None) -> dict[str, str]:
    return {r.name: r.version for r in lockfile.read(lock, project=project).requirements}


def test_uv_pip_compile(app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`uv pip compile --generate-hashes`: plain, --universal, and with the index options
    uv writes when asked (--emit-index-url, --emit-find-links)."""
    base = app.parent
    argv = [locktools.uv(), "pip", "compile", "--generate-hashes", "--offline", "--no-index",
            "--find-links", "wheels", "--python", PYTHON, "--quiet", "project/pyproject.toml"]  # fmt: skip
    env = uv_environment(tmp_path)
    locktools.run([*argv, "-o", "plain.lock"], base, env)
    locktools.run([*argv, "--universal", "-o", "universal.lock"], base, env)
    assert pins(base / "plain.lock") == pins(base / "universal.lock") == VERSIONS
    locktools.run(
        [*argv, "--emit-index-url", "--emit-find-links", "-o", "requirements.lock"], base, env
    )
    assert "--find-links wheels\n" in (base / "requirements.lock").read_text()
    builds_installs_and_runs(app, tmp_path, capsys, ["--find-links (line 3)"])


def test_uv_export(app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`uv export --format requirements-txt` beside the project: its `-e .` is the project,
    which venvrpm builds itself; the lock is the manifest's, in the project's directory."""
    project = app.parent / "project"
    env = uv_environment(tmp_path)
    with index.serve(app.parent / "wheels", tmp_path / "index") as url:
        locktools.run([locktools.uv(), "lock", "--default-index", url, "--python", PYTHON,
                       "--quiet"], project, env)  # fmt: skip
    locktools.run([locktools.uv(), "export", "--format", "requirements-txt", "--frozen",
                   "--no-dev", "--quiet", "-o", "requirements.lock"], project, env)  # fmt: skip
    lock = project / "requirements.lock"
    assert "\n-e .\n" in lock.read_text()
    assert pins(lock, project) == VERSIONS
    app.write_text(app.read_text().replace(
        "requirements: requirements.lock", "requirements: project/requirements.lock"))  # fmt: skip
    builds_installs_and_runs(app, tmp_path, capsys, ["'-e .' (line 3) (the project itself"])


def test_poetry_export(app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`poetry export --format requirements.txt` (poetry-plugin-export, hashes by default):
    the source's --index-url and --trusted-host lines it writes are ignored."""
    poetry = str(locktools.poetry())
    project = app.parent / "project"
    env = locktools.poetry_environment(tmp_path / "poetry-home")
    with index.serve(app.parent / "wheels", tmp_path / "index") as url:
        with (project / "pyproject.toml").open("a") as fh:
            fh.write(f'\n[[tool.poetry.source]]\nname = "local"\nurl = "{url}"\n'
                     'priority = "primary"\n')  # fmt: skip
        locktools.run([poetry, "lock", "--no-interaction"], project, env)
    locktools.run([poetry, "export", "--format", "requirements.txt", "--no-interaction",
                   "--output", str(app.parent / "requirements.lock")], project, env)  # fmt: skip
    text = (app.parent / "requirements.lock").read_text()
    assert "--index-url http://127.0.0.1:" in text and "--hash=sha256:" in text
    assert pins(app.parent / "requirements.lock") == VERSIONS
    builds_installs_and_runs(app, tmp_path, capsys, ["--index-url", "--trusted-host"])


@pytest.mark.parametrize("form", ["requirements", "pylock"])
def test_pdm_export(
    app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    """`pdm lock`, then `pdm export` as a requirements file (hashes by default, the project
    left out) or as a PEP 751 pylock.toml (`-f pylock`)."""
    pdm = str(locktools.pdm())
    project = app.parent / "project"
    env = locktools.pdm_environment(tmp_path / "pdm-home")
    pyproject = project / "pyproject.toml"
    # without requires-python, pdm 2.29 writes `environments = [""]`: not PEP 751 (refused)
    pyproject.write_text(pyproject.read_text().replace(
        "[project]\n", '[project]\nrequires-python = ">=3.11"\n', 1))  # fmt: skip
    with index.serve(app.parent / "wheels", tmp_path / "index") as url:
        with pyproject.open("a") as fh:
            fh.write(f'\n[[tool.pdm.source]]\nname = "pypi"\nurl = "{url}"\n')
        locktools.run([pdm, "lock"], project, env)
        output = "requirements.lock" if form == "requirements" else "pylock.toml"
        locktools.run([pdm, "export", "-f", form, "-o", str(app.parent / output)], project,
                      env)  # fmt: skip
    assert "sha256" in (app.parent / output).read_text()
    assert pins(app.parent / output) == VERSIONS
    if form == "pylock":
        (app.parent / "requirements.lock").unlink(missing_ok=True)
        app.write_text(app.read_text().replace(
            "requirements: requirements.lock", "requirements: pylock.toml"))  # fmt: skip
    # the requirements file names the source's index (ignored); the pylock, its files' URLs
    ignored = ["--index-url"] if form == "requirements" else []
    builds_installs_and_runs(app, tmp_path, capsys, ignored)


def test_pip_compile_with_its_default_options(
    app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pip-compile as users run it (no --no-emit-options): its --find-links line is ignored."""
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(tmp_path / "home"),
           "PIP_CONFIG_FILE": os.devnull}  # fmt: skip
    locktools.run([sys.executable, "-m", "piptools", "compile", "--quiet", "--generate-hashes",
                   "--no-index", "--find-links", "wheels", "project/pyproject.toml",
                   "-o", "requirements.lock"], app.parent, env)  # fmt: skip
    assert "\n--find-links wheels\n" in (app.parent / "requirements.lock").read_text()
    builds_installs_and_runs(app, tmp_path, capsys, ["--find-links (line"])
