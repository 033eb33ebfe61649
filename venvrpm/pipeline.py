"""plan -> venv -> install -> relocate -> payload -> spec -> rpmbuild. Reports; never prints."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from venvrpm import (
    backends,
    buildreqs,
    bundled,
    cachekeys,
    depcheck,
    deps,
    entrypoints,
    fetch,
    files,
    installreport,
    lockfile,
    payload,
    relocate,
    rpmbuild,
    sbom,
    scriptlets,
    spec,
    stagecheck,
    venvbuild,
)
from venvrpm import (
    cache as cache_module,
)
from venvrpm import (
    manifest as manifest_module,
)
from venvrpm.errors import LockError, VenvrpmError, at_most
from venvrpm.manifest import Manifest
from venvrpm.plan import BuildPlan, Interpreter, Tools, make_plan
from venvrpm.runner import Runner, Runners

# cli calls these two here
from venvrpm.sourcedate import default_source_date_epoch as default_source_date_epoch
from venvrpm.sourcedate import source_date_epoch as source_date_epoch
from venvrpm.workspace import workspace as workspace  # cli's name for it

Reporter = Callable[[str, str], None]
"""``report(kind, text)`` with kind ``step`` (a new step begins), ``info``, ``detail`` (shown
with -v only) or ``warning``; and ``total``, ``advance``, ``count`` for how far a long step is
(venvrpm.progress)."""


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


def _quiet(kind: str, text: str) -> None:
    return None


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
) -> BuildPlan:
    """Probe tools and interpreter, check the lock, and decide the plan.

    *cache*: keeps pip unpacked and compiled between builds on this host (as an entry).
    """
    report("step", f"checking the lock {manifest.requirements.name}")
    lock = lockfile.read(manifest.requirements)
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
    # lines whose marker is false for the target are skipped, as fetch and pip skip them
    markers = dict(interpreter.markers)
    lock = lock.for_target(markers)
    # Offline: everything the target installs must be there before anything is built.
    _check_wheelhouse(manifest, lock)
    tools_dir = workdir / "tools"  # virtualenv is copied in only if a venv is created
    tools_dir.mkdir(exist_ok=True)
    # Kept between host builds: unpacking pip and compiling what it imports cost ~1 s.
    pip, place_pip = (
        venvbuild.deferred_pip(interpreter, tools_dir, runners.target, cache)
        if cache is not None and manifest.build.kind == "host"
        else (venvbuild.pip_for(interpreter, tools_dir), None)
    )
    tools = Tools(
        host_python=sys.executable,
        toolbox=tools_dir,
        pip=pip,
        place_pip=place_pip,
        uv=venvbuild.find_uv(runners.host, tools_dir, copy=manifest.build.kind != "host")
        if manifest.build.installer == "uv"
        else None,
        rpmbuild=rpmbuild.find_rpmbuild(runners.host),
        elfdeps=rpmbuild.find_elfdeps(runners.host),
    )
    return _plan(
        manifest, interpreter, tools, _build_lock(manifest, lock, markers),
        workdir=workdir, output_dir=output_dir, source_date_epoch=source_date_epoch,
        host_env=host_env, stage=stage,
    )  # fmt: skip


def sketch(
    manifest: Manifest,
    *,
    workdir: Path,
    output_dir: Path,
    source_date_epoch: int,
    host_env: Mapping[str, str],
) -> BuildPlan:
    """The plan of :func:`prepare` without running anything (``build --dry-run``).

    The target's interpreter is the manifest's (a dry run is how one looks at a manifest before
    trusting it): it is not probed, and the facts only it can give are marked unknown
    (:meth:`Interpreter.unknown`). No container, no chroot, no host tool is run.
    """
    lock = lockfile.read(manifest.requirements)
    manifest_module.require_version(manifest)
    # Lines without a marker are needed whatever the target: the wheelhouse must serve them.
    _check_wheelhouse(manifest, dataclasses.replace(
        lock, requirements=tuple(r for r in lock.requirements if r.marker is None)))  # fmt: skip
    tools_dir = workdir / "tools"
    tools = Tools(
        host_python=sys.executable,
        toolbox=tools_dir,
        pip=tools_dir / "pip",
        uv=tools_dir / "uv" if manifest.build.installer == "uv" else None,
        rpmbuild="rpmbuild",
        elfdeps="elfdeps",
    )
    build_lock = buildreqs.lock_path(manifest.requirements)
    return _plan(
        manifest, Interpreter.unknown(manifest.python), tools,
        build_lock if build_lock.is_file() else None,
        workdir=workdir, output_dir=output_dir, source_date_epoch=source_date_epoch,
        host_env=host_env,
    )  # fmt: skip


def _plan(
    manifest: Manifest,
    interpreter: Interpreter,
    tools: Tools,
    build_lock: Path | None,
    *,
    workdir: Path,
    output_dir: Path,
    source_date_epoch: int,
    host_env: Mapping[str, str],
    stage: Path | None = None,
) -> BuildPlan:
    """The plan once the interpreter, tools and build lock are known (probed by :func:`prepare`,
    taken from the manifest by :func:`sketch`): the rest is the same for both."""
    return make_plan(
        manifest,
        stage=stage,
        interpreter=interpreter,
        tools=tools,
        workdir=workdir,
        output_dir=output_dir,
        source_date_epoch=source_date_epoch,
        host_env=host_env,
        build_requires=_build_requires(manifest.project),
        build_helper=venvbuild.helper_source("build_project.py"),
        build_lock=build_lock,
    )


def _build_requires(project: Path | None) -> tuple[str, ...] | None:
    """The project's ``[build-system] requires`` when venvrpm's build helper can build it (a
    pyproject.toml); None when only the installer's own build can do."""
    if project is None or not (project / "pyproject.toml").is_file():
        return None
    return buildreqs.project_requires(project)


