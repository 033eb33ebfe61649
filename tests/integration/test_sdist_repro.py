"""An sdist with a C extension (psycopg2, against the system's libpq) builds the same RPM twice
(issue 17, defect 4), and pip's own cache is never used.

psycopg2's sdist and setuptools are fetched once with ``venvrpm fetch`` into the shared test
cache (a directory keyed by the locks' hash, under a flock), then built offline from there.
Needs gcc, the interpreter's headers and pg_config (libpq-dev / libpq-devel: .ci/setup).
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from tests.conftest import require_tools
from tests.support import target
from venvrpm.cli import main

pytestmark = pytest.mark.integration

LOCK = """\
psycopg2==2.9.13 \\
    --hash=sha256:d36784fc2dae69523ba4b79c7d1d1b4d6e83e87836874f111262f4db940b16a6
"""
BUILD_LOCK = """\
setuptools==80.9.0 \\
    --hash=sha256:062d34222ad13e0cc312a4c02d73f059e86a4acbfbdea8f8f76b28c99f306922
"""
EPOCH = "1700000000"


def manifest(root: Path, wheelhouse: Path, extra: str = "") -> Path:
    """The app: psycopg2 alone, built from its sdist, offline from *wheelhouse*."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "requirements.lock").write_text(LOCK)
    (root / "requirements-build.lock").write_text(BUILD_LOCK)
    path = root / "app.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: pgapp
        version: 1.0.0
        summary: psycopg2 compiled from its sdist
        license: MIT
        python: /usr/bin/python3.11
        requirements: requirements.lock
        wheelhouse: {wheelhouse}
        """)
        + extra
    )
    return path


def wheelhouse() -> Path:
    """psycopg2's sdist and setuptools' wheel, fetched once per lock into the test cache."""
    key = hashlib.sha256((LOCK + BUILD_LOCK).encode()).hexdigest()[:12]
    base = target.CACHE / f"psycopg2-{key}"
    target.CACHE.mkdir(parents=True, exist_ok=True)
    with open(target.CACHE / f".psycopg2-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (base / "complete").is_file():
            return base / "wheels"
        shutil.rmtree(base, ignore_errors=True)
        partial = base / "wheels.partial"
        app = manifest(base / "app", partial)
        assert main(["fetch", str(app), "-q"]) == 0
        partial.rename(base / "wheels")
        shutil.rmtree(base / "app")
        (base / "complete").write_text("ok\n")
    return base / "wheels"


def build(root: Path, monkeypatch: pytest.MonkeyPatch, wheels: Path, extra: str = "") -> Path:
    """Build in a world of its own: TMPDIR, HOME and venvrpm's cache all under *root*."""
    app = manifest(root / "app", wheels, extra)
    for name in ("tmp", "home", "out"):
        (root / name).mkdir()
    monkeypatch.setenv("TMPDIR", str(root / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(root / "tmp"))
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("VENVRPM_CACHE_DIR", str(root / "venvrpm-cache"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    assert main(["build", str(app), "-o", str(root / "out"), "--no-cache", "-q"]) == 0
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


def test_psycopg2_from_its_sdist_is_path_independent_and_reproducible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tools("gcc", "pg_config", "rpm2cpio", "cpio", "readelf")
    wheels = wheelhouse()
    first = build(tmp_path / "a", monkeypatch, wheels)
    # another TMPDIR (of another length), HOME and cache: nothing of them may reach the RPM
    second = build(tmp_path / "b-second-build", monkeypatch, wheels)
    so = extension(first, tmp_path / "unpacked")
    data = so.read_bytes()
    for leak in (b"pip-install-", b"pip-req-build-", b"pip-wheel-", str(tmp_path).encode()):
        assert leak not in data, f"{leak!r} in {so.name}"
    sections = subprocess.run(["readelf", "-S", "-W", str(so)], check=True,
                              capture_output=True, text=True).stdout  # fmt: skip
    assert ".debug_info" not in sections, "debug info (with its build paths) was compiled in"
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (first, second)]
    assert digest[0] == digest[1], "two builds of the same inputs gave different RPMs"


def test_uv_builds_the_sdist_without_its_cache_in_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tools("gcc", "pg_config", "rpm2cpio", "cpio")
    wheels = wheelhouse()
    rpm = build(tmp_path / "uv", monkeypatch, wheels, "build:\n  installer: uv\n")
    data = extension(rpm, tmp_path / "unpacked").read_bytes()
    assert str(tmp_path).encode() not in data
    assert b"/.tmp" not in data and b"sdists-v" not in data
