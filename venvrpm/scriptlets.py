"""venvrpm's own scriptlets and systemd preset: users, services, with ``$1`` handled. Pure.

``$1`` is the number of instances of the package left after the transaction: in %pre/%post
1 on install, 2 on upgrade; in %preun/%postun 0 on erase, 1 on upgrade. Every systemd call is
guarded: nothing fails where systemctl is missing, and nothing that needs a running systemd
(stop, restart, daemon-reload) is attempted when it is not running (containers, chroots,
image builds) -- rpm -i into a root must work.

The distributions' own conventions are followed where the target has their tools, found at
install time so one RPM serves EL 8 to Fedora (docs/rpmbuild.md, per-distribution facts):

* the service account is declared in ``/usr/lib/sysusers.d/NAME.conf`` and made in %pre by
  ``systemd-sysusers --replace`` (Fedora's %sysusers_create_package); without it, by
  groupadd/useradd (%sysusers_create_compat);
* an upgrade restarts the units once, at the end of the transaction, through
  ``systemd-update-helper`` (Fedora's %systemd_postun_with_restart, systemd >= 249); without
  it, ``try-restart`` in %postun;
* a prefix the SELinux targeted policy does not label like /opt (``/srv/app``: var_t, which
  systemd refuses to execute, status=203/EXEC) is declared equivalent to /opt with
  ``semanage fcontext -a -e`` and relabelled with ``restorecon`` in %post; the equivalence is
  removed on erase.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from venvrpm.manifest import Manifest, SystemUser
from venvrpm.paths import is_within, preset_path, sysusers_path

SECTIONS = ("pretrans", "pre", "post", "preun", "postun", "posttrans")
_HAS_SYSTEMCTL = "command -v systemctl >/dev/null 2>&1"
_SYSTEMD_RUNNING = "[ -d /run/systemd/system ]"
_UPDATE_HELPER = "/usr/lib/systemd/systemd-update-helper"
# Where the targeted policy labels a venv as it must be: /opt/(.*/)?bin(/.*)? and
# /usr/(.*/)?bin(/.*)? are bin_t, .../lib(/.*)? lib_t.
SELINUX_LABELLED = (PurePosixPath("/opt"), PurePosixPath("/usr"))
# sysusers.d fields are split at whitespace and may be quoted: values needing more are made
# with useradd alone.
_SYSUSERS_UNSAFE = frozenset(" \t\"'\\%$`")


def needs_selinux_equivalence(manifest: Manifest) -> bool:
    """True when the prefix lies outside what the SELinux targeted policy labels like /opt."""
    return not any(is_within(manifest.prefix, top) for top in SELINUX_LABELLED)


def sysusers(manifest: Manifest) -> tuple[PurePosixPath, str] | None:
    """The sysusers.d declaration of the manifest's ``user``, or None when there is none or it
    cannot be said in sysusers.d (a primary group of another name, quotes or blanks)."""
    user = manifest.user
    if user is None or not _sysusers_expressible(user):
        return None
    comment = user.comment or f"{manifest.name} service account"
    return (
        sysusers_path(manifest.name),
        f"# Shipped by {manifest.name}: its service account, made in %pre, never removed.\n"
        f'u {user.name} - "{comment}" {user.home} {user.shell}\n',
    )


def _sysusers_expressible(user: SystemUser) -> bool:
    # "u NAME -" makes the primary group NAME; other spellings of a group differ by systemd
    # version (EL 8 has 239)
    fields = (user.name, user.home, user.shell)
    return (
        user.group == user.name
        and not any(_SYSUSERS_UNSAFE.intersection(f) for f in fields)
        and not _SYSUSERS_UNSAFE.difference(" ").intersection(user.comment)
    )


def generated(manifest: Manifest) -> list[tuple[PurePosixPath, str]]:
    """The files venvrpm writes for the scriptlets: the services' preset, the sysusers.d file."""
    return [f for f in (preset(manifest), sysusers(manifest)) if f is not None]


def preset(manifest: Manifest) -> tuple[PurePosixPath, str] | None:
    """A systemd preset for services with an explicit ``enable``; admins' /etc presets win."""
    lines = [
        f"{'enable' if s.enable == 'yes' else 'disable'} {s.unit}"
        for s in manifest.services
        if s.enable != "preset"
    ]
    if not lines:
        return None
    path = preset_path(manifest.name)
    return (
        path,
        f"# Shipped by {manifest.name}; override in /etc/systemd/system-preset/.\n"
        + "\n".join(lines)
        + "\n",
    )


