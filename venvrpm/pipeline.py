"""plan -> venv -> install -> relocate -> payload -> spec -> rpmbuild. Reports; never prints."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from venvrpm import cache as cache_module
from venvrpm import manifest as manifest_module
from venvrpm.errors import VenvrpmError, refused
from venvrpm.manifest import Manifest
from venvrpm.plan import BuildPlan, Interpreter, Tools, make_plan, pip_environment
from venvrpm.progress import Report as Reporter
from venvrpm.progress import quiet as _quiet
from venvrpm.runner import HostRunner, OutputSink, Runners
from venvrpm.sourcedate import source_date_epoch
from venvrpm.workspace import workspace

if TYPE_CHECKING:
    from venvrpm import lockfile, payload
    from venvrpm import project as project_module

# The steps' modules are imported by the function that runs them: a build's first line comes
# before their import (~0.05 s of CPU), not after it (docs/performance.md).


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What a successful build produced."""

    rpm: Path | None
    """The RPM in the output directory (None with spec_only)."""
    spec: Path | None
    """The spec written to the output directory (spec_only)."""
    sbom: str
    """The CycloneDX SBOM shipped in the RPM."""
    requires: tuple[str, ...]
    files: int
    """Paths in the payload, directories included: what ``rpm -qpl`` lists."""
    payload_size: int
    warnings: tuple[str, ...]
    workdir: Path | None
    """The kept work directory (``--keep-workdir``), else None."""
    distributions: tuple[tuple[str, str], ...] = ()
    """(name, version) of every bundled distribution."""


@contextlib.contextmanager
def session(
    manifest: Manifest,
    *,
    keep: bool,
    output_dir: Path,
    report: Reporter,
    sink: OutputSink | None = None,
    extra_mounts: tuple[Path, ...] = (),
    stage: Path | None = None,
    cache: cache_module.Cache | None = None,
    sign_key: str | None = None,
) -> Iterator[tuple[Path, Runners, BuildPlan]]:
    """A work directory, the runners of the manifest's build environment, and the plan
    (:func:`prepare`); *sink* sees the commands' output. *stage* (``venvrpm stage``'s
    buildroot) is made if need be."""
    if stage is not None:
        with refused("making the buildroot", "check the --root given (rpmbuild's %{buildroot})"):
            stage.mkdir(parents=True, exist_ok=True)
    epoch, epoch_source = source_date_epoch(os.environ, manifest)
    report("info", f"SOURCE_DATE_EPOCH {epoch} from {epoch_source}")
    from venvrpm import backends  # the steps' modules, after the first line (above)

    host = HostRunner(epoch, on_output=sink)
    with workspace(keep=keep) as workdir:
        pip_env = pip_environment(manifest, os.environ)
        with backends.open_runners(
            manifest, host, workdir, pip_env, extra_mounts, report=report
        ) as runners:
            plan = prepare(
                manifest, runners, workdir=workdir, output_dir=output_dir,
                source_date_epoch=epoch, host_env=os.environ, stage=stage, cache=cache,
                report=report, sign_key=sign_key,
            )  # fmt: skip
            found = plan.interpreter
            report("info", f"{found.implementation} {found.version}, {found.platform}, "
                           f"{found.libc or 'libc ?'}")  # fmt: skip
            yield workdir, runners, plan


