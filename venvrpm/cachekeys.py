"""The environment cache's keys: what a cached environment (or build environment) depends on.

A key names the lock, the interpreter and the build environment it was made with, and the
commands that made it with the work directory's paths left out; ``about`` is what ``venvrpm
cache list`` shows of an entry.
"""

from __future__ import annotations

import hashlib

from venvrpm import backends, files, venvbuild
from venvrpm import cache as cache_module
from venvrpm.manifest import Manifest
from venvrpm.plan import BuildIdentity, BuildPlan, Interpreter
from venvrpm.runner import Runner


def identify(manifest: Manifest, interpreter: Interpreter, host: Runner) -> BuildIdentity | None:
    """The interpreter and build environment, as every cache key names them; None when the
    build environment cannot be identified (an image not pulled yet): no caching then."""
    backend = backends.identity(manifest, host)
    if not all(backend):
        return None
    return BuildIdentity(
        interpreter=(str(interpreter.path), interpreter.version, interpreter.implementation,
                     interpreter.platform, interpreter.libc, interpreter.executable_sha256),
        backend=tuple(backend),
    )  # fmt: skip


def environment_key(plan: BuildPlan) -> str:
    """The cache key of the environment *plan* builds before its project goes in; "" when the
    build environment has no identity (``plan.built_with``)."""
    manifest = plan.manifest
    if plan.built_with is None:
        return ""
    return cache_module.key_of(
        {
            # what is installed: the lock as parsed for this target, not its file's bytes
            "lock": hashlib.sha256(plan.locked_text.encode()).hexdigest(),
            "prefix": str(manifest.prefix),
            **plan.built_with.key(),
            # how the venv is made and filled (virtualenv or venv, which pip, which installer)
            "create": [
                a
                for a in (*plan.create_venv, *plan.create_venv_fallback)
                if not a.startswith(str(plan.workdir))
            ],
            # uv's builds run no pip (pipeline.prepare never asks which): "uv"
            "installer": plan.tools.pip.name if manifest.build.installer == "pip" else "uv",
            # paths of the lock and wheelhouse left out: their content is what counts
            "install": [_placeholder(a, plan) for a in plan.install_lock],
            "pip_env": sorted(plan.pip_env),
            # install: host (venvrpm's interpreter makes it, pypa/installer fills it): its own
            # entries; the key of every other build is unchanged
            **({"install": "host"} if manifest.install == "host" else {}),
            # the lock's sdists are built with it
            "build_lock": files.sha256_hex(plan.build_lock) if plan.build_lock else None,
            # and with these compiler flags
            "source_build_flags": list(venvbuild.SOURCE_BUILD_FLAGS),
        }
    )  # fmt: skip


def build_env_key(plan: BuildPlan) -> str:
    """The cache key of the build environment (``plan.build_env``); "" when it has none."""
    manifest = plan.manifest
    if plan.build_env is None or plan.build_lock is None or plan.built_with is None:
        return ""
    assert manifest.wheelhouse is not None
    return cache_module.key_of({
        "kind": "build-env",
        "build_lock": files.sha256_hex(plan.build_lock),
        "requires": [_placeholder(a, plan) for a in plan.build_env],
        # uv installs it otherwise than pip (its INSTALLER, RECORD and bytecode): its own
        # entries; the key of a pip build is unchanged
        **({"installer": "uv"} if manifest.build.installer == "uv" else {}),
        "wheelhouse": sorted((p.name, p.stat().st_size) for p in manifest.wheelhouse.iterdir()),
        **plan.built_with.key(),
    })  # fmt: skip


def _placeholder(arg: str, plan: BuildPlan) -> str:
    manifest = plan.manifest
    if plan.build_lock is not None and arg == str(plan.build_lock):
        return "<build-lock>"
    if manifest.wheelhouse is not None and arg == str(manifest.wheelhouse):
        return "<wheelhouse>"
    return "<workdir>" if arg.startswith(str(plan.workdir)) else arg


def about(plan: BuildPlan) -> dict[str, str]:
    """What ``venvrpm cache list`` shows of an entry (never pip's environment: it may hold
    credentials)."""
    return {
        "app": plan.manifest.name,
        "prefix": str(plan.manifest.prefix),
        "interpreter": f"{plan.interpreter.path} {plan.interpreter.version}",
        "backend": backends.describe(plan.manifest),
    }
