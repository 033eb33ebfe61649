"""The real-app tier: applications from PyPI that nobody here wrote, end to end.

Each app of ``tests/data/realapps/`` is built once per session, offline (network cut) from its
cached wheelhouse (tests/support/realapps.py), installed into the debootstrap'd bookworm root
without --nodeps, run chrooted, verified with ``rpm -V`` and erased, leaving nothing behind:

- httpie: its lock pins pip (httpie needs it at run time) and setuptools (issue 17, defect 1);
- pgapp: psycopg2 built from its sdist (C extension, gcc) against the system's libpq;
- numpyapp: numpy's manylinux wheel, whose modules load the OpenBLAS, libgfortran and
  libquadmath it bundles in numpy.libs/ (RPATH $ORIGIN/...); what they need of the system
  (libc, libm) must be met by the root's rpmdb.

pgapp's build is also the first of the two builds that show an sdist with a C extension gives
the same RPM whatever its paths (issue 17, defect 4): each build runs with ``--no-cache`` and
its own TMPDIR, HOME and environment cache, at one SOURCE_DATE_EPOCH.

Also here: a small offline app whose lock pins the very pip venvrpm itself runs (defect 1).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_tools
from tests.support import realapps, target
from tests.support.apps import make_smallapp
from venvrpm.cli import main
from venvrpm.lockfile import read as read_lock

pytestmark = pytest.mark.integration

APPS = ("httpie", "pgapp", "numpyapp")

# What each app runs in the root, and a regular expression its output must match.
RUNS: dict[str, list[tuple[list[str], str]]] = {
    "httpie": [
        (["/usr/bin/http", "--version"], r"^3\.2\.4\n$"),
        (
            ["/usr/bin/http", "--ignore-stdin", "--offline", "example.org", "hello=world"],
            r"POST / HTTP/1\.1\n(.*\n)*Host: example\.org\n(.*\n)*\{\s*\"hello\": \"world\"\s*\}",
        ),
        # httpie installs its plugins with the venv's pip: the locked one
        (
            ["/opt/httpie/bin/python", "-m", "pip", "--version"],
            r"^pip 26\.3 from /opt/httpie/lib/python3\.11/site-packages/pip ",
        ),
    ],
    "pgapp": [
        (
            [
                "/opt/pgapp/bin/python",
                "-c",
                "import psycopg2, psycopg2.extensions as e; print(psycopg2.__version__, e.libpq_version())",
            ],
            r"^2\.9\.13 \(dt dec pq3 ext lo64\) 15\d{4}\n$",
        ),
    ],
    "numpyapp": [
        (["/usr/bin/numpy-config", "--version"], r"^2\.4\.6\n$"),
        # a matrix product goes through the bundled OpenBLAS (numpy.libs/)
        (
            [
                "/opt/numpyapp/bin/python",
                "-c",
                "import numpy as np; a = np.array([[1.0, 2.0], [3.0, 4.0]]);"
                " print(np.dot(a, a).tolist(), np.show_config('dicts')['Build Dependencies']['blas']['name'])",
            ],
            r"^\[\[7\.0, 10\.0\], \[15\.0, 22\.0\]\] scipy-openblas\n$",
        ),
    ],
}


# The links each app's manifest asks for (links:), and their targets.
LINKS = {
    "httpie": {
        f"/usr/share/man/man1/{page}.1": f"../../../../opt/httpie/share/man/man1/{page}.1"
        for page in ("http", "https", "httpie")
    },
}


EPOCH = "1700000000"


@dataclass(frozen=True)
class RealApp:
    """A real application built from its cached wheelhouse."""

    name: str
    manifest: Path
    rpm: Path
    work: Path
    """Where it was built (TMPDIR, HOME, caches): no path under it may reach the RPM."""


def build_env(work: Path) -> dict[str, str]:
    """The build's environment: no PIP_*, a private TMPDIR, HOME, environment cache and key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.pop("XDG_CACHE_HOME", None)
    for key, sub in (("TMPDIR", "tmp"), ("VENVRPM_CACHE_DIR", "cache"),
                     ("XDG_CONFIG_HOME", "config"), ("HOME", "home")):  # fmt: skip
        (work / sub).mkdir(exist_ok=True)
        env[key] = str(work / sub)
    env["SOURCE_DATE_EPOCH"] = EPOCH
    return env


def build_real_app(name: str, work: Path) -> RealApp:
    """Fetched once into the cache, then built offline with the network cut, with no cache."""
    require_tools("rpm", "rpmbuild", "rpm2cpio", "cpio", "chroot", "debootstrap", "unshare",
                  "gcc", "pg_config")  # fmt: skip
    manifest = realapps.prepare(name, work / name)
    result = realapps.build_offline(manifest, work / "dist", build_env(work), "--no-cache")
    assert result.returncode == 0, result.stderr
    # --no-cache reuses no cache: neither pip's nor uv's is read or written in HOME
    home = sorted(str(p.relative_to(work / "home")) for p in (work / "home").rglob("*"))
    assert not [p for p in home if p.startswith(".cache")], home
    assert list((work / "tmp").iterdir()) == []
    (rpm,) = (work / "dist").glob("*.rpm")
    return RealApp(name, manifest, rpm, work)


