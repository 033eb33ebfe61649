"""An sdist with a C extension (psycopg2, against the system's libpq) builds with uv without its
cache, and its build requirements are checked where it builds. That two pip builds make the same
RPM (issue 17, defect 4) is shown in test_realapps.py, whose pgapp build is the first of them.

The app is the real-app tier's pgapp (tests/data/realapps/pgapp, its wheelhouse fetched once
into the shared test cache by tests/support/realapps.py), built offline from a copy.
Needs gcc, the interpreter's headers and pg_config (libpq-dev / libpq-devel: .ci/setup).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import require_tools
from tests.support import realapps, target
from venvrpm.cli import main

pytestmark = pytest.mark.integration

EPOCH = "1700000000"


def app(root: Path, build: str = "") -> Path:
    """A copy of pgapp under *root*, with *build* added to its ``build:`` mapping."""
    path = realapps.prepare("pgapp", root / "app")
    text = path.read_text()
    assert "\nbuild:\n" in text
    path.write_text(text.replace("\nbuild:\n", f"\nbuild:\n{build}"))
    return path


def build(root: Path, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> Path:
    """Build in a world of its own: TMPDIR, HOME and venvrpm's cache all under *root*."""
    manifest = app(root, extra)
    for name in ("tmp", "home", "out"):
        (root / name).mkdir()
    monkeypatch.setenv("TMPDIR", str(root / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(root / "tmp"))
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("VENVRPM_CACHE_DIR", str(root / "venvrpm-cache"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    assert main(["build", str(manifest), "-o", str(root / "out"), "--no-cache", "-q"]) == 0
    # --no-cache reuses no cache: neither pip's nor uv's is read or written in HOME
    home = sorted(str(p.relative_to(root / "home")) for p in (root / "home").rglob("*"))
    assert not [p for p in home if p.startswith(".cache")], home
    assert list((root / "tmp").iterdir()) == []
    (rpm,) = (root / "out").glob("*.rpm")
    return rpm


def extension(rpm: Path, dest: Path) -> Path:
    """psycopg2's compiled module, unpacked from *rpm*."""
    dest.mkdir()
    cpio = subprocess.run(["rpm2cpio", str(rpm)], check=True, capture_output=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=dest, check=True)
    (found,) = dest.glob("opt/pgapp/lib/python3.11/site-packages/psycopg2/_psycopg*.so")
    return found


def test_uv_builds_the_sdist_without_its_cache_in_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tools("gcc", "pg_config", "rpm2cpio", "cpio")
    rpm = build(tmp_path / "uv", monkeypatch, "  installer: uv\n")
    data = extension(rpm, tmp_path / "unpacked").read_bytes()
    assert str(tmp_path).encode() not in data
    assert b"/.tmp" not in data and b"sdists-v" not in data


@pytest.mark.parametrize("kind", ["rootfs", "container"])
def test_build_requires_are_checked_where_the_build_runs_before_anything_is_built(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The test root has neither gcc nor pg_config: the build stops first, naming the path it
    checked (gcc, a name, is not checkable in a Debian root)."""
    where = target.image() if kind == "container" else str(target.fresh_root(tmp_path / "root"))
    manifest = app(tmp_path, f"  {kind}: {where}\n")
    code = main(["build", str(manifest), "-o", str(tmp_path / "dist"), "--offline"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "build.requires not met" in err and "/usr/bin/pg_config" in err, err
    assert "installing the locked requirements" not in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())
