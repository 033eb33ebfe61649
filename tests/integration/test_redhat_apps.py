"""Real applications built under Red Hat's rpmbuild configuration (tests/support/redhat/macros)
ship exactly the files they ship under Debian's: the hello-sized test app as a service, built
directly and rebuilt from its source RPM (the farm's %install runs the whole install-post
chain), psycopg2 compiled from its sdist (a C extension) and httpie (man pages linked into
/usr/share/man), built directly and from its source RPM. docs/rpmbuild.md says what may
differ: nothing in the payload."""

from __future__ import annotations

import os
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


@pytest.mark.parametrize("app", ["pgapp", "httpie"])
def test_real_apps_ship_the_same_files(tmp_path: Path, app: str) -> None:
    """pgapp: psycopg2 compiled from its sdist (a C extension); httpie: man pages linked into
    /usr/share/man (what brp-compress would gzip), rebuilt from its source RPM too."""
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
    (rebuilt,) = (top / "RPMS").rglob("*.rpm")
    assert redhat.shipped(rebuilt) == shipped[0]