@pytest.fixture(scope="module")
def httpie(tmp_path_factory: pytest.TempPathFactory) -> RealApp:
    """httpie, built once per session."""
    return build_real_app("httpie", tmp_path_factory.mktemp("httpie"))


@pytest.fixture(scope="module")
def pgapp(tmp_path_factory: pytest.TempPathFactory) -> RealApp:
    """psycopg2 from its sdist, built once per session."""
    return build_real_app("pgapp", tmp_path_factory.mktemp("pgapp"))


@pytest.fixture(scope="module")
def numpyapp(tmp_path_factory: pytest.TempPathFactory) -> RealApp:
    """numpy from its manylinux wheel (bundled libraries in numpy.libs/), built once."""
    return build_real_app("numpyapp", tmp_path_factory.mktemp("numpyapp"))


@pytest.mark.parametrize("app", APPS)
def test_installs_runs_verifies_and_erases(
    app: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    built: RealApp = request.getfixturevalue(app)
    root = target.fresh_root(tmp_path / "root")
    before = target.snapshot(root)
    install = target.rpm(root, "-i", str(built.rpm), check=False)  # no --nodeps
    assert install.returncode == 0, install.stderr

    for argv, expected in RUNS[built.name]:
        run = target.chroot(root, *argv)
        assert run.returncode == 0, f"{argv}: {run.stderr}"
        assert re.search(expected, run.stdout), f"{argv} printed {run.stdout!r}"
    # running wrote nothing under the prefix (the shipped bytecode is valid for it)
    after_runs = target.snapshot(root)
    for argv, _ in RUNS[built.name]:
        assert target.chroot(root, *argv).returncode == 0
    assert target.snapshot(root) == after_runs

    for link, dest in LINKS.get(built.name, {}).items():
        assert os.readlink(root / link.lstrip("/")) == dest
        assert (root / link.lstrip("/")).resolve().is_file(), link

    verify = target.rpm(root, "-V", built.name, check=False)
    assert (verify.returncode, verify.stdout) == (0, ""), verify.stdout + verify.stderr

    erase = target.rpm(root, "-e", built.name, check=False)
    assert erase.returncode == 0, erase.stderr
    assert not any((root / link.lstrip("/")).is_symlink() for link in LINKS.get(built.name, {}))
    assert not (root / "opt" / built.name).exists(), sorted(
        str(p) for p in (root / "opt" / built.name).rglob("*")
    )[:20]
    after = target.snapshot(root)
    # what running the app wrote outside its prefix on purpose (httpie's config directory)
    written = {p for p in after.keys() - before.keys() if p.startswith("root/.config")}
    assert after.keys() - before.keys() - written == set()
    assert before.keys() - after.keys() == set()


def test_the_root_provides_the_system_libpq() -> None:
    """pgapp's Requires: libpq.so.5()(64bit) is met by the root's libpq5, not by --nodeps."""
    provides = target.rpm(target.template_root(), "-q", "--provides", target.SEED_NAME).stdout
    assert "libpq.so.5()(64bit)" in provides.split("\n")


def test_pgapp_links_the_system_libpq(pgapp: RealApp) -> None:
    built = pgapp
    requires = subprocess.run(["rpm", "-qp", "--requires", str(built.rpm)], capture_output=True,
                              text=True, check=True).stdout.splitlines()  # fmt: skip
    assert "libpq.so.5()(64bit)" in requires
    names = subprocess.run(["rpm", "-qpl", str(built.rpm)], capture_output=True, text=True,
                           check=True).stdout.splitlines()  # fmt: skip
    assert any(
        re.search(r"/psycopg2/_psycopg\.cpython-311-x86_64-linux-gnu\.so$", n) for n in names
    )
    assert not any("psycopg2_binary" in n or ".libs/" in n for n in names), "not a manylinux wheel"


def test_numpyapp_requires_the_system_libraries_not_its_bundled_ones(numpyapp: RealApp) -> None:
    """numpy.libs/ ships OpenBLAS, libgfortran and libquadmath under hashed names: no Require
    names them (nothing on a system could provide them), and every soname its ELF objects need
    of the system (libc, libm, libgcc_s, libstdc++, libz) is provided by the root's rpmdb."""
    requires = subprocess.run(["rpm", "-qp", "--requires", str(numpyapp.rpm)],
                              capture_output=True, text=True, check=True).stdout.splitlines()  # fmt: skip
    sonames = [r for r in requires if ".so" in r]
    assert "libm.so.6()(64bit)" in sonames and "libc.so.6()(64bit)" in sonames
    assert not [r for r in sonames if re.search(r"gfortran|quadmath|openblas", r)], sonames
    provides = target.rpm(target.template_root(), "-q", "--provides", target.SEED_NAME).stdout
    assert set(sonames) - set(provides.splitlines()) == set()


def test_psycopg2_from_its_sdist_is_path_independent_and_reproducible(
    pgapp: RealApp, tmp_path: Path
) -> None:
    """A second build of pgapp, in another TMPDIR (of another length), HOME and cache, makes
    the same RPM, and nothing of either build's paths reaches the compiled module."""
    require_tools("readelf")
    second = build_real_app("pgapp", tmp_path / "b-second-build")
    so = extension(pgapp.rpm, tmp_path / "unpacked")
    data = so.read_bytes()
    for leak in (b"pip-install-", b"pip-req-build-", b"pip-wheel-", *(
        str(w).encode() for w in (pgapp.work, second.work)
    )):  # fmt: skip
        assert leak not in data, f"{leak!r} in {so.name}"
    sections = subprocess.run(["readelf", "-S", "-W", str(so)], check=True,
                              capture_output=True, text=True).stdout  # fmt: skip
    assert ".debug_info" not in sections, "debug info (with its build paths) was compiled in"
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (pgapp.rpm, second.rpm)]
    assert digest[0] == digest[1], "two builds of the same inputs gave different RPMs"


