"""Where a package may put files of its own on the target, and what belongs to the base system.

A manifest's ``files[].dest`` and ``dirs[].path`` become files and directories the RPM owns:
rpm installs over whatever is there, applies the manifest's mode and owner, and removes them on
erase. On a distribution whose base system rpm does not own (Debian with rpm, a debootstrap'd
root) nothing else stops ``dest: /etc/passwd``, and ``rpm -e`` then deletes /etc/passwd.

The rule (docs/manifest.md, docs/security.md):

1. a path lies below one of :data:`ROOTS`, the directories where packages add files of their
   own (FHS); ``/root``, ``/home``, ``/tmp``, ``/run``, ``/boot``, ``/usr/local``, ``/bin``
   (usrmerge's symlink) and the rest are refused;
2. it is not, and does not lie below, a path of :data:`BASE_SYSTEM`: the files and trees of the
   base system and of the administrator that applications never ship (accounts, login and
   authentication, the dynamic loader, shell start-up, name resolution, boot, the system's
   Python and shared libraries, the package managers' databases, the tools root runs);
3. a file does not lie directly in ``/usr/lib`` or ``/usr/lib64``, where the shared libraries
   and the loader are (an application's own go to ``/usr/lib/<name>/``).

Drop-in directories (``/etc/cron.d``, ``/etc/logrotate.d``, ``/etc/systemd/system``,
``/etc/profile.d``...) stay open: adding a file there is how a package integrates, and on
rpm-based systems rpm's own conflict check keeps any file another package owns.
"""

from __future__ import annotations

from pathlib import PurePosixPath

ROOTS: tuple[PurePosixPath, ...] = tuple(
    PurePosixPath(p)
    for p in (
        "/etc",
        "/opt",
        "/srv",
        "/usr/bin",
        "/usr/sbin",
        "/usr/libexec",
        "/usr/lib",
        "/usr/lib64",
        "/usr/share",
        "/var/cache",
        "/var/lib",
        "/var/log",
        "/var/opt",
        "/var/spool",
        "/var/www",
    )
)

# The interpreter and the tools root runs, refused in /usr/bin and /usr/sbin.
_PYTHON_BIN = "python python[0-9]* pip pip[0-9]* pydoc pydoc[0-9]* idle idle[0-9]*"
_CORE_BIN = """
    sh bash dash zsh ksh csh tcsh fish rbash nologin env sudo sudoedit su pkexec passwd login
    newgrp chsh chfn mount umount ldconfig ldd rpm rpmbuild dnf yum dpkg apt apt-get systemctl
    init useradd usermod userdel groupadd groupmod groupdel visudo ssh sshd crontab perl
    perl[0-9]* cp mv rm ls cat chmod chown ln mkdir install sed awk gawk grep find xargs tar
    gzip id getent true false test [ kill ps doas unix_chkpwd
"""


def _bin(names: str) -> str:
    return " ".join(f"{d}/{n}" for d in ("/usr/bin", "/usr/sbin") for n in names.split())