def _build_lock(manifest: Manifest, lock: lockfile.Lock, markers: Mapping[str, str]) -> Path | None:
    """The build lock to build with, checked; None when nothing needs build requirements.

    Who needs them is known before building for the project, and for sdists only with a
    wheelhouse (online, pip picks the files): online, an existing build lock is always used,
    and an sdist that needs one without it fails in pip (build isolation is off).
    """
    path = buildreqs.lock_path(manifest.requirements)
    who = buildreqs.needs(manifest.project, lock, manifest.wheelhouse)
    if not path.is_file():
        if who:
            raise buildreqs.missing_lock_error(path, who, manifest.source.name)
        return None
    if not who and manifest.wheelhouse is not None:
        return None
    _check_wheelhouse(manifest, lockfile.read(path).for_target(markers))
    return path


def _check_wheelhouse(manifest: Manifest, lock: lockfile.Lock) -> None:
    """With a wheelhouse, it must hold a file of a locked hash for every line of *lock*."""
    if manifest.wheelhouse is None:
        return
    problems = fetch.problems(lock, manifest.wheelhouse)
    if problems:
        raise LockError(
            f"the wheelhouse {manifest.wheelhouse} cannot serve {lock.path.name}",
            f"fill it with `venvrpm fetch {manifest.source.name}` (needs the index once)",
            details=problems,
        )


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
    manifest = plan.manifest
    runner = runners.target
    warnings: list[str] = []

    # Identified once: for a container it costs an `image inspect`.
    where = cachekeys.where_built(plan, runners) if cache is not None else None
    key = cachekeys.environment_key(plan, where) if where is not None else ""
    if cache is not None and key:
        report("step", "looking up the environment cache")
    cached = cache is not None and bool(key) and cache.restore(key, plan.venv_dir)
    pending: cache_module.Pending | None = None
    lock = lockfile.read(manifest.requirements)
    # which file each distribution was installed from: the installer's report, kept with the
    # cached environment (both untrusted: checked against the lock again)
    recorded: dict[str, str] = {}
    if cached:
        assert cache is not None
        report("info", f"reusing the cached environment {key[:12]}")
        recorded = installreport.checked(cache.restored(key).get("installed"), lock)
    else:
        # The locked requirements alone, relocated and compiled: what the cache keeps.
        report("step", "creating the virtualenv")
        venvbuild.create(plan, runner)
        # sdists of the lock build with the hash-checked build requirements
        ensure_build_env(plan, runners.target, report, cache, where)
        markers = dict(plan.interpreter.markers)
        count = len(lockfile.read(manifest.requirements).for_target(markers).requirements)
        report("step", f"installing {count} locked requirements")
        venvbuild.install_lock(plan, runner, report, count)
        recorded = installreport.read(plan.install_report, lock)
        warnings += _relocate_and_compile(plan, runner, report)
        if cache is not None and key:
            # copied now, before the project goes in; visible to later builds only once every
            # check below passed: a broken environment must not be reused by every build
            pending = cache.stage(
                key, plan.venv_dir, {**cachekeys.about(plan), "installed": recorded}
            )
    try:
        if plan.install_project is not None:
            # The environment is relocated and compiled, restored or just built: the project's
            # step relocates and compiles only what its install writes.
            untouched = relocate.snapshot(plan.venv_dir)
            warnings += _install_project(plan, runners, report, cache, where)
            warnings += _relocate_and_compile(plan, runner, report, untouched)

        def blame(exc: VenvrpmError) -> None:
            if cached and cache is not None:
                _blame_the_cache(exc, cache, key)

        distributions, sbom_text, attrs = _check_stage(plan, report, warnings, blame, recorded)
    except BaseException:
        if pending is not None:
            pending.discard()
        if cache is not None:
            cache.confirm()  # a restored entry the project wrote into in place is dropped
        raise
    if cache is not None:
        if pending is not None:
            report("step", "storing the environment in the cache")
            pending.commit()
            cache.prune()
        cache.confirm()
        for warning in dict.fromkeys(cache.warnings):
            warnings.append(warning)

    report("step", "listing the payload")
    content = payload.inventory(plan.stage, attrs, payload.ownership(manifest))
    elf = deps.elf_requires(runners.host, plan.tools.elfdeps, content.elf_files)
    # python(abi): rpm refuses a target whose interpreter has another ABI, even at that path.
    interpreter = [str(manifest.python), f"python(abi) = {plan.interpreter.minor}"]
    requires = deps.all_requires(interpreter, elf, manifest.requires)
    return Assembled(
        content, tuple(requires), tuple(bundled.provides(distributions)), sbom_text,
        tuple(warnings), tuple((d.name, d.version) for d in distributions),
    )  # fmt: skip


