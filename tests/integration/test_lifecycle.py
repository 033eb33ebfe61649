"""The operator's lifecycle in a real root: install, edit config, upgrade, downgrade, erase.

The root has systemd installed but not booted (as in image builds and containers): enabling
works offline, restarting cannot, and nothing may fail because of it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import target
from tests.support.apps import make_smallapp
from venvrpm import rpmbuild
from venvrpm.cli import main
from venvrpm.errors import ToolMissingError

pytestmark = pytest.mark.integration

UNIT = "[Unit]\nDescription=smallapp\n[Service]\nExecStart=/usr/bin/smallapp\nUser=smallapp\n[Install]\nWantedBy=multi-user.target\n"
SERVICE = """\
user:
  name: smallapp
  home: /var/lib/smallapp
dirs:
  - path: /var/lib/smallapp
    mode: "0750"
    owner: smallapp
    group: smallapp
  - path: /var/log/smallapp
    owner: smallapp
    group: smallapp
services:
  - unit: smallapp.service
    enable: true
changelog:
  - date: 2026-11-20
    author: Ops <ops@example.invalid>
    text: Lifecycle test build.
"""
FILES = """\
  - src: conf/smallapp.service
    dest: /usr/lib/systemd/system/smallapp.service
  - dest: /var/log/smallapp/smallapp.log
    ghost: true
    owner: smallapp
    group: smallapp
"""
V1_ONLY = """\
  - src: conf/smallapp.conf
    dest: /etc/smallapp/v1-only.conf
