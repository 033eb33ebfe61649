"""A source RPM that a build farm rebuilds offline into an equivalent RPM."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import target
from tests.support.apps import make_smallapp
from venvrpm.cli import main

pytestmark = pytest.mark.integration


def q(rpm: Path, *args: str) -> list[str]:
    return sorted(
        subprocess.run(
            ["rpm", "-qp", *args, str(rpm)], capture_output=True, text=True, check=True
        ).stdout.splitlines()
    )


def test_srpm_rebuilds_offline_into_an_equivalent_rpm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_smallapp(tmp_path / "app")
    assert main(["build", str(app), "-o", str(tmp_path / "direct"), "-q"]) == 0
    assert main(["build", str(app), "--srpm", "-o", str(tmp_path / "srpm"), "-q"]) == 0
    (srpm,) = (tmp_path / "srpm").glob("*.src.rpm")
    assert q(srpm, "-l") == ["smallapp-kit.tar", "smallapp-src.spec", "venvrpm-toolchain.tar"]
    # the farm: no network; --nodeps only because this Debian host's rpmdb lists no
    # BuildRequires (a mock or Koji chroot installs them)
    top = tmp_path / "farm"
    rebuild = subprocess.run(
        ["unshare", "-n", "rpmbuild", "--rebuild", "--nodeps", "--define", f"_topdir {top}", str(srpm)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert rebuild.returncode == 0, rebuild.stdout[-3000:] + rebuild.stderr[-3000:]
    (rebuilt,) = (top / "RPMS").rglob("*.rpm")
    (direct,) = (tmp_path / "direct").glob("*.rpm")
    for what in ("-l", "--requires", "--provides", "--scripts", "--changelog"):
        assert q(rebuilt, what) == q(direct, what), what
    root = target.fresh_root(tmp_path / "root")
    assert target.rpm(root, "-i", str(rebuilt), check=False).returncode == 0
    run = target.chroot(root, "/usr/bin/smallapp")
    assert run.returncode == 0 and '"native": 42' in run.stdout
    assert target.rpm(root, "-V", "smallapp", check=False).stdout == ""


def test_srpm_needs_a_wheelhouse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_smallapp(tmp_path / "app")
    app.write_text(app.read_text().replace("wheelhouse: wheels/\n", ""))
    assert main(["build", str(app), "--srpm", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "--srpm needs a wheelhouse" in err