def _check_stage(
    plan: BuildPlan,
    report: Reporter,
    warnings: list[str],
    blame: Callable[[VenvrpmError], None],
    recorded: Mapping[str, str],
) -> tuple[tuple[bundled.Distribution, ...], str, dict[PurePosixPath, payload.Attrs]]:
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
            unmet = depcheck.unmet(_installed(plan, recorded), dict(plan.interpreter.markers))
            if unmet:
                exc.details = (*exc.details, "the venv's requirements are not met either "
                               "(re-lock: `venvrpm lock app.yaml`):", *at_most(unmet))  # fmt: skip
        raise
    report("step", "checking dependencies")
    try:
        distributions = _installed(plan, recorded)
        _check_dependencies(plan, distributions)
    except VenvrpmError as exc:
        blame(exc)
        raise

    stagecheck.links_out(plan.stage, manifest)  # before the host writes into the stage
    payload.stage_extras(manifest, plan.stage, plan.venv_dir)
    _stage_generated(plan, distributions)
    sbom_text = (plan.stage / bundled.sbom_path(manifest.name).relative_to("/")).read_text("utf-8")
    attrs = payload.attributes(manifest)
    attrs[bundled.doc_path(manifest.name)] = payload.Attrs(doc=True)
    attrs[bundled.sbom_path(manifest.name)] = payload.Attrs(doc=True)
    payload.normalise_modes(plan.stage, {p for p, a in attrs.items() if a.mode is not None})
    # What ran during the build may have written anywhere in the stage: none of it ships.
    report("step", "checking what the stage holds")
    stagecheck.confine(plan.stage, manifest)
    warnings += stagecheck.startup_code(plan.venv_dir, manifest.prefix)
    report("step", "verifying that no build path remains")
    relocate.verify_clean(plan.stage, plan.workdir)
    return distributions, sbom_text, attrs


