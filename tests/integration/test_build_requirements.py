"""Build requirements are locked, fetched and installed hash-checked (issue 15, item 5).

The test app's project and its sdist-only dependency build with ``tinybackend`` taken from a
wheel in the wheelhouse (not in-tree), so building them needs a build requirement.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.integration.test_fetch import make_index
from tests.support import tinybackend
from tests.support.apps import (
    VERSIONS,
    make_smallapp,
    project_builds_with_the_backend_wheel,
    sha256,
    write_lock,
)
from venvrpm import lockfile
from venvrpm.cli import main

pytestmark = pytest.mark.integration


def backend_wheel(wheels: Path, marker: Path | None = None) -> Path:
    """tinybackend as a wheel; with *marker*, a tampered one that writes *marker* on import."""
    source = Path(tinybackend.__file__).read_text()
    if marker is not None:
        source += f"\nopen({str(marker)!r}, 'w').close()  # runs on import\n"
    return tinybackend.write_wheel(wheels, "tinybackend", "1.0", {"tinybackend.py": source})


def sdist_needing_the_backend(wheels: Path) -> Path:
    """sdistonly 2.0 whose [build-system] requires tinybackend (replaces the in-tree one)."""
    for old in wheels.glob("sdistonly-*"):
        old.unlink()
    members = {
        "pyproject.toml": '[build-system]\nrequires = ["tinybackend"]\n'
        'build-backend = "tinybackend"\n\n[project]\nname = "sdistonly"\nversion = "2.0"\n',
        "PKG-INFO": "Metadata-Version: 2.1\nName: sdistonly\nVersion: 2.0\n",
        "src/sdistonly/__init__.py": "VALUE = 'built from sdist'\n",
    }
    target = wheels / "sdistonly-2.0.tar.gz"
    with tarfile.open(target, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        for path, content in sorted(members.items()):
            data = content.encode()
            info = tarfile.TarInfo(f"sdistonly-2.0/{path}")
            info.size, info.mtime, info.mode = len(data), 1577836800, 0o644
            tf.addfile(info, io.BytesIO(data))
    return target


def app_with_build_requirements(root: Path, *, project: bool = True, sdist: bool = True) -> Path:
    """The test app; the project and/or its sdist need tinybackend from the wheelhouse."""
    manifest = make_smallapp(root)
    wheels = root / "wheels"
    backend_wheel(wheels)
    if project:
        project_builds_with_the_backend_wheel(root)
    if sdist:
        sdist_needing_the_backend(wheels)
    dists = {n: next(wheels.glob(f"{n.replace('-', '_')}-*")) for n in VERSIONS}
    write_lock(root / "requirements.lock", dists, VERSIONS)
    return manifest


def write_build_lock(root: Path) -> Path:
    """What `venvrpm lock` writes for the app: tinybackend, pinned with its hash."""
    path = root / "requirements-build.lock"
    wheel = next((root / "wheels").glob("tinybackend-*.whl"))
    write_lock(path, {"tinybackend": wheel}, {"tinybackend": "1.0"})
    return path


def test_a_tampered_build_backend_fails_the_build_and_never_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = app_with_build_requirements(tmp_path / "app", sdist=False)
    write_build_lock(app.parent)
    marker = tmp_path / "tampered-backend-ran"
    good = next((app.parent / "wheels").glob("tinybackend-*.whl"))
    good.unlink()
    assert backend_wheel(app.parent / "wheels", marker).name == good.name

    code = main(["build", str(app), "-o", str(tmp_path / "dist"), "--no-cache"])
    err = capsys.readouterr().err
    assert not marker.exists(), "the tampered build backend ran"
    assert code == 1, err
    # refused before anything is installed: the wheelhouse cannot serve the build lock
    assert "cannot serve requirements-build.lock" in err
    assert "hash mismatch for tinybackend==1.0: tinybackend-1.0-py3-none-any.whl" in err
    assert not list((tmp_path / "dist").glob("*.rpm"))


def test_build_requirements_without_a_build_lock_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = app_with_build_requirements(tmp_path / "app")
    code = main(["build", str(app), "-o", str(tmp_path / "dist")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "requirements-build.lock" in err and "venvrpm lock" in err
    assert "sdistonly==2.0 (sdistonly-2.0.tar.gz)" in err


def test_an_sdist_builds_offline_after_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = app_with_build_requirements(tmp_path / "app")
    write_build_lock(app.parent)
    wheels = app.parent / "wheels"
    make_index(wheels, tmp_path / "simple")
    shutil.rmtree(wheels)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")  # only our index, not the host's
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())

    assert main(["fetch", str(app)]) == 0, capsys.readouterr().err
    assert "fetched 5, already there 0" in capsys.readouterr().err
    assert len(list(wheels.glob("tinybackend-*.whl"))) == 1

    build = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "venvrpm", "build", str(app), "--offline",
         "-o", str(tmp_path / "dist"), "--no-cache"], capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (rpm,) = (tmp_path / "dist").glob("*.rpm")
    listing = subprocess.run(["rpm", "-qpl", str(rpm)], capture_output=True, text=True).stdout
    assert "/site-packages/sdistonly/__init__.py" in listing
    assert "tinybackend" not in listing, "a build requirement was shipped"


def test_lock_writes_the_build_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = app_with_build_requirements(tmp_path / "app")
    (app.parent / "requirements.lock").unlink()
    assert main(["lock", str(app)]) == 0, capsys.readouterr().err
    path = app.parent / "requirements-build.lock"
    build_lock = lockfile.read(path)
    wheel = next((app.parent / "wheels").glob("tinybackend-*.whl"))
    assert [(r.name, r.version, r.hashes) for r in build_lock.requirements] == [
        ("tinybackend", "1.0", (f"sha256:{sha256(wheel)}",))
    ]
    text = path.read_text()
    assert "#   the project: tinybackend" in text
    assert "#   sdistonly==2.0 (sdistonly-2.0.tar.gz): tinybackend" in text
    assert main(["lock", str(app), "--check"]) == 0, capsys.readouterr().err


def test_pip_checks_the_build_lock_hashes_when_building_from_an_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = app_with_build_requirements(tmp_path / "app", sdist=False)
    write_build_lock(app.parent)
    wheels = app.parent / "wheels"
    marker = tmp_path / "tampered-backend-ran"
    next(wheels.glob("tinybackend-*.whl")).unlink()
    backend_wheel(wheels, marker)
    make_index(wheels, tmp_path / "simple")
    shutil.rmtree(wheels)
    app.write_text(app.read_text().replace("wheelhouse: wheels/\n", ""))
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())

    code = main(["build", str(app), "-o", str(tmp_path / "dist"), "--no-cache"])
    err = capsys.readouterr().err
    assert not marker.exists(), "the tampered build backend ran"
    assert code == 1, err
    assert "hash mismatch for tinybackend==1.0 (tinybackend-1.0-py3-none-any.whl)" in err
    assert "not the one requirements-build.lock locked" in err


def test_uv_builds_the_project_and_sdists_with_the_checked_build_requirements(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """uv installs the lock (an sdist among it) and venvrpm's helper builds the project, both
    with the build lock installed hash-checked (by uv too, since issue 21): not refused, not
    built unchecked; and what they build is what a pip build ships, byte for byte."""
    from tests.integration.test_rebuilds import _payload

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    pip_app = app_with_build_requirements(tmp_path / "app")
    app = pip_app.with_name("app-uv.yaml")
    app.write_text(pip_app.read_text() + "build:\n  installer: uv\n")
    write_build_lock(app.parent)
    code = main(["build", str(app), "-o", str(tmp_path / "dist"), "--no-cache"])
    assert code == 0, capsys.readouterr().err
    (rpm,) = (tmp_path / "dist").glob("*.rpm")
    listing = subprocess.run(["rpm", "-qpl", str(rpm)], capture_output=True, text=True).stdout
    assert "/site-packages/sdistonly/__init__.py" in listing
    assert "tinybackend" not in listing, "a build requirement was shipped"
    assert main(["build", str(pip_app), "-o", str(tmp_path / "pip-dist"), "--no-cache"]) == 0
    with_pip, with_uv = _payload(tmp_path / "pip-dist"), _payload(tmp_path / "dist")
    assert sorted(with_uv) == sorted(with_pip)
    # who installed the lock (INSTALLER, RECORD, the launchers' template): as
    # test_uv_installs_the_same_payload_as_pip_and_it_runs allows; the rest is the same bytes
    differ = [p for p in with_pip if with_pip[p] != with_uv[p]]
    assert not [p for p in differ if not p.endswith(("/INSTALLER", "/RECORD")) and "/bin/" not in p]


def test_fetch_prepares_sdists_with_the_build_lock_not_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """pip prepares an sdist's metadata even to download it. In an isolated build it installed
    the newest backend the index offered, unchecked, and ran it as root: here a tinybackend
    2.0 that writes a marker. fetch installs the build lock (1.0, hash-checked) instead."""
    app = app_with_build_requirements(tmp_path / "app")
    write_build_lock(app.parent)
    wheels = app.parent / "wheels"
    marker = tmp_path / "unlocked-backend-ran"
    source = Path(tinybackend.__file__).read_text()
    source += f"\nopen({str(marker)!r}, 'w').close()  # runs on import\n"
    tinybackend.write_wheel(wheels, "tinybackend", "2.0", {"tinybackend.py": source})
    make_index(wheels, tmp_path / "simple")
    shutil.rmtree(wheels)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")  # only our index, not the host's
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())

    assert main(["fetch", str(app)]) == 0, capsys.readouterr().err
    assert not marker.exists(), "fetch ran a build backend the build lock does not pin"
    assert not list(wheels.glob("tinybackend-2.0*"))
    assert len(list(wheels.glob("sdistonly-2.0.tar.gz"))) == 1
