"""venvrpm's own scriptlets and systemd preset: users, services, with ``$1`` handled. Pure.

``$1`` is the number of instances of the package left after the transaction: in %pre/%post
1 on install, 2 on upgrade; in %preun/%postun 0 on erase, 1 on upgrade. Every systemd call is
guarded: nothing fails where systemctl is missing, and nothing that needs a running systemd
(stop, restart, daemon-reload) is attempted when it is not running (containers, chroots,
image builds) -- rpm -i into a root must work.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from venvrpm.manifest import Manifest
from venvrpm.paths import preset_path

SECTIONS = ("pretrans", "pre", "post", "preun", "postun", "posttrans")
_HAS_SYSTEMCTL = "command -v systemctl >/dev/null 2>&1"
_SYSTEMD_RUNNING = "[ -d /run/systemd/system ]"


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
        out["pre"] += [
            "# the account is created when missing and never removed (files may still be its)",
            f"getent group {user.group} >/dev/null || groupadd -r {user.group}",
            f"getent passwd {user.name} >/dev/null || useradd -r -g {user.group} "
            f"-d {_quote(user.home)} -s {_quote(user.shell)} -c {_quote(comment)} {user.name}",
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
            f"        if {_SYSTEMD_RUNNING}; then",
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
