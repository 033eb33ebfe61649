"""Which of a manifest's targets a command runs for, each as the manifest of its own RPM.

Pure: the manifest and the names asked for in, one :class:`~venvrpm.manifest.Manifest` per
target out (:func:`venvrpm.manifest.for_target`); every command then runs as it does for a
manifest without targets, once per target. The refusals come before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from venvrpm.errors import UsageError, VenvrpmError
from venvrpm.manifest import Manifest, for_target

# platform.machine() spellings of the architectures rpm names otherwise
_RPM_ARCH = {"arm64": "aarch64", "amd64": "x86_64"}


def rpm_arch(machine: str) -> str:
    """The RPM architecture of *machine* (``platform.machine()``)."""
    return _RPM_ARCH.get(machine, machine)


def selected(
    manifest: Manifest,
    names: Sequence[str],
    machine: str,
    emulated: Callable[[str], bool] = lambda arch: False,
) -> list[Manifest]:
    """The manifests of the targets called *names* (every target when none is named), in the
    manifest's order; the manifest itself when it has no targets. *machine*: this host's
    architecture; a target of another must build in a root whose programs this host runs
    under emulation (*emulated*: :func:`emulation_enabled`)."""
    if not manifest.targets:
        if names:
            raise UsageError(
                f"{manifest.source.name} has no targets; --target picks among them",
                "drop --target, or list targets: in the manifest (docs/targets.md)",
            )
        return [manifest]
    known = [t.name for t in manifest.targets]
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise UsageError(f"no target called {', '.join(unknown)}",
                         f"targets in {manifest.source.name}: {', '.join(known)}")  # fmt: skip
    chosen = [t for t in manifest.targets if not names or t.name in names]
    host = rpm_arch(machine)
    for t in chosen:
        if t.arch is None or t.arch == host:
            continue
        if t.build.kind != "rootfs":
            raise VenvrpmError(
                f"target {t.name} is for {t.arch}, and this host is {host}: another "
                "architecture builds in a rootfs only so far, not in a container",
                f"make a {t.arch} root (debootstrap --arch=arm64 ..., docs/targets.md) and "
                "give it as the target's rootfs, or build it on a machine of its architecture",
            )
        if not emulated(t.arch):
            raise VenvrpmError(
                f"target {t.name} is for {t.arch}, and this host ({host}) cannot run "
                f"{t.arch} programs: no binfmt_misc handler for qemu-{t.arch} is enabled",
                EMULATION_HINT.format(arch=t.arch),
            )
    return [for_target(manifest, t) for t in chosen]


EMULATION_HINT = (
    "apt-get install qemu-user-static binfmt-support; mount -t binfmt_misc binfmt_misc "
    "/proc/sys/fs/binfmt_misc; update-binfmts --enable qemu-{arch} (docs/targets.md)"
)
BINFMT = Path("/proc/sys/fs/binfmt_misc")


def emulation_enabled(arch: str, binfmt: Path = BINFMT) -> bool:
    """Whether this host runs *arch* programs: qemu-user's binfmt_misc handler for it is
    registered and enabled (its first line ``enabled``)."""
    try:
        text = (binfmt / f"qemu-{arch}").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return text.splitlines()[:1] == ["enabled"]


def label(manifest: Manifest) -> str:
    """How messages name a target's build: ``target el9: `` (nothing without targets)."""
    return "" if manifest.target is None else f"target {manifest.target}: "
