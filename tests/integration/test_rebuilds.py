"""Rebuilds: the environment cache, the uv installer and payload compression, with real tools.

A cached rebuild must make the same RPM, byte for byte, as a cold one; a damaged cache entry
must cost a cold build, never a wrong RPM; uv must make the same payload as pip.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tools
from tests.support import target
from tests.support.apps import (
    VERSIONS,
    make_smallapp,
    project_builds_with_the_backend_wheel,
    write_lock,
)
from tests.support.tinybackend import write_wheel
from venvrpm.cli import main

pytestmark = pytest.mark.integration


def _build(manifest: Path, out: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    for old in out.glob("*.rpm"):
        old.unlink()
    assert main(["build", str(manifest), "-o", str(out), *args]) == 0
    return capsys.readouterr().err


def _environments() -> list[Path]:
    """The cache's entries but venvrpm's own pip (kept there too, between builds)."""
    envs = Path(os.environ["VENVRPM_CACHE_DIR"]) / "envs"
    if not envs.is_dir():
        return []
    return [e for e in envs.iterdir() if not (e / "tree" / "pip" / "__main__.py").is_file()]


def _digest(out: Path) -> str:
    (rpm,) = out.glob("*.rpm")
    return hashlib.sha256(rpm.read_bytes()).hexdigest()


def _payload(out: Path) -> dict[str, str]:
    """path -> sha256 digest ('' for directories and links) of the RPM in *out*."""
    (rpm,) = out.glob("*.rpm")
    # tab-separated: venvrpm refuses file names with tabs or newlines (spaces it allows)
    query = ["rpm", "-qp", "--qf", "[%{FILENAMES}\t%{FILEDIGESTS}\t%{FILEMODES}\n]", str(rpm)]
    listing = subprocess.run(query, capture_output=True, text=True, check=True).stdout
    found = {}
    for line in listing.splitlines():
        path, digest, mode = line.split("\t")
        found[path] = digest if int(mode) & 0o170000 == 0o100000 else ""
    return found


@pytest.mark.cold_pip  # counts what --no-cache and a first build store
def test_a_cached_rebuild_makes_the_same_rpm_and_picks_up_code_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tools("rpmbuild")
    manifest = make_smallapp(tmp_path / "app")
    out = tmp_path / "dist"

    cold_log = _build(manifest, out, capsys, "--no-cache")
    cold = _digest(out)
    assert "cached environment" not in cold_log
    assert not (Path(os.environ["VENVRPM_CACHE_DIR"]) / "envs").exists(), "--no-cache stored"

    _build(manifest, out, capsys)  # stores
    assert _digest(out) == cold
    warm_log = _build(manifest, out, capsys)
    assert "reusing the cached environment" in warm_log
    assert "installing 4 locked requirements" not in warm_log
    assert _digest(out) == cold, "a cached rebuild must be byte-identical to a cold one"

    module = tmp_path / "app" / "project" / "src" / "smallapp" / "__init__.py"
    module.write_text(module.read_text() + "\nCHANGED = True\n")
    log = _build(manifest, out, capsys)
    assert "reusing the cached environment" in log
    changed = _payload(out)
    _build(manifest, out, capsys, "--no-cache")
    assert _payload(out) == changed, "the cached rebuild differs from a cold build of the change"
    assert changed != {}


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_rpmbuild_sees_every_staged_file_with_one_link_cold_and_warm(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    installer: str,
) -> None:
    """rpm 4.18 compares every pair of packaged files that have other links (isHardLink in
    build/files.c): with the environment stored or restored as hard links to the cache, a
    21,600-file environment cost rpmbuild 1.8 s of its 5.6 s. The cache links a new entry in,
    and takes a restored one back, only after rpmbuild; uv's links into its own cache are
    undone by removing that cache right after the install."""
    require_tools("rpmbuild")
    real = shutil.which("rpmbuild")
    assert real is not None
    wrapper = tmp_path / "bin" / "rpmbuild"
    wrapper.parent.mkdir()
    seen = tmp_path / "links.txt"
    wrapper.write_text(
        "#!/bin/sh\n"
        'prev=""; root=""\n'
        'for arg in "$@"; do [ "$prev" = --buildroot ] && root="$arg"; prev="$arg"; done\n'
        f'find "$root" -type f -links +1 | wc -l >> {seen}\n'
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}:{os.environ['PATH']}")
    manifest = make_smallapp(tmp_path / "app")
    if installer == "uv":
        manifest.write_text(manifest.read_text() + "build:\n  installer: uv\n")
    out = tmp_path / "dist"
    cold_log = _build(manifest, out, capsys)
    assert "storing the environment in the cache" in cold_log
    cold = _digest(out)
    warm_log = _build(manifest, out, capsys)
    assert "reusing the cached environment" in warm_log
    assert _digest(out) == cold
    assert seen.read_text().split() == ["0", "0"], "rpmbuild saw multiply linked files"
    # and the entry went back: the next build reuses it
    assert "reusing the cached environment" in _build(manifest, out, capsys)
    assert _digest(out) == cold


def test_a_damaged_entry_costs_a_cold_build_never_a_wrong_rpm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tools("rpmbuild")
    manifest = make_smallapp(tmp_path / "app")
    out = tmp_path / "dist"
    _build(manifest, out, capsys)
    good = _digest(out)
    (entry,) = _environments()
    victim = next(p for p in sorted((entry / "tree").rglob("*.py")) if p.stat().st_size > 100)
    victim.write_text(victim.read_text().replace("import", "imp0rt", 1))

    log = _build(manifest, out, capsys)
    assert "reusing the cached environment" not in log
    assert "installing 4 locked requirements" in log
    assert _digest(out) == good
    # the damaged entry was replaced by a good one, which the next build reuses
    assert "reusing the cached environment" in _build(manifest, out, capsys)
    assert _digest(out) == good


def test_uv_installs_the_same_payload_as_pip_and_it_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tools("rpmbuild", "rpm", "chroot", "debootstrap")
    # One app, one lock, one wheelhouse, one epoch: two make_smallapp() calls would differ in
    # their sdist's hash and the lock's mtime (the SBOM's timestamp), not in the installer.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    pip_manifest = make_smallapp(tmp_path / "app")
    uv_manifest = pip_manifest.with_name("app-uv.yaml")
    uv_manifest.write_text(pip_manifest.read_text() + "build:\n  installer: uv\n")
    _build(pip_manifest, tmp_path / "pip-dist", capsys, "--no-cache")
    _build(uv_manifest, tmp_path / "uv-dist", capsys, "--no-cache")
    with_pip, with_uv = _payload(tmp_path / "pip-dist"), _payload(tmp_path / "uv-dist")
    assert sorted(with_uv) == sorted(with_pip), "uv and pip install different files"
    differ = sorted(p for p in with_pip if with_pip[p] != with_uv[p])
    # INSTALLER says who installed; RECORD lists INSTALLER's hash and the entry-point scripts
    # (uv writes them with another template); both are metadata, not the application.
    allowed = ("/INSTALLER", "/RECORD")
    unexpected = [p for p in differ if not p.endswith(allowed) and "/bin/" not in p]
    assert unexpected == [], unexpected
    # A rebuild from the cache relocates only what uv wrote since the restore (its .lock too).
    _build(uv_manifest, tmp_path / "uv-dist", capsys)  # stores
    assert "reusing the cached environment" in _build(uv_manifest, tmp_path / "uv-dist", capsys)
    assert _payload(tmp_path / "uv-dist") == with_uv

    root = target.fresh_root(tmp_path / "root")
    (rpm,) = (tmp_path / "uv-dist").glob("*.rpm")
    assert target.rpm(root, "-i", str(rpm), check=False).returncode == 0
    run = target.chroot(root, "/usr/bin/smallapp")
    assert run.returncode == 0, run.stderr
    assert target.rpm(root, "-V", "smallapp", check=False).stdout == ""


@pytest.mark.parametrize(("setting", "header"), [("xz:2", "xz 2T0"), ("gzip:1", "gzip 1")])
def test_payload_compression_is_configurable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, header: str
) -> None:
    require_tools("rpmbuild")
    manifest = make_smallapp(tmp_path / "app", extra_manifest=f"rpm:\n  compression: '{setting}'\n")
    _build(manifest, tmp_path / "dist", capsys)
    (rpm,) = (tmp_path / "dist").glob("*.rpm")
    query = ["rpm", "-qp", "--qf", "%{PAYLOADCOMPRESSOR} %{PAYLOADFLAGS}", str(rpm)]
    found = subprocess.run(query, capture_output=True, text=True, check=True).stdout
    assert found == header


def _backend_from_the_wheelhouse(root: Path, extra_requires: str = "") -> Path:
    """The test app, its build backend a wheel in the wheelhouse instead of in-tree."""
    manifest = make_smallapp(root)
    source = (root / "project" / "tinybackend.py").read_text()
    if extra_requires:  # the backend asks for more than [build-system] requires
        source = source.replace(
            "def get_requires_for_build_wheel(config_settings=None):\n    return []",
            f"def get_requires_for_build_wheel(config_settings=None):\n    return [{extra_requires!r}]",
        )
    write_wheel(root / "wheels", "tinybackend", "1.0", {"tinybackend.py": source})
    project_builds_with_the_backend_wheel(root)
    # what `venvrpm lock` writes: the build requirement pinned with its hash
    wheel = next((root / "wheels").glob("tinybackend-*.whl"))
    write_lock(root / "requirements-build.lock", {"tinybackend": wheel}, {"tinybackend": "1.0"})
    return manifest


def test_build_requirements_come_from_the_wheelhouse_once_then_from_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tools("rpmbuild")
    manifest = _backend_from_the_wheelhouse(tmp_path / "app")
    out = tmp_path / "dist"
    log = _build(manifest, out, capsys, "-v")
    assert "Successfully installed tinybackend" in log
    assert len(_environments()) == 2, "the environment and the build requirements"
    first = _payload(out)

    module = tmp_path / "app" / "project" / "src" / "smallapp" / "__init__.py"
    module.write_text(module.read_text() + "\nCHANGED = 1\n")
    log = _build(manifest, out, capsys, "-v")
    assert "Successfully installed tinybackend" not in log, "build requirements installed again"
    assert len(_environments()) == 2
    changed = _payload(out)
    assert sorted(changed) == sorted(first)
    assert [p for p in first if first[p] != changed[p]] != []

    # the same project built by pip's own isolated build: the same payload
    _build(manifest, out, capsys, "--no-cache")
    assert _payload(out) == changed


def test_a_backend_asking_for_more_than_the_build_lock_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pip would install what the backend asks for without a hash check: refused instead."""
    manifest = _backend_from_the_wheelhouse(tmp_path / "app", extra_requires="tinydep")
    code = main(["build", str(manifest), "-o", str(tmp_path / "dist"), "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "requirements-build.lock does not pin" in err
    assert "the backend also needs ['tinydep']" in err


def test_an_environment_that_fails_its_checks_is_never_cached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A locked distribution needs one the lock lacks: the dependency check fails every build,
    each from a fresh environment, never from a broken one the first build stored."""
    manifest = make_smallapp(tmp_path / "app", entry_points="[smallapp]")
    wheels = tmp_path / "app" / "wheels"
    (wheels / "tinydep-1.0-py3-none-any.whl").unlink()
    needy = write_wheel(
        wheels, "tinydep", "1.0", {"tinydep/__init__.py": "VALUE = 1\n"}, requires=["absentdep"]
    )
    lock = tmp_path / "app" / "requirements.lock"
    dists = {p.name.split("-")[0].replace("_", "-"): p for p in wheels.iterdir()}
    dists["tinydep"] = needy
    write_lock(lock, {k: v for k, v in dists.items() if k in VERSIONS}, VERSIONS)
    out = tmp_path / "dist"
    for _ in range(2):
        assert main(["build", str(manifest), "-o", str(out), "-v"]) == 1
        err = capsys.readouterr().err
        assert "do not meet each other's requirements" in err
        assert "absentdep" in err
        assert "reusing the cached environment" not in err
    assert _environments() == [], "a failed environment was stored"


def test_a_manifest_mistake_on_a_cached_environment_does_not_drop_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in entry_points fails the build, but the environment restored from the cache is
    not to blame: it is kept, and the build after the fix reuses it."""
    manifest = make_smallapp(tmp_path / "app")
    good = manifest.read_text()
    out = tmp_path / "dist"
    assert main(["build", str(manifest), "-o", str(out), "-q"]) == 0
    stored = _environments()
    assert len(stored) == 1
    manifest.write_text(good.replace("[smallapp, tinydep-tool]", "[smallapp, tinydep-tol]"))
    assert main(["build", str(manifest), "-o", str(out), "-v"]) == 1
    err = capsys.readouterr().err
    assert "reusing the cached environment" in err
    assert "tinydep-tol" in err
    assert "came from the cache" not in err, err
    assert _environments() == stored
    manifest.write_text(good)
    assert main(["build", str(manifest), "-o", str(out), "-v"]) == 0
    assert "reusing the cached environment" in capsys.readouterr().err
