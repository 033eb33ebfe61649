"""`venvrpm lock` where the build runs: a root whose Python (trixie's 3.13) is not the host's
(3.11), so a marker on the Python version decides differently there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.test_lock import cli, make_app
from tests.support import target, tinybackend
from tests.support.apps import project_builds_with_the_backend_wheel
from venvrpm import lockfile

pytestmark = pytest.mark.integration

MARKED = """\
tinydep
oldpython ; python_version < "3.12"
newpython ; python_version >= "3.12"
"""


def marked_app(base: Path) -> Path:
    """The lock test app with two requirements that only a Python version tells apart, and a
    project whose build backend comes from the wheelhouse (so there is a build lock)."""
    from tests.integration.test_build_requirements import backend_wheel

    app = make_app(base)
    root = app.parent
    for name in ("oldpython", "newpython"):
        tinybackend.write_wheel(root / "wheels", name, "1.0", {f"{name}/__init__.py": ""})
    (root / "requirements.in").write_text(MARKED)
    backend_wheel(root / "wheels")
    project_builds_with_the_backend_wheel(root)
    return app


def pins(path: Path) -> set[str]:
    return {r.name for r in lockfile.read(path).requirements}


def test_lock_in_a_root_decides_markers_with_the_roots_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = marked_app(tmp_path)
    lock = app.parent / "requirements.lock"
    # on the host (3.11): the old one
    assert cli("lock", str(app), "--env", "main") == 0, capsys.readouterr().err
    assert {"oldpython", "tinydep"} <= pins(lock) and "newpython" not in pins(lock)

    root = target.fresh_root(tmp_path / "trixie", "trixie")
    host_manifest = app.read_text()
    app.write_text(
        host_manifest.replace("python: /usr/bin/python3.11", "python: /usr/bin/python3.13")
        + f"build:\n  rootfs: {root}\n"
    )
    capsys.readouterr()
    assert cli("lock", str(app)) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert f"probing /usr/bin/python3.13 in the root {root}" in err
    assert {"newpython", "tinydep"} <= pins(lock) and "oldpython" not in pins(lock)
    text = lock.read_text()
    assert re.match(r"# Locked by `venvrpm lock` for /usr/bin/python3.13 \(cpython 3\.13\.", text)
    assert '"python": "/usr/bin/python3.13 3.13.' in text
    # the dev lock is constrained by the main lock written a moment before, in the same run
    dev = app.parent / "requirements-dev.lock"
    assert "-c requirements.lock" in dev.read_text() and "newpython" not in pins(dev)
    assert "3.13" in dev.read_text().splitlines()[0]
    # the build lock (the project's backend) was made there too
    build_lock = app.parent / "requirements-build.lock"
    assert "python3.13" in build_lock.read_text().splitlines()[0]
    assert pins(build_lock) == {"tinybackend"}

    assert cli("lock", str(app), "--check") == 0, capsys.readouterr().err
    assert "2 lock(s) up to date" in capsys.readouterr().err
    # the host's 3.11 is another interpreter: the root's lock is stale for it
    app.write_text(host_manifest)
    assert cli("lock", str(app), "--check", "--env", "main") == 1
    err = capsys.readouterr().err
    assert "was made for /usr/bin/python3.13 3.13." in err
    assert "interpreter is /usr/bin/python3.11 3.11." in err
    # nothing was left in the root: no mount, no scratch beside the lock
    assert target.mounts_under(root) == [str(root)]
    assert not [p.name for p in app.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("resolver", ["pip-tools", "uv"])
def test_lock_in_an_image_decides_markers_with_the_images_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], resolver: str
) -> None:
    """The same in a container of trixie's image (podman: network off with the wheelhouse)."""
    image = target.image(suite="trixie")
    app = marked_app(tmp_path)
    app.write_text(
        app.read_text()
        .replace("python: /usr/bin/python3.11", "python: /usr/bin/python3.13")
        .replace("lock:\n", f"lock:\n  resolver: {resolver}\n")
        + f"build:\n  container: {image}\n  engine: podman\n"
    )
    assert cli("lock", str(app)) == 0, capsys.readouterr().err
    lock = app.parent / "requirements.lock"
    assert {"newpython", "tinydep"} <= pins(lock) and "oldpython" not in pins(lock)
    assert '"python": "/usr/bin/python3.13 3.13.' in lock.read_text()
    assert pins(app.parent / "requirements-build.lock") == {"tinybackend"}
    assert cli("lock", str(app), "--check") == 0, capsys.readouterr().err