def prepare(
    manifest: Manifest,
    runners: Runners,
    *,
    workdir: Path,
    output_dir: Path,
    source_date_epoch: int,
    host_env: Mapping[str, str],
    stage: Path | None = None,
    cache: cache_module.Cache | None = None,
    report: Reporter = _quiet,
    sign_key: str | None = None,
) -> BuildPlan:
    """Probe tools and interpreter, check the lock, and decide the plan.

    *cache*: keeps pip unpacked and compiled between builds on this host (as an entry).
    *sign_key*: the built RPM is signed with it (rpmsign and gpg found now, before building).
    """
    from venvrpm import (
        backends,
        buildreqs,
        cachekeys,
        fetch,
        hostinstall,
        lockfile,
        rpmbuild,
        venvbuild,
    )
    from venvrpm import project as project_module

    report("step", f"checking the lock {manifest.requirements.name}")
    lock = manifest.read_lock()
    if (note := lockfile.ignored_note(lock)) is not None:
        report("info", note)
    manifest_module.require_version(manifest)  # version: {from: NAME} needs the lock
    if (mismatch := manifest_module.version_warning(manifest)) is not None:
        report("warning", mismatch)
    where = backends.describe(manifest)
    report("step", f"probing {manifest.python} {where}")
    interpreter = venvbuild.probe_interpreter(runners.target, manifest.python, where)
    # the system packages the build needs, before anything is built (build.requires)
    for name in backends.check_build_requires(manifest, runners.target):
        report("warning", f"build.requires: {name} not checked {where}: a Debian-family system "
                          "has no rpm database of its packages (an absolute path is checked)")  # fmt: skip
    tools_dir = workdir / "tools"  # virtualenv is copied in only if a venv is created
    tools_dir.mkdir(exist_ok=True)
    # Kept between host builds: unpacking pip and compiling what it imports cost ~1 s. With
    # uv, pip is placed only if a step asks the target's wheel tags (a pylock.toml, install:
    # host): uv installs everything else, the build requirements too.
    kept = cache if manifest.build.kind == "host" else None
    pip, place_pip = venvbuild.deferred_pip(
        interpreter, tools_dir, runners.target if kept is not None else None, kept,
        always=manifest.build.installer == "uv",
    )  # fmt: skip
    # lines whose marker is false for the target are skipped, as fetch and pip skip them; of a
    # pylock.toml's files, the one that fits the target's tags is kept (asked of the pip that
    # installs it, only then: a requirements lock leaves the choice to the installer)
    markers = dict(interpreter.markers)
    tags = None
    host_install = manifest.install == "host"
    if host_install:  # before anything else runs: refused unless this host can do it
        hostinstall.check_host(interpreter)
    if lock.pylock is not None or host_install:
        if place_pip is not None:
            pip = place_pip()
        tags = venvbuild.probe_tags(runners.target, interpreter, pip)
    lock = lock.for_target(markers, tags)
    # Offline: everything the target installs must be there before anything is built.
    fetch.require_served(manifest, lock)
    # install: host: a wheel for every distribution, or refused before the sdists are read
    wheels = (
        hostinstall.choose_wheels(lock, manifest.wheelhouse, tags or ()) if host_install else ()
    )
    project = project_module.read(manifest.project)
    uv = manifest.build.installer == "uv"
    tools = Tools(
        host_python=sys.executable, toolbox=tools_dir, pip=pip, place_pip=place_pip,
        uv=venvbuild.find_uv(runners.host, tools_dir, copy=manifest.build.kind != "host") if uv else None,
        rpmbuild=rpmbuild.find_rpmbuild(runners.host), elfdeps=rpmbuild.find_elfdeps(runners.host),
        signing=rpmbuild.find_signing(runners.host) if sign_key else None,
    )  # fmt: skip
    plan = _plan(
        manifest, interpreter, tools, buildreqs.checked_lock(manifest, lock, markers, project),
        lock, project, workdir=workdir, output_dir=output_dir,
        source_date_epoch=source_date_epoch, host_env=host_env, stage=stage, sign_key=sign_key,
    )  # fmt: skip
    if host_install:
        plan = dataclasses.replace(plan, host_wheels=wheels)
    # Identified once, for every cache key: for a container it costs an `image inspect`.
    if cache is not None:
        plan = dataclasses.replace(
            plan, built_with=cachekeys.identify(manifest, interpreter, runners.host)
        )
    return plan


def sketch(
    manifest: Manifest,
    *,
    workdir: Path,
    output_dir: Path,
    source_date_epoch: int,
    host_env: Mapping[str, str],
    sign_key: str | None = None,
) -> BuildPlan:
    """The plan of :func:`prepare` without running anything (``build --dry-run``).

    The target's interpreter is the manifest's (a dry run is how one looks at a manifest before
    trusting it): it is not probed, and the facts only it can give are marked unknown
    (:meth:`Interpreter.unknown`). No container, no chroot, no host tool is run.
    """
    from venvrpm import buildreqs, fetch
    from venvrpm import project as project_module

    lock = manifest.read_lock()
    manifest_module.require_version(manifest)
    # Lines without a marker are needed whatever the target: the wheelhouse must serve them.
    fetch.require_served(manifest, dataclasses.replace(
        lock, requirements=tuple(r for r in lock.requirements if r.marker is None)))  # fmt: skip
    tools_dir = workdir / "tools"
    tools = Tools(
        host_python=sys.executable, toolbox=tools_dir, pip=tools_dir / "pip",
        uv=tools_dir / "uv" if manifest.build.installer == "uv" else None,
        rpmbuild="rpmbuild", elfdeps="elfdeps", signing=("rpmsign", "gpg") if sign_key else None,
    )  # fmt: skip
    build_lock = buildreqs.lock_path(manifest.requirements)
    return _plan(
        manifest, Interpreter.unknown(manifest.python), tools,
        build_lock if build_lock.is_file() else None, lock, project_module.read(manifest.project),
        workdir=workdir, output_dir=output_dir, source_date_epoch=source_date_epoch,
        host_env=host_env, sign_key=sign_key,
    )  # fmt: skip


