"""The product promise, end to end with real tools.

Build the test application offline from its wheelhouse, install it with rpm -- without --nodeps
-- into a debootstrap'd Debian bookworm root whose rpmdb holds only what that root really
provides, run its entry points chrooted, verify, erase, and find the root as it was.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from tests.conftest import Built, build_app, require_tools
from tests.support import target
from tests.support.apps import AWKWARD_NAMES, BUNDLED_SONAME

pytestmark = pytest.mark.integration

PREFIX = "/opt/smallapp"


def installed_paths(root: Path) -> set[str]:
    found = set()
    for top in (PREFIX, "/etc/smallapp", "/usr/share/doc/smallapp"):
        found.add(top)
        for dirpath, dirnames, filenames in os.walk(root / top.lstrip("/")):
            for name in dirnames + filenames:
                found.add("/" + os.path.relpath(os.path.join(dirpath, name), root))
    return found | {"/usr/bin/smallapp", "/usr/bin/tinydep-tool"}


def test_install_run_verify_erase(smallapp: Built, tmp_path: Path) -> None:
    require_tools("rpm", "chroot", "debootstrap")
    root = target.fresh_root(tmp_path / "root")
    before = target.snapshot(root)

    install = target.rpm(root, "-i", str(smallapp.rpm), check=False)
    assert install.returncode == 0, install.stderr

    run = target.chroot(root, "/usr/bin/smallapp")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report == {
        "prefix": PREFIX,
        "tinydep": "tinydep 1.0",
        "native": 42,
        "sdistonly": "built from sdist",
        "awkward": len(AWKWARD_NAMES),
        "co_filename": f"{PREFIX}/lib/python3.11/site-packages/smallapp/__init__.py",
    }
    tool = target.chroot(root, "/usr/bin/tinydep-tool")
    assert (tool.returncode, tool.stdout) == (0, "tinydep 1.0\n"), tool.stderr

    # Running wrote nothing under the prefix: the shipped .pyc were valid for the final path.
    after_install = target.snapshot(root)
    assert target.chroot(root, "/usr/bin/smallapp").returncode == 0
    assert target.snapshot(root) == after_install

    verify = target.rpm(root, "-V", "smallapp", check=False)
    assert (verify.returncode, verify.stdout) == (0, ""), verify.stdout + verify.stderr

    # The package owns exactly what is on disk, awkward names included.
    owned = set(target.rpm(root, "-ql", "smallapp").stdout.splitlines())
    assert owned == installed_paths(root)
    assert target.rpm(root, "-qc", "smallapp").stdout.split() == ["/etc/smallapp/smallapp.conf"]
    conf = (root / "etc/smallapp/smallapp.conf").stat()
    assert stat.S_IMODE(conf.st_mode) == 0o640

    # Nothing of the build location survived, in any file.
    needle = os.fsencode(smallapp.tmpdir)
    for path in installed_paths(root):
        full = root / path.lstrip("/")
        if full.is_file() and not full.is_symlink():
            assert needle not in full.read_bytes(), path

    # Bundled libraries are shipped byte for byte (no strip).
    wheel = next((smallapp.manifest.parent / "wheels").glob("tinynative-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        for member in ("tinynative/_core.so", f"tinynative.libs/{BUNDLED_SONAME}"):
            shipped = root / f"{PREFIX.lstrip('/')}/lib/python3.11/site-packages/{member}"
            assert shipped.read_bytes() == zf.read(member), member

    erase = target.rpm(root, "-e", "smallapp", check=False)
    assert erase.returncode == 0, erase.stderr
    assert target.snapshot(root) == before


def test_requires_are_the_interpreter_and_system_sonames_only(smallapp: Built) -> None:
    requires = set(query(smallapp.rpm, "--requires"))
    assert "/usr/bin/python3.11" in requires
    assert {"libc.so.6()(64bit)", "libc.so.6(GLIBC_2.2.5)(64bit)"} <= requires
    assert not [r for r in requires if "libtiny" in r], "bundled soname required"
    provides = set(query(smallapp.rpm, "--provides"))
    own = {p for p in provides if not p.startswith("bundled(python3dist(")}
    assert own == {"smallapp = 1.0.0-1", "smallapp(x86-64) = 1.0.0-1"}, (
        "nothing from the private tree"
    )
    assert "python(abi) = 3.11" in requires
    assert query(smallapp.rpm, "--queryformat", "%{PAYLOADCOMPRESSOR}") == ["zstd"]
    assert query(smallapp.rpm, "--queryformat", "%{SUMMARY}") == [
        "Tiny CLI with 100% awkward %{names}"
    ]


def test_an_unmet_requirement_blocks_the_install(tmp_path: Path) -> None:
    """The seeded rpmdb is honest: what the root lacks is not provided."""
    built = build_app(tmp_path / "app", extra_manifest='requires: ["libnotthere.so.7()(64bit)"]\n')
    root = target.fresh_root(tmp_path / "root")
    install = target.rpm(root, "-i", str(built.rpm), check=False)
    assert install.returncode != 0
    assert "libnotthere.so.7()(64bit) is needed by smallapp" in install.stderr


def query(rpm: Path, *args: str) -> list[str]:
    return target.subprocess.run(
        ["rpm", "-qp", *args, str(rpm)], capture_output=True, text=True, check=True
    ).stdout.splitlines()


def payload_of(rpm: Path, dest: Path) -> Path:
    """Unpack an RPM's payload with rpm2cpio | cpio (no rpmdb involved)."""
    dest.mkdir()
    cpio = target.subprocess.run(["rpm2cpio", str(rpm)], capture_output=True, check=True).stdout
    target.subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=dest, check=True)
    return dest