def test_uv_resolver_locks_for_the_roots_python_without_pip_tools(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """lock.resolver: uv, told the root's Python version and platform: the marker is decided
    for 3.13 although uv's own interpreter (for sdists) and the host's are asked nothing of
    markers; no locking environment is made."""
    app = marked_app(tmp_path)
    lock = app.parent / "requirements.lock"
    host_manifest = app.read_text().replace("lock:\n", "lock:\n  resolver: uv\n")
    app.write_text(host_manifest)
    assert cli("lock", str(app), "--env", "main") == 0, capsys.readouterr().err
    assert {"oldpython", "tinydep"} <= pins(lock) and "newpython" not in pins(lock)
    assert "uv resolves for Python 3.11." in capsys.readouterr().err

    root = target.fresh_root(tmp_path / "trixie", "trixie")
    app.write_text(
        host_manifest.replace("python: /usr/bin/python3.11", "python: /usr/bin/python3.13")
        + f"build:\n  rootfs: {root}\n"
    )
    assert cli("lock", str(app), "-v") == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "uv resolves for Python 3.13." in err
    # trixie's glibc 2.41 is newer than uv can name: the newest it can, said
    assert "x86_64-manylinux_2_40" in err and "cannot name manylinux_2_41" in err
    assert "pip-compile" not in err and "locking environment" not in err
    assert {"newpython", "tinydep", "sdistonly"} <= pins(lock) and "oldpython" not in pins(lock)
    assert all(r.hashes for r in lockfile.read(lock).requirements)
    assert '"python": "/usr/bin/python3.13 3.13.' in lock.read_text()
    dev = app.parent / "requirements-dev.lock"
    assert pins(dev) == {"minitest", "tinydep"}
    assert pins(app.parent / "requirements-build.lock") == {"tinybackend"}
    assert cli("lock", str(app), "--check") == 0, capsys.readouterr().err


def as_pylock(app: Path, dev_output: str = "requirements-dev.lock") -> None:
    """The app's main lock named pylock.toml (PEP 751), its dev lock *dev_output*."""
    app.write_text(
        app.read_text()
        .replace("requirements: requirements.lock", "requirements: pylock.toml")
        .replace("output: requirements-dev.lock", f"output: {dev_output}")
    )


def test_pip_lock_writes_a_pylock_that_builds_and_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--format pylock with pip-tools' resolver: `pip lock`, run by the target interpreter with
    the build's pip, writes pylock.toml; the dev lock (requirements) is constrained by its pins;
    the build lock beside it is pylock-build.txt; --check reads all three; the app builds."""
    import tomllib

    app = marked_app(tmp_path)
    as_pylock(app)
    root = app.parent
    code = cli("lock", str(app), "--format", "pylock", "-v")
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    assert "pip lock is currently an experimental command" in err  # pip's own words
    text = (root / "pylock.toml").read_text()
    assert text.startswith("# Locked by `venvrpm lock` for /usr/bin/python3.11 (cpython 3.11")
    document = tomllib.loads(text)
    assert document["created-by"] == "pip"
    names = {p["name"] for p in document["packages"]}
    # the project's dependencies and requirements.in, decided by 3.11; not the project itself
    assert {"tinydep", "awkward-data", "tinynative", "sdistonly", "oldpython"} <= names
    assert "newpython" not in names and "smallapp" not in names
    assert {r.name for r in lockfile.read(root / "pylock.toml").requirements} == names
    assert pins(root / "requirements-dev.lock") == {"minitest", "tinydep"}
    assert not (root / "pylock-build.toml").exists()
    assert pins(root / "pylock-build.txt") == {"tinybackend"}
    assert cli("lock", str(app), "--check") == 0, capsys.readouterr().err
    (root / "requirements.in").write_text(MARKED + "awkward-data>=2\n")
    assert cli("lock", str(app), "--check") == 1
    assert "is not satisfied by pylock.toml (awkward-data==1.0)" in capsys.readouterr().err
    (root / "requirements.in").write_text(MARKED)
    assert cli("build", str(app), "-o", str(tmp_path / "dist"), "-q") == 0, capsys.readouterr().err
    assert len(list((tmp_path / "dist").glob("*.rpm"))) == 1


def test_uv_writes_a_pylock_for_the_roots_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--format pylock with lock.resolver: uv, in trixie's root: 3.13 decides the marker;
    the dev lock is a pylock too (pylock.dev.toml), constrained by the main one's pins."""
    import tomllib

    app = marked_app(tmp_path)
    as_pylock(app, "pylock.dev.toml")
    root = target.fresh_root(tmp_path / "trixie", "trixie")
    app.write_text(
        app.read_text()
        .replace("python: /usr/bin/python3.11", "python: /usr/bin/python3.13")
        .replace("lock:\n", "lock:\n  resolver: uv\n")
        + f"build:\n  rootfs: {root}\n"
    )
    assert cli("lock", str(app), "--format", "pylock") == 0, capsys.readouterr().err
    main_lock = app.parent / "pylock.toml"
    document = tomllib.loads(main_lock.read_text())
    assert document["created-by"] == "uv"
    names = {p["name"] for p in document["packages"]}
    assert "newpython" in names and "oldpython" not in names
    assert '"python": "/usr/bin/python3.13 3.13.' in main_lock.read_text()
    assert pins(app.parent / "pylock.dev.toml") == {"minitest", "tinydep"}
    assert pins(app.parent / "pylock-build.txt") == {"tinybackend"}
    assert cli("lock", str(app), "--check") == 0, capsys.readouterr().err
    # the format follows the name; --format that disagrees is refused, nothing written
    before = main_lock.read_bytes()
    assert cli("lock", str(app), "--format", "requirements") == 2
    assert "requirements: pylock.toml is named as a PEP 751 lock" in capsys.readouterr().err
    assert main_lock.read_bytes() == before