def _blame_the_cache(exc: VenvrpmError, cache: cache_module.Cache, key: str) -> None:
    """A check failed on an environment restored from the cache: say so, and drop the entry
    so the next build makes it afresh (and stores it only if it passes)."""
    dropped = False
    with contextlib.suppress(OSError):  # a cache never fails a build
        dropped = cache.remove(key)
    exc.details = (
        *exc.details,
        f"the environment came from the cache (entry {key[:12]}); "
        + (
            "the entry was dropped: the next build makes it afresh"
            if dropped
            else "rebuild it with `venvrpm cache prune --all`, or build with --no-cache"
        ),
    )


def _install_project(
    plan: BuildPlan,
    runners: Runners,
    report: Reporter,
    cache: cache_module.Cache | None,
    where: dict[str, list[str]] | None,
) -> list[str]:
    """The project from a copy of its tree: its wheel built with cached build requirements,
    else (uv, or a backend that asks for more) by the installer's own isolated build."""
    runner = runners.target
    if plan.build_wheel is None or plan.manifest.project is None:
        report("step", "installing the project")
        venvbuild.install_project(plan, runner)
        return []
    report("step", "building the project")
    venvbuild.copy_project(plan.manifest.project, plan.project_copy)
    ensure_build_env(plan, runners.target, report, cache, where)
    wheel = venvbuild.build_wheel(plan, runner)
    report("step", "installing the project")
    if wheel is None:
        shutil.rmtree(plan.project_copy)
        venvbuild.install_project(plan, runner)
        return []
    return venvbuild.install_wheel(plan, wheel)


def ensure_build_env(
    plan: BuildPlan,
    runner: Runner,
    report: Reporter = _quiet,
    cache: cache_module.Cache | None = None,
    where: dict[str, list[str]] | None = None,
) -> None:
    """The build lock installed (hash-checked) in ``plan.build_env_dir``, once per build: every
    install runs with build isolation off and this directory on PYTHONPATH."""
    if plan.build_env_dir.is_dir():
        return
    if plan.build_env is None:
        plan.build_env_dir.mkdir()
        return
    # Only from a wheelhouse: online, the index may offer newer build requirements any time.
    key = cachekeys.build_env_key(plan, where) if where is not None and plan.offline else ""
    if cache is not None and key and cache.restore(key, plan.build_env_dir):
        return
    report("step", "installing the build requirements")
    venvbuild.make_build_env(plan, runner)
    if cache is not None and key:
        cache.store(
            key,
            plan.build_env_dir,
            {**cachekeys.about(plan), "app": f"{plan.manifest.name} (build)"},
        )


def _relocate_and_compile(
    plan: BuildPlan, runner: Runner, report: Reporter, untouched: relocate.Snapshot | None = None
) -> list[str]:
    manifest = plan.manifest
    report("step", "relocating to " + str(manifest.prefix))
    # with a snapshot, only what was written since: listed once for relocation and bytecode
    stagecheck.links_out(plan.stage, manifest)  # the build just wrote there: before relocating
    changed = None if untouched is None else relocate.changed_since(plan.stage, untouched)
    relocate.relocate(plan.stage, plan.venv_dir, plan.workdir, changed, report)
    bytecode = venvbuild.compile_bytecode(plan, runner, changed, report)
    report("info", f"compiled {bytecode.compiled} modules for {manifest.prefix}")
    return [f"not compiled ({error}): {path}" for path, error in bytecode.failed]


