"""``venvrpm test``: run the project's tests in an environment built like the shipped one.

Same interpreter, same install steps and flags as ``venvrpm build`` (main lock with hashes, then
the project, then ``pip check``), plus the test environment's lock (``lock.environments``, also
hash-checked). It is a throwaway venv: test tools never reach the shipped one.
"""

from __future__ import annotations

import os

from venvrpm import lockfile, pipeline, venvbuild
from venvrpm.errors import UsageError, VenvrpmError
from venvrpm.plan import BuildPlan
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
    if tests.environment and extra is not None:
        lockfile.read(extra.output)
    venvbuild.create(plan, runner)
    # installs run with build isolation off and the hash-checked build lock on PYTHONPATH
    pipeline.ensure_build_env(plan, runner)
    venvbuild.install(plan, runner)
    if extra is not None:
        venvbuild.ensure_pip(plan)
        runner.run(
            [*plan.install_lock[: plan.install_lock.index("-r")], "-r", str(extra.output)],
            what=f"installing the {extra.name} lock",
            env={**dict(plan.pip_env), **plan.build_env_vars},
        )
        venvbuild.check(plan, runner)
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
