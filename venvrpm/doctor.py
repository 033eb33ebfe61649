"""``venvrpm doctor``: what this host can do, and the command for what is missing."""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from venvrpm import backends, probes
from venvrpm.manifest import Manifest, for_target
from venvrpm.runner import ContainerRunner, HostRunner, RootfsRunner
from venvrpm.targets import EMULATION_HINT, emulation_enabled, rpm_arch

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
    needed: bool = False
    """The build environment the manifest (or --image) names depends on it: exit 1 unless ok."""


def _install_hint(tool: str) -> str:
    apt, dnf = _APT_DNF.get(tool, (tool, tool))
    return f"apt-get install {apt}  |  dnf install {dnf}"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def checks(
    runner: HostRunner, manifest: Manifest | None = None, *, image: str | None = None
) -> list[Check]:
    """Probe the host; pure reporting, changes nothing. Engines must start a container (of
    *image*, or the manifest's build.container) before they are ok; a manifest's build.rootfs
    is chrooted into; each of a manifest's targets is checked where it builds."""
    top = manifest
    found: list[Check] = []
    targets = manifest.targets if manifest is not None else ()
    if targets:
        # each target is checked below, where it builds; the top-level build is none of them
        manifest = None
    rpmbuild = runner.which("rpmbuild")
    if rpmbuild:
        answer = runner.run([rpmbuild, "--version"], what="rpmbuild --version", check=False)
        found.append(Check("rpmbuild", "ok", _first_line(answer.stdout)))
        configdir = runner.run(list(probes.rpm_configdir("rpm")), what="rpm --eval", check=False)
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
    found += _engines(runner, manifest, image)
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
    if manifest is not None and manifest.build.kind == "rootfs":
        found.append(_chroot(runner, manifest))
    for target in targets:
        assert top is not None  # targets come from it
        found += _target(runner, for_target(top, target), target.arch)
    for arch in ("aarch64",):
        # another architecture's roots run under qemu-user emulation (targets' arch)
        if emulation_enabled(arch):
            found.append(Check(f"emulation {arch}", "ok", f"qemu-{arch} enabled (binfmt_misc)"))
        else:
            found.append(Check(f"emulation {arch}", "info", "not enabled: only for targets "
                               f"with arch: {arch}", EMULATION_HINT.format(arch=arch)))  # fmt: skip
    for python in _interpreters():
        result = runner.run([python, "-c", "import platform; print(platform.python_version())"],
                            what="python version", check=False)  # fmt: skip
        version = _first_line(result.stdout)
        found.append(
            Check(f"interpreter {python}", "ok" if version else "broken", version or "does not run")
        )
    return found


def _engines(runner: HostRunner, manifest: Manifest | None, image: str | None) -> list[Check]:
    """One line per engine: found, answers (info), and starts a container."""
    build = manifest.build if manifest is not None else None
    choice = "auto" if image else None
    if build is not None and build.kind == "container":
        image, choice = image or build.image, build.engine
    # the engine a build would use (backends.find_engine): the one that must start the image
    candidates = ("podman", "docker") if choice == "auto" else (choice,) if choice else ()
    wanted = next((p for p in map(runner.which, candidates) if p), None)
    python = manifest.python if manifest is not None else None
    found: list[Check] = []
    for engine in ("podman", "docker"):
        path = runner.which(engine)
        # the manifest's engine, or none of its candidates is installed
        needed = path == wanted if wanted else engine in candidates
        if path is None:
            found.append(
                Check(engine, "missing", "for build.container", _install_hint(engine), needed)
            )
            continue
        info = runner.run(
            [path, "info", "--format", "{{json .}}"], what=f"{engine} info", check=False
        )
        version = _first_line(runner.run([path, "--version"], what=engine, check=False).stdout)
        if info.returncode != 0:
            reason = _first_line(info.stderr) or f"exit {info.returncode}"
            found.append(Check(engine, "broken", f"{version}; not working: {reason}",
                               "see docs/containers.md", needed))  # fmt: skip
        elif wanted and not needed:
            found.append(Check(engine, "info", f"{version}; answers (info); not the manifest's"))
        else:
            found.append(_start(runner, engine, path, version, image, python, needed))
    return found


