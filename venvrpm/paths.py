"""Facts about target paths shared by the manifest checks and the payload inventory. Pure."""

from __future__ import annotations

import posixpath
from pathlib import PurePosixPath

# Directories that belong to the base system (filesystem, systemd, ...) on Fedora/RHEL and
# Debian alike. A package must never own them: RHEL 8+ refuses two owners with different
# attributes, and erasing our package must never try to remove them.
SYSTEM_DIRS: frozenset[PurePosixPath] = frozenset(
    PurePosixPath(p)
    for p in (
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/etc/cron.d",
        "/etc/default",
        "/etc/logrotate.d",
        "/etc/pki",
        "/etc/profile.d",
        "/etc/security",
        "/etc/ssl",
        "/etc/sudoers.d",
        "/etc/sysconfig",
        "/etc/sysctl.d",
        "/etc/systemd",
        "/etc/systemd/system",
        "/etc/tmpfiles.d",
        "/home",
        "/lib",
        "/lib64",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/usr/bin",
        "/usr/include",
        "/usr/lib",
        "/usr/lib/systemd",
        "/usr/lib/systemd/system",
        "/usr/lib/sysusers.d",
        "/usr/lib/tmpfiles.d",
        "/usr/lib64",
        "/usr/libexec",
        "/usr/local",
        "/usr/local/bin",
        "/usr/local/lib",
        "/usr/sbin",
        "/usr/share",
        "/usr/share/doc",
        "/usr/share/licenses",
        "/usr/share/man",
        "/usr/share/man/man1",
        "/usr/share/man/man5",
        "/usr/share/man/man8",
        "/var",
        "/var/cache",
        "/var/lib",
        "/var/log",
        "/var/opt",
        "/var/run",
        "/var/spool",
        "/var/tmp",
        # shared drop-in directories of other packages (completion, desktop, udev, ...)
        "/etc/bash_completion.d",
        "/etc/cron.daily",
        "/etc/cron.hourly",
        "/etc/cron.monthly",
        "/etc/cron.weekly",
        "/etc/environment.d",
        "/etc/httpd",
        "/etc/httpd/conf.d",
        "/etc/ld.so.conf.d",
        "/etc/modules-load.d",
        "/etc/nginx",
        "/etc/nginx/conf.d",
        "/etc/rsyslog.d",
        "/etc/systemd/user",
        "/etc/udev",
        "/etc/udev/rules.d",
        "/etc/xdg",
        "/etc/xdg/autostart",
        "/etc/yum.repos.d",
        "/usr/lib/environment.d",
        "/usr/lib/modules-load.d",
        "/usr/lib/sysctl.d",
        "/usr/lib/systemd/system-preset",
        "/usr/lib/systemd/user",
        "/usr/lib/systemd/user-preset",
        "/usr/lib/udev",
        "/usr/lib/udev/rules.d",
        "/usr/local/sbin",
        "/usr/local/share",
        "/usr/share/applications",
        "/usr/share/bash-completion",
        "/usr/share/bash-completion/completions",
        "/usr/share/fish",
        "/usr/share/fish/vendor_completions.d",
        "/usr/share/icons",
        "/usr/share/info",
        "/usr/share/locale",
        "/usr/share/man/man2",
        "/usr/share/man/man3",
        "/usr/share/man/man4",
        "/usr/share/man/man6",
        "/usr/share/man/man7",
        "/usr/share/metainfo",
        "/usr/share/pixmaps",
        "/usr/share/polkit-1",
        "/usr/share/zsh",
        "/usr/share/zsh/site-functions",
    )
)

BINDIR = PurePosixPath("/usr/bin")


def is_normalised_absolute(path: str) -> bool:
    """True for ``/a/b``; false for relative paths, ``..``, ``.``, ``//``, trailing ``/``."""
    if not path.startswith("/") or path.startswith("//") or path == "/":
        return False
    return posixpath.normpath(path) == path


def bad_characters(name: str) -> list[str]:
    """Characters an RPM file list or header cannot carry: controls (tab, newline, DEL...)."""
    return sorted({repr(ch) for ch in name if ord(ch) < 0x20 or ord(ch) == 0x7F})


def owned_parents(path: PurePosixPath, stop_at: PurePosixPath | None = None) -> list[PurePosixPath]:
    """Directories above *path* that the package creates and so must own, outermost first.

    Every ancestor below the nearest system directory (``/etc/app`` for ``/etc/app/a.conf``).
    """
    owned: list[PurePosixPath] = []
    for parent in path.parents:
        if parent in SYSTEM_DIRS or parent == stop_at:
            break
        owned.append(parent)
    return list(reversed(owned))


def is_within(path: PurePosixPath, root: PurePosixPath) -> bool:
    """True when *path* is *root* or lies below it."""
    return path == root or root in path.parents


def preset_path(package: str) -> PurePosixPath:
    """The systemd preset venvrpm generates for *package*'s services."""
    return PurePosixPath("/usr/lib/systemd/system-preset") / f"50-{package}.preset"


def sysusers_path(package: str) -> PurePosixPath:
    """The sysusers.d file venvrpm ships for *package*'s service account."""
    return PurePosixPath("/usr/lib/sysusers.d") / f"{package}.conf"
