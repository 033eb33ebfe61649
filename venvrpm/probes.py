"""The commands ``prepare`` runs before the plan exists, as argv. Pure.

The plan holds every command of the build; what runs to *make* the plan (asking the target
interpreter what it is, rpm where its scripts live, compiling venvrpm's own pip once) is built
here, by the code that runs it and by :meth:`BuildPlan.describe` alike, so ``--dry-run`` lists
exactly what ``prepare`` may run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

PROBE_HELPER = "probe.py"
"""venvrpm/helpers/probe.py: what the interpreter is (version, platform, libc, markers)."""
TAGS_HELPER = "target_tags.py"
"""venvrpm/helpers/target_tags.py: the wheel tags the interpreter accepts, by venvrpm's pip."""


def probe(python: PurePosixPath, helper: str) -> tuple[str, ...]:
    """The target interpreter, asked what it is; *helper* is probe.py's source."""
    return (str(python), "-I", "-S", "-B", "-c", helper)


def target_tags(python: PurePosixPath, helper: str, pip: Path) -> tuple[str, ...]:
    """The wheel tags the target accepts, best first, as the *pip* that installs computes them
    (a pylock.toml's files are chosen by them); *helper* is target_tags.py's source."""
    return (str(python), "-I", "-S", "-B", "-c", helper, str(pip))


def rpm_configdir(rpm: str) -> tuple[str, ...]:
    """rpm's config directory, where its ``elfdeps`` lives."""
    return (rpm, "--eval", "%{_rpmconfigdir}")


def compile_pip(python: PurePosixPath, pip: Path) -> tuple[str, ...]:
    """Bytecode for venvrpm's own pip, unpacked once per host (kept in the cache)."""
    return (str(python), "-I", "-S", "-m", "compileall", "-q", "-j", "0", str(pip))


def paths_present(python: PurePosixPath, script: str, paths: Sequence[str]) -> tuple[str, ...]:
    """``build.requires``'s absolute paths, looked for on the target (and whether it is a
    dpkg system); *script* is the check's source."""
    return (str(python), "-I", "-S", "-c", script, *paths)


def packages_provided(names: Sequence[str]) -> tuple[str, ...]:
    """``build.requires``'s package names, asked of the target's rpm database."""
    return ("rpm", "-q", "--whatprovides", *names)


def last_commit(git: str, directory: Path) -> tuple[str, ...]:
    """The time of the last git commit of the manifest's directory (SOURCE_DATE_EPOCH)."""
    return (git, "-c", "core.fsmonitor=false", "-C", str(directory), "log", "-1", "--format=%ct")


def git_files(project: Path) -> tuple[str, ...]:
    """The project's files as git would commit them (``--srpm``'s kit). core.fsmonitor off: a
    repository's config must not start a program of its choosing."""
    return ("git", "-c", "core.fsmonitor=false", "-C", str(project), "ls-files", "-z",
            "--cached", "--others", "--exclude-standard", "--", ".")  # fmt: skip
