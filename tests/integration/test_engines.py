"""Build environments that cannot start (defect 6 of issue 17) and host pip configuration
forwarded whole into them (defect 7).

The engine's own configuration is what breaks here: podman is pointed (CONTAINERS_CONF) at a
containers.conf whose ulimit no kernel grants or whose runtime does not exist.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import target
from tests.support.apps import make_smallapp
from venvrpm.cli import main

pytestmark = pytest.mark.integration

GOOD_CONF = Path(__file__).parent.parent / "data" / "containers.conf"
BROKEN_CONFS = {
    # above fs.nr_open: refused even to root on a host that allows raising rlimits
    "ulimit": ('[engine]\nruntime = "runc"\n\n[containers]\n'
               'default_ulimits = ["nofile=1048576000:1048576000"]\n', "rlimit"),
    "runtime": ('[engine]\nruntime = "venvrpm-no-such-runtime"\n', "venvrpm-no-such-runtime"),
}  # fmt: skip


def _broken_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> str:
    text, engine_says = BROKEN_CONFS[how]
    conf = tmp_path / "containers.conf"
    conf.write_text(text)
    monkeypatch.setenv("CONTAINERS_CONF", str(conf))
    return engine_says


@pytest.mark.parametrize("how", sorted(BROKEN_CONFS))
def test_a_container_that_cannot_start_is_reported_with_the_engines_error(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    image = target.image()
    engine_says = _broken_engine(tmp_path, monkeypatch, how)
    app = make_smallapp(tmp_path / "app", extra_manifest=f"build:\n  container: {image}\n")
    assert main(["build", str(app), "-o", str(tmp_path / "dist")]) == 1
    err = capsys.readouterr().err
    assert "cannot start a container" in err, err
    assert engine_says in err
    assert "docs/containers.md#when-containers-cannot-start" in err
    assert "interpreter not found" not in err and "install that interpreter" not in err
    assert "Traceback" not in err
    assert not (tmp_path / "dist").exists()


def test_doctor_is_not_ok_when_containers_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    image = target.image()
    _broken_engine(tmp_path, monkeypatch, "ulimit")
    app = make_smallapp(tmp_path / "app", extra_manifest=f"build:\n  container: {image}\n")
    assert main(["doctor", str(app)]) == 1
    out = capsys.readouterr().out
    (podman,) = [line for line in out.splitlines() if line.startswith("podman ")]
    assert " broken " in podman and "rlimit" in podman, out
    assert "docs/containers.md#when-containers-cannot-start" in out
    # without a manifest podman still starts a container (an empty root) before saying ok
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    (podman,) = [line for line in out.splitlines() if line.startswith("podman ")]
    assert " broken " in podman and "rlimit" in podman, out


def test_doctor_starts_a_container_and_chroots_before_saying_ok(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONTAINERS_CONF", str(GOOD_CONF))
    image = target.image()
    app = make_smallapp(tmp_path / "app", extra_manifest=f"build:\n  container: {image}\n")
    assert main(["doctor", str(app)]) == 0
    out = capsys.readouterr().out
    (podman,) = [line for line in out.splitlines() if line.startswith("podman ")]
    assert " ok " in podman and f"ran /usr/bin/python3.11 in {image}" in podman, out
    assert main(["doctor", "--image", image]) == 0
    assert f"in {image}" in capsys.readouterr().out
    root = target.template_root()
    app = make_smallapp(tmp_path / "rootapp", extra_manifest=f"build:\n  rootfs: {root}\n")
    assert main(["doctor", str(app)]) == 0
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("rootfs ")]
    assert " ok " in line and "ran /usr/bin/python3.11" in line, out


def _online_app(tmp_path: Path, kind: str, where: str) -> tuple[Path, Path]:
    """The test app without a wheelhouse key: pip's configuration is what finds the wheels."""
    app = make_smallapp(tmp_path / "app", extra_manifest=f"build:\n  {kind}: {where}\n")
    app.write_text(app.read_text().replace("wheelhouse: wheels/\n", ""))
    return app, tmp_path / "app" / "wheels"


@pytest.mark.parametrize("kind", ["container", "rootfs"])
def test_pip_configuration_naming_a_constraints_file_builds_in_the_target(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where = target.image() if kind == "container" else str(target.fresh_root(tmp_path / "root"))
    app, wheels = _online_app(tmp_path, kind, where)
    etc = tmp_path / "etc-pip"
    etc.mkdir()
    (etc / "constraints.txt").write_text("tinydep<100\n")
    config = etc / "pip.conf"
    config.write_text(
        f"[global]\nno-index = true\nfind-links = {wheels}\n"
        f"constraint = {etc / 'constraints.txt'}\n"
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    code = main(["build", str(app), "-o", str(tmp_path / "dist")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Could not open" not in err
    (rpm,) = (tmp_path / "dist").glob("*.rpm")
    listing = subprocess.run(["rpm", "-qlp", str(rpm)], capture_output=True, text=True).stdout
    assert "constraints.txt" not in listing and "pip.conf" not in listing


def test_pip_configuration_naming_a_missing_file_warns_and_is_not_forwarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app, wheels = _online_app(tmp_path, "container", target.image())
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nconstraint = {tmp_path / 'gone.txt'}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    # the wheels come from variables instead (a find-links directory is forwarded too)
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    code = main(["build", str(app), "-o", str(tmp_path / "dist")])
    err = capsys.readouterr().err
    assert code == 0, err
    err = " ".join(err.split())  # the console wraps long lines
    assert f"pip configuration {config} not forwarded" in err, err
    assert "gone.txt not found" in err
    assert "Could not open" not in err
