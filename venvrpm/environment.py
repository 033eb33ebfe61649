"""The venv's environment: the locked requirements (restored from the environment cache, or
created, installed, relocated and compiled, then kept), the build requirements, the project.

What the cache gives back is untrusted: the checks after (venvrpm.finalise) run on it too, and
an entry that fails them is dropped (:meth:`Locked.blame`).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from venvrpm import cache as cache_module
from venvrpm import cachekeys, hostinstall, installreport, relocate, stagecheck, venvbuild
from venvrpm.errors import VenvrpmError
from venvrpm.lockfile import Lock
from venvrpm.plan import BuildPlan
from venvrpm.progress import Report as Reporter
from venvrpm.progress import quiet as _quiet
from venvrpm.runner import Runner, Runners


@dataclass(slots=True)
class Locked:
    """The environment of the locked requirements in ``plan.venv_dir``, as :func:`locked`
    made it."""

    recorded: dict[str, str]
    """Which file each distribution was installed from: the installer's report, kept with the
    cached environment (both untrusted: checked against the lock again)."""
    warnings: list[str] = field(default_factory=list)
    """What the build says at its end (not compiled files, the cache's problems...)."""
    cache: cache_module.Cache | None = None
    key: str = ""
    """The environment's cache entry, when it was restored from it."""

    def blame(self, exc: VenvrpmError) -> None:
        """A check failed on what the environment holds: when it came from the cache, say so
        and drop the entry."""
        if self.cache is not None and self.key:
            _blame_the_cache(exc, self.cache, self.key)


@contextlib.contextmanager
def locked(
    plan: BuildPlan,
    runners: Runners,
    lock: Lock,
    report: Reporter = _quiet,
    cache: cache_module.Cache | None = None,
) -> Iterator[Locked]:
    """The locked requirements in ``plan.venv_dir``, relocated and compiled: restored from
    *cache*, or built and staged for it. A new entry is kept only if the block (the project's
    install and every check) succeeds: a broken environment must not be reused by every build."""
    runner = runners.target
    key = cachekeys.environment_key(plan) if cache is not None else ""
    if cache is not None and key:
        report("step", "looking up the environment cache")
    pending: cache_module.Pending | None = None
    # taken, not linked: rpmbuild's cost grows with the square of multiply-linked files
    if cache is not None and key and cache.restore(key, plan.venv_dir, take=True):
        report("info", f"reusing the cached environment {key[:12]}")
        made = Locked(installreport.checked(cache.restored(key).get("installed"), lock),
                      cache=cache, key=key)  # fmt: skip
    elif plan.manifest.install == "host":
        # no code of the target runs: the wheels chosen when preparing, unpacked here
        report("step", "creating the virtualenv on this host")
        hostinstall.create(plan, runners.host)
        report("step", f"unpacking {len(plan.host_wheels)} locked wheels on this host")
        recorded, warnings = hostinstall.install(plan)
        made = Locked(installreport.checked(recorded, lock), warnings)
        made.warnings += _relocate_and_compile(plan, runners, report)
    else:
        report("step", "creating the virtualenv")
        venvbuild.create(plan, runner)
        # sdists of the lock build with the hash-checked build requirements
        ensure_build_env(plan, runner, report, cache)
        count = len(lock.requirements)
        report("step", f"installing {count} locked requirements")
        venvbuild.install_lock(plan, runner, report, count)
        made = Locked(installreport.read(plan.install_report, lock))
        made.warnings += _relocate_and_compile(plan, runners, report)
    if made.key == "" and cache is not None and key:
        # made here, either way: recorded now, before the project goes in; linked in once the
        # RPM is built (Cache.settle), only if every check passed
        pending = cache.stage(
            key, plan.venv_dir, {**cachekeys.about(plan), "installed": made.recorded}
        )
    try:
        yield made
    except BaseException:
        if pending is not None:
            pending.discard()
        if cache is not None:
            cache.confirm()  # a restored entry the project wrote into in place is dropped
        raise
    if cache is not None:
        if pending is not None:
            pending.approve()
        cache.confirm()
        made.warnings += dict.fromkeys(cache.warnings)


def add_project(
    plan: BuildPlan,
    runners: Runners,
    report: Reporter,
    cache: cache_module.Cache | None,
) -> list[str]:
    """The project from a copy of its tree, compiled (only what its install wrote): its wheel
    built with cached build requirements and installed by pypa/installer at its final paths
    under the stage (its destdir), else (uv, or a backend that asks for more) built and
    installed by the installer itself, then relocated too."""
    untouched = relocate.snapshot(plan.venv_dir)
    warnings, final_paths = install_project(plan, runners.target, report, cache)
    return [*warnings, *_relocate_and_compile(plan, runners, report, untouched,
                                              relocating=not final_paths)]  # fmt: skip


def install_project(
    plan: BuildPlan,
    runner: Runner,
    report: Reporter,
    cache: cache_module.Cache | None,
    *,
    final_paths: bool = True,
) -> tuple[list[str], bool]:
    """The project as a build installs it (``venvrpm test`` too, with not *final_paths*: its
    venv is never relocated, so its scripts must run the venv's interpreter where it is).
    Returns the warnings, and whether the files were written at their final paths (by
    pypa/installer: bytecode only) rather than by pip or uv (relocated)."""
    if plan.build_wheel is None or plan.manifest.project is None:
        report("step", "installing the project")
        venvbuild.install_project_with_installer(plan, runner)
        return [], False
    report("step", "building the project")
    venvbuild.copy_project(plan.manifest.project, plan.project_copy)
    ensure_build_env(plan, runner, report, cache)
    wheel = venvbuild.build_wheel(plan, runner)
    report("step", "installing the project")
    if wheel is None:
        shutil.rmtree(plan.project_copy)
        venvbuild.install_project_with_installer(plan, runner)
        return [], False
    return venvbuild.install_wheel(plan, wheel, final_paths=final_paths), True


def ensure_build_env(
    plan: BuildPlan,
    runner: Runner,
    report: Reporter = _quiet,
    cache: cache_module.Cache | None = None,
) -> None:
    """The build lock installed (hash-checked) in ``plan.build_env_dir``, once per build: every
    install runs with build isolation off and this directory on PYTHONPATH."""
    if plan.build_env_dir.is_dir():
        return
    if plan.build_env is None:
        plan.build_env_dir.mkdir()
        return
    # Only from a wheelhouse: online, the index may offer newer build requirements any time.
    key = cachekeys.build_env_key(plan) if plan.offline else ""
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
    plan: BuildPlan,
    runners: Runners,
    report: Reporter,
    untouched: relocate.Snapshot | None = None,
    *,
    relocating: bool = True,
) -> list[str]:
    """Relocate what was written since *untouched* (everything without it), then compile it
    for its final path. Not *relocating*: written at its final paths already (pypa/installer),
    bytecode only."""
    manifest = plan.manifest
    if relocating:
        report("step", "relocating to " + str(manifest.prefix))
    else:
        report("step", f"compiling the project for {manifest.prefix}")
    # with a snapshot, only what was written since: listed once for relocation and bytecode
    stagecheck.links_out(plan.stage, manifest)  # the build just wrote there: before touching it
    changed = None if untouched is None else relocate.changed_since(plan.stage, untouched)
    if relocating:
        relocate.relocate(plan.stage, plan.venv_dir, plan.workdir, changed, report)
    if plan.manifest.install == "host":  # venvrpm's interpreter is the target's version
        bytecode = venvbuild.compile_bytecode(plan, runners.host, changed, report,
                                              python=sys.executable)  # fmt: skip
    else:
        bytecode = venvbuild.compile_bytecode(plan, runners.target, changed, report)
    report("info", f"compiled {bytecode.compiled} modules for {manifest.prefix}")
    return [f"not compiled ({error}): {path}" for path, error in bytecode.failed]


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
