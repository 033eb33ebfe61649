"""The stage once its environment is built: every check of what was installed and of what
the stage holds, and the files venvrpm adds (the bundled list, the SBOM, the preset).

What ran during the build wrote the stage: nothing in it is trusted until these checks pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from venvrpm import (
    depcheck,
    entrypoints,
    fetch,
    nativelibs,
    payload,
    pydists,
    relocate,
    scriptlets,
    stagecheck,
    venvbuild,
)
from venvrpm.errors import LockError, VenvrpmError, at_most
from venvrpm.lockfile import Lock
from venvrpm.plan import BuildPlan
from venvrpm.progress import Report as Reporter


def check(
    plan: BuildPlan,
    lock: Lock,
    report: Reporter,
    warnings: list[str],
    blame: Callable[[VenvrpmError], None],
    recorded: Mapping[str, str],
) -> tuple[tuple[pydists.Distribution, ...], str, dict[PurePosixPath, payload.Attrs]]:
    """Every check of the installed environment and the stage, and the files venvrpm adds.
    *blame* hears a failure of what the environment holds (not of the manifest's entry points
    or links): a restored environment that fails is the cache's fault."""
    manifest = plan.manifest
    # right after installing, under its own name: not reported as a dependency problem
    report("step", "checking the entry points")
    try:
        entrypoints.check_installed(manifest, plan.venv_dir)
    except VenvrpmError as exc:
        # a script missing because its distribution is: say the cause too
        with contextlib.suppress(VenvrpmError):
            unmet = depcheck.unmet(_installed(plan, lock, recorded), dict(plan.interpreter.markers))
            if unmet:
                exc.details = (*exc.details, "the venv's requirements are not met either "
                               "(re-lock: `venvrpm lock app.yaml`):", *at_most(unmet))  # fmt: skip
        raise
    report("step", "checking dependencies")
    try:
        distributions = _installed(plan, lock, recorded)
        check_dependencies(
            plan, [lock], distributions,
            "a dependency is missing from the lock or conflicts with it: re-lock with the "
            "project (`venvrpm lock app.yaml` locks the project's dependencies too)",
        )  # fmt: skip
    except VenvrpmError as exc:
        blame(exc)
        raise

    stagecheck.links_out(plan.stage, manifest)  # before the host writes into the stage
    payload.stage_extras(manifest, plan.stage, plan.venv_dir)
    # the libraries wheels bundle (*.libs/): the SBOM lists them, the OpenSSL check reads them
    native = nativelibs.in_venv(plan.venv_dir, manifest.prefix)
    sbom_text = _stage_generated(plan, distributions, native)
    attrs = payload.attributes(manifest)
    attrs[pydists.doc_path(manifest.name)] = payload.Attrs(doc=True)
    attrs[pydists.sbom_path(manifest.name)] = payload.Attrs(doc=True)
    payload.normalise_modes(plan.stage, {p for p, a in attrs.items() if a.mode is not None})
    # What ran during the build may have written anywhere in the stage: none of it ships.
    report("step", "checking what the stage holds")
    stagecheck.confine(plan.stage, manifest)
    warnings += stagecheck.startup_code(plan.venv_dir, manifest.prefix)
    warnings += nativelibs.own_openssl(native)
    report("step", "verifying that no build path remains")
    relocate.verify_clean(plan.stage, plan.workdir)
    return distributions, sbom_text, attrs


def _installed(
    plan: BuildPlan, lock: Lock, recorded: Mapping[str, str]
) -> tuple[pydists.Distribution, ...]:
    """The distributions installed in the venv, with the lock's hashes and the installed file's
    (*recorded* by the installer, else derived from the wheelhouse)."""
    name = plan.project.name if plan.project is not None else None
    found = pydists.find(plan.venv_dir, lock, name, recorded)
    return pydists.with_installed(found, _wheelhouse_files(plan))


def check_dependencies(
    plan: BuildPlan,
    locks: Sequence[Lock],
    distributions: Iterable[pydists.Distribution],
    hint: str,
) -> None:
    """The build's dependency check (``venvrpm test`` runs it too): every line of *locks*
    (already for the target) installed at its version, and pip check's rules, in process
    (depcheck), with the target's markers. *hint* says what to do when they are not met."""
    found = tuple(distributions)
    for lock in locks:
        venvbuild.check_locked_installed(lock, ((d.name, d.version) for d in found))
    problems = depcheck.unmet(found, dict(plan.interpreter.markers))
    if problems:
        raise LockError(
            "the installed distributions do not meet each other's requirements",
            hint,
            details=at_most(problems),
        )


def _stage_generated(
    plan: BuildPlan,
    distributions: tuple[pydists.Distribution, ...],
    native: tuple[nativelibs.NativeLibrary, ...],
) -> str:
    """Files venvrpm writes into the payload: the bundled list, the SBOM (returned: the
    delivery bundle ships it too), the services' preset, the sysusers.d file."""
    manifest = plan.manifest
    # never through a link: the stage was writable by what ran in the build
    stagecheck.write_file(
        plan.stage,
        pydists.doc_path(manifest.name),
        pydists.document(manifest.name, str(manifest.python), distributions),
    )
    # the CycloneDX library takes ~60 ms to import: not before a build's first step is shown
    from venvrpm import sbom

    sbom_text = sbom.document(manifest.name, f"{manifest.version}-{manifest.release}",
                              distributions, plan.source_date_epoch,
                              native=native)  # fmt: skip
    stagecheck.write_file(plan.stage, pydists.sbom_path(manifest.name), sbom_text)
    for path, text in scriptlets.generated(manifest):
        stagecheck.write_file(plan.stage, path, text)
    return sbom_text


def _wheelhouse_files(plan: BuildPlan) -> dict[str, Path]:
    """The wheelhouse by hash when it was the install's only source (offline): where the
    installer did not report it (uv), it tells which of the files the lock allows was
    installed."""
    wheelhouse = plan.manifest.wheelhouse
    return fetch.by_hash(wheelhouse) if plan.offline and wheelhouse is not None else {}