# What each group is, and glob patterns matched against the path and each of its parents
# (pathlib's match: '*' and '[...]' never cross a '/'); an entry names a file or a whole tree.
BASE_SYSTEM: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (what, tuple(patterns.split()))
    for what, patterns in (
        (
            "the system's accounts",
            "/etc/passwd /etc/shadow /etc/group /etc/gshadow /etc/subuid /etc/subgid "
            "/etc/passwd- /etc/shadow- /etc/group- /etc/gshadow- /etc/subuid- /etc/subgid-",
        ),
        (
            "the system's login and authentication",
            "/etc/pam.d /etc/security /etc/ssh /etc/sudoers /etc/sudoers.d /etc/sudo.conf "
            "/etc/sudo_logsrvd.conf /etc/doas.conf /etc/krb5.conf /etc/krb5.conf.d /etc/selinux "
            "/usr/libexec/openssh "
            "/etc/login.defs /etc/shells /etc/securetty /etc/polkit-1 /usr/share/polkit-1/rules.d "
            "/usr/lib/security /usr/lib64/security /usr/lib/*-linux-gnu*/security /usr/lib/pam.d",
        ),
        (
            "the system's dynamic loader",
            "/etc/ld.so.preload /etc/ld.so.conf /etc/ld.so.cache /usr/lib/ld-* /usr/lib64/ld-* "
            "/usr/lib/gconv /usr/lib64/gconv /usr/lib/*-linux-gnu*/gconv",
        ),
        (
            "the system's trust and package sources",
            # what the system trusts (TLS, package signatures) and where it installs from
            "/etc/pki /etc/ssl /etc/ca-certificates /etc/ca-certificates.conf "
            "/usr/share/ca-certificates /usr/share/pki /etc/apt /etc/yum.repos.d /etc/yum.conf "
            "/etc/dnf /etc/zypp /etc/rpm",
        ),
        (
            "the system's shell start-up",
            "/etc/profile /etc/bashrc /etc/bash.bashrc /etc/csh.cshrc /etc/csh.login /etc/zshrc "
            "/etc/zprofile /etc/zsh /etc/environment /etc/inputrc /etc/skel",
        ),
        (
            "the system's scheduler",
            "/etc/crontab /etc/anacrontab /var/spool/cron /var/spool/at /var/spool/anacron",
        ),
        (
            "the system's identity, names, mounts and boot",
            "/etc/hosts /etc/hostname /etc/hosts.allow /etc/hosts.deny /etc/resolv.conf "
            "/etc/nsswitch.conf /etc/fstab /etc/crypttab /etc/mtab /etc/os-release "
            "/usr/lib/os-release /etc/machine-id /etc/localtime /etc/timezone /etc/locale.conf "
            "/etc/vconsole.conf /etc/adjtime /etc/sysctl.conf /etc/inittab /etc/rc.local "
            "/etc/alternatives /etc/systemd/system.conf /etc/systemd/user.conf "
            "/etc/systemd/journald.conf /etc/systemd/logind.conf /etc/default/grub /etc/grub.d "
            "/etc/grub2.cfg",
        ),
        (
            "the system's Python",
            "/usr/lib/python[0-9]* /usr/lib64/python[0-9]* /usr/share/python[0-9]* "
            # EL8's system interpreter lives in libexec
            "/usr/include/python[0-9]* /usr/libexec/platform-python* " + _bin(_PYTHON_BIN),
        ),
        ("the system's core tools", _bin(_CORE_BIN)),
        (
            "the system's libraries, kernel modules and service manager",
            "/usr/lib/*-linux-gnu* /usr/lib/modules /usr/lib/firmware /usr/lib/sysimage "
            "/usr/lib/rpm /usr/lib/systemd/systemd* /usr/libexec/sudo",
        ),
        (
            "the package managers' databases",
            "/var/lib/rpm /var/lib/dpkg /var/lib/apt /var/lib/dnf /var/lib/yum "
            "/var/lib/alternatives /var/lib/systemd /var/lib/polkit-1 /var/lib/sss /var/lib/pam "
            "/var/lib/sudo",
        ),
        (
            "the system's logs",
            "/var/log/wtmp /var/log/btmp /var/log/lastlog /var/log/faillog /var/log/messages "
            "/var/log/secure /var/log/auth.log /var/log/syslog /var/log/audit /var/log/journal",
        ),
    )
)

_LIBRARY_DIRS = (PurePosixPath("/usr/lib"), PurePosixPath("/usr/lib64"))


def refusal(path: PurePosixPath, *, directory: bool) -> str | None:
    """Why the package may not own *path* (absolute and normalised), or None when it may."""
    if not any(root in path.parents for root in ROOTS):
        roots = ", ".join(str(r) for r in ROOTS)
        return f"is outside the directories where packages add files of their own ({roots})"
    for what, patterns in BASE_SYSTEM:
        for candidate in (path, *path.parents):
            if any(candidate.match(pattern) for pattern in patterns):
                if candidate == path:
                    return f"belongs to {what}"
                return f"lies in {candidate}, which belongs to {what}"
    if not directory and path.parent in _LIBRARY_DIRS:
        return (
            f"lies directly in {path.parent}, which belongs to the system's shared libraries: "
            f"use {path.parent}/<name>/"
        )
    return None
