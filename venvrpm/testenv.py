"""``venvrpm test``: run the project's tests in an environment built like the shipped one.

With the build's own steps and the plan's commands: the same interpreter and venv, the build
lock, the main lock installed hash-checked by the build's installer, the project's wheel built
by its backend and installed by venvrpm (venvbuild.build_wheel, install_wheel), then the test
environment's lock (``test.environment``, also hash-checked, by the same installer), and the
build's dependency check (depcheck, pip check's rules with the target's markers). It is a
throwaway venv: test tools never reach the shipped one. Not relocated or compiled: it is not
shipped, and the tests run it where it is.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from venvrpm import environment, files, finalise, lockfile, progress, pydists, venvbuild
from venvrpm.errors import UsageError, VenvrpmError
from venvrpm.plan import BuildPlan, locked_test_requirements
from venvrpm.runner import Runner


def run_tests(plan: BuildPlan, runner: Runner) -> None:
    """Build the environment and run the test command; raise VenvrpmError if the tests fail."""
    manifest = plan.manifest
    tests = manifest.tests
    if tests is None:
        raise UsageError(
            f"{manifest.source.name} has no `test:` section",
            "add test: {command: [pytest, -q]} and a lock environment with the test tools",
        )
    extra = manifest.lock_target(tests.environment) if tests.environment else None
    extra_lock = lockfile.read(extra.output) if extra is not None else None
    venvbuild.create(plan, runner)
    # installs run with build isolation off and the hash-checked build lock on PYTHONPATH
    environment.ensure_build_env(plan, runner)
    venvbuild.install_lock(plan, runner)
    if manifest.project is not None:
        environment.install_project(plan, runner, progress.quiet, None, final_paths=False)
    if extra_lock is not None and plan.install_test_lock is not None:
        venvbuild.ensure_pip(plan, plan.install_test_lock)
        # as parsed, as for the main lock: pip never reads the file itself
        files.write_replacing(
            locked_test_requirements(plan.workdir),
            test_requirements(extra_lock, dict(plan.interpreter.markers)),
        )
        runner.run(
            plan.install_test_lock,
            what=f"installing the {tests.environment} lock",
            env={
                **dict(plan.pip_env),
                **plan.build_env_vars,
                **venvbuild.source_build_env(plan),
            },
        )
    _check_dependencies(plan, extra_lock)
    workdir = plan.project_copy if manifest.project is not None else manifest.base_dir
    bindir = plan.venv_dir / "bin"
    env = {
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "VIRTUAL_ENV": str(plan.venv_dir),
    }
    result = runner.run(
        tests.command, what="running the tests", cwd=workdir, env=env, check=False, capture=False
    )
    if result.returncode != 0:
        raise VenvrpmError(
            f"the tests failed: `{' '.join(tests.command)}` exited with {result.returncode}",
            "they ran against the main lock, the project and the "
            f"{tests.environment or 'main'} lock, installed as `venvrpm build` installs them",
        )


def test_requirements(extra: lockfile.Lock, markers: Mapping[str, str]) -> str:
    """The test environment's lock as its installer reads it: selected for the target first.
    A pylock.toml's markers are PEP 751's (``dependency_groups``, ``extras`` as sets), which
    pip cannot evaluate on a requirement line, and a quoted string in one is the lock's text;
    selected, no marker is left to write. Every file of a package kept is allowed: pip picks
    by its tags, as for a requirements lock."""
    return lockfile.normalized(extra.for_target(markers))


def _check_dependencies(plan: BuildPlan, extra: lockfile.Lock | None) -> None:
    """The build's dependency check on the test venv (finalise.check_dependencies), with the
    test environment's lock too."""
    markers = dict(plan.interpreter.markers)
    main = plan.lock
    assert main is not None, "prepare() parses the lock"
    locks = [lock.for_target(markers) for lock in (main, *([extra] if extra is not None else []))]
    finalise.check_dependencies(
        plan, locks, pydists.find(plan.venv_dir, _both(main, extra), None),
        "a test tool needs another version of a shipped distribution, or a dependency is "
        "missing from a lock: re-lock (`venvrpm lock app.yaml` locks the test environment "
        "with the main lock as constraints)",
    )  # fmt: skip


def _both(main: lockfile.Lock, extra: lockfile.Lock | None) -> lockfile.Lock:
    """The main lock with the test environment's lines: what the test venv may hold."""
    if extra is None:
        return main
    return dataclasses.replace(main, requirements=(*main.requirements, *extra.requirements))
