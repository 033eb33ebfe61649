"""``install: host``: the locked wheels installed into the venv on this host, without running
the target's interpreter (docs/targets.md, "Installing on the host").

For another architecture every program the target runs is emulated (qemu-user): virtualenv,
pip and the bytecode compiler made a build about six times slower. None of them needs the
target's machine code: a wheel is unpacked, not executed, and bytecode depends on the
interpreter's version, not on the architecture. So venvrpm's own interpreter does it, on this
host, when it is the target's implementation and version (its virtualenv then makes the venv
the target's would, and its compiler writes the same bytecode): refused otherwise, as is a
lock with a distribution that has no wheel for the target (an sdist must be built by the
target). The target still runs twice, briefly: the probe, and the tags its pip accepts.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from venvrpm import fetch, venvbuild
from venvrpm.errors import LockError, UsageError, VenvrpmError
from venvrpm.lockfile import Lock
from venvrpm.plan import BuildPlan, Interpreter
from venvrpm.runner import Runner

_OTHERWISE = "or set the target's `install: target` (its interpreter installs, emulated)"


def check_host(interpreter: Interpreter) -> None:
    """venvrpm's interpreter must be the target's implementation and version: it makes the
    venv (pyvenv.cfg records its version) and compiles the bytecode (its compiler's output)."""
    here = (sys.implementation.name, platform.python_version())
    if here != (interpreter.implementation, interpreter.version):
        raise UsageError(
            f"install: host needs venvrpm to run on the target's Python, "
            f"{interpreter.implementation} {interpreter.version}; it runs on {' '.join(here)}",
            f"install venvrpm with that Python version on this host, {_OTHERWISE}",
        )


def choose_wheels(lock: Lock, wheelhouse: Path | None, tags: Sequence[str]) -> tuple[Path, ...]:
    """Of the wheelhouse's files of an allowed hash, each distribution's wheel that fits the
    target's *tags* (best first, as its pip ranks them) best; refused, naming every
    distribution without one."""
    if wheelhouse is None:
        raise UsageError(
            "install: host installs from a wheelhouse, and the manifest names none",
            f"set `wheelhouse:` and fill it with `venvrpm fetch` (needs the index once), {_OTHERWISE}",
        )
    rank = {tag: i for i, tag in enumerate(tags)}
    have = fetch.by_hash(wheelhouse)
    chosen: list[Path] = []
    lacking: list[str] = []
    for req in lock.requirements:
        best: tuple[int, Path] | None = None
        offered: list[str] = []
        for digest in req.hashes:
            path = have.get(digest)
            if path is None:
                continue
            offered.append(path.name)
            try:
                fits = [rank[str(t)] for t in parse_wheel_filename(path.name)[3] if str(t) in rank]
            except InvalidWheelFilename:  # an sdist
                continue
            if fits and (best is None or (min(fits), path.name) < (best[0], best[1].name)):
                best = (min(fits), path)
        if best is None:
            lacking.append(f"{req.name}=={req.version}: "
                           + (", ".join(sorted(set(offered))) or "no file in the wheelhouse"))  # fmt: skip
        else:
            chosen.append(best[1])
    if lacking:
        raise LockError(
            f"install: host needs a wheel for the target of every locked distribution; "
            f"{len(lacking)} have none in the wheelhouse",
            f"fetch the target's wheels (`venvrpm fetch`), {_OTHERWISE}: it builds sdists",
            details=lacking,
        )
    return tuple(chosen)


def create(plan: BuildPlan, host: Runner) -> None:
    """The empty venv, made by venvrpm's interpreter with the virtualenv command the target's
    would run; refused unless it runs the target's interpreter path."""
    venvbuild.stage_toolbox(plan.tools.toolbox)
    host.run((sys.executable, *plan.create_venv[1:]), what="creating the virtualenv on this host",
             cwd=plan.workdir, env=dict(plan.venv_env))  # fmt: skip
    link = os.readlink(plan.venv_dir / "bin" / "python")
    if link != str(plan.interpreter.path):
        raise VenvrpmError(
            f"install: host: the venv made on this host runs {link}, not the target's "
            f"{plan.interpreter.path}",
            f"name the target's python by the path its interpreter has on both systems "
            f"(e.g. /usr/bin/python{plan.interpreter.minor}), {_OTHERWISE}",
        )


def install(plan: BuildPlan) -> tuple[dict[str, str], list[str]]:
    """Unpack ``plan.host_wheels`` into the venv at their final paths (pypa/installer, as the
    project's wheel). Returns the file installed per distribution (``sha256:HEX``, as pip's
    report gives it: installreport) and installer's warnings."""
    assert plan.lock is not None, "prepare() parses the lock"
    allowed = {req.name: req.hashes for req in plan.lock.requirements}
    recorded: dict[str, str] = {}
    warnings: list[str] = []
    for wheel in plan.host_wheels:
        name = parse_wheel_filename(wheel.name)[0]
        # Hashed again as installed, from the one open file: the wheelhouse is a directory of
        # the user's, and the file chosen when preparing may have been replaced since.
        try:
            fh = open(wheel, "rb", opener=_no_follow)  # noqa: SIM115 (closed by the with below)
        except OSError as exc:
            raise LockError(f"install: host: cannot read {wheel.name}: {exc.strerror}",
                            "find out what changed the wheelhouse, and build again") from None  # fmt: skip
        with fh:
            digest = "sha256:" + hashlib.file_digest(fh, "sha256").hexdigest()
            if digest not in allowed.get(name, ()):
                raise LockError(
                    f"install: host: {wheel.name} changed in the wheelhouse during the build",
                    "find out what writes into the wheelhouse, and build again",
                )
            fh.seek(0)
            warnings += venvbuild.install_wheel(plan, wheel, what=f"installing {wheel.name}",
                                                opened=fh)  # fmt: skip
        recorded[name] = digest
    return recorded, warnings


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)