def test_umask_and_a_symlinked_tmpdir_do_not_leak(tmp_path: Path) -> None:
    real = tmp_path / "real-tmp"
    real.mkdir()
    (tmp_path / "link-tmp").symlink_to(real)
    saved_umask = os.umask(0o077)
    try:
        built = build_app(tmp_path / "app", tmp=tmp_path / "link-tmp")
    finally:
        os.umask(saved_umask)
    dump = query(built.rpm, "--queryformat", "[%{FILEMODES:perms} %{FILENAMES}\n]")
    modes = dict(line.split(" ", 1)[::-1] for line in dump)
    assert modes[PREFIX] == "drwxr-xr-x"
    assert modes["/etc/smallapp"] == "drwxr-xr-x"
    assert modes["/etc/smallapp/smallapp.conf"] == "-rw-r-----"
    assert modes[f"{PREFIX}/bin/smallapp"] == "-rwxr-xr-x"
    assert modes[f"{PREFIX}/lib/python3.11/site-packages/smallapp/__init__.py"] == "-rw-r--r--"
    assert not [m for p, m in modes.items() if m[0] != "l" and m[1:4] != "rwx" and m[1:3] != "rw"]
    unpacked = payload_of(built.rpm, tmp_path / "unpacked")
    spellings = [os.fsencode(real), os.fsencode(tmp_path / "link-tmp")]
    for path in unpacked.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            assert not any(s in data for s in spellings), path


def test_two_builds_in_different_places_are_byte_identical(tmp_path: Path) -> None:
    """Same manifest, lock and environment; SOURCE_DATE_EPOCH derived from the changelog."""
    import hashlib
    import shutil as _shutil

    from tests.support.apps import make_smallapp

    first = make_smallapp(
        tmp_path / "a" / "app",
        extra_manifest="changelog:\n  - date: 2026-11-01\n    author: Ops <ops@example.invalid>\n    text: Built twice.\n",
    )  # fmt: skip
    _shutil.copytree(first.parent, tmp_path / "b" / "somewhere-else", symlinks=True)
    digests = []
    for n, manifest in enumerate((first, tmp_path / "b" / "somewhere-else" / "app.yaml")):
        tmp = tmp_path / f"tmp{n}" / ("x" * n * 20)  # another TMPDIR, another length
        tmp.mkdir(parents=True)
        built = build_app_at(manifest, tmp)
        digests.append(hashlib.sha256(built.read_bytes()).hexdigest())
        assert query(built, "--queryformat", "%{BUILDTIME}") == ["1793491200"]  # 2026-11-01 UTC
    assert digests[0] == digests[1]


def build_app_at(manifest: Path, tmp: Path) -> Path:
    import tempfile

    from venvrpm.cli import main

    saved = tempfile.tempdir
    tempfile.tempdir = str(tmp)
    try:
        assert main(["build", str(manifest), "-o", str(manifest.parent / "dist"), "-q"]) == 0
    finally:
        tempfile.tempdir = saved
    (rpm,) = (manifest.parent / "dist").glob("*.rpm")
    return rpm
