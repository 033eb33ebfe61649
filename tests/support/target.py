"""A real target system for integration tests: a debootstrap'd Debian bookworm root (and a
trixie one, whose Python 3.13 differs from the host's 3.11: where locking must run).

A Debian root's rpmdb is empty, so nothing there would satisfy an RPM's Requires. We seed it
with one generated package whose Provides are what the root really has -- the sonames of its
ELF libraries (read with rpm's own ``elfdeps``), every executable path, the interpreter -- so
our RPMs install **without --nodeps**, and a Require the root cannot meet fails the install.

The root is built once (about a minute) and cached; each test gets an overlay on it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

SUITE = "bookworm"
# libpq5: the real-app tier's psycopg2, built from its sdist, links the system's libpq
# (tests/support/realapps.py); INCLUDE is part of the cache key, so the root is rebuilt.
INCLUDE = "python3,python3-venv,systemd,passwd,libpq5"
# The second root: another Python minor (3.13) for what depends on the target's interpreter.
INCLUDES = {SUITE: INCLUDE, "trixie": "python3,python3-venv",
            # an aarch64 root, run under qemu-user emulation (binfmt_misc) on an x86_64 host
            "bookworm-arm64": "python3,python3-venv"}  # fmt: skip
# suite -> (debootstrap's suite, its --arch); others are the host's architecture
FOREIGN = {"bookworm-arm64": ("bookworm", "arm64")}
CACHE = Path(os.environ.get("VENVRPM_TEST_CACHE", "/var/tmp/venvrpm-test-cache"))
DBPATH = "/var/lib/rpm"
SEED_NAME = "target-system-provides"
# Bump when root_provides() or seed_rpmdb() change, so cached roots are rebuilt.
SEED_FORMAT = 1
# Not part of the system's state: the rpmdb itself changes with every transaction.
IGNORED = ("var/lib/rpm", "var/tmp", "tmp", "proc", "dev", "run")


def _key(suite: str = SUITE) -> str:
    return hashlib.sha256(f"{suite} {INCLUDES[suite]} {SEED_FORMAT}".encode()).hexdigest()[:12]


def template_root(suite: str = SUITE) -> Path:
    """The cached, seeded root of *suite*; built on first use. Concurrent runs wait for each
    other."""
    base = CACHE / f"{suite}-{_key(suite)}"
    root = base / "root"
    CACHE.mkdir(parents=True, exist_ok=True)
    # an emulated debootstrap takes minutes: its own lock, so other roots stay available
    with open(CACHE / (f".lock-{suite}" if suite in FOREIGN else ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (base / "complete").is_file():
            return root
        shutil.rmtree(base, ignore_errors=True)
        building = base / "root.partial"
        building.mkdir(parents=True)
        release, arch = FOREIGN.get(suite, (suite, None))
        subprocess.run(
            [
                "debootstrap",
                *([f"--arch={arch}"] if arch else []),
                "--variant=minbase",
                f"--include={INCLUDES[suite]}",
                release,
                str(building),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        seed_rpmdb(building)
        building.rename(root)
        (base / "complete").write_text("ok\n")
    return root


def fresh_root(dest: Path, suite: str = SUITE) -> Path:
    """A private, writable root at *dest*: an overlay on the template root (of *suite*).

    Copying the 300 MB root took 5 s of CPU and 10 s of disk per test; an overlay costs
    nothing, and its lower layer (the template) is never written: what a test changes lands in
    the upper layer beside *dest*. ``unmount_under`` (run after each test by tests/conftest.py)
    takes it down. Where overlays cannot be mounted (no root, no overlayfs) it is a copy.
    """
    template = template_root(suite)
    upper, work = dest.with_name(f".{dest.name}.upper"), dest.with_name(f".{dest.name}.work")
    for path in (dest, upper, work):
        path.mkdir(parents=True)
    options = f"lowerdir={template},upperdir={upper},workdir={work},redirect_dir=on"
    mounted = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", options, str(dest)], capture_output=True
    )
    if mounted.returncode != 0:
        for path in (dest, upper, work):
            path.rmdir()
        subprocess.run(["cp", "-a", "--reflink=auto", str(template), str(dest)], check=True)
    return dest


def mounts_under(top: Path) -> list[str]:
    """Mount points at or below *top* (this process's mount namespace), deepest first."""
    prefix = str(top).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            # field 5 is the mount point, with space, tab, newline, backslash octal-escaped
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), line.split()[4])
            if (point + "/").startswith(prefix):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def unmount_under(top: Path) -> None:
    """Take down the overlays (and anything else) mounted at or below *top*."""
    for point in mounts_under(top):
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


def rpm(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run rpm against *root*'s database (scriptlets run chrooted there)."""
    return subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", DBPATH, *args],
        capture_output=True,
        text=True,
        check=check,
    )


