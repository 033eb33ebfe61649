"""The virtualenv at ``<stage><prefix>``: probe the interpreter, create, install, compile."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import stat
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from installer.destinations import SchemeDictionaryDestination
from installer.records import Hash, RecordEntry
from installer.scripts import Script
from installer.utils import Scheme, copyfileobj_with_hashing

from venvrpm import files, lockfile, probes, progress, stagecheck, stale, toolbox
from venvrpm._fenced import pip_text, virtualenv_api
from venvrpm.errors import CommandError, LockError, ToolMissingError, UsageError, VenvrpmError
from venvrpm.lockfile import HINT as LOCK_HINT
from venvrpm.lockfile import Lock
from venvrpm.plan import (
    COMPILE_LIST,
    BuildPlan,
    Interpreter,
    fill,
    locked_build_requirements,
    uv_cache,
)
from venvrpm.runner import Result, Runner

if TYPE_CHECKING:
    from installer.scripts import ScriptSection
    from installer.sources import WheelFile

    from venvrpm.cache import Cache

# Never copied from the user's project: VCS data, caches, other environments, build output.
_IGNORED_ANYWHERE = {
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    "node_modules",
}
_IGNORED_AT_TOP = {".venv", "venv", "build", "dist"}

# the directory a cached note may name: an unpacked pip wheel, never a path
_PIP_DIR = re.compile(r"pip-[A-Za-z0-9_.+-]+")
# What a build from source prints when the build environment lacks a system package, and how
# the error names the missing piece: (pattern, description with the first group).
_MISSING_TOOLS = (
    (re.compile(r"fatal error: ([\w./+-]+\.h(?:pp)?): No such file or directory"), "the header {}"),
    (re.compile(r"\b(pg_config) executable not found"), "{}"),
    (re.compile(r"([\w.+-]+[-_]config): (?:command )?not found"), "{}"),
    (re.compile(r"error: command '([^']+)' failed: No such file or directory"), "the compiler {}"),
    (re.compile(r"unable to execute '([^']+)': No such file or directory"), "the compiler {}"),
    (re.compile(r"(?:^|[\s:])((?:[\w-]+-)?(?:gcc|cc|g\+\+|c\+\+|clang)): (?:command )?not found",
                re.MULTILINE), "the compiler {}"),
    (re.compile(r"(Unknown compiler\(s\)|No CMAKE_CX{0,2}_COMPILER could be found)"), "a compiler"),
)  # fmt: skip

SOURCE_BUILD_FLAGS = (("CFLAGS", "-g0"), ("CXXFLAGS", "-g0"), ("FFLAGS", "-g0"),
                      ("FCFLAGS", "-g0"))  # fmt: skip
"""Compiler flags of every build from source (the lock's sdists, the project). No debug info:
its DWARF names the directory pip unpacked the sdist in (``pip-install-<random>/<name>_<uuid>``),
which differs on every build, and weighs ~1 MB for psycopg2. Appended by setuptools, meson and
CMake after the interpreter's own flags (its ``-g``), so they win. The build environment is
scrubbed (runner): the user's CFLAGS never reach a build, so the result does not depend on the
shell it was started from."""


@dataclass(frozen=True, slots=True)
class Bytecode:
    """Result of compiling the venv."""

    compiled: int
    failed: tuple[tuple[str, str], ...]
    """(final path, error) of files that are not valid Python for the target."""


def helper_source(name: str) -> str:
    """Source of a helper script run by the target interpreter."""
    return resources.files("venvrpm.helpers").joinpath(name).read_text("utf-8")


def probe_interpreter(
    runner: Runner, python: PurePosixPath, where: str = "this host"
) -> Interpreter:
    """Run the target interpreter and ask what it is."""
    hint = f"install that interpreter {where}, or set `python:` to one that exists there"
    try:
        result = runner.run(
            probes.probe(python, helper_source(probes.PROBE_HELPER)),
            what=f"probing the interpreter {python}",
            check=False,
        )
    except ToolMissingError:
        result = None
    if (
        result is None
        or result.returncode in (126, 127)
        or (result.returncode != 0 and not result.stdout.strip())
    ):
        found = _interpreters(runner)
        details = [f"interpreters there: {', '.join(found)}"] if found else []
        raise ToolMissingError(f"interpreter not found {where}: {python}", hint, details)
    try:
        facts = json.loads(result.stdout)
    except ValueError:
        raise VenvrpmError(
            f"{python} did not answer like a Python interpreter",
            "set `python:` to a CPython 3 interpreter, e.g. /usr/bin/python3.11",
            details=[result.tail()] if result.tail() else (),
        ) from None
    return Interpreter(
        markers=tuple(sorted(facts["markers"].items())),
        path=python,
        version=facts["version"],
        implementation=facts["implementation"],
        platform=facts["platform"],
        libc=facts["libc"],
        executable_sha256=facts.get("executable_sha256", ""),
    )


_TAG = re.compile(r"[a-z0-9_.]+-[a-z0-9_.]+-[a-z0-9_.]+")


def probe_tags(runner: Runner, interpreter: Interpreter, pip: Path) -> tuple[str, ...]:
    """The wheel tags the target accepts, best first, as *pip* (venvrpm's, for the target)
    computes them: what a pylock.toml's files are chosen by (Lock.for_target).

    Asked of pip's own packaging, run by the target interpreter, not computed here from the
    probed facts: which manylinux, musllinux and ABI tags an interpreter accepts depends on
    its build and C library in ways packaging works out by running there, and the file chosen
    must be one the pip that installs accepts."""
    result = runner.run(
        probes.target_tags(interpreter.path, helper_source(probes.TAGS_HELPER), pip),
        what=f"asking {interpreter.path} which wheel tags it accepts",
    )
    tags = tuple(line for line in result.stdout.splitlines() if _TAG.fullmatch(line))
    if not tags:
        raise VenvrpmError(
            f"{interpreter.path} named no wheel tag it accepts",
            "set `python:` to a CPython 3 interpreter, e.g. /usr/bin/python3.11",
            details=[result.tail()] if result.tail() else (),
        )
    return tags


def _interpreters(runner: Runner) -> list[str]:
    """python3* executables in the usual places of the target, to say what exists instead."""
    listing = runner.run(
        ["find", "/usr/bin", "/usr/local/bin", "-maxdepth", "1", "-name", "python3*"],
        what="listing interpreters",
        check=False,
    )
    return sorted(
        line for line in listing.stdout.split() if re.fullmatch(r"/\S+/python3(\.\d+)?", line)
    )


def stage_toolbox(tools: Path) -> Path:
    """Copy virtualenv (and its seed wheels) into *tools*, where the target interpreter can
    import it."""
    return toolbox.export(tools, toolbox.VIRTUALENV, copy=True)


def pip_for(
    interpreter: Interpreter,
    tools: Path,
    compile_with: Runner | None = None,
    cache: Cache | None = None,
) -> Path:
    """pip, from the wheel bundled with virtualenv that supports *interpreter*, unpacked in *tools*.

    Run as ``python DIR/pip``. Unpacked rather than run from the wheel: zipimport compiles every
    module of pip on every run (about a second each time, several times per build). With
    *compile_with*, pip's bytecode is written once: venvrpm runs every command with
    PYTHONDONTWRITEBYTECODE=1 (nothing may write bytecode into the stage), so pip would
    otherwise compile what it imports on every run (~0.5 s each). With *cache*, the unpacked and
    compiled pip is kept between builds as one of the cache's entries: restored into *tools*
    and checked file by file against its signed record like any other, never run in place.
    """
    from importlib.metadata import version

    from venvrpm.cache import key_of

    # Which wheel, remembered per virtualenv version: importing virtualenv to ask costs ~0.1 s.
    memo = _pip_memo(interpreter, version("virtualenv"))
    known = cache.recall(memo) if cache is not None else None
    if (
        cache is not None
        and known
        and _PIP_DIR.fullmatch(known)
        and cache.restore(key_of(_pip_key(interpreter, known)), tools / known)
    ):
        return tools / known

    wheel = _pip_wheel(interpreter)
    dest = tools / wheel.name.removesuffix(".whl")
    if not (dest / "pip" / "__main__.py").is_file():
        # Unpacked beside and renamed into place.
        tools.mkdir(parents=True, exist_ok=True)
        stale.remove(tools, "unpack-", trees=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"unpack-{os.getpid()}-", dir=tools))
        try:
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(scratch)
            os.rename(scratch, dest)
        except OSError:
            if not (dest / "pip" / "__main__.py").is_file():
                raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if compile_with is not None:
        # Best effort: pip runs without its bytecode too, only slower.
        compile_with.run(probes.compile_pip(interpreter.path, dest),
                         what="compiling pip's bytecode", check=False)  # fmt: skip
    if cache is not None:
        about = {"app": "pip (venvrpm's own)", "interpreter": interpreter.minor}
        cache.store(key_of(_pip_key(interpreter, dest.name)), dest, about)
        cache.remember(memo, dest.name)
    return dest


def deferred_pip(
    interpreter: Interpreter,
    tools: Path,
    compile_with: Runner | None,
    cache: Cache | None,
    *,
    always: bool = False,
) -> tuple[Path, Callable[[], Path] | None]:
    """Where :func:`pip_for` puts pip, and the function that puts it there (and returns where),
    for a step that runs pip. Deferred when the cache names which pip: restoring and checking
    its ~1,000 files costs ~0.1 s, and a rebuild from the cache runs no pip at all.

    *always*: deferred whatever the cache knows (``build.installer: uv``, whose builds run no
    pip unless they ask the target's wheel tags): unpacking and compiling pip cost ~0.5 s of a
    cold build. Without a note in the cache, where is not asked either (importing virtualenv
    to ask costs ~0.1 s): ``tools/pip`` stands for it until the function says."""
    from importlib.metadata import version

    known = cache.recall(_pip_memo(interpreter, version("virtualenv"))) if cache else None
    if known and _PIP_DIR.fullmatch(known):
        where: Path | None = tools / known
    elif always:
        where = None
    else:
        return pip_for(interpreter, tools, compile_with, cache), None

    def place() -> Path:
        placed = pip_for(interpreter, tools, compile_with, cache)
        if where is not None and placed != where:  # the note and virtualenv's wheel disagree
            raise VenvrpmError(f"pip was expected at {where}, but is at {placed}")
        return placed

    return where or tools / "pip", place


def ensure_pip(plan: BuildPlan, argv: Sequence[str]) -> None:
    """Put pip where *argv* runs it, if it runs pip and pip is not there yet (a uv build's
    commands run uv instead)."""
    if (
        plan.tools.place_pip is not None
        and str(plan.tools.pip / "pip") in argv
        and not (plan.tools.pip / "pip").is_dir()
    ):
        plan.tools.place_pip()


def _pip_wheel(interpreter: Interpreter) -> Path:
    """The pip wheel bundled with virtualenv that supports *interpreter*."""
    wheel = virtualenv_api.embedded_wheel("pip", interpreter.minor)
    if wheel is None:
        raise VenvrpmError(
            f"virtualenv has no pip for Python {interpreter.minor}",
            "upgrade virtualenv in the environment venvrpm runs in",
        )
    return wheel


def _pip_memo(interpreter: Interpreter, virtualenv_version: str) -> str:
    return (f"pip-for-{interpreter.implementation}-{interpreter.minor}-"
            f"virtualenv-{virtualenv_version}")  # fmt: skip


def _pip_key(interpreter: Interpreter, name: str) -> dict[str, str]:
    """What the cache entry of an unpacked pip depends on: the wheel, and the bytecode's Python."""
    return {"kind": "pip", "wheel": name, "implementation": interpreter.implementation,
            "python": interpreter.minor}  # fmt: skip


def find_uv(host: Runner, tools: Path, *, copy: bool, setting: str = "build.installer") -> Path:
    """uv's binary: venvrpm's own (the ``uv`` extra), else one on PATH; copied into *tools*
    when the build runs in a container or root, which see only what is mounted. *setting*:
    the manifest's key that asks for uv, for the message when it is missing."""
    found: str | None = None
    try:
        import uv  # type: ignore[import-not-found,unused-ignore]

        found = uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = host.which("uv")
    if not found:
        raise ToolMissingError(
            f"{setting} is uv, but uv is not installed",
            "install venvrpm with the uv extra (pip install 'venvrpm[uv]'), or put uv on PATH",
        )
    if not copy:
        return Path(found)
    dest = tools / "uv"
    tools.mkdir(parents=True, exist_ok=True)
    shutil.copy2(found, dest)
    return dest


def create(plan: BuildPlan, runner: Runner) -> None:
    """Create the empty virtualenv (no pip, setuptools or wheel in it).

    With venvrpm's virtualenv when the target can import it (Python >= 3.10 today), else with
    its own venv. Asked here, not when planning: a build that reuses a cached environment never
    creates one (the interpreter and venvrpm's version, which decide the answer, are in the key).
    The toolbox is copied here for the same reason (~0.1 s, on every rebuild otherwise).
    """
    stage_toolbox(plan.tools.toolbox)
    env = dict(plan.venv_env)
    # -c and -m put the working directory first on sys.path (-I would drop the toolbox's
    # PYTHONPATH too): run from the private work directory, never from wherever root started.
    usable = runner.run(
        plan.check_virtualenv,
        what="checking that the target can run virtualenv",
        cwd=plan.workdir,
        env=env,
        check=False,
    )
    command = plan.create_venv if usable.returncode == 0 else plan.create_venv_fallback
    runner.run(command, what="creating the virtualenv", cwd=plan.workdir, env=env)


def source_build_env(plan: BuildPlan) -> dict[str, str]:
    """What every command that may compile an sdist or the project runs with, besides pip's
    environment: the fixed compiler flags, and the temporary and cache directories of pip (and
    uv) inside the work directory.

    Inside the work directory, because that is what the final scan searches (pipeline): a build
    path that survives in a compiled file fails the build instead of shipping. And private to
    this build: pip's wheel cache in ``~/.cache/pip`` would hand a later build a wheel compiled
    by an earlier one (with that build's paths and flags), whatever ``--no-cache`` says. uv gets
    its cache directory on the command line (plan). The directories are made here: a container
    or root sees the work directory at the same path.
    """
    tmp = plan.workdir / "tmp"
    tmp.mkdir(exist_ok=True)
    return {
        **dict(SOURCE_BUILD_FLAGS),
        "TMPDIR": str(tmp),
        "PIP_CACHE_DIR": str(plan.workdir / "pip-cache"),
        "UV_CACHE_DIR": str(uv_cache(plan.workdir)),
    }


def missing_build_tools(output: str) -> list[str]:
    """What *output* of a failed build from source says is missing: a compiler, a header, a
    ``*-config`` tool; in order of appearance, each once."""
    found: dict[str, int] = {}
    for pattern, description in _MISSING_TOOLS:
        for match in pattern.finditer(output):
            what = description.format(PurePosixPath(match.group(1)).name)
            found.setdefault(what, match.start())
    return sorted(found, key=lambda what: found[what])


def build_requires_error(plan: BuildPlan, exc: CommandError) -> VenvrpmError | None:
    """The error for a build from source that failed for a missing system package, naming it
    and ``build.requires``; None when the output does not say so."""
    missing = missing_build_tools(exc.output_tail)
    if not missing:
        return None
    from venvrpm.backends import describe

    declared = plan.manifest.build.requires
    now = f" (now: {', '.join(declared)})" if declared else ""
    return ToolMissingError(
        f"building from source failed {describe(plan.manifest)}: {', '.join(missing)} not found",
        "install the system packages that provide it where the build runs, and list them in "
        f"the manifest's build.requires{now}, e.g. [gcc, libpq-devel, python3.11-devel]: the "
        "build checks them first and the source RPM BuildRequires them (docs/troubleshooting.md)",
        details=exc.details,
    )


def install_lock(
    plan: BuildPlan, runner: Runner, report: progress.Report = progress.quiet, count: int = 0
) -> None:
    """Install the lock: hash-checked, no dependencies resolved. *report* hears how many of its
    *count* distributions are installed as it goes."""
    ensure_pip(plan, plan.install_lock)
    # fresh, not through a name a backend run earlier in this work directory may have planted
    files.write_replacing(plan.locked_requirements, plan.locked_text)
    try:
        with progress.watching(report, count, "distributions installed",
                               lambda: installed_count(plan.venv_dir)):  # fmt: skip
            runner.run(plan.install_lock, what="installing the locked requirements",
                       env={**dict(plan.pip_env), **plan.build_env_vars,
                            **source_build_env(plan)})  # fmt: skip
    except CommandError as exc:
        raise build_requires_error(plan, exc) or _lock_failure(exc, plan) from None
    finally:
        # uv hard-links the venv's files to its cache (plan): gone, each file has one link
        # again before anything rewrites it in place
        shutil.rmtree(uv_cache(plan.workdir), ignore_errors=True)


def installed_count(venv_dir: Path) -> int:
    """The distributions installed in *venv_dir* so far: a RECORD is an installer's last write
    (pip and uv print nothing per distribution while they install). Names only: nothing read,
    no symlink followed (``lib64`` is one to ``lib``)."""
    count = 0
    with contextlib.suppress(OSError), os.scandir(venv_dir / "lib") as pythons:
        for python in pythons:
            if not python.name.startswith("python") or not python.is_dir(follow_symlinks=False):
                continue
            with contextlib.suppress(OSError), os.scandir(Path(python.path, "site-packages")) as e:
                count += sum(1 for d in e if d.name.endswith(".dist-info")
                             and os.path.lexists(os.path.join(d.path, "RECORD")))  # fmt: skip
    return count


def install_project_with_installer(plan: BuildPlan, runner: Runner) -> None:
    """Install the project (no dependencies: the lock has them) from a copy of its tree."""
    if plan.install_project is None or plan.manifest.project is None:
        return
    copy_project(plan.manifest.project, plan.project_copy)
    ensure_pip(plan, plan.install_project)
    try:
        runner.run(
            plan.install_project,
            what="installing the project",
            env={**dict(plan.pip_env), **plan.build_env_vars, **source_build_env(plan)},
            hint=_build_hint(plan),
        )
    except CommandError as exc:
        raise build_requires_error(plan, exc) or exc from None


def _build_hint(plan: BuildPlan) -> str:
    return "the project must build with its declared build backend" + (
        " from the wheelhouse" if plan.offline else ""
    )


def make_build_env(plan: BuildPlan, runner: Runner) -> None:
    """Install the build lock, hash-checked, where :func:`build_wheel` and pip's builds of
    sdists import it. A file whose hash the build lock does not allow fails, named."""
    assert plan.build_env is not None and plan.build_lock is not None
    ensure_pip(plan, plan.build_env)
    # as parsed, as for the main lock (install_lock): pip never reads the file itself
    files.write_replacing(
        locked_build_requirements(plan.workdir),
        lockfile.normalized(lockfile.read(plan.build_lock)),
    )
    try:
        runner.run(
            plan.build_env,
            what="installing the build requirements (hash-checked)",
            env={**dict(plan.pip_env), **source_build_env(plan)},
            hint="the build lock must be installable"
            + (" from the wheelhouse (venvrpm fetch)" if plan.offline else ""),
        )
    except CommandError as exc:
        raise _lock_failure(exc, plan, plan.build_lock) from None


def build_wheel(plan: BuildPlan, runner: Runner) -> Path | None:
    """The project's wheel, built by its backend; None when only pip's way can build it."""
    assert plan.build_wheel is not None
    plan.built_wheels.mkdir(parents=True, exist_ok=True)
    result = runner.run(
        plan.build_wheel,
        what="building the project's wheel",
        env=source_build_env(plan),
        check=False,
    )
    if result.returncode == 3:
        if plan.build_lock is None:
            return None  # nothing locked to build with: pip's way (it builds without isolation)
        from venvrpm.buildreqs import BuildLockError

        needed = [line for line in result.tail().splitlines() if "also needs" in line]
        raise BuildLockError(
            "the project's build backend asks for build requirements that "
            f"{plan.build_lock.name} does not pin",
            "add them to [build-system] requires in pyproject.toml, then `venvrpm lock`",
            details=needed,
        )
    if result.returncode != 0:
        failed = CommandError(
            "building the project's wheel failed",
            # the helper's source is an argument: show its name instead
            argv=[*plan.build_wheel[:3], "build_project.py", *plan.build_wheel[5:]],
            returncode=result.returncode,
            output_tail=result.tail(),
            hint=_build_hint(plan),
        )
        raise build_requires_error(plan, failed) or failed
    return built_wheel(plan.built_wheels)


RESULT_LIMIT = 64 * 1024
"""The build helper's ``result.json`` is one short name; larger is not read."""


def built_wheel(built: Path) -> Path:
    """The wheel the build helper names in *built*/``result.json``: a plain file name of a
    regular file in *built*, or a clean error.

    Code run in the build (the project's backend, in a container or root) can rewrite the
    result, or plant links there: the directory, the result and the wheel are opened without
    following a link, and the name may not leave the directory (an absolute name opened a host
    file as the wheel).
    """
    hint = "the project's build backend (or code it ran) changed venvrpm's files; report it"
    try:
        dir_fd = os.open(built, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise VenvrpmError(
            f"the project's build left no usable result: {built}: {exc.strerror}", hint
        ) from None
    try:
        try:
            fd = os.open("result.json", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                         | os.O_CLOEXEC, dir_fd=dir_fd)  # fmt: skip
            with os.fdopen(fd, "rb") as fh:
                if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                    raise OSError(0, "not a regular file")
                data = fh.read(RESULT_LIMIT + 1)
            if len(data) > RESULT_LIMIT:
                raise OSError(0, f"larger than {RESULT_LIMIT} bytes")
            result = json.loads(data)
        except (OSError, ValueError, RecursionError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise VenvrpmError(
                f"the project's build left no usable result: result.json: {why}", hint
            ) from None
        name = result.get("wheel") if isinstance(result, dict) else None
        if (not isinstance(name, str) or not name.endswith(".whl") or "/" in name
                or "\0" in name or name.startswith(".")):  # fmt: skip
            raise VenvrpmError(
                f"the project's build left no usable result: result.json names no wheel in {built}",
                hint,
            )
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as exc:
            raise VenvrpmError(
                f"the project's build left no usable result: {name}: {exc.strerror}", hint
            ) from None
        if not stat.S_ISREG(info.st_mode):
            raise VenvrpmError(
                f"the project's build left no usable result: {name} is not a regular file", hint
            )
    finally:
        os.close(dir_fd)
    return built / name


class _StageDestination(SchemeDictionaryDestination):
    """installer's destination for the stage, writing nothing through a link.

    installer opens each target by path (following links) and chmods scripts by path: the
    project's backend ran before it, and in a container build its processes may still run and
    plant a link in the venv. Every file is created with :func:`stagecheck.create_file`
    (O_NOFOLLOW from the stage down, O_EXCL) and made executable through its descriptor."""

    def write_to_fs(
        self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        target = PurePosixPath(os.path.normpath(PurePosixPath(self.scheme_dict[scheme], path)))
        if not target.is_relative_to(self.scheme_dict[scheme]):
            raise ValueError(f"Attempting to write {path} outside of the target directory")
        fd = stagecheck.create_file(
            Path(self.destdir or "/"), target, exclusive=True,
            mode=0o755 if is_executable else 0o644,
        )  # fmt: skip
        with os.fdopen(fd, "wb") as out:
            digest, size = copyfileobj_with_hashing(stream, out, self.hash_algorithm)
            if is_executable:  # what installer's make_file_executable does, on the descriptor
                os.fchmod(out.fileno(), 0o755)
        return RecordEntry(path, Hash(self.hash_algorithm, digest), size)

    def write_script(
        self, name: str, module: str, attr: str, section: ScriptSection
    ) -> RecordEntry:
        # installer's, without its chmod by path afterwards: written executable already
        script_name, data = Script(name, module, attr, section).generate(
            self.interpreter, self.script_kind
        )
        with io.BytesIO(data) as stream:
            return self.write_to_fs(Scheme("scripts"), script_name, stream, is_executable=True)


def install_wheel(
    plan: BuildPlan,
    wheel: Path,
    *,
    final_paths: bool = True,
    what: str = "installing the project",
    opened: BinaryIO | None = None,
) -> list[str]:
    """Install the project's built wheel into the venv, in this process (pypa/installer); with
    ``install: host``, each locked wheel too (*what* says which, venvrpm.hostinstall).

    Starting pip for one wheel cost ~1.2 s of every build. No dependencies: the lock has them.
    The stage is installer's ``destdir`` ("a staging directory expected to be the filesystem
    root at runtime"): the scheme holds the final paths under the prefix, so scripts get the
    final interpreter and RECORD the final layout as written, and the project's files need
    bytecode only, no relocation. Written through the same paths a container or chroot build
    sees (they are mounted at the same place).
    Not *final_paths* (``venvrpm test``: its venv is run where it is, never relocated): scripts
    get the venv's interpreter as it is now (``plan.venv_python``). The files land in the same
    place either way, written through the same no-follow destination.
    *opened*: the wheel's file, already open (and its hash checked): read instead of *wheel*.
    Returns installer's warnings (it skips a wheel's ``__pycache__`` files, for instance).
    """
    from installer import install
    from installer.exceptions import InstallerError
    from installer.sources import WheelFile

    venv = plan.venv_dir
    found = sorted(venv.glob("lib/python*/site-packages"))
    if len(found) != 1:
        raise VenvrpmError(
            f"{what}: {len(found)} site-packages directories in {venv}",
            "report this with the interpreter: venvrpm expects the one a virtualenv has",
        )
    prefix = plan.manifest.prefix
    site = str(prefix / found[0].relative_to(venv))
    name = wheel.name.split("-")[0]
    scheme = {
        "purelib": site,
        "platlib": site,
        "scripts": str(prefix / "bin"),
        "data": str(prefix),
        # where pip puts a venv's headers
        "headers": str(prefix / "include" / "site" / found[0].parent.name / name),
    }
    destination = _StageDestination(
        scheme,
        interpreter=str((prefix / "bin" / "python") if final_paths else plan.venv_python),
        script_kind="posix",
        destdir=str(plan.stage),
    )
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            _open_wheel(opened) if opened else WheelFile.open(wheel) as source,
        ):
            warnings.simplefilter("always")
            # what pip writes for a requested install; INSTALLER says who installed it
            install(source, destination, {"INSTALLER": b"venvrpm\n", "REQUESTED": b""})
    except (InstallerError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise VenvrpmError(
            f"{what} failed: {exc}",
            "the project's backend built a wheel that cannot be installed; "
            "report it with the project"
            if what == "installing the project"
            else "the wheel is damaged: fetch it again (venvrpm fetch), or report it upstream",
        ) from None
    return [str(w.message) for w in caught]


@contextlib.contextmanager
def _open_wheel(opened: BinaryIO) -> Iterator[WheelFile]:
    """installer's source for an open wheel file: its name (the path) is what installer reads
    the distribution's name and version from, as from a path."""
    from installer.sources import WheelFile

    with zipfile.ZipFile(opened) as archive:
        yield WheelFile(archive)


def check_locked_installed(lock: Lock, installed: Iterable[tuple[str, str]]) -> None:
    """Every line of *lock* (already for the target) is installed, at its locked version.

    *installed*: (canonical name, version) of each distribution in the venv. pip skips a
    requirement it finds satisfied anywhere on its ``sys.path`` -- its own copy in the tools
    directory, the build requirements -- and then the build passed without it: a lock that pins
    pip, setuptools or wheel must get them in the venv (issue 17; ``--ignore-installed`` does
    that today, this makes it a promise). A version other than the lock's is refused elsewhere
    (pydists.find).
    """
    from packaging.version import InvalidVersion, Version

    def same(locked: str, version: str) -> bool:
        # PEP 440 equality: the lock's 2.0 is an installed 2.0.0, as pip installs it for 2.0
        try:
            return Version(locked) == Version(version)
        except InvalidVersion:
            return locked == version

    have: dict[str, list[str]] = {}
    for name, version in installed:
        have.setdefault(name, []).append(version)
    absent = [f"{r.name}=={r.version}" for r in lock.requirements
              if not any(same(r.version, v) for v in have.get(r.name, ()))]  # fmt: skip
    if absent:
        raise LockError(
            f"{len(absent)} locked distribution(s) were not installed in the venv",
            "the installer took them for installed (on its own path); a bug in venvrpm: report "
            "it with the lock and the `venvrpm build -v` output",
            details=absent,
        )


def copy_project(source: Path, dest: Path) -> None:
    """Copy the project without VCS data, caches or build output: builds never write into it.

    Symlinks are copied as links, and one that leads out of the project is refused: the
    backend reads through it, so ``leak -> /etc/shadow`` shipped the build host's file.
    """
    root = os.path.realpath(source)
    escaping: list[str] = []

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in _IGNORED_ANYWHERE or n.endswith(".egg-info")}
        # caches that say so (CACHEDIR.TAG: venvrpm's own, when CI keeps it in the checkout)
        skipped |= {n for n in names if os.path.isfile(os.path.join(directory, n, "CACHEDIR.TAG"))}
        if Path(directory) == source:
            skipped |= {n for n in names if n in _IGNORED_AT_TOP}
        for name in names:
            path = os.path.join(directory, name)
            if name not in skipped and os.path.islink(path):
                target = os.path.realpath(path)
                if target != root and not target.startswith(root + os.sep):
                    escaping.append(f"{os.path.relpath(path, source)} -> {os.readlink(path)}")
                    skipped.add(name)
        return skipped

    if dest.is_relative_to(source):
        raise VenvrpmError(
            f"the work directory {dest.parent} is inside the project {source}",
            "point TMPDIR outside the project: copying it would copy the copy",
        )
    try:
        shutil.copytree(source, dest, symlinks=True, ignore=ignore)
    except (shutil.Error, OSError) as exc:
        raise VenvrpmError(f"cannot copy the project {source}: {exc}") from None
    if escaping:
        raise UsageError(
            f"{len(escaping)} symlink(s) in the project {source} lead out of it",
            "the build backend would package what they point to from the build host: "
            "replace them with the files, or remove them",
            details=sorted(escaping)[:20],
        )


def compile_bytecode(
    plan: BuildPlan,
    runner: Runner,
    only: list[Path] | None = None,
    report: progress.Report = progress.quiet,
    *,
    python: str | None = None,
) -> Bytecode:
    """Compile every module (or those in *only*) for its final path with the target interpreter,
    or *python* (``install: host``: venvrpm's own, of the target's version, run by *runner* on
    this host). *report* hears how many modules there are and, from the helper's progress
    file, how many are done."""
    listing: list[str] = []
    if only is not None:
        # In the work directory: a container or chroot sees it at the same path. Code run in
        # the build can plant links there (compile-list -> a host file, overwritten as root):
        # a new file of a fresh name, made with O_EXCL|O_NOFOLLOW (mkstemp), never a fixed one.
        fd, name = tempfile.mkstemp(prefix="compile-list-", dir=plan.workdir)
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"\0".join(os.fsencode(p) for p in only))
        listing = [name]
    counted = plan.compile_progress  # one byte per module done
    counted.unlink(missing_ok=True)
    try:
        with progress.watching(report, _module_count(plan.venv_dir, only), "modules compiled",
                               lambda: _file_size(counted)):  # fmt: skip
            result = _compile(plan, runner, listing, python)
    finally:
        for path in listing:
            with contextlib.suppress(OSError):
                os.unlink(path)
    counted.unlink(missing_ok=True)
    try:
        summary = json.loads(result.stdout)
        compiled = int(summary["compiled"])
        failed = tuple((str(p), str(e)) for p, e in summary["failed"])
    except (ValueError, TypeError, KeyError, RecursionError):
        # the venv's python is in the stage, which code run in the build could replace
        raise VenvrpmError(
            "compiling bytecode: the compiler's report is not what venvrpm's helper prints",
            "something run during the build replaced the venv's interpreter; report it",
            details=result.stdout.splitlines()[-5:],
        ) from None
    return Bytecode(compiled, failed)


def _compile(plan: BuildPlan, runner: Runner, listing: list[str], python: str | None) -> Result:
    """Run the bytecode compiler helper in the target (compile_bytecode), or by *python*: the
    whole venv, or the modules of the file *listing* names."""
    if listing:
        assert plan.compile_project is not None, "only the project's step compiles a list"
        argv = fill(plan.compile_project, {COMPILE_LIST: listing[0]})
    else:
        argv = list(plan.compile_environment)
    if python is not None:
        argv[0] = python
    return runner.run(argv, what="compiling bytecode for the final path")


def _file_size(path: Path) -> int:
    """The size of the regular file *path*, or 0 (not there yet, or not a regular file)."""
    try:
        st = path.lstat()
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


def _module_count(venv_dir: Path, only: list[Path] | None) -> int:
    """The modules compile_tree.py looks at (as it counts them), for the progress total."""
    if only is not None:
        return sum(1 for p in only if p.suffix == ".py")
    count = 0
    for _, dirnames, filenames in os.walk(venv_dir):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        count += sum(1 for name in filenames if name.endswith(".py"))
    return count


def _lock_failure(exc: CommandError, plan: BuildPlan, path: Path | None = None) -> VenvrpmError:
    output = exc.output_tail
    lock = (path or plan.manifest.requirements).name
    if pip_text.hash_mismatch(output):
        names = [
            f"{m.name}=={m.version} ({Path(m.url).name})" for m in pip_text.hash_mismatches(output)
        ] or ["(see pip's output)"]
        return LockError(
            f"hash mismatch for {', '.join(names)}: the file found is not the one {lock} locked",
            "if the new file is trusted, re-lock; otherwise find out who changed it",
            details=exc.details,
        )
    if pip_text.backend_unavailable(output) and plan.build_lock is None:
        # An sdist whose backend is not importable: build isolation is off and nothing locked
        # its build requirements (known before the build only with a wheelhouse).
        from venvrpm import buildreqs

        return buildreqs.BuildLockError(
            f"an sdist in {lock} needs build requirements, and no build lock pins them",
            f"run `venvrpm lock {plan.manifest.source.name}`: it writes "
            f"{buildreqs.lock_path(plan.manifest.requirements).name} beside the lock",
            details=exc.details,
        )
    invalid = pip_text.invalid_wheels(output)
    if invalid or pip_text.bad_zip(output):
        return LockError(
            f"not a valid wheel: {', '.join(Path(w).name for w in invalid) or '(see pip output)'}",
            "the file is damaged or not a wheel: fetch it again (venvrpm fetch) and re-lock if its hash changed",
        )
    missing = pip_text.not_found(output)
    if missing:
        where = f"the wheelhouse {plan.manifest.wheelhouse}" if plan.offline else "the index"
        return LockError(
            f"{', '.join(missing)} (from {lock}) not found in {where}",
            "add it to the wheelhouse (pip download -r the lock)" if plan.offline else LOCK_HINT,
            details=exc.details,
        )
    if pip_text.hashes_refused(output):
        return LockError(f"pip refused {lock}: {output.splitlines()[-1]}", LOCK_HINT, exc.details)
    return exc
