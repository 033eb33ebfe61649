"""A source RPM that a build farm rebuilds offline into an equivalent RPM."""

from __future__ import annotations

import os
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


def _kit_members(srpm: Path, where: Path) -> dict[str, bytes]:
    """The files of the SRPM's kit tar, by name, read as a build farm unpacks them."""
    import tarfile

    where.mkdir()
    cpio = subprocess.run(["rpm2cpio", str(srpm)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=where, check=True)
    (tar,) = where.glob("*-kit.tar")
    with tarfile.open(tar) as archive:
        return {
            m.name: (archive.extractfile(m) or open(os.devnull, "rb")).read()
            for m in archive.getmembers()
            if m.isfile()
        }


def test_srpm_refuses_a_project_with_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """.env and .pypirc in a project that is not in git: refused, named, nothing delivered."""
    app = make_smallapp(tmp_path / "app")
    (app.parent / "project" / ".env").write_text("TOKEN=s3cret\n")
    (app.parent / "project" / ".pypirc").write_text("[pypi]\npassword = s3cret\n")
    assert main(["build", str(app), "--srpm", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "look like credentials" in err and ".env" in err and ".pypirc" in err
    assert "Traceback" not in err and "s3cret" not in err
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_srpm_ships_only_locked_regular_wheels_and_git_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wheelhouse link to a private key, a stray wheel, an ignored .env: none in the SRPM."""
    app = make_smallapp(tmp_path / "app")
    secret = tmp_path / "private.key"
    secret.write_text("PRIVATE-KEY-MATERIAL\n")
    (app.parent / "wheels" / "zz-1.0-py3-none-any.whl").symlink_to(secret)
    (app.parent / "wheels" / "stray-1.0-py3-none-any.whl").write_text("not locked\n")
    project = app.parent / "project"
    (project / ".gitignore").write_text(".env\n")
    (project / ".env").write_text("TOKEN=PRIVATE-KEY-MATERIAL\n")
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    assert main(["build", str(app), "--srpm", "-v", "-o", str(tmp_path / "srpm")]) == 0
    err = capsys.readouterr().err
    assert "project's chosen by git ls-files" in err and "kit: project/.gitignore" in err
    (srpm,) = (tmp_path / "srpm").glob("*.src.rpm")
    members = _kit_members(srpm, tmp_path / "unpacked")
    wheels = sorted(n for n in members if n.startswith("kit/wheels/"))
    assert wheels and not [n for n in wheels if "zz-" in n or "stray-" in n], wheels
    assert "kit/project/.env" not in members and "kit/project/.gitignore" in members
    assert not [n for n, data in members.items() if b"PRIVATE-KEY-MATERIAL" in data]