def chroot(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run a program inside *root*, with a clean environment."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "LANG": "C.UTF-8",
        "HOME": "/root",
    }
    return subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True, env=env)


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every path in *root* (but the rpmdb and scratch dirs) with its mode, size, link target."""
    state: dict[str, tuple[int, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = [
            d for d in dirnames if os.path.normpath(os.path.join(rel_dir, d)) not in IGNORED
        ]
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            link = os.readlink(path) if os.path.islink(path) else ""
            size = st.st_size if not os.path.isdir(path) or os.path.islink(path) else 0
            state[os.path.normpath(os.path.join(rel_dir, name))] = (st.st_mode, size, link)
    return state


def root_provides(root: Path) -> list[str]:
    """What *root* really offers: ELF sonames, executable paths, the interpreter, systemd."""
    elf_files = []
    for top in ("usr/lib", "usr/lib64", "usr/libexec"):
        for dirpath, _dirs, files in os.walk(root / top):
            for name in files:
                path = Path(dirpath) / name
                if path.is_symlink() or not path.is_file():
                    continue
                with path.open("rb") as fh:
                    if fh.read(4) == b"\x7fELF":
                        elf_files.append(str(path))
    found = subprocess.run(
        ["/usr/lib/rpm/elfdeps", "--provides"],
        input="\n".join(elf_files) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    provides = set(found)
    if any((root / "usr/lib64").glob("ld-linux*")) or any((root / "usr/lib").rglob("ld-linux*")):
        provides.add("rtld(GNU_HASH)")
    for bindir in ("usr/bin", "usr/sbin"):
        for entry in sorted((root / bindir).iterdir()):
            if os.access(entry, os.X_OK) or entry.is_symlink():
                provides.add(f"/{bindir}/{entry.name}")
                # merged /usr: /bin/sh and /usr/bin/sh are the same file
                provides.add(f"/{bindir.removeprefix('usr/')}/{entry.name}")
    for python in sorted((root / "usr/bin").glob("python3.[0-9]*")):
        if python.name.replace("python", "").replace(".", "").isdigit():
            version = python.name.removeprefix("python")
            provides.update({f"python{version}", f"python(abi) = {version}"})
    if (root / "usr/bin/systemctl").exists():
        provides.add("systemd")
    return sorted(provides)


def seed_rpmdb(root: Path) -> None:
    """Install one package into *root*'s fresh rpmdb that provides what the root has."""
    rpm(root, "--initdb")
    _install_seed(root, root_provides(root))


def _install_seed(root: Path, provides: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="seed-") as tmp:
        spec = Path(tmp) / "seed.spec"
        lines = "\n".join(f"Provides: {p}" for p in provides)
        spec.write_text(
            textwrap.dedent("""\
            Name: {name}
            Version: 1
            Release: 1
            Summary: What the debootstrap'd root provides (generated by the venvrpm tests)
            License: MIT
            BuildArch: noarch
            AutoReqProv: no
            """).format(name=SEED_NAME)
            + lines
            + "\n\n%description\nGenerated.\n\n%files\n"
        )
        subprocess.run(
            ["rpmbuild", "-bb", "--define", f"_topdir {tmp}/top", str(spec)],
            check=True,
            capture_output=True,
        )
        (built,) = Path(tmp, "top", "RPMS", "noarch").glob("*.rpm")
        rpm(root, "-i", str(built))


def image(engine: str = "podman", suite: str = SUITE) -> str:
    """A container image made from the template root of *suite* (``podman import``), built
    once."""
    name = f"localhost/venvrpm-test/{suite}:{_key(suite)}"
    root = template_root(suite)
    CACHE.mkdir(parents=True, exist_ok=True)
    # test workers import it once between them
    with open(CACHE / f".image-{engine}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _imported(engine, name, root)


def _imported(engine: str, name: str, root: Path) -> str:
    exists = subprocess.run([engine, "image", "exists", name], capture_output=True)
    if exists.returncode == 0:
        return name
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    assert tar.stdout is not None
    imported = subprocess.run(
        [engine, "import", "-", name], stdin=tar.stdout, capture_output=True, text=True
    )
    tar.stdout.close()
    tar.wait()
    if imported.returncode != 0 or tar.returncode != 0:
        raise RuntimeError(f"importing the test image failed: {imported.stderr}")
    return name


def reseed(root: Path, drop: str) -> None:
    """Replace *root*'s seed package by one without the provides matching regex *drop*.

    Makes a target that lacks something this root really has (say, Python 3.11), to show
    that rpm then refuses packages needing it.
    """
    rpm(root, "-e", SEED_NAME)
    keep = [p for p in root_provides(root) if not re.search(drop, p)]
    _install_seed(root, keep)
