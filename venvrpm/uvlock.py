"""``lock.resolver: uv``: the lock resolved by ``uv pip compile`` for the target's Python.

uv does not run the target interpreter to evaluate markers and tags: it is told the version
(``--python-version``, the probed full version) and the platform (``--python-platform``, from
the probed machine and C library). So it can lock for interpreters pip-tools cannot run under
(Python < 3.10: RHEL 9's python3.9). It still runs where the build runs (a copy of the binary
in the work directory), so the sdists whose metadata it must build are built there, by the
target's interpreter, as pip-compile's are.

Pure: argv lists and the platform's name; resolvers.py uses them, lock.py runs them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from venvrpm.errors import LockError
from venvrpm.plan import Interpreter

# What uv 0.x accepts for --python-platform on Linux with glibc: manylinux_2_17 (2014), 2_28,
# and 2_31 to 2_40, for these machines (uv's help lists x86_64 and aarch64; ppc64le and s390x
# are accepted too). Other glibc versions, other machines, musl: not expressible.
UV_MANYLINUX = (17, 28, *range(31, 41))
UV_MACHINES = ("x86_64", "aarch64", "ppc64le", "s390x")


@dataclass(frozen=True, kw_only=True, slots=True)
class Platform:
    """The ``--python-platform`` uv resolves for."""

    name: str
    """e.g. ``x86_64-manylinux_2_36``."""
    note: str | None = None
    """Said when uv cannot name the target's glibc and an older one is used instead."""


def python_platform(interpreter: Interpreter) -> Platform:
    """The uv platform for the probed *interpreter*: its machine and glibc, or the newest
    glibc uv can name below it (sound: a wheel uv then picks runs on the target; a wheel that
    needs the newer glibc is passed over). Raises LockError for what uv cannot express."""
    where = f"{interpreter.path} ({interpreter.implementation} {interpreter.version}, " \
            f"{interpreter.platform or 'platform ?'}, {interpreter.libc or 'libc ?'})"  # fmt: skip
    hint = (
        "use lock.resolver: pip-tools (pip-compile run by the target's interpreter), "
        "with a target interpreter of Python 3.10 or newer"
    )
    if interpreter.implementation != "cpython":
        raise LockError(f"uv cannot resolve for {where}: it resolves for CPython only", hint)
    system, _, machine = interpreter.platform.partition("-")
    if system != "linux" or machine not in UV_MACHINES:
        raise LockError(
            f"uv cannot resolve for {where}: it names manylinux platforms only for "
            f"{', '.join(UV_MACHINES)}",
            hint,
        )
    kind, _, version = interpreter.libc.partition(" ")
    parts = version.split(".")
    if kind != "glibc" or len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise LockError(
            f"uv cannot resolve for {where}: it needs the target's glibc version "
            "(musl and unknown C libraries are not expressible as --python-platform)",
            hint,
        )
    major, minor = int(parts[0]), int(parts[1])
    if major != 2 or minor < UV_MANYLINUX[0]:
        raise LockError(
            f"uv cannot resolve for {where}: glibc older than 2.{UV_MANYLINUX[0]} has no "
            "manylinux platform uv can name",
            hint,
        )
    chosen = max(v for v in UV_MANYLINUX if v <= minor)
    note = None
    if chosen != minor:
        note = (
            f"uv cannot name manylinux_2_{minor} (glibc {major}.{minor}): resolving for "
            f"manylinux_2_{chosen}; wheels that need a newer glibc are passed over"
        )
    return Platform(name=f"{machine}-manylinux_2_{chosen}", note=note)


def base_argv(
    uv: Path,
    interpreter: Interpreter,
    platform: Platform,
    output: Path,
    *,
    wheelhouse: Path | None,
    cache: Path,
    upgrade: bool,
    upgrade_packages: Sequence[str],
) -> list[str]:
    """``uv pip compile`` with what every lock gets; sources and constraints follow.

    Lines as pip-compile writes them with venvrpm's flags: hashes, extras stripped, no index
    options, pip and setuptools kept (uv emits them). *interpreter* runs only to build the
    metadata of sdists, never to decide markers.
    """
    argv = [str(uv), "pip", "compile", "--quiet", "--no-progress", "--generate-hashes",
            "--no-header", "--python-version", interpreter.version,
            "--python-platform", platform.name, "--python", str(interpreter.path),
            "--no-python-downloads", "--cache-dir", str(cache),
            "--output-file", str(output)]  # fmt: skip
    if wheelhouse is not None:
        # no index, no uv.toml of the user's: only the wheelhouse (as pip-compile's)
        argv += ["--offline", "--no-config", "--no-index", "--find-links", str(wheelhouse)]
    if upgrade:
        argv.append("--upgrade")
    for package in upgrade_packages:
        argv += ["--upgrade-package", package]
    return argv


def environment(pip_env: Mapping[str, str]) -> dict[str, str]:
    """What uv sees of pip's settings: it does not read pip's, so those it has an equivalent
    for are translated (as for ``build.installer: uv``)."""
    from venvrpm.plan import uv_environment

    return {**pip_env, **uv_environment(pip_env)}