def own(manifest: Manifest) -> dict[str, str]:
    """venvrpm's scriptlet bodies by section."""
    out: dict[str, list[str]] = {s: [] for s in SECTIONS}
    user = manifest.user
    if user is not None:
        comment = user.comment or f"{manifest.name} service account"
        compat = [
            f"getent group {user.group} >/dev/null || groupadd -r {user.group}",
            f"getent passwd {user.name} >/dev/null || useradd -r -g {user.group} "
            f"-d {_quote(user.home)} -s {_quote(user.shell)} -c {_quote(comment)} {user.name}",
        ]
        out["pre"].append(
            "# the account is created when missing and never removed (files may still be its)"
        )
        declared = sysusers(manifest)
        if declared is None:
            out["pre"] += compat
        else:
            path, text = declared
            out["pre"] += [
                "# systemd-sysusers where the target has it (the file is not unpacked yet)",
                "if command -v systemd-sysusers >/dev/null 2>&1 && "
                f"systemd-sysusers --replace={path} - <<'VENVRPM_SYSUSERS'",
                *text.splitlines(),
                "VENVRPM_SYSUSERS",
                "then :; else",
                *(f"    {line}" for line in compat),
                "fi",
            ]
    if needs_selinux_equivalence(manifest):
        prefix = _quote(str(manifest.prefix))
        out["post"] += [
            f"# SELinux: label {manifest.prefix} as /opt (bin_t for bin/), or systemd cannot exec it",
            "if command -v semanage >/dev/null 2>&1; then",
            f"    semanage fcontext -a -e /opt {prefix} >/dev/null 2>&1 || :",
            f"    if command -v restorecon >/dev/null 2>&1; then restorecon -R {prefix} || :; fi",
            "elif command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled; then",
            # the prefix single-quoted between the double-quoted parts: printed, never expanded
            f'    echo "{manifest.name}: SELinux is on and semanage is missing: run '
            f'semanage fcontext -a -e /opt "{prefix}" && restorecon -R "{prefix}" '
            f'(dnf install policycoreutils-python-utils)" >&2',
            "fi",
        ]
        out["postun"] += [
            "# erase: the SELinux equivalence goes with the package",
            'if [ "$1" -eq 0 ] && command -v semanage >/dev/null 2>&1; then',
            f"    semanage fcontext -d -e /opt {prefix} >/dev/null 2>&1 || :",
            "fi",
        ]
    units = " ".join(s.unit for s in manifest.services)
    if units:
        out["post"] += [
            "# install: enable per the presets (works offline, in chroots too)",
            f'if [ "$1" -eq 1 ] && {_HAS_SYSTEMCTL}; then',
            f"    systemctl --no-reload preset {units} >/dev/null 2>&1 || :",
            "fi",
        ]
        out["preun"] += [
            "# erase: disable, and stop what runs",
            f'if [ "$1" -eq 0 ] && {_HAS_SYSTEMCTL}; then',
            f"    systemctl --no-reload disable {units} >/dev/null 2>&1 || :",
            f"    if {_SYSTEMD_RUNNING}; then systemctl stop {units} >/dev/null 2>&1 || :; fi",
            "fi",
        ]
        out["postun"] += [
            "# after erase or upgrade: reload units; upgrade: restart what runs",
            f"if {_HAS_SYSTEMCTL}; then",
            f"    if {_SYSTEMD_RUNNING}; then systemctl daemon-reload >/dev/null 2>&1 || :; fi",
            '    if [ "$1" -ge 1 ]; then',
            f"        if [ -x {_UPDATE_HELPER} ]; then",
            "            # restarted once, when the whole transaction is done",
            f"            {_UPDATE_HELPER} mark-restart-system-units {units} || :",
            f"        elif {_SYSTEMD_RUNNING}; then",
            f"            systemctl try-restart {units} || :",
            "        else",
            f'            echo "{manifest.name}: systemd is not running; restart {units} yourself" >&2',
            "        fi",
            "    fi",
            "fi",
        ]
    return {section: "\n".join(lines) for section, lines in out.items() if lines}


def combined(manifest: Manifest) -> dict[str, str]:
    """Our scriptlets, then the manifest's ``scripts`` after them, by section."""
    bodies = own(manifest)
    for section, text in manifest.scripts:
        mine = bodies.get(section)
        user = f"# from {manifest.source.name} scripts.{section}\n{text.strip()}"
        bodies[section] = f"{mine}\n{user}" if mine else user
    return {s: bodies[s] for s in SECTIONS if s in bodies}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"
