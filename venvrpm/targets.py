"""Which of a manifest's targets a command runs for, each as the manifest of its own RPM.

Pure: the manifest and the names asked for in, one :class:`~venvrpm.manifest.Manifest` per
target out (:func:`venvrpm.manifest.for_target`); every command then runs as it does for a
manifest without targets, once per target. The refusals come before anything runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from venvrpm.errors import UsageError, VenvrpmError
from venvrpm.manifest import Manifest, for_target

# platform.machine() spellings of the architectures rpm names otherwise
_RPM_ARCH = {"arm64": "aarch64", "amd64": "x86_64"}


def rpm_arch(machine: str) -> str:
    """The RPM architecture of *machine* (``platform.machine()``)."""
    return _RPM_ARCH.get(machine, machine)


def selected(manifest: Manifest, names: Sequence[str], machine: str) -> list[Manifest]:
    """The manifests of the targets called *names* (every target when none is named), in the
    manifest's order; the manifest itself when it has no targets. *machine*: this host's
    architecture, which a target's ``arch`` must be (no cross-architecture build yet)."""
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
    foreign = [t for t in chosen if t.arch is not None and t.arch != host]
    if foreign:
        raise VenvrpmError(
            f"target {foreign[0].name} is for {foreign[0].arch}, and this host is {host}: "
            "venvrpm builds only for the host's architecture so far",
            f"build it on a {foreign[0].arch} machine (a CI runner of that architecture), or "
            "leave it out with --target (docs/targets.md)",
            details=[f"{t.name}: arch {t.arch}" for t in foreign],
        )
    return [for_target(manifest, t) for t in chosen]


def label(manifest: Manifest) -> str:
    """How messages name a target's build: ``target el9: `` (nothing without targets)."""
    return "" if manifest.target is None else f"target {manifest.target}: "
