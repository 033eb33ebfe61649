"""The rule for where a package's files may go: each class of the base system is refused."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from venvrpm.basesystem import BASE_SYSTEM, refusal


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/etc/passwd", "belongs to the system's accounts"),
        ("/etc/gshadow-", "belongs to the system's accounts"),
        ("/etc/sudoers.d/app", "lies in /etc/sudoers.d, which belongs to the system's login"),
        ("/etc/pam.d/login", "lies in /etc/pam.d, which belongs to the system's login"),
        ("/etc/ld.so.preload", "belongs to the system's dynamic loader"),
        ("/etc/profile", "belongs to the system's shell start-up"),
        ("/etc/crontab", "belongs to the system's scheduler"),
        ("/var/spool/cron/root", "lies in /var/spool/cron, which belongs to the system's scheduler"),
        ("/etc/resolv.conf", "belongs to the system's identity"),
        ("/etc/os-release", "belongs to the system's identity"),
        ("/usr/lib/python3.11/site-packages/x.pth", "lies in /usr/lib/python3.11, which belongs to the system's Python"),
        ("/usr/lib64/python3.12/os.py", "which belongs to the system's Python"),
        ("/usr/lib/python3/dist-packages/x.pth", "which belongs to the system's Python"),
        ("/usr/bin/python3", "belongs to the system's Python"),
        ("/usr/bin/python3.11", "belongs to the system's Python"),
        ("/usr/bin/python", "belongs to the system's Python"),
        ("/usr/bin/pip3", "belongs to the system's Python"),
        ("/usr/libexec/platform-python3.6", "belongs to the system's Python"),  # EL8's
        # found by the red team: trust stores, root-code loaders, package sources, tools
        ("/etc/pki/tls/certs/ca-bundle.crt", "which belongs to the system's trust"),
        ("/etc/ssl/certs/ca-certificates.crt", "which belongs to the system's trust"),
        ("/etc/pki/ca-trust/source/anchors/x.pem", "which belongs to the system's trust"),
        ("/etc/sudo.conf", "belongs to the system's login"),
        ("/usr/lib64/gconv/gconv-modules", "which belongs to the system's dynamic loader"),
        ("/usr/libexec/openssh/sftp-server", "which belongs to the system's login"),
        ("/etc/krb5.conf", "belongs to the system's login"),
        ("/etc/apt/sources.list", "which belongs to the system's trust and package sources"),
        ("/etc/yum.repos.d/x.repo", "which belongs to the system's trust and package sources"),
        ("/usr/sbin/unix_chkpwd", "belongs to the system's core tools"),
        ("/usr/bin/doas", "belongs to the system's core tools"),
        ("/usr/bin/sh", "belongs to the system's core tools"),
        ("/usr/bin/env", "belongs to the system's core tools"),
        ("/usr/bin/sudo", "belongs to the system's core tools"),
        ("/usr/sbin/useradd", "belongs to the system's core tools"),
        ("/usr/lib/x86_64-linux-gnu/libc.so.6", "which belongs to the system's libraries"),
        ("/usr/lib/modules/6.1/extra/x.ko", "which belongs to the system's libraries"),
        ("/usr/lib64/libssl.so.3", "lies directly in /usr/lib64, which belongs to the system's shared libraries"),
        ("/usr/lib/libfoo.so", "lies directly in /usr/lib"),
        ("/var/lib/rpm/rpmdb.sqlite", "which belongs to the package managers' databases"),
        ("/var/log/wtmp", "belongs to the system's logs"),
        ("/root/.ssh/authorized_keys", "is outside the directories where packages add"),
        ("/home/user/x", "is outside the directories"),
        ("/tmp/x", "is outside the directories"),
        ("/boot/vmlinuz", "is outside the directories"),
        ("/bin/sh", "is outside the directories"),
        ("/lib64/ld-linux-x86-64.so.2", "is outside the directories"),
        ("/usr/local/bin/app", "is outside the directories"),
        ("/run/app.pid", "is outside the directories"),
    ],
)  # fmt: skip
def test_base_system_paths_are_refused_with_their_class(path: str, reason: str) -> None:
    why = refusal(PurePosixPath(path), directory=False)
    assert why is not None and reason in why


@pytest.mark.parametrize(
    "path",
    [
        "/etc/smallapp/app.conf",
        "/etc/cron.d/smallapp",
        "/etc/profile.d/smallapp.sh",
        "/etc/logrotate.d/smallapp",
        "/etc/default/smallapp",
        "/etc/systemd/system/smallapp.service.d/override.conf",
        "/usr/bin/smallapp",
        "/usr/bin/pythonista",
        "/usr/bin/pipeline",
        "/usr/lib/smallapp/helper",
        "/usr/lib/systemd/system/smallapp.service",
        "/usr/lib/tmpfiles.d/smallapp.conf",
        "/usr/lib/sysusers.d/smallapp.conf",
        "/usr/share/doc/smallapp/README",
        "/var/lib/smallapp/state",
        "/var/log/smallapp/app.log",
        "/var/spool/smallapp/queue",
        "/srv/data/smallapp-cache",
        "/opt/smallapp-data/x",
    ],
)
def test_an_application_own_paths_are_allowed(path: str) -> None:
    assert refusal(PurePosixPath(path), directory=False) is None


def test_an_application_directory_may_sit_directly_in_usr_lib() -> None:
    assert refusal(PurePosixPath("/usr/lib/smallapp"), directory=True) is None
    assert refusal(PurePosixPath("/usr/lib/smallapp"), directory=False) is not None


def test_every_pattern_is_absolute_and_normalised() -> None:
    for _, patterns in BASE_SYSTEM:
        for pattern in patterns:
            assert pattern.startswith("/") and "//" not in pattern and not pattern.endswith("/")
