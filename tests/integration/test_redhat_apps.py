"""Real applications built under Red Hat's rpmbuild configuration (tests/support/redhat/macros)
ship exactly the files they ship under Debian's: the hello-sized test app as a service, built
directly and rebuilt from its source RPM (the farm's %install runs the whole install-post
chain), psycopg2 compiled from its sdist (a C extension), numpy's manylinux wheel (the
OpenBLAS, libgfortran and libquadmath it bundles in numpy.libs/, found through
RPATH=$ORIGIN/../../numpy.libs: what brp-strip, check-rpaths and the build-id links act on)
and httpie (man pages linked into /usr/share/man), built directly and from its source RPM.
docs/rpmbuild.md says what may differ: nothing in the payload."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tools
from tests.integration.test_lifecycle import FILES, SERVICE, UNIT
from tests.support import realapps, redhat
from tests.support.apps import make_smallapp
from venvrpm.cli import main

pytestmark = pytest.mark.integration


def _build(manifest: Path, dist: Path) -> Path:
    assert main(["build", str(manifest), "-o", str(dist), "-q"]) == 0
    (rpm,) = dist.glob("*.rpm")
    return rpm


def test_service_app_direct_and_from_srpm_ships_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tools("rpmbuild", *redhat.TOOLS)
    manifest = make_smallapp(tmp_path / "app", extra_manifest=SERVICE, extra_files=FILES)
    (tmp_path / "app" / "conf" / "smallapp.service").write_text(UNIT)
    debian = redhat.shipped(_build(manifest, tmp_path / "debian"))
    assert any("/site-packages/" in p and p.endswith(".so") for p in debian)

    home = redhat.home(tmp_path / "home")
    monkeypatch.setenv("HOME", str(home))
    assert redhat.shipped(_build(manifest, tmp_path / "redhat")) == debian
    assert main(["build", str(manifest), "--srpm", "-o", str(tmp_path / "srpm"), "-q"]) == 0
    (srpm,) = (tmp_path / "srpm").glob("*.src.rpm")
    top = tmp_path / "farm"
    rebuild = subprocess.run(
        ["unshare", "-n", "rpmbuild", "--rebuild", "--nodeps", "--define", f"_topdir {top}", str(srpm)],
        capture_output=True, text=True, env={**os.environ, "HOME": str(home)},
    )  # fmt: skip
    log = rebuild.stdout + rebuild.stderr
    assert rebuild.returncode == 0, log[-3000:]
    # the farm's rpmbuild ran under Fedora's configuration (test_redhat_postprocess shows
    # each step of it acting on a payload that is not neutralised)
    on = subprocess.run(["rpm", "--eval", "%{_enable_debug_packages} %{_build_id_links}"],
                        capture_output=True, text=True, env={**os.environ, "HOME": str(home)})  # fmt: skip
    assert on.stdout.split() == ["1", "compat"]
    (rebuilt,) = (top / "RPMS").rglob("*.rpm")  # one package: no -debuginfo, no -debugsource
    assert redhat.shipped(rebuilt) == debian


@pytest.mark.parametrize("app", ["pgapp", "numpyapp", "httpie"])
def test_real_apps_ship_the_same_files(tmp_path: Path, app: str) -> None:
    """pgapp: psycopg2 compiled from its sdist (a C extension); numpyapp: prebuilt ELF objects
        with an $ORIGIN RPATH and bundled libraries; httpie: man pages linked into /usr/share/man
        (what brp-compress would gzip). Both are rebuilt from their source RPM too: the farm's
    %install runs find-debuginfo over the bundled libraries."""
    require_tools("rpmbuild", "gcc", "pg_config", "unshare", *redhat.TOOLS)
    manifest = realapps.prepare(app, tmp_path / app)
    home = redhat.home(tmp_path / "home")
    shipped = []
    for config in ("debian", "redhat"):
        env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
        if config == "redhat":
            env["HOME"] = str(home)
        built = realapps.build_offline(manifest, tmp_path / config, env, "-q")
        assert built.returncode == 0, built.stderr[-3000:]
        (rpm,) = (tmp_path / config).glob("*.rpm")
        shipped.append(redhat.shipped(rpm))
    assert shipped[0] == shipped[1]
    if app == "pgapp":
        assert any(p.endswith(".so") and "psycopg2" in p for p in shipped[0])
        return
    if app == "numpyapp":
        libs = [p for p in shipped[0] if "/site-packages/numpy.libs/" in p]
        assert {re.sub(r"-[0-9a-f]{8}.*", "", p.rsplit("/", 1)[1]) for p in libs} == {
            "libgfortran", "libquadmath", "libscipy_openblas64_"
        }, libs  # fmt: skip
        assert not [p for p in shipped[0] if "/.build-id/" in p or "/debug/" in p]
        # nothing of either build's paths (rpmbuild's BUILDROOT, this test's) reaches a file
        for config in ("debian", "redhat"):
            (rpm,) = (tmp_path / config).glob("*.rpm")
            assert_no_build_path(rpm, tmp_path / f"{config}-payload", tmp_path)
    else:
        assert shipped[0]["/usr/share/man/man1/http.1"][2].startswith("../")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000", "HOME": str(home)}
    srpm = realapps.build_offline(manifest, tmp_path / "srpm", env, "-q", "--srpm")
    assert srpm.returncode == 0, srpm.stderr[-3000:]
    (source,) = (tmp_path / "srpm").glob("*.src.rpm")
    top = tmp_path / "farm"
    rebuild = subprocess.run(
        ["unshare", "-n", "rpmbuild", "--rebuild", "--nodeps", "--define", f"_topdir {top}", str(source)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert rebuild.returncode == 0, (rebuild.stdout + rebuild.stderr)[-3000:]
    (rebuilt,) = (top / "RPMS").rglob("*.rpm")  # one package: no -debuginfo
    assert redhat.shipped(rebuilt) == shipped[0]
    if app == "numpyapp":
        assert_no_build_path(rebuilt, tmp_path / "farm-payload", tmp_path)


def assert_no_build_path(rpm: Path, dest: Path, work: Path) -> None:
    """No file of *rpm* holds *work* (where it was built) or rpmbuild's BUILDROOT."""
    dest.mkdir()
    with subprocess.Popen(["rpm2cpio", str(rpm)], stdout=subprocess.PIPE) as payload:
        subprocess.run(["cpio", "-idm", "--quiet"], stdin=payload.stdout, cwd=dest, check=True)
    assert payload.returncode == 0
    leaks = (str(work).encode(), b"/BUILDROOT/", b"/rpmbuild/BUILD/")
    found = []
    for path in dest.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path.relative_to(dest)}: {leak!r}" for leak in leaks if leak in data]
    assert found == [], found[:10]