def render(plan: BuildPlan, assembled: Assembled) -> str:
    """The spec for the assembled payload."""
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
    sign_key: str | None = None,
    cache: cache_module.Cache | None = None,
) -> BuildResult:
    """Carry out *plan*: the RPM lands in ``plan.output_dir`` whole, or not at all."""
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
    rpmbuild.verify(built, [e.path for e in content.entries], runners.host)
    if sign_key:
        report("step", f"signing with {sign_key}")
        rpmbuild.sign(built, sign_key, runners.host)
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
    from venvrpm import srpm

    assembled = assemble(plan, runners, report, cache)
    report("step", "making the source RPM")
    sources = plan.topdir / "SOURCES"
    sources.mkdir(parents=True, exist_ok=True)
    scratch = plan.hostdir / "srpm"
    epoch = plan.source_date_epoch
    # modes kept: the project's and the toolchain's executables must stay executable
    kit = srpm.kit(plan.manifest, scratch, runners.host)
    # what leaves the build host, said: the count always, each file with -v
    report("info", f"source kit: {len(kit.files)} files ({kit.wheels} locked wheels; the "
                   f"project's chosen by {kit.project_source}); -v lists them")  # fmt: skip
    for name in kit.files:
        report("detail", f"kit: {name}")
    files.reproducible_tar(
        kit.root, sources / f"{plan.manifest.name}-kit.tar", epoch, normalise_modes=False
    )
    toolchain = srpm.toolchain(scratch)
    files.reproducible_tar(
        toolchain, sources / "venvrpm-toolchain.tar", epoch, normalise_modes=False
    )
    text = srpm.source_spec(render(plan, assembled), plan.manifest, epoch)
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
    assembled = assemble(plan, runners, report)
    spec.check_unambiguous(assembled.content.entries)
    lines = [spec.file_line(entry) for entry in assembled.content.entries]
    _deliver_text("\n".join(lines) + "\n", file_list)
    return assembled


def _deliver_text(text: str, path: Path) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return files.write_replacing(path, text)
    except OSError as exc:
        raise VenvrpmError(f"cannot write {path}: {exc.strerror or exc}") from None


def _installed(plan: BuildPlan, recorded: Mapping[str, str]) -> tuple[bundled.Distribution, ...]:
    """The distributions installed in the venv, with the lock's hashes and the installed file's
    (*recorded* by the installer, else derived from the wheelhouse)."""
    manifest = plan.manifest
    project = _project_name(manifest.project) if manifest.project is not None else None
    found = bundled.find(plan.venv_dir, lockfile.read(manifest.requirements), project, recorded)
    return bundled.with_installed(found, _wheelhouse_files(plan))


def _check_dependencies(plan: BuildPlan, distributions: tuple[bundled.Distribution, ...]) -> None:
    """pip check's rules, in process (depcheck): a requirement the venv does not meet fails."""
    lock = lockfile.read(plan.manifest.requirements).for_target(dict(plan.interpreter.markers))
    venvbuild.check_locked_installed(lock, ((d.name, d.version) for d in distributions))
    problems = depcheck.unmet(distributions, dict(plan.interpreter.markers))
    if problems:
        raise LockError(
            "the installed distributions do not meet each other's requirements",
            "a dependency is missing from the lock or conflicts with it: re-lock with the "
            "project (`venvrpm lock app.yaml` locks the project's dependencies too)",
            details=at_most(problems),
        )


def _stage_generated(plan: BuildPlan, distributions: tuple[bundled.Distribution, ...]) -> None:
    """Files venvrpm writes into the payload: the bundled list, the services' preset."""
    manifest = plan.manifest
    # never through a link: the stage was writable by what ran in the build
    stagecheck.write_file(
        plan.stage,
        bundled.doc_path(manifest.name),
        bundled.document(manifest.name, str(manifest.python), distributions),
    )
    stagecheck.write_file(
        plan.stage, bundled.sbom_path(manifest.name),
        sbom.document(manifest.name, f"{manifest.version}-{manifest.release}", distributions,
                      plan.source_date_epoch),
    )  # fmt: skip
    preset = scriptlets.preset(manifest)
    if preset is not None:
        stagecheck.write_file(plan.stage, preset[0], preset[1])


def _wheelhouse_files(plan: BuildPlan) -> dict[str, Path]:
    """The wheelhouse by hash when it was the install's only source (offline): where the
    installer did not report it (uv), it tells which of the files the lock allows was
    installed."""
    from venvrpm import fetch

    wheelhouse = plan.manifest.wheelhouse
    return fetch.by_hash(wheelhouse) if plan.offline and wheelhouse is not None else {}


def _project_name(project: Path) -> str | None:
    from packaging.utils import canonicalize_name

    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        return None
    import tomllib

    name = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name")
    return canonicalize_name(name) if isinstance(name, str) else None
