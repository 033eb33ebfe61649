"""Choose where the target interpreter runs: this host, a container, or a chroot into a root.

Every path of the plan is valid in all three: containers and chroots see the work directory,
the wheelhouse and the locks mounted at their host paths. The pipeline never knows which
backend it runs on.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from venvrpm.errors import ToolMissingError, VenvrpmError
from venvrpm.manifest import Manifest
from venvrpm.runner import ContainerRunner, HostRunner, Mount, RootfsRunner, Runner, Runners

# pip settings whose values are files the target must see to reach an index (CA bundles,
# client certificates, config files).
_FILE_SETTINGS = ("PIP_CERT", "PIP_CLIENT_CERT", "PIP_CONFIG_FILE", "SSL_CERT_FILE",
                  "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")  # fmt: skip
_PIP_CONFIGS = ("/etc/pip.conf", "/etc/xdg/pip/pip.conf")


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
        "(see docs/containers.md for hosts that need runc and explicit ulimits)",
    )


def mounts(
    manifest: Manifest,
    workdir: Path,
    pip_env: Mapping[str, str],
    extra: tuple[Path, ...] = (),
    *,
    fetching: bool = False,
) -> list[Mount]:
    """What the target sees: the work directory (read-write), inputs and TLS material (read-only).

    *fetching*: the wheelhouse is written to and the index is needed.
    """
    found: dict[Path, bool] = {workdir: False}
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
        for config in _PIP_CONFIGS:
            if Path(config).is_file():
                found.setdefault(Path(config), True)
    return [Mount(path, read_only) for path, read_only in sorted(found.items())]


@contextlib.contextmanager
def open_runners(
    manifest: Manifest, host: HostRunner, workdir: Path, pip_env: Mapping[str, str],
    extra_mounts: tuple[Path, ...] = (), *, fetching: bool = False,
) -> Iterator[Runners]:  # fmt: skip
    """The runners for *manifest*'s build environment."""
    build = manifest.build
    if build.kind == "host":
        yield Runners(host=host, target=host)
        return
    shared = mounts(manifest, workdir, pip_env, extra_mounts, fetching=fetching)
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    if build.kind == "container":
        assert build.image is not None
        engine = find_engine(host, build.engine)
        yield Runners(
            host=host,
            target=ContainerRunner(
                host, source_date_epoch=host.source_date_epoch, engine=engine, image=build.image, mounts=shared,
                network=manifest.wheelhouse is None or fetching, run_args=build.run_args, home=home,
            ),
        )  # fmt: skip
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
