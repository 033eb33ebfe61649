"""What resolves a lock, and the command it runs: pip-tools (``pip-compile``; ``pip lock`` for
``--format pylock``) or uv (``lock.resolver: uv``, its flags in :mod:`venvrpm.uvlock`).

pip-compile evaluates environment markers with the interpreter it runs on, so it runs where the
build runs, in a throwaway virtualenv of the manifest's interpreter (:func:`tool_environment`).
pip-tools itself comes from venvrpm's own environment and pip from virtualenv's wheel for that
interpreter (the build's), copied into the work directory (a container or root sees only what
is mounted) and exposed to that venv through a ``.pth`` file: locking needs no index when a
wheelhouse is given.

The commands are argv lists, run by :mod:`venvrpm.lock` with the manifest's directory as
working directory; what they read that is not the user's own file (a lock's pins, the
project's dependencies, a lock as parsed) is written here as a fresh file of the work directory
(:func:`input_file`).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from venvrpm import freshness, lockfile, project, toolbox, uvlock
from venvrpm._fenced import pip_text
from venvrpm.errors import LockError, UsageError, VenvrpmError
from venvrpm.manifest import LockTarget, Manifest
from venvrpm.plan import Interpreter
from venvrpm.runner import Runner


@dataclass(frozen=True, kw_only=True, slots=True)
class Resolver:
    """What resolves the locks where the build runs (``lock.resolver``)."""

    interpreter: Interpreter
    python: Path | None = None
    """pip-tools: the locking environment's python (:func:`tool_environment`)."""
    pip: Path | None = None
    """The build's pip for the target, placed before the target runs: ``pip lock`` writes a
    pylock.toml with it; the build lock downloads the main lock or asks the target's tags with
    it. None with uv when neither is needed (a requirements lock with a wheelhouse)."""
    uv: Path | None = None
    """uv: its binary, where the target runs it."""
    platform: uvlock.Platform | None = None
    """uv: the platform it resolves for."""
    cache: Path | None = None
    """uv: its cache, in the work directory."""

    @property
    def name(self) -> str:
        """As messages name it."""
        return "pip-compile" if self.uv is None else "uv"


def resolver(
    manifest: Manifest,
    interpreter: Interpreter,
    runner: Runner,
    workdir: Path,
    *,
    uv: Path | None = None,
) -> Resolver:
    """The manifest's resolver, ready to run under *runner*: pip-tools' environment made
    there, or uv (*uv*: its binary) told the target's platform."""
    if manifest.lock_resolver == "uv":
        if uv is None:
            raise ValueError("lock.resolver: uv needs uv's binary")  # lock.lock_all finds it
        pip = None
        if manifest.wheelhouse is None or lockfile.is_pylock(manifest.requirements):
            from venvrpm import venvbuild

            # the build lock downloads the main lock with it, or asks it the target's tags (a
            # pylock.toml's files): placed now, before the target runs anything in the work
            # directory
            pip = venvbuild.pip_for(interpreter, workdir / "tools")
        return Resolver(interpreter=interpreter, uv=uv, pip=pip, cache=workdir / "uv-cache",
                        platform=uvlock.python_platform(interpreter))  # fmt: skip
    python, pip = tool_environment(interpreter, runner, workdir, copy=manifest.build.kind != "host")
    return Resolver(interpreter=interpreter, python=python, pip=pip)


def compile_argv(
    manifest: Manifest,
    target: LockTarget,
    tool: Resolver,
    output: Path,
    *,
    upgrade: bool,
    upgrade_packages: Sequence[str],
    constraint: Path | None = None,
    workdir: Path | None = None,
) -> list[str]:
    """The resolver's command (run with the manifest's directory as working directory).

    *constraint*: what the resolver reads for the target's constraint, when not the file
    itself (:func:`constraint_file`); a pylock.toml is given as its pins (a file in
    *workdir*)."""
    argv = base_argv(manifest, tool, output, upgrade, upgrade_packages)
    if target.constraint is not None:
        flag = "--constraint" if tool.uv is None else "--constraints"
        shown = freshness.shown(manifest, constraint or target.constraint)
        if lockfile.is_pylock(target.constraint):
            assert workdir is not None, "a pylock.toml constraint is given as its pins"
            shown = str(_pins_file(manifest, target.constraint, workdir))
        argv += [flag, shown]
    return argv + _sources(manifest, target)


