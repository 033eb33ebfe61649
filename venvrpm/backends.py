"""Choose where the target interpreter runs: this host, a container, or a chroot into a root.

Every path of the plan is valid in all three: containers and chroots see the work directory,
the wheelhouse and the locks mounted at their host paths. The pipeline never knows which
backend it runs on.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath

from venvrpm import pipconfig, probes
from venvrpm._fenced import rpm_text
from venvrpm.errors import ToolMissingError, VenvrpmError
from venvrpm.manifest import Manifest
from venvrpm.progress import Report, quiet
from venvrpm.redact import redact
from venvrpm.runner import (
    ContainerRunner,
    HostRunner,
    Mount,
    Result,
    RootfsRunner,
    Runner,
    Runners,
)

# TLS settings (not pip's: pipconfig handles PIP_*) whose values are files the target must see
# to reach an index: CA bundles.
_FILE_SETTINGS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
CANNOT_START_DOC = "docs/containers.md#when-containers-cannot-start"
"""The section that fixes a container engine that cannot start containers on this host."""
# podman and docker `run`: 125 the engine failed, 126 the runtime could not start or run the
# command (rlimits, cgroups and seccomp end here too), 127 the command is not in the image
_ENGINE_FAILED = (125, 126)
_NOT_FOUND = 127
# docker's CLI exits 127 for every start error whose text holds "no such file or directory"
# (a cgroup directory, runc's log), not only for a missing command: that one names the command
# it could not exec; podman's (and podman-docker's) 127 is always a missing command.
_EXEC_MISSING = re.compile(
    r'exec: \\*"(?P<command>[^"\\]+)\\*": '
    r"(?:stat [^:]*: no such file or directory|executable file not found)"
)
_PODMAN_MISSING = "OCI runtime attempted to invoke a command that was not found"
_DOCKER_START_FAILED = (
    "OCI runtime", "failed to create shim", "failed to create task", "Error response from daemon",
)  # fmt: skip


class ContainerStartError(VenvrpmError):
    """The container engine cannot start a container of the image on this host."""


def engine_failure(result: Result) -> str | None:
    """The engine's own error when *result* is a container that did not start, else None.

    Redacted (an index URL's password) and escaped (control characters), at most 10 lines.
    """
    started = result.returncode not in _ENGINE_FAILED and not (
        result.returncode == _NOT_FOUND and _docker_start_failed(result)
    )
    if started:
        return None
    text = redact(result.stderr.strip() or result.stdout.strip() or f"exit {result.returncode}")
    lines = [
        "".join(c if c.isprintable() or c == "\t" else f"\\x{ord(c):02x}" for c in line)
        for line in text.splitlines()[-10:]
    ]
    return "\n".join(lines)


def _docker_start_failed(result: Result) -> bool:
    """Whether docker's exit 127 is the container failing to start, not a missing command."""
    if not result.argv or not Path(result.argv[0]).name.startswith("docker"):
        return False
    text = result.stderr
    if _PODMAN_MISSING in text:
        return False
    argv = list(result.argv)
    entrypoint = argv[argv.index("--entrypoint") + 1] if "--entrypoint" in argv[:-1] else None
    missing = {found.group("command") for found in _EXEC_MISSING.finditer(text)}
    if missing and (entrypoint is None or entrypoint in missing):
        return False
    return any(marker in text for marker in _DOCKER_START_FAILED)


def check_container_starts(runner: ContainerRunner, python: PurePosixPath) -> None:
    """Start one container running *python* before the build relies on containers: a
    container that cannot start must not read as a missing interpreter (the probe's exit 127
    says that)."""
    result = runner.run(
        [str(python), "-I", "-S", "-c", ""], what="starting a first container", check=False
    )
    failure = engine_failure(result)
    if failure is not None:
        raise ContainerStartError(
            f"{Path(runner.engine).name} cannot start a container of {runner.image} on this host",
            f"the engine's own error is above; {CANNOT_START_DOC} fixes the usual causes "
            "(rlimits, runtime, rootless, storage); `venvrpm doctor MANIFEST` retries",
            details=[f"{Path(runner.engine).name} says: {failure}"],
        )


def describe(manifest: Manifest) -> str:
    """Where the build runs, for messages: "on this host", "in the image X", "in the root Y"."""
    build = manifest.build
    if build.kind == "container":
        return f"in the image {build.image}"
    if build.kind == "rootfs":
        return f"in the root {build.rootfs}"
    return "on this host"


def identity(manifest: Manifest, host: Runner) -> list[str]:
    """What identifies the build environment's content, for the environment cache: the image's
    ID (a rebuilt image under the same tag is another environment), the root's os-release."""
    build = manifest.build
    if build.kind == "container":
        assert build.image is not None
        engine = find_engine(host, build.engine)
        found = host.run(
            [engine, "image", "inspect", "--format", "{{.Id}}", build.image],
            what=f"reading the ID of the image {build.image}",
            check=False,
        )
        # An image not pulled yet has no ID: no key from it (the cache is skipped this time).
        return ["container", build.image, found.stdout.strip() if found.returncode == 0 else ""]
    if build.kind == "rootfs":
        assert build.rootfs is not None
        release = build.rootfs / "etc" / "os-release"
        content = release.read_bytes() if release.is_file() else b""
        return ["rootfs", str(build.rootfs), hashlib.sha256(content).hexdigest()]
    return ["host"]


# Run by the target interpreter: which of the paths exist, and whether the system is a Debian
# one (its rpm database, if any, does not list what dpkg installed).
_PATHS_AND_DPKG = (
    "import json, os, sys; print(json.dumps({'absent': [p for p in sys.argv[1:] if not "
    "os.path.exists(p)], 'dpkg': os.path.exists('/var/lib/dpkg/status')}))"
)


def check_build_requires(manifest: Manifest, runner: Runner) -> list[str]:
    """Check ``build.requires`` where the build runs, before anything is built.

    Absolute paths (``/usr/bin/pg_config``) are checked by existence everywhere; names (``gcc``,
    ``libpq-devel >= 13``) with ``rpm -q --whatprovides`` where rpm's database is the system's.
    Raises naming every one missing; returns the names it could not check (a Debian or Ubuntu
    system: dpkg's packages are not in an rpm database, and their names differ).
    """
    requires = manifest.build.requires
    if not requires:
        return []
    where = describe(manifest)
    paths = [r.split(" ")[0] for r in requires if r.startswith("/")]
    names = [r for r in requires if not r.startswith("/")]
    found = runner.run(
        probes.paths_present(manifest.python, _PATHS_AND_DPKG, paths),
        what="checking build.requires",
    )
    facts = json.loads(found.stdout)
    missing = [r for r in requires if r.startswith("/") and r.split(" ")[0] in facts["absent"]]
    unchecked: list[str] = []
    if names and facts["dpkg"]:
        unchecked = names
    elif names:
        try:
            queried = runner.run(probes.packages_provided(names),
                                 what="checking build.requires (rpm -q --whatprovides)",
                                 check=False)  # fmt: skip
        except ToolMissingError:
            queried = None
        if queried is None or queried.returncode in (126, 127):
            unchecked = names  # no rpm there: nothing to ask
        else:
            said = queried.stdout + queried.stderr
            missing += rpm_text.unprovided(said, names)
    if missing:
        raise ToolMissingError(
            f"build.requires not met {where}: {', '.join(missing)}",
            f"install them {where} (dnf install ..., or in the image's Containerfile), or "
            "remove them from build.requires if the build does not need them",
        )
    return unchecked


def find_engine(host: Runner, engine: str) -> str:
    """The container engine's path (``auto``: podman, else docker)."""
    candidates = ("podman", "docker") if engine == "auto" else (engine,)
    for name in candidates:
        path = host.which(name)
        if path:
            return path
    raise ToolMissingError(
        f"no container engine found ({' or '.join(candidates)})",
        "Debian/Ubuntu: apt-get install podman    Fedora/RHEL: dnf install podman "
        "(docs/containers.md#when-containers-cannot-start: hosts that need runc and ulimits)",
    )


def mounts(
    manifest: Manifest,
    workdir: Path,
    pip_env: Mapping[str, str],
    extra: tuple[Path, ...] = (),
    *,
    fetching: bool = False,
    warn: Callable[[str], None] | None = None,
    host_env: Mapping[str, str] = os.environ,
    note: Callable[[str], None] | None = None,
) -> list[Mount]:
    """What the target sees: the work directory (read-write), inputs and TLS material (read-only).

    *fetching*: the wheelhouse is written to and the index is needed. *warn* is told what of
    pip's configuration is not forwarded (*host_env*: where PIP_* come from), *note* what of a
    forwarded one is ignored (``cache-dir``, ``log``).
    """
    found: dict[Path, bool] = {workdir: False}
    sources: dict[Path, Path] = {}
    if fetching and manifest.wheelhouse is not None:
        manifest.wheelhouse.mkdir(parents=True, exist_ok=True)
        found[manifest.wheelhouse] = False
    for path in (manifest.wheelhouse, manifest.requirements, *extra):
        if path is not None and path.exists():
            found.setdefault(path, True)
    if manifest.wheelhouse is None or fetching:
        # The index is reachable: forward pip's configuration and CA bundle (corporate proxies).
        for key in _FILE_SETTINGS:
            value = pip_env.get(key, "")
            if value.startswith("/") and Path(value).exists():
                found.setdefault(Path(value), True)
        # pip's configuration with every file it names, or none of it (pipconfig.py)
        # (with the PIP_* plan.pip_environment left out, for their warnings)
        left_out = {k: v for k, v in host_env.items() if k.startswith("PIP_")}
        forwarded = pipconfig.forwarding({**left_out, **pip_env})
        for path, source in forwarded.files:
            if path not in found:
                found[path] = True
                # the configured path resolved once: the target sees that file at the path
                if source != path:
                    sources[path] = source
        if warn is not None:
            for warning in forwarded.warnings:
                warn(warning)
        if note is not None:
            for text in forwarded.notes:
                note(text)
    # A read-only path inside a read-only directory mounted already is seen through it, and
    # must be: a file's own bind mount keeps showing the inode it was made from after the
    # file is replaced (a lock rewritten by `venvrpm lock`, then read by the next lock).
    shown = [p for p, ro in found.items() if ro and p not in sources and p.is_dir()]
    return [
        Mount(p, ro, sources.get(p))
        for p, ro in sorted(found.items())
        if not (ro and p not in sources and any(d in p.parents for d in shown))
    ]


@contextlib.contextmanager
def open_runners(
    manifest: Manifest, host: HostRunner, workdir: Path, pip_env: Mapping[str, str],
    extra_mounts: tuple[Path, ...] = (), *, fetching: bool = False, report: Report = quiet,
) -> Iterator[Runners]:  # fmt: skip
    """The runners for *manifest*'s build environment; a container is started once first.

    *report* is told what of pip's host configuration the target does not get (a warning), and
    what of it is ignored (a detail).
    """
    build = manifest.build
    if build.kind == "host":
        yield Runners(host=host, target=host)
        return
    shared = mounts(
        manifest, workdir, pip_env, extra_mounts, fetching=fetching,
        warn=functools.partial(report, "warning"), note=functools.partial(report, "detail"),
    )  # fmt: skip
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    if build.kind == "container":
        assert build.image is not None
        engine = find_engine(host, build.engine)
        container = ContainerRunner(
            host, source_date_epoch=host.source_date_epoch, engine=engine, image=build.image, mounts=shared,
            network=manifest.wheelhouse is None or fetching, run_args=build.run_args, home=home,
        )  # fmt: skip
        check_container_starts(container, manifest.python)
        yield Runners(host=host, target=container)
        return
    assert build.rootfs is not None
    if os.geteuid() != 0:
        raise VenvrpmError(
            "build.rootfs needs root: it chroots into the root as mock does",
            "run venvrpm as root, or use build.container with rootless podman",
        )
    if host.which("unshare") is None:
        raise ToolMissingError("unshare is not installed", "install util-linux")
    yield Runners(
        host=host,
        target=RootfsRunner(
            host,
            source_date_epoch=host.source_date_epoch,
            root=build.rootfs,
            mounts=shared,
            host_python=sys.executable,
            home=home,
        ),
    )
