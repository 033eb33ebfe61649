"""Real applications built under Red Hat's rpmbuild configuration (tests/support/redhat/macros)
ship exactly the files they ship under Debian's: the hello-sized test app as a service, built
directly and rebuilt from its source RPM (the farm's %install runs the whole install-post
chain), and psycopg2 compiled from its sdist (a C extension). docs/rpmbuild.md says what may
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


def test_c_extension_from_sdist_ships_the_same_files(tmp_path: Path) -> None:
    require_tools("rpmbuild", "gcc", "pg_config", "unshare", *redhat.TOOLS)
    manifest = realapps.prepare("pgapp", tmp_path / "pgapp")
    shipped = []
    for config in ("debian", "redhat"):
        env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
        if config == "redhat":
            env["HOME"] = str(redhat.home(tmp_path / "home"))
        built = realapps.build_offline(manifest, tmp_path / config, env, "-q")
        assert built.returncode == 0, built.stderr[-3000:]
        (rpm,) = (tmp_path / config).glob("*.rpm")
        shipped.append(redhat.shipped(rpm))
    assert any(p.endswith(".so") and "psycopg2" in p for p in shipped[0])
    assert shipped[0] == shipped[1]