def base_argv(
    manifest: Manifest,
    tool: Resolver,
    output: Path,
    upgrade: bool,
    upgrade_packages: Sequence[str],
) -> list[str]:
    """The resolver's command with what every lock gets (hashes, the wheelhouse, upgrades):
    *output* is what it writes; constraints and sources follow."""
    if tool.uv is not None:
        assert tool.platform is not None and tool.cache is not None
        return uvlock.base_argv(
            tool.uv, tool.interpreter, tool.platform, output, wheelhouse=manifest.wheelhouse,
            cache=tool.cache, upgrade=upgrade, upgrade_packages=upgrade_packages,
        )  # fmt: skip
    argv = [str(tool.python), "-m", "piptools", "compile", "--quiet", "--generate-hashes",
            "--allow-unsafe", "--strip-extras", "--no-header", "--no-emit-index-url",
            "--no-emit-find-links", "--no-emit-trusted-host", "--no-emit-options", "--newline", "lf",
            "--output-file", str(output)]  # fmt: skip
    if manifest.wheelhouse is not None:
        argv += ["--no-index", "--find-links", str(manifest.wheelhouse)]
    if upgrade:
        argv.append("--upgrade")
    for package in upgrade_packages:
        argv += ["--upgrade-package", package]
    return argv


def pylock_argv(
    manifest: Manifest,
    target: LockTarget,
    tool: Resolver,
    output: Path,
    workdir: Path,
    *,
    upgrade: bool,
    upgrade_packages: Sequence[str],
) -> list[str]:
    """The command that writes *target* as a PEP 751 lock (``lock --format pylock``): uv's
    ``--format pylock.toml``, or ``pip lock`` run by the target interpreter with the build's
    pip (for ``lock.resolver: pip-tools``). Run with the manifest's directory as working
    directory. A constraint that is a pylock.toml is given as its pins (``name==version``),
    the form both read."""
    constraint = None
    if target.constraint is not None and (tool.uv is None or lockfile.is_pylock(target.constraint)):
        constraint = str(_pins_file(manifest, target.constraint, workdir))
    elif target.constraint is not None:
        # as parsed when it holds lines venvrpm ignores (uv would obey an index option)
        parsed = constraint_file(manifest, target, workdir)
        constraint = freshness.shown(manifest, parsed or target.constraint)
    if tool.uv is not None:
        argv = base_argv(manifest, tool, output, upgrade, upgrade_packages)
        argv += ["--format", "pylock.toml"]
        argv += ["--constraints", constraint] if constraint is not None else []
        return argv + _sources(manifest, target)
    assert tool.pip is not None
    # pip lock keeps no pins of an earlier lock: it resolves anew (as --upgrade) every time
    argv = [str(tool.interpreter.path), str(tool.pip / "pip"), "lock", "--quiet", "--no-input",
            "--disable-pip-version-check", "--output", str(output)]  # fmt: skip
    if manifest.wheelhouse is not None:
        argv += ["--no-index", "--find-links", str(manifest.wheelhouse)]
    argv += ["--constraint", constraint] if constraint is not None else []
    for path in target.inputs:
        argv += ["--requirement", freshness.shown(manifest, path)]
    if target.name == "main" and manifest.project is not None:
        # the project's dependencies, not the project: pip lock would lock the project itself
        # as a `directory` package, which no hash pins
        argv += ["--requirement", str(_project_dependencies(manifest, workdir))]
    return argv


