"""``venvrpm doctor``: what this host can do, and the command for what is missing."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from venvrpm.runner import HostRunner

Status = Literal["ok", "missing", "broken", "info"]
_APT_DNF = {
    "rpmbuild": ("rpm", "rpm-build"),
    "podman": ("podman", "podman"),
    "docker": ("docker.io", "moby-engine"),
    "unshare": ("util-linux", "util-linux"),
    "debootstrap": ("debootstrap", "debootstrap"),
    "createrepo_c": ("createrepo-c", "createrepo_c"),
}


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report."""

    name: str
    status: Status
    detail: str
    hint: str = ""


def _install_hint(tool: str) -> str:
    apt, dnf = _APT_DNF.get(tool, (tool, tool))
    return f"apt-get install {apt}  |  dnf install {dnf}"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def checks(runner: HostRunner) -> list[Check]:
    """Probe the host; pure reporting, changes nothing."""
    found: list[Check] = []
    rpmbuild = runner.which("rpmbuild")
    if rpmbuild:
        answer = runner.run([rpmbuild, "--version"], what="rpmbuild --version", check=False)
        found.append(Check("rpmbuild", "ok", _first_line(answer.stdout)))
        configdir = runner.run(
            ["rpm", "--eval", "%{_rpmconfigdir}"], what="rpm --eval", check=False
        )
        elfdeps = Path(configdir.stdout.strip() or "/usr/lib/rpm") / "elfdeps"
        found.append(
            Check("elfdeps", "ok", str(elfdeps))
            if elfdeps.is_file()
            else Check("elfdeps", "missing", str(elfdeps), _install_hint("rpmbuild"))
        )
    else:
        found.append(
            Check("rpmbuild", "missing", "needed for every build", _install_hint("rpmbuild"))
        )
    for engine in ("podman", "docker"):
        path = runner.which(engine)
        if path is None:
            found.append(Check(engine, "missing", "for build.container", _install_hint(engine)))
            continue
        info = runner.run(
            [path, "info", "--format", "{{json .}}"], what=f"{engine} info", check=False
        )
        version = _first_line(runner.run([path, "--version"], what=engine, check=False).stdout)
        if info.returncode == 0:
            # `info` proves the engine answers, not that it can start containers on this
            # host (rlimits, cgroups): the first build says; docs/containers.md has the recipe
            found.append(Check(engine, "ok", f"{version}; answers (info)"))
        else:
            reason = _first_line(info.stderr) or f"exit {info.returncode}"
            found.append(
                Check(
                    engine, "broken", f"{version}; not working: {reason}", "see docs/containers.md"
                )
            )
    for tool, purpose in (("unshare", "build.rootfs"), ("debootstrap", "making Debian roots")):
        path = runner.which(tool)
        found.append(
            Check(tool, "ok", path)
            if path
            else Check(tool, "missing", f"for {purpose}", _install_hint(tool))
        )
    found.append(
        Check("root", "info", "yes" if os.geteuid() == 0 else "no (build.rootfs needs root)")
    )
    for python in _interpreters():
        result = runner.run([python, "-c", "import platform; print(platform.python_version())"],
                            what="python version", check=False)  # fmt: skip
        version = _first_line(result.stdout)
        found.append(
            Check(f"interpreter {python}", "ok" if version else "broken", version or "does not run")
        )
    return found


def _interpreters() -> list[str]:
    names: set[str] = set()
    for directory in ("/usr/bin", "/usr/local/bin"):
        if Path(directory).is_dir():
            names |= {
                str(p)
                for p in Path(directory).iterdir()
                if re.fullmatch(r"python3(\.\d+)?", p.name)
            }
    return sorted(names)


def usable(found: list[Check]) -> bool:
    """Host builds work when rpmbuild and elfdeps are there."""
    status = {c.name: c.status for c in found}
    return status.get("rpmbuild") == "ok" and status.get("elfdeps") == "ok"