def _plan(
    manifest: Manifest, interpreter: Interpreter, tools: Tools, build_lock: Path | None,
    lock: lockfile.Lock, project: project_module.ProjectMetadata | None, *, workdir: Path,
    output_dir: Path, source_date_epoch: int, host_env: Mapping[str, str],
    stage: Path | None = None, sign_key: str | None = None,
) -> BuildPlan:  # fmt: skip
    """The plan once the interpreter, tools and locks are known (probed by :func:`prepare`,
    taken from the manifest by :func:`sketch`): the rest is the same for both."""
    from venvrpm import venvbuild

    # venvrpm's build helper builds a project with a pyproject.toml; else the installer does
    build_requires = project.build_requires if project is not None and project.pyproject else None
    plan = make_plan(
        manifest, stage=stage, interpreter=interpreter, tools=tools, workdir=workdir,
        output_dir=output_dir, source_date_epoch=source_date_epoch, host_env=host_env,
        build_requires=build_requires, build_helper=venvbuild.helper_source("build_project.py"),
        compile_helper=venvbuild.helper_source("compile_tree.py"),
        build_lock=build_lock, sign_key=sign_key,
    )  # fmt: skip
    return dataclasses.replace(plan, lock=lock, project=project)


@dataclass(frozen=True, slots=True)
class Assembled:
    """The staged payload and what the spec needs to know of it."""

    content: payload.Payload
    requires: tuple[str, ...]
    provides: tuple[str, ...]
    sbom: str
    warnings: tuple[str, ...]
    distributions: tuple[tuple[str, str], ...] = ()


def assemble(
    plan: BuildPlan,
    runners: Runners,
    report: Reporter = _quiet,
    cache: cache_module.Cache | None = None,
) -> Assembled:
    """Build, relocate and check the payload in ``plan.stage``; compute Requires and Provides."""
    from venvrpm import environment, finalise, payload, pydists, rpmrequires

    manifest = plan.manifest
    assert plan.lock is not None, "prepare() parses the lock"
    # the locked requirements alone, relocated and compiled: restored from the cache or built
    with environment.locked(plan, runners, plan.lock, report, cache) as env:
        if plan.install_project is not None:
            env.warnings += environment.add_project(plan, runners, report, cache)
        distributions, sbom_text, attrs = finalise.check(
            plan, plan.lock, report, env.warnings, env.blame, env.recorded
        )
    warnings = env.warnings
    report("step", "listing the payload")
    content = payload.inventory(plan.stage, attrs, payload.ownership(manifest))
    elf = rpmrequires.elf_requires(plan, runners.host, content.elf_files)
    # python(abi): rpm refuses a target whose interpreter has another ABI, even at that path.
    interpreter = [str(manifest.python), f"python(abi) = {plan.interpreter.minor}"]
    requires = rpmrequires.all_requires(interpreter, elf, manifest.requires)
    return Assembled(
        content, tuple(requires), tuple(pydists.provides(distributions)), sbom_text,
        tuple(warnings), tuple((d.name, d.version) for d in distributions),
    )  # fmt: skip


def render(plan: BuildPlan, assembled: Assembled) -> str:
    """The spec for the assembled payload."""
    from venvrpm import scriptlets, spec

    return spec.render(
        plan.manifest, assembled.content, assembled.requires, binary_payload=plan.binary_payload,
        provides=assembled.provides, scripts=scriptlets.combined(plan.manifest),
    )  # fmt: skip


def build(
    plan: BuildPlan,
    runners: Runners,
    report: Reporter = _quiet,
    *,
    spec_only: bool = False,
    cache: cache_module.Cache | None = None,
) -> BuildResult:
    """Carry out *plan*: the RPM lands in ``plan.output_dir`` whole, or not at all."""
    with _settling(cache, report):
        return _build(plan, runners, report, spec_only=spec_only, cache=cache)