def _sources(manifest: Manifest, target: LockTarget) -> list[str]:
    """The requirement files and the project file pip-compile and uv resolve."""
    sources = [freshness.shown(manifest, p) for p in target.inputs]
    if target.name == "main" and manifest.project is not None:
        project_file = next(
            manifest.project / n
            for n in ("pyproject.toml", "setup.py")
            if (manifest.project / n).is_file()
        )
        sources.append(freshness.shown(manifest, project_file))
    return sources


def _pins_file(manifest: Manifest, lock_path: Path, workdir: Path) -> Path:
    """The pins of the lock at *lock_path* (either format) as ``name==version`` lines, a
    constraints file pip and uv read, in a fresh file of *workdir* (:func:`input_file`).

    No markers: a constraint applies only to what is required anyway, and a marker's quoted
    string may hold a line break (the next line would be read as an option)."""
    lines = [
        f"{canonicalize_name(r.name)}=={r.version}"
        for r in lockfile.read(lock_path, project=manifest.project).requirements
    ]
    if not all(_PIN.fullmatch(line) for line in lines):  # read as a lock: cannot happen
        raise LockError(f"{lock_path} holds a pin that is not name==version")
    return input_file(workdir, "constraints.txt", "".join(f"{line}\n" for line in lines))


_PIN = re.compile(r"[a-z0-9][a-z0-9._-]*==[A-Za-z0-9.+!_-]+")


def _project_dependencies(manifest: Manifest, workdir: Path) -> Path:
    """The project's ``[project] dependencies`` as a requirements file, for ``pip lock``
    (each parsed and written as packaging writes it: one line, no option); refused when they
    are not written in pyproject.toml (dynamic, or setup.py), or one is not a requirement."""
    assert manifest.project is not None
    shown = freshness.shown(manifest, manifest.project)
    try:
        data = project.load(manifest.project)
        table = data.get("project")
        dynamic = table.get("dynamic", []) if isinstance(table, dict) else None
    except (OSError, UnicodeDecodeError, ValueError):
        dynamic = None
    metadata = project.read(manifest.project)
    if metadata is None or not isinstance(dynamic, list) or "dependencies" in dynamic:
        raise UsageError(
            f"pip lock cannot lock the dependencies of the project {shown}: they are not "
            "listed in its pyproject.toml [project] table",
            "list them as [project] dependencies, or set lock.resolver: uv (it builds the "
            "project's metadata to read them)",
        )
    lines = []
    for dependency in metadata.dependencies:
        try:
            lines.append(str(Requirement(dependency)))
        except InvalidRequirement as exc:
            raise UsageError(
                f"the project {shown} lists a dependency that is not a requirement: {dependency!r}",
                "fix [project] dependencies in its pyproject.toml",
                details=[str(exc)],
            ) from None
    return input_file(workdir, "project-dependencies.txt", "".join(f"{x}\n" for x in lines))


def constraint_file(manifest: Manifest, target: LockTarget, workdir: Path) -> Path | None:
    """The main lock as parsed, for pip-compile to read as the constraint of an environment's
    lock, when it holds lines venvrpm ignores (another tool's index options, the project's
    ``-e .``): pip-compile would obey them. None: the lock itself, whose name then reads well
    in pip-compile's ``# via -c`` annotations (a work directory's would change every run)."""
    if target.constraint is None or not target.constraint.is_file():
        return None  # pip-compile says a missing file is missing
    parsed = lockfile.read(target.constraint, project=manifest.project)
    if not parsed.ignored:
        return None
    # after an earlier lock's resolution ran in the target: a fresh file (input_file)
    return input_file(workdir, f"constraint-{target.name}.txt", lockfile.normalized(parsed))


