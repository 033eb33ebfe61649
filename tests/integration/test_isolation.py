"""Locked code does not run during the build, and the RPM holds only what it should (issue 15).

A locked wheel's ``.pth`` runs in every interpreter started with site enabled: venvrpm's own
helpers start the venv's python isolated from site, so it never runs as root at build time.
Whatever still writes outside the prefix (a build backend runs code, as it must) cannot ship:
the staged tree holds only what the manifest names and what venvrpm generates.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import tinybackend
from tests.support.apps import VERSIONS, make_smallapp, write_lock
from tests.support.recording import RecordingRunner
from venvrpm import manifest, pipeline, workspace
from venvrpm.cli import main
from venvrpm.runner import HostRunner, Runners

pytestmark = pytest.mark.integration


def _evil_line(marker: Path) -> str:
    """One executable .pth line: writes a cron job into the stage (found from sys.prefix, the
    venv at <stage>/opt/smallapp) and a marker outside it, as root would at build time."""
    return (
        "import os, sys; "
        "d = os.path.join(sys.prefix[: sys.prefix.rindex('/opt/')], 'etc', 'cron.d'); "
        "os.makedirs(d, exist_ok=True); "
        "open(os.path.join(d, 'evil'), 'w').write('* * * * * root id\\n'); "
        f"open({str(marker)!r}, 'w').write(sys.prefix)\n"
    )


def _listed(rpm: Path) -> list[str]:
    return subprocess.run(
        ["rpm", "-qpl", str(rpm)], capture_output=True, text=True, check=True
    ).stdout.split("\n")


def _lock_evil_pth(app: Path, marker: Path) -> None:
    """Lock a wheel whose .pth runs _evil_line() (the lock trusts it: its hash is in)."""
    wheels = app.parent / "wheels"
    tinybackend.write_wheel(
        wheels, "evilpth", "1.0",
        {"evilpth.pth": _evil_line(marker), "evilpth/__init__.py": ""},
    )  # fmt: skip
    dists = {p.name.split("-")[0].replace("_", "-"): p for p in wheels.iterdir()}
    write_lock(app.parent / "requirements.lock", dists, {**VERSIONS, "evilpth": "1.0"})


def test_a_locked_pth_never_runs_at_build_time_and_is_named_in_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_smallapp(tmp_path / "app")
    marker = tmp_path / "pth-ran"
    _lock_evil_pth(app, marker)

    code = main(["build", str(app), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert not marker.exists(), "the locked .pth ran during the build"
    assert "evilpth.pth" in err and "Traceback" not in err
    (rpm,) = (tmp_path / "out").glob("*.rpm")
    listed = _listed(rpm)
    assert "/etc/cron.d/evil" not in listed
    assert "/opt/smallapp/lib/python3.11/site-packages/evilpth.pth" in listed, (
        "the lock's own file ships; the warning says it runs on the target"
    )


def test_a_locked_pth_does_not_run_when_build_requirements_are_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pip installs the build lock with the venv's python and site: before the main lock, so
    no locked file is there yet (issue 15 item 5 orders it so)."""
    app = make_smallapp(tmp_path / "app")
    pyproject = app.parent / "project" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("requires = []", 'requires = ["tinydep"]'))
    # the build lock (`venvrpm lock` writes it next to the main one) pins it with its hash
    wheel = next((app.parent / "wheels").glob("tinydep-*.whl"))
    write_lock(app.parent / "requirements-build.lock", {"tinydep": wheel}, {"tinydep": "1.0"})
    marker = tmp_path / "pth-ran"
    _lock_evil_pth(app, marker)
    code = main(["build", str(app), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert not marker.exists(), "the locked .pth ran during the build"
    # (today it runs, and what it wrote into the stage fails the build, named)
    assert code == 0, err


def test_a_locked_pth_does_not_run_when_uv_installs_the_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """uv installs the project after the lock, into the venv: it asks the venv's python about
    itself first, and that python starts with site."""
    app = make_smallapp(tmp_path / "app", extra_manifest="build:\n  installer: uv\n")
    marker = tmp_path / "pth-ran"
    _lock_evil_pth(app, marker)
    code = main(["build", str(app), "-o", str(tmp_path / "out"), "--no-cache"])
    err = capsys.readouterr().err
    assert not marker.exists(), "the locked .pth ran during the build"
    assert code == 0, err


def test_a_file_outside_the_allowed_set_fails_the_build_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The project's build backend runs code (as it must) with the staged interpreter, and
    writes a cron job into the stage: that path is neither the prefix, nor the manifest's
    files or dirs, nor anything venvrpm generates."""
    app = make_smallapp(tmp_path / "app")
    backend = app.parent / "project" / "tinybackend.py"
    backend.write_text(
        backend.read_text() + "\n\n_real_build_wheel = build_wheel\n\n"
        "def build_wheel(*args, **kwargs):\n"
        "    import sys\n"
        "    stage = sys.executable[: sys.executable.rindex('/opt/')]\n"
        "    os.makedirs(stage + '/etc/cron.d', exist_ok=True)\n"
        "    with open(stage + '/etc/cron.d/evil', 'w') as fh:\n"
        "        fh.write('* * * * * root id\\n')\n"
        "    return _real_build_wheel(*args, **kwargs)\n"
    )
    code = main(["build", str(app), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err and "hint:" in err
    assert "/etc/cron.d/evil" in err
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_venvrpms_own_helpers_start_the_interpreter_without_site(tmp_path: Path) -> None:
    """Every run of the venv's python or the target interpreter that is not pip (or virtualenv,
    before the venv exists) starts isolated from site: no .pth file, no sitecustomize."""
    m = manifest.load(make_smallapp(tmp_path / "app"))
    runner = RecordingRunner(HostRunner(1))
    runners = Runners(runner, runner)
    with workspace.workspace(keep=False) as workdir:
        plan = pipeline.prepare(m, runners, workdir=workdir, output_dir=tmp_path / "out",
                                source_date_epoch=1, host_env={})  # fmt: skip
        pipeline.assemble(plan, runners)
    pythons = {str(plan.venv_python), str(m.python)}
    helpers = [
        c for c in runner.calls
        if c.argv[0] in pythons
        and not c.argv[1].startswith(str(plan.tools.pip))
        and "virtualenv" not in c.what
    ]  # fmt: skip
    assert sorted({c.what for c in helpers}) == [
        "building the project's wheel",  # the backend runs, isolated with its requirements
        "compiling bytecode for the final path",
        "probing the interpreter /usr/bin/python3.11",
    ]
    for call in helpers:
        assert call.argv[1:3] == ("-I", "-S"), call.what


def test_a_virtualenv_module_in_the_working_directory_is_not_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -c``/``-m`` put the working directory first on sys.path; virtualenv must come
    from venvrpm's toolbox, not from wherever root happens to start the build (/tmp, a
    checkout another user can write)."""
    app = make_smallapp(tmp_path / "app")
    marker = tmp_path / "cwd-ran"
    planted = tmp_path / "cwd"
    for name in ("virtualenv", "venv"):
        (planted / name).mkdir(parents=True)
        (planted / name / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    monkeypatch.chdir(planted)
    code = main(["build", str(app), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert not marker.exists(), "a module from the working directory ran"
    assert code == 0, err
    # locking too: it makes its pip-tools environment with venvrpm's own virtualenv
    (app.parent / "requirements.in").write_text("tinydep\n")
    app.write_text(app.read_text() + "lock:\n  inputs: [requirements.in]\n")
    code = main(["lock", str(app)])
    assert not marker.exists(), "a module from the working directory ran while locking"
    assert code == 0, capsys.readouterr().err


def test_a_project_symlink_leading_out_never_ships_the_host_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The project is copied with its links, and its backend reads through them: a link to a
    host file (here a stand-in for /etc/shadow) shipped that file, world-readable."""
    app = make_smallapp(tmp_path / "app")
    secret = tmp_path / "host-secret"
    secret.write_text("root:$6$hash:19000::::::\n")
    (app.parent / "project" / "src" / "smallapp" / "leak.txt").symlink_to(secret)
    code = main(["build", str(app), "-o", str(tmp_path / "out"), "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "symlink(s) in the project" in err and "src/smallapp/leak.txt ->" in err
    assert not list((tmp_path / "out").glob("*.rpm"))