def _build(
    plan: BuildPlan,
    runners: Runners,
    report: Reporter,
    *,
    spec_only: bool,
    cache: cache_module.Cache | None,
) -> BuildResult:
    from venvrpm import rpmbuild

    manifest = plan.manifest
    assembled = assemble(plan, runners, report, cache)
    report("step", "writing the spec")
    spec_text = render(plan, assembled)
    content = assembled.content
    result = BuildResult(
        rpm=None, spec=None, sbom=assembled.sbom, requires=assembled.requires,
        files=len(content.entries),  # directories too, as rpm lists them
        payload_size=content.size, warnings=assembled.warnings, workdir=None,
        distributions=assembled.distributions,
    )  # fmt: skip
    if spec_only:
        spec_path = _deliver_text(spec_text, plan.output_dir / f"{manifest.name}.spec")
        return dataclasses.replace(result, spec=spec_path)
    report("step", "running rpmbuild")
    built = rpmbuild.build(plan, spec_text, runners.host, report, content.size)
    report("step", "verifying the RPM")
    rpmbuild.verify(plan, built, [e.path for e in content.entries], runners.host)
    # what `rpm -qpR` shows: rpmbuild adds its rpmlib() requires to the spec's
    result = dataclasses.replace(result, requires=rpmbuild.requires_of(plan, built, runners.host))
    if plan.sign is not None and plan.sign_key is not None:
        report("step", f"signing with {plan.sign_key}")
        rpmbuild.sign(plan.sign, plan.sign_key, built, runners.host)
    try:
        final = rpmbuild.deliver(built, plan.output_dir)
    except OSError as exc:
        raise VenvrpmError(
            f"cannot write the RPM into {plan.output_dir}: {exc.strerror or exc}",
            "choose a writable output directory with -o, with room for the RPM",
        ) from None
    for warning in assembled.warnings:
        report("warning", warning)
    return dataclasses.replace(result, rpm=final)


def source_rpm(
    plan: BuildPlan,
    runners: Runners,
    report: Reporter = _quiet,
    cache: cache_module.Cache | None = None,
) -> Path:
    """A source RPM that rebuilds this RPM offline on a build farm; delivered like an RPM."""
    from venvrpm import rpmbuild, srpm

    with _settling(cache, report):
        assembled = assemble(plan, runners, report, cache)
        report("step", "making the source RPM")
        srpm.write_sources(plan.manifest, plan.topdir / "SOURCES", plan.hostdir / "srpm",
                           plan.source_date_epoch, runners.host, report)  # fmt: skip
        text = srpm.source_spec(render(plan, assembled), plan.manifest, plan.source_date_epoch)
        built = rpmbuild.build_source(plan, text, runners.host)
    try:
        return rpmbuild.deliver(built, plan.output_dir)
    except OSError as exc:
        raise VenvrpmError(
            f"cannot write the source RPM into {plan.output_dir}: {exc.strerror or exc}"
        ) from None


def stage(
    plan: BuildPlan, runners: Runners, file_list: Path, report: Reporter = _quiet
) -> Assembled:
    """Assemble into ``plan.stage`` (an SRPM's %{buildroot}) and write its %files lines."""
    from venvrpm import spec

    assembled = assemble(plan, runners, report)
    spec.check_unambiguous(assembled.content.entries)
    lines = [spec.file_line(entry) for entry in assembled.content.entries]
    _deliver_text("\n".join(lines) + "\n", file_list)
    return assembled


@contextlib.contextmanager
def _settling(cache: cache_module.Cache | None, report: Reporter) -> Iterator[None]:
    """At the build's end, whatever its outcome, the cache stores its new entry and takes back
    the one the build took (Cache.settle): only after rpmbuild, whose cost grows with the
    square of the staged files that have other links."""
    try:
        yield
    finally:
        if cache is not None and cache.unsettled():
            report("step", "storing the environment in the cache")
            known = len(cache.warnings)
            cache.settle()
            for warning in dict.fromkeys(cache.warnings[known:]):
                report("warning", warning)


def _deliver_text(text: str, path: Path) -> Path:
    from venvrpm import files

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return files.write_replacing(path, text)
    except OSError as exc:
        raise VenvrpmError(f"cannot write {path}: {exc.strerror or exc}") from None