"""


def build(root: Path, version: str, *, v1: bool) -> Path:
    manifest = make_smallapp(
        root, version=version, extra_manifest=SERVICE,
        entry_points="[smallapp, tinydep-tool]" if v1 else "[smallapp]",
        extra_files=FILES + (V1_ONLY if v1 else ""),
        config_text="colour = blue\n" if v1 else "colour = green\nsize = 2\n",
    )  # fmt: skip
    (root / "conf" / "smallapp.service").write_text(UNIT)
    assert main(["build", str(manifest), "-o", str(root / "dist"), "-q"]) == 0
    (rpm,) = (root / "dist").glob("*.rpm")
    return rpm


def sh(root: Path, *argv: str) -> str:
    result = target.chroot(root, *argv)
    return result.stdout.strip()


def stat_of(root: Path, path: str) -> tuple[str, str, str]:
    out = sh(root, "stat", "-c", "%U %G %a", path).split()
    return out[0], out[1], out[2]


def test_install_upgrade_downgrade_erase(tmp_path: Path) -> None:
    v1 = build(tmp_path / "v1", "1.0.0", v1=True)
    v2 = build(tmp_path / "v2", "2.0.0", v1=False)
    root = target.fresh_root(tmp_path / "root")
    before = target.snapshot(root)

    # install v1: user, owned dirs, unit enabled, entry point runs, rpm -V clean
    install = target.rpm(root, "-i", str(v1), check=False)
    assert install.returncode == 0, install.stderr
    assert sh(root, "getent", "passwd", "smallapp").startswith("smallapp:")
    assert stat_of(root, "/var/lib/smallapp") == ("smallapp", "smallapp", "750")
    assert stat_of(root, "/var/log/smallapp")[:2] == ("smallapp", "smallapp")
    assert sh(root, "systemctl", "is-enabled", "smallapp.service") == "enabled"
    assert target.chroot(root, "/usr/bin/smallapp").returncode == 0
    verify = target.rpm(root, "-V", "smallapp", check=False)
    assert (verify.returncode, verify.stdout) == (0, ""), verify.stdout

    # the operator edits the config
    conf = root / "etc/smallapp/smallapp.conf"
    conf.write_text(conf.read_text() + "# edited by the operator\n")

    # upgrade to v2: edited config kept, new default beside it, v1-only files gone,
    # restart attempted (systemd is not running here: said so, no failure)
    upgrade = target.rpm(root, "-U", str(v2), check=False)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "# edited by the operator" in conf.read_text()
    assert (root / "etc/smallapp/smallapp.conf.rpmnew").read_text() == "colour = green\nsize = 2\n"
    assert "smallapp.conf created as /etc/smallapp/smallapp.conf.rpmnew" in upgrade.stderr
    assert "systemd is not running; restart smallapp.service yourself" in upgrade.stderr
    assert not (root / "usr/bin/tinydep-tool").exists()
    assert not (root / "etc/smallapp/v1-only.conf").exists()
    assert target.rpm(root, "-q", "smallapp").stdout.strip() == "smallapp-2.0.0-1.x86_64"
    assert target.chroot(root, "/usr/bin/smallapp").returncode == 0
    assert sh(root, "systemctl", "is-enabled", "smallapp.service") == "enabled"
    verify = target.rpm(root, "-V", "smallapp", check=False)
    assert [line.split()[-1] for line in verify.stdout.splitlines()] == [
        "/etc/smallapp/smallapp.conf"
    ]

    # downgrade with --oldpackage
    down = target.rpm(root, "-U", "--oldpackage", str(v1), check=False)
    assert down.returncode == 0, down.stderr
    assert target.rpm(root, "-q", "smallapp").stdout.strip() == "smallapp-1.0.0-1.x86_64"
    assert target.chroot(root, "/usr/bin/tinydep-tool").stdout == "tinydep 1.0\n"

    # erase: prefix and owned dirs gone, edited config saved, user kept, unit disabled
    erase = target.rpm(root, "-e", "smallapp", check=False)
    assert erase.returncode == 0, erase.stderr
    assert not (root / "opt/smallapp").exists()
    assert not (root / "var/lib/smallapp").exists() and not (root / "var/log/smallapp").exists()
    assert "# edited by the operator" in (root / "etc/smallapp/smallapp.conf.rpmsave").read_text()
    assert sh(root, "getent", "passwd", "smallapp").startswith("smallapp:")
    assert not (root / "etc/systemd/system/multi-user.target.wants/smallapp.service").exists()
    changed = {p for p in set(target.snapshot(root)) ^ set(before)}
    expected = {
        "etc/smallapp",
        "etc/smallapp/smallapp.conf.rpmsave",
        "etc/smallapp/smallapp.conf.rpmnew",
    }
    accounts = {
        p
        for p in changed
        if p.split("/")[-1].rstrip("-")
        in ("passwd", "group", "shadow", "gshadow", "subuid", "subgid")
    }
    assert changed - accounts <= expected, changed - accounts - expected


def test_bundled_distributions_are_provided_and_listed(tmp_path: Path) -> None:
    import json

    rpm = build(tmp_path / "app", "1.0.0", v1=True)
    provides = subprocess.run(
        ["rpm", "-qp", "--provides", str(rpm)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for dist in (
        "tinydep = 1.0",
        "awkward-data = 1.0",
        "tinynative = 1.0",
        "sdistonly = 2.0",
        "smallapp = 1.0.0",
    ):
        name, version = dist.split(" = ")
        assert f"bundled(python3dist({name})) = {version}" in provides
    root = target.fresh_root(tmp_path / "root")
    assert target.rpm(root, "-i", str(rpm), check=False).returncode == 0
    found = target.rpm(root, "-q", "--whatprovides", "bundled(python3dist(tinydep))")
    assert found.stdout.strip() == "smallapp-1.0.0-1.x86_64"
    listed = json.loads((root / "usr/share/doc/smallapp/bundled-distributions.json").read_text())
    by_name = {d["name"]: d for d in listed["distributions"]}
    assert by_name["tinydep"]["version"] == "1.0" and by_name["tinydep"]["origin"] == "lock"
    assert by_name["tinydep"]["hashes"][0].startswith("sha256:")
    assert by_name["smallapp"]["origin"] == "project"
    docs = target.rpm(root, "-qd", "smallapp").stdout.split()
    assert "/usr/share/doc/smallapp/bundled-distributions.json" in docs


def test_spec_only_writes_the_spec_and_no_rpm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spec signs nothing: a signing key in the environment asks for no rpmsign."""
    manifest = make_smallapp(tmp_path / "app")
    monkeypatch.setenv("VENVRPM_SIGN_KEY", "ops@example.invalid")

    def no_rpmsign(runner: object) -> None:
        raise ToolMissingError("rpmsign is not installed", "a host without rpm-sign")

    monkeypatch.setattr(rpmbuild, "find_signing", no_rpmsign)
    assert main(["build", str(manifest), "-o", str(tmp_path / "out"), "--spec-only"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out" / "smallapp.spec")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["smallapp.spec"]
    text = (tmp_path / "out" / "smallapp.spec").read_text()
    assert "Name:           smallapp" in text and '"/opt/smallapp/bin/smallapp"' in text


def throwaway_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A passphrase-less signing key in a private GNUPGHOME; returns its exported public key."""
    gnupg = tmp_path / "gnupg"
    gnupg.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(gnupg))
    subprocess.run(
        ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key",
         "venvrpm test <signing@example.invalid>", "rsa2048", "sign", "never"],
        check=True, capture_output=True,
    )  # fmt: skip
    public = tmp_path / "public.asc"
    exported = subprocess.run(["gpg", "--armor", "--export", "signing@example.invalid"],
                              check=True, capture_output=True)  # fmt: skip
    public.write_bytes(exported.stdout)
    return public


def signed_build(manifest: Path, dist: Path) -> Path:
    """Build *manifest* signed with throwaway_key's key; return the RPM."""
    assert (
        main(["build", str(manifest), "-o", str(dist), "-q", "--sign", "signing@example.invalid"])
        == 0
    )
    (rpm,) = dist.glob("*.rpm")
    return rpm


def test_signed_rpm_verifies_with_the_public_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = throwaway_key(tmp_path, monkeypatch)
    manifest = make_smallapp(tmp_path / "app")
    rpm = signed_build(manifest, tmp_path / "dist")
    root = target.fresh_root(tmp_path / "root")
    unknown = target.rpm(root, "-K", str(rpm), check=False)
    assert unknown.returncode != 0 and "SIGNATURES NOT OK" in unknown.stdout
    target.rpm(root, "--import", str(public))
    checked = target.rpm(root, "-K", str(rpm), check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "signatures OK" in checked.stdout
    install = target.rpm(root, "-i", str(rpm), check=False)
    assert install.returncode == 0, install.stderr


def test_signing_with_an_unknown_key_fails_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gnupg = tmp_path / "gnupg"
    gnupg.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(gnupg))
    manifest = make_smallapp(tmp_path / "app")
    assert (
        main(
            [
                "build",
                str(manifest),
                "-o",
                str(tmp_path / "dist"),
                "--sign",
                "nobody@example.invalid",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "signing with nobody@example.invalid failed" in err and "Traceback" not in err
    assert not (tmp_path / "dist").exists() or list((tmp_path / "dist").iterdir()) == []


def test_rpmlint_finds_no_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fully specified, signed service RPM: zero rpmlint errors with venvrpm's configuration."""
    public = throwaway_key(tmp_path, monkeypatch)
    manifest = make_smallapp(
        tmp_path / "app", extra_manifest=SERVICE + "packager: Ops <ops@example.invalid>\ngroup: Applications/System\n",
        extra_files=FILES,
    )  # fmt: skip
    (tmp_path / "app" / "conf" / "smallapp.service").write_text(UNIT)
    rpm = signed_build(manifest, tmp_path / "dist")
    capsys.readouterr()
    # rpmlint checks the signature against rpm's keyring: a private one (rpm's dbpath is
    # relative to HOME on Debian; elsewhere it is set explicitly), never the machine's
    home = tmp_path / "home"
    home.mkdir()
    (home / ".rpmmacros").write_text(f"%_dbpath {home}/rpmdb\n")
    monkeypatch.setenv("HOME", str(home))
    subprocess.run(["rpm", "--initdb"], check=True)
    subprocess.run(["rpm", "--import", str(public)], check=True)
    code = main(["lint", str(rpm)])
    out = capsys.readouterr().out
    assert "0 errors" in out, out
    assert code == 0
    warnings = sorted({line.split()[2] for line in out.splitlines() if ": W: " in line})
    # every warning left is listed with its reason in docs/rpmlint.md
    documented = (Path(__file__).parents[2] / "docs" / "rpmlint.md").read_text()
    assert [w for w in warnings if f"`{w}`" not in documented] == []