def _start(
    runner: HostRunner, engine: str, path: str, version: str, image: str | None,
    python: PurePosixPath | None, needed: bool,
) -> Check:  # fmt: skip
    """*engine* answers: start a container (of *image* running *python*), or say it was not."""
    fix = f"see {backends.CANNOT_START_DOC}"
    if image is None and engine != "podman":
        return Check(engine, "info", f"{version}; answers (info); no container started "
                     "(give an image: venvrpm doctor --image IMAGE)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="venvrpm-doctor-") as scratch:
        if image is None:
            # no image: an empty root, and a program that is not there. Exit 127 means the
            # runtime set the container up (rlimits, cgroups, namespaces) and got to exec.
            argv = [path, "run", "--rm", "--network", "none", "--security-opt",
                    "label=disable", "--rootfs", scratch, "/venvrpm-doctor-nothing"]  # fmt: skip
            result = runner.run(argv, what=f"{engine} run", check=False)
            ran = "started a container (an empty root)"
        else:
            container = ContainerRunner(
                runner, source_date_epoch=runner.source_date_epoch, engine=path, image=image,
                mounts=[], network=False, home=Path(scratch),
            )  # fmt: skip
            shown = python or PurePosixPath("/usr/bin/python3")
            result = container.run(
                [str(shown), "-I", "-S", "-c", ""], what=f"{engine} run", check=False
            )
            ran = f"ran {shown} in {image}"
            # docker's 127 may be a container that did not start (backends.engine_failure)
            if result.returncode == 127 and backends.engine_failure(result) is None:
                ran = f"started a container of {image}; no {shown} in it"
                if python is not None:
                    return Check(engine, "broken", f"{version}; {ran}",
                                 "install it in the image, or set `python:`", needed)  # fmt: skip
    failure = backends.engine_failure(result)
    if failure is not None:
        reason = " ".join(failure.split())
        return Check(engine, "broken", f"{version}; cannot start a container: {reason}",
                     fix, needed)  # fmt: skip
    if result.returncode not in (0, 127):
        return Check(engine, "broken", f"{version}; {ran}: exit {result.returncode}", fix, needed)
    return Check(engine, "ok", f"{version}; answers (info), {ran}", needed=needed)


def _chroot(runner: HostRunner, manifest: Manifest) -> Check:
    """Chroot into the manifest's build.rootfs as a build does and run its interpreter."""
    root = manifest.build.rootfs
    assert root is not None
    name = f"rootfs {root}"
    if os.geteuid() != 0:
        return Check(name, "broken", "not tried: chrooting needs root", "run as root", True)
    with tempfile.TemporaryDirectory(prefix="venvrpm-doctor-") as scratch:
        chroot = RootfsRunner(
            runner, source_date_epoch=runner.source_date_epoch, root=root, mounts=[],
            host_python=sys.executable, home=Path(scratch),
        )  # fmt: skip
        result = chroot.run(
            [str(manifest.python), "-I", "-S", "-c", ""], what="chroot", check=False
        )
    if result.returncode == 0:
        return Check(name, "ok", f"chroot works, ran {manifest.python}", needed=True)
    reason = " ".join(result.tail().split()) or f"exit {result.returncode}"
    hint = "install it in the root, or set `python:`" if result.returncode == 127 else (
        "see docs/containers.md#roots-buildrootfs"
    )  # fmt: skip
    return Check(name, "broken", f"running {manifest.python} there failed: {reason}", hint, True)


def _target(runner: HostRunner, manifest: Manifest, arch: str | None) -> list[Check]:
    """One target of the manifest: its root chrooted into, or its image started with the
    engine it names, and its interpreter run there; its architecture this host's."""
    name = f"target {manifest.target}"
    found: list[Check] = []
    host = rpm_arch(platform.machine())
    if arch is not None and arch != host:
        if emulation_enabled(arch):
            found.append(Check(f"{name} arch", "ok", f"{arch} on a {host} host: qemu-{arch} "
                               "emulation is enabled (binfmt_misc)", needed=True))  # fmt: skip
        else:
            found.append(Check(f"{name} arch", "missing", f"{arch} on a {host} host: no "
                               f"binfmt_misc handler for qemu-{arch} is enabled",
                               EMULATION_HINT.format(arch=arch), True))  # fmt: skip
    if manifest.build.kind == "rootfs":
        check = _chroot(runner, manifest)
    else:
        build = manifest.build
        candidates = ("podman", "docker") if build.engine == "auto" else (build.engine,)
        engine = next((e for e in candidates if runner.which(e)), None)
        path = runner.which(engine) if engine else None
        if engine is None or path is None:
            check = Check("engine", "missing", f"no {' or '.join(candidates)} for {build.image}",
                          _install_hint(candidates[0]), True)  # fmt: skip
        else:
            version = _first_line(runner.run([path, "--version"], what=engine, check=False).stdout)
            check = _start(runner, engine, path, version, build.image, manifest.python, True)
    found.append(dataclasses.replace(check, name=f"{name} ({check.name})"))
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
    """Host builds work when rpmbuild and elfdeps are there; and the manifest's (or
    --image's) container or root when one was named."""
    status = {c.name: c.status for c in found}
    needed = all(c.status == "ok" for c in found if c.needed)
    return status.get("rpmbuild") == "ok" and status.get("elfdeps") == "ok" and needed