def input_file(workdir: Path, name: str, text: str) -> Path:
    """*text* as the file *name* in a fresh directory of the work directory, for the target
    to read. Made after the target ran there (its build backends too, which can write the work
    directory), so never at a name it knew: mkdtemp's, O_EXCL, no link followed."""
    directory = Path(tempfile.mkdtemp(prefix="lock-input-", dir=workdir))
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(directory, 0o755)  # a container's user reads it
    return path


_PTH_WRITER = (
    "import os, sys, sysconfig; "
    "path = os.path.join(sysconfig.get_paths()['purelib'], 'venvrpm-tools.pth'); "
    "f = open(path, 'x'); f.write(sys.argv[1]); f.close()"
)
"""Run by the locking venv's python: its site-packages imports venvrpm's pip-tools and pip."""


def tool_environment(
    interpreter: Interpreter, runner: Runner, workdir: Path, *, copy: bool = False
) -> tuple[Path, Path]:
    """A virtualenv of the target interpreter, made where *runner* runs it, that can import
    pip-tools (from venvrpm's environment) and the pip the build uses; its python, and that
    pip (venvbuild.pip_for).

    *copy*: the packages are copied into the work directory (a container or root sees only
    what is mounted), else linked (this host).
    """
    from venvrpm import venvbuild
    from venvrpm._fenced import virtualenv_api

    venv = workdir / "lock-tools"
    python = str(interpreter.path)
    # Everything the host writes into the work directory first, before the target runs
    # anything there (the target can write it too: it could plant links for the host's writes).
    toolbox_dir = venvbuild.stage_toolbox(workdir / "lock-toolbox")
    # pip: the one the build installs with, made for this interpreter's version (the pip of
    # venvrpm's own environment may not run under it)
    pip = venvbuild.pip_for(interpreter, workdir / "tools")
    farm = toolbox.export(
        workdir / "lock-tools-packages",
        [name for name in toolbox.PIP_TOOLS if name != "pip"],
        copy=copy,
    )
    # -c and -m put the working directory first on sys.path (-I would drop PYTHONPATH too):
    # run from the private work directory
    env = {"PYTHONPATH": str(toolbox_dir),
           "VIRTUALENV_OVERRIDE_APP_DATA": str(workdir / "virtualenv-data")}  # fmt: skip
    usable = runner.run([python, "-c", virtualenv_api.CAN_RUN], cwd=workdir, env=env,
                        what="checking that the target can run virtualenv", check=False)  # fmt: skip
    runner.run(
        [python, "-m", "virtualenv", "--no-download", "--no-periodic-update", "--no-seed",
         "--no-vcs-ignore", str(venv)]
        if usable.returncode == 0
        # too old for venvrpm's virtualenv: the standard library's
        else [python, "-m", "venv", "--without-pip", str(venv)],
        what="creating the locking environment", cwd=workdir, env=env,
    )  # fmt: skip
    venv_python = venv / "bin" / "python"
    # written by the venv's python, in its own site-packages: the host writes nothing into
    # what the target made
    runner.run(
        [str(venv_python), "-I", "-c", _PTH_WRITER, f"{pip}\n{farm}\n"],
        what="preparing the locking environment", cwd=workdir,
    )  # fmt: skip
    check_import = runner.run([str(venv_python), "-I", "-c", "import piptools.scripts.compile"],
                              what="loading pip-tools under the target interpreter", check=False)  # fmt: skip
    if check_import.returncode != 0:
        raise VenvrpmError(
            f"pip-tools from venvrpm's environment does not run under {interpreter.path} "
            f"({interpreter.version})",
            "pip-tools and what it imports (click, build) need Python 3.10 or newer (3.10 "
            "also needs tomli in venvrpm's environment): for an older target, set "
            "lock.resolver: uv in the manifest (uv resolves for the target's Python version "
            "without running it)",
            details=[check_import.tail()],
        )
    return venv_python, pip


def explanation(output: str) -> str:
    """pip-tools' own explanation of a failed resolution, without traceback noise."""
    return pip_text.resolution_failure(output)
