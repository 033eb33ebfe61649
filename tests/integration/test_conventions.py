"""The Red Hat family's conventions in venvrpm's scriptlets, run by rpm in the bookworm root with
and without the tools they use (docs/services.md): SELinux file-context equivalence for a
prefix outside /opt, the service account through sysusers.d, restarts deferred through
systemd-update-helper. The root has no SELinux: semanage, restorecon and selinuxenabled are
stand-ins that record their arguments; systemd-sysusers is the root's own, wrapped to record
that it ran."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_lifecycle import build
from tests.support import target
from tests.support.apps import make_smallapp
from venvrpm.cli import main

pytestmark = pytest.mark.integration

LOG = "/var/tmp/recorded.log"


def _recorder(root: Path, path: str, then: str = "exit 0") -> None:
    """A stand-in at *path* in *root* that appends its name and arguments to LOG."""
    tool = root / path.lstrip("/")
    tool.parent.mkdir(parents=True, exist_ok=True)
    tool.write_text(f'#!/bin/sh\necho "$(basename "$0") $*" >> {LOG}\n{then}\n')
    tool.chmod(0o755)


def _recorded(root: Path) -> list[str]:
    log = root / LOG.lstrip("/")
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def test_a_prefix_outside_opt_gets_the_selinux_label_of_opt(tmp_path: Path) -> None:
    manifest = make_smallapp(tmp_path / "app", extra_manifest="prefix: /srv/smallapp\n")
    assert main(["build", str(manifest), "-o", str(tmp_path / "dist"), "-q"]) == 0
    (rpm,) = (tmp_path / "dist").glob("*.rpm")
    root = target.fresh_root(tmp_path / "root")

    # no SELinux tools at all (Debian, a container): nothing said, nothing done
    install = target.rpm(root, "-i", str(rpm), check=False)
    assert install.returncode == 0, install.stderr
    assert "SELinux" not in install.stderr
    assert target.rpm(root, "-e", "smallapp", check=False).returncode == 0

    # SELinux on, semanage missing (a minimal EL): the operator is told the exact commands
    _recorder(root, "/usr/sbin/selinuxenabled")
    install = target.rpm(root, "-i", str(rpm), check=False)
    assert install.returncode == 0, install.stderr
    assert (
        "smallapp: SELinux is on and semanage is missing: run semanage fcontext -a -e /opt "
        "/srv/smallapp && restorecon -R /srv/smallapp" in install.stderr
    )
    assert target.rpm(root, "-e", "smallapp", check=False).returncode == 0
    _recorded(root)

    # the tools present: the equivalence is declared and the prefix relabelled; erase undoes it
    _recorder(root, "/usr/sbin/semanage")
    _recorder(root, "/usr/sbin/restorecon")
    install = target.rpm(root, "-i", str(rpm), check=False)
    assert install.returncode == 0, install.stderr
    assert _recorded(root) == [
        "semanage fcontext -a -e /opt /srv/smallapp",
        "restorecon -R /srv/smallapp",
    ]
    assert target.chroot(root, "/usr/bin/smallapp").returncode == 0
    # an upgrade (here: a reinstall) keeps the equivalence
    assert target.rpm(root, "-U", "--replacepkgs", str(rpm), check=False).returncode == 0
    assert "semanage fcontext -d -e /opt /srv/smallapp" not in _recorded(root)
    assert target.rpm(root, "-e", "smallapp", check=False).returncode == 0
    assert _recorded(root) == ["semanage fcontext -d -e /opt /srv/smallapp"]


def _passwd(root: Path) -> list[str]:
    entry = target.chroot(root, "getent", "passwd", "smallapp").stdout.strip().split(":")
    return [entry[0], *entry[4:]]  # name, comment, home, shell (ids differ by tool)


@pytest.mark.parametrize("systemd", ["with", "without"])
def test_users_and_restarts_follow_systemd_where_it_is(tmp_path: Path, systemd: str) -> None:
    v1 = build(tmp_path / "v1", "1.0.0", v1=True)
    v2 = build(tmp_path / "v2", "2.0.0", v1=False)
    root = target.fresh_root(tmp_path / "root")
    sysusers = root / "usr/bin/systemd-sysusers"
    assert sysusers.is_file(), "the bookworm root has systemd-sysusers"
    if systemd == "with":
        sysusers.rename(sysusers.with_name("systemd-sysusers.real"))
        _recorder(root, "/usr/bin/systemd-sysusers", 'exec /usr/bin/systemd-sysusers.real "$@"')
        _recorder(root, "/usr/lib/systemd/systemd-update-helper")
    else:
        sysusers.unlink()

    install = target.rpm(root, "-i", str(v1), check=False)
    assert install.returncode == 0, install.stderr
    assert _passwd(root) == [
        "smallapp",
        "smallapp service account",
        "/var/lib/smallapp",
        "/usr/sbin/nologin",
    ]
    assert (root / "usr/lib/sysusers.d/smallapp.conf").read_text().splitlines()[1] == (
        'u smallapp - "smallapp service account" /var/lib/smallapp /usr/sbin/nologin'
    )
    recorded = _recorded(root)
    if systemd == "with":
        assert recorded == ["systemd-sysusers --replace=/usr/lib/sysusers.d/smallapp.conf -"]
    else:
        assert recorded == []

    upgrade = target.rpm(root, "-U", str(v2), check=False)
    assert upgrade.returncode == 0, upgrade.stderr
    recorded = _recorded(root)
    if systemd == "with":
        # the restart is left to the end of the transaction, and nothing is said
        assert "systemd-update-helper mark-restart-system-units smallapp.service" in recorded
        assert "restart smallapp.service yourself" not in upgrade.stderr
    else:
        # no helper, and no running systemd in this root: the operator restarts
        assert (
            "smallapp: systemd is not running; restart smallapp.service yourself" in upgrade.stderr
        )
    assert target.rpm(root, "-e", "smallapp", check=False).returncode == 0
    assert not (root / "usr/lib/sysusers.d/smallapp.conf").exists()
    assert _passwd(root)[0] == "smallapp", "the account stays (files may still be its)"