def extension(rpm: Path, dest: Path) -> Path:
    """psycopg2's compiled module, unpacked from pgapp's *rpm*."""
    (found,) = unpack(rpm, dest).glob(
        "opt/pgapp/lib/python3.11/site-packages/psycopg2/_psycopg*.so"
    )
    return found


def test_httpie_ships_the_locked_pip_and_setuptools(httpie: RealApp, tmp_path: Path) -> None:
    built = httpie
    tree = unpack(built.rpm, tmp_path / "payload")
    site = tree / "opt/httpie/lib/python3.11/site-packages"
    for name in ("pip", "setuptools"):
        assert_installed_from_lock(site, built.manifest.parent, name)


# -- defect 1 on a small offline app: the lock pins the pip venvrpm itself runs ---------------


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_a_lock_that_pins_venvrpms_own_pip_gets_it_in_the_venv(
    installer: str, tmp_path: Path
) -> None:
    """The lock pins pip (and setuptools) at the version of the pip venvrpm runs from its tools
    directory: pip must not take itself for installed in the venv (issue 17, defect 1)."""
    from virtualenv.seed.wheels.embed import get_embed_wheel

    require_tools("rpm", "rpmbuild", "gcc")

    manifest = make_smallapp(tmp_path / "app", extra_manifest=f"build:\n  installer: {installer}\n")
    lock = manifest.parent / "requirements.lock"
    for name in ("pip", "setuptools"):
        wheel = get_embed_wheel(name, "3.11")
        assert wheel is not None
        shutil.copy(wheel.path, manifest.parent / "wheels")
        digest = hashlib.sha256(Path(wheel.path).read_bytes()).hexdigest()
        with lock.open("a") as fh:
            fh.write(f"{name}=={wheel.version} \\\n    --hash=sha256:{digest}\n")
    assert main(["build", str(manifest), "-o", str(tmp_path / "dist"), "-q"]) == 0
    (rpm,) = (tmp_path / "dist").glob("*.rpm")
    tree = unpack(rpm, tmp_path / "payload")
    site = tree / "opt/smallapp/lib/python3.11/site-packages"
    for name in ("pip", "setuptools"):
        assert_installed_from_lock(site, manifest.parent, name)


# -- helpers ------------------------------------------------------------------------------------


def unpack(rpm: Path, dest: Path) -> Path:
    """The RPM's payload extracted into *dest*."""
    dest.mkdir()
    with subprocess.Popen(["rpm2cpio", str(rpm)], stdout=subprocess.PIPE) as payload:
        subprocess.run(["cpio", "-idm", "--quiet"], stdin=payload.stdout, cwd=dest, check=True)
    assert payload.returncode == 0
    return dest


def assert_installed_from_lock(site: Path, app: Path, name: str) -> None:
    """*name* is installed once, at the lock's version, with every file of the locked wheel."""
    lock = read_lock(app / "requirements.lock")
    (pinned,) = [r for r in lock.requirements if r.name == name]
    installed = sorted(p.name for p in site.glob("*.dist-info") if p.name.startswith(f"{name}-"))
    assert installed == [f"{name}-{pinned.version}.dist-info"], installed
    wheels = [w for w in (app / "wheels").glob(f"{name}-*.whl")
              if "sha256:" + hashlib.sha256(w.read_bytes()).hexdigest() in pinned.hashes]  # fmt: skip
    assert len(wheels) == 1, f"the locked file of {name} is not in the wheelhouse"
    with zipfile.ZipFile(wheels[0]) as archive:
        record_name = f"{name}-{pinned.version}.dist-info/RECORD"
        locked = [
            line for line in archive.read(record_name).decode().splitlines()
            if line.split(",")[1:2] != [""]
        ]  # fmt: skip
    shipped = set((site / record_name).read_text().splitlines())
    missing = [line for line in locked if line not in shipped]
    assert missing == [], f"{name}: RECORD lines of the locked wheel not installed: {missing[:5]}"
    # ... and the files on disk are those (a sample: checking 1,000 files takes no time)
    for line in locked:
        path, digest, _size = line.rsplit(",", 2)
        data = (site / path).read_bytes()
        actual = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert digest == f"sha256={actual}", path
