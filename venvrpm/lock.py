"""``venvrpm lock``: hash-locked requirements resolved by pip-tools under the *target* interpreter.

pip-compile evaluates environment markers with the interpreter it runs on, so it runs where the
build runs (this host, the container, the root: backends.open_runners, as the build), in a
throwaway virtualenv of the manifest's interpreter. pip-tools itself comes from venvrpm's own
environment and pip from virtualenv's wheel for that interpreter (the build's), copied into the
work directory (a container or root sees only what is mounted) and exposed to that venv through
a ``.pth`` file: locking needs no index when a wheelhouse is given. The inputs are mounted
read-only; pip-compile writes its output in the work directory, and venvrpm, on the host,
writes the lock.

Each lock starts with a record of what it was made from (the interpreter, a sha256 per input),
so ``--check`` tells offline whether, and why, a lock is stale.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from venvrpm import files, lockfile, project, toolbox, uvlock
from venvrpm._fenced import pip_text
from venvrpm.errors import LockError, UsageError, VenvrpmError, refused
from venvrpm.files import Scratch, sha256_hex, write_replacing
from venvrpm.manifest import LockTarget, Manifest
from venvrpm.plan import Interpreter, pip_environment
from venvrpm.progress import Report, quiet
from venvrpm.runner import HostRunner, Runner, Runners

RECORD_PREFIX = "# venvrpm-lock: "
_PROJECT_FILES = ("pyproject.toml", "setup.cfg", "setup.py")
_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)[=\s]+(\S+)")


@dataclass(frozen=True, slots=True)
class Staleness:
    """Why a lock no longer matches its inputs; empty reasons mean it is fresh."""

    target: LockTarget
    reasons: tuple[str, ...]


def inputs_of(manifest: Manifest, target: LockTarget) -> list[Path]:
    """Every file a lock is computed from, in a stable order (nested -r/-c files included)."""
    files = list(_with_includes(target.inputs))
    if target.name == "main" and manifest.project is not None:
        files += [manifest.project / n for n in _PROJECT_FILES if (manifest.project / n).is_file()]
    if target.constraint is not None:
        files.append(target.constraint)
    return files


def _with_includes(inputs: Sequence[Path], constraints: bool = True) -> list[Path]:
    found: list[Path] = []
    pending = list(inputs)
    while pending:
        path = pending.pop(0)
        if path in found:
            continue
        found.append(path)
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _INCLUDE.match(line.strip())
            if match and (constraints or match.group(1) in ("-r", "--requirement")):
                pending.append((path.parent / match.group(2)).resolve())
    return found


def record(manifest: Manifest, target: LockTarget, interpreter: Interpreter) -> dict[str, object]:
    """What a lock is made from: its header line, and what ``--check`` compares."""
    return {
        "python": f"{interpreter.path} {interpreter.version}",
        "inputs": {
            _shown(manifest, path): sha256_hex(path) if path.is_file() else None
            for path in inputs_of(manifest, target)
        },
    }


@dataclass(frozen=True, kw_only=True, slots=True)
class Resolver:
    """What resolves the locks where the build runs (``lock.resolver``)."""

    interpreter: Interpreter
    python: Path | None = None
    """pip-tools: the locking environment's python (:func:`tool_environment`)."""
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
            raise ValueError("lock.resolver: uv needs uv's binary")  # lock_all finds it
        if manifest.wheelhouse is None:
            from venvrpm import venvbuild

            # the build lock downloads the main lock with it: placed now, before the target
            # runs anything in the work directory
            venvbuild.pip_for(interpreter, workdir / "tools")
        return Resolver(interpreter=interpreter, uv=uv, cache=workdir / "uv-cache",
                        platform=uvlock.python_platform(interpreter))  # fmt: skip
    python = tool_environment(interpreter, runner, workdir, copy=manifest.build.kind != "host")
    return Resolver(interpreter=interpreter, python=python)


def compile_argv(
    manifest: Manifest,
    target: LockTarget,
    tool: Resolver,
    output: Path,
    *,
    upgrade: bool,
    upgrade_packages: Sequence[str],
    constraint: Path | None = None,
) -> list[str]:
    """The resolver's command (run with the manifest's directory as working directory).

    *constraint*: what the resolver reads for the target's constraint, when not the file
    itself (:func:`_constraint_file`)."""
    argv = _base_argv(manifest, tool, output, upgrade, upgrade_packages)
    if target.constraint is not None:
        flag = "--constraint" if tool.uv is None else "--constraints"
        argv += [flag, _shown(manifest, constraint or target.constraint)]
    sources = [_shown(manifest, p) for p in target.inputs]
    if target.name == "main" and manifest.project is not None:
        project_file = next(
            manifest.project / n
            for n in ("pyproject.toml", "setup.py")
            if (manifest.project / n).is_file()
        )
        sources.append(_shown(manifest, project_file))
    return argv + sources


def _base_argv(
    manifest: Manifest,
    tool: Resolver,
    output: Path,
    upgrade: bool,
    upgrade_packages: Sequence[str],
) -> list[str]:
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


def lock(
    manifest: Manifest,
    target: LockTarget,
    interpreter: Interpreter,
    runner: Runner,
    workdir: Path,
    *,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
    tool: Resolver | None = None,
) -> Path:
    """Resolve *target* and replace its lock atomically; on failure the old lock is untouched.

    *tool*: the resolver made once for several locks (else made here: pip-tools)."""
    if tool is None:
        tool = resolver(manifest, interpreter, runner, workdir)
    made_from = record(manifest, target, interpreter)
    constraint = _constraint_file(manifest, target, workdir)
    with _scratch(workdir) as scratch:
        argv = compile_argv(manifest, target, tool, scratch.path, upgrade=upgrade,
                            upgrade_packages=upgrade_packages, constraint=constraint)  # fmt: skip
        _compile(manifest, target.name, argv, target.output, scratch, made_from, tool,
                 runner, workdir, "")  # fmt: skip
    if target.name == "main":
        # what builds the project and the lock's sdists is hash-locked too
        lock_build(manifest, interpreter, runner, workdir, tool,
                   upgrade=upgrade, upgrade_packages=upgrade_packages)  # fmt: skip
    return target.output


def _constraint_file(manifest: Manifest, target: LockTarget, workdir: Path) -> Path | None:
    """The main lock as parsed, for pip-compile to read as the constraint of an environment's
    lock, when it holds lines venvrpm ignores (another tool's index options, the project's
    ``-e .``): pip-compile would obey them. None: the lock itself, whose name then reads well
    in pip-compile's ``# via -c`` annotations (a work directory's would change every run)."""
    if target.constraint is None or not target.constraint.is_file():
        return None  # pip-compile says a missing file is missing
    parsed = lockfile.read(target.constraint, project=manifest.project)
    if not parsed.ignored:
        return None
    # after an earlier lock's resolution ran in the target: a fresh file (_input_file)
    return _input_file(workdir, f"constraint-{target.name}.txt", lockfile.normalized(parsed))


@contextlib.contextmanager
def _scratch(workdir: Path) -> Iterator[Scratch]:
    """pip-compile's output file: in the work directory, which the target sees read-write
    (the lock's directory is mounted read-only; pip-compile's "via" paths are relative to its
    working directory, not to this file); a fresh name made by mkstemp, removed afterwards."""
    fd, name = tempfile.mkstemp(prefix="lock-", suffix=".txt", dir=workdir)
    path = Path(name)
    try:
        with os.fdopen(fd, "w+b") as out:
            yield Scratch(path, out)
    finally:
        path.unlink(missing_ok=True)


def _input_file(workdir: Path, name: str, text: str) -> Path:
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


MAX_LOCK_BYTES = 64 << 20
"""The most of pip-compile's output read back (a lock of thousands of hashes is ~1 MB)."""


def _compiled(manifest: Manifest, scratch: Path, engine: str = "pip-compile") -> str:
    """What pip-compile wrote to *scratch*, which may lie in a directory others can write.

    pip-compile writes its output by path (click's atomic write: a new file renamed onto the
    name), so the inode mkstemp made cannot be compared as files.replacing does. The work
    directory is private, but what runs in the container or root (the lock's inputs' build
    backends, too) can write it. Checked here: the name is a regular file of this user with
    one link, read without following a link and within a bound; anything else is refused.
    What remains: the target can rename another regular file of this user onto the name
    before this read; its text must still pass the lock grammar (lockfile.parse) before
    anything is written, and the lock itself is written through files.replacing.
    """
    try:
        return files.read_regular(scratch, MAX_LOCK_BYTES, own=True).decode("utf-8")
    except OSError as exc:  # TooLargeError too
        why = exc.strerror or str(exc)
    raise LockError(
        f"{engine}'s output {_shown(manifest, scratch)} is not the file it wrote",
        "something where the lock was resolved replaced pip-compile's output in the work "
        "directory; rerun with --keep-workdir to look at it; the old lock is unchanged",
        details=[why],
    )


def lock_build(
    manifest: Manifest,
    interpreter: Interpreter,
    runner: Runner,
    workdir: Path,
    tool: Resolver,
    *,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
) -> Path | None:
    """Write the build lock beside the main lock: the ``[build-system] requires`` of the project
    and of every sdist the main lock installs for the target, pinned and hashed.

    Which files the main lock installs is read from the wheelhouse, or (without one) from a
    download of the main lock under the target interpreter, as ``fetch`` does: pip picks the
    same files for ``install``. None (and no build lock) when nothing needs build requirements.
    """
    from venvrpm import buildreqs, fetch, venvbuild

    output = buildreqs.lock_path(manifest.requirements)
    # what the target installs: pip skips a line whose marker is false, and fetch counts it
    main_lock = lockfile.read(manifest.requirements, project=manifest.project).for_target(
        dict(interpreter.markers)
    )
    files = manifest.wheelhouse
    if files is None:
        files = workdir / "lock-downloads"
        scratch_dir = workdir / "lock-downloads-scratch"
        scratch_dir.mkdir(parents=True, exist_ok=True)
        pip = venvbuild.pip_for(interpreter, workdir / "tools")
        # isolated: locking trusts the index as pip-compile does (docs/security.md, section 5)
        fetch.fetch(main_lock, files, [str(interpreter.path), str(pip / "pip")], runner,
                    pip_environment(manifest, os.environ, online=True), scratch_dir,
                    isolated=True)  # fmt: skip
    who = buildreqs.needs(project.read(manifest.project), main_lock, files)
    if not who:
        if (
            output.is_file()
            and _read_record(output.read_text("utf-8", errors="replace")) is not None
        ):
            output.unlink()  # ours, and nothing needs it any more
        return None
    # after the main lock's resolution ran in the target: a fresh file (_input_file)
    source = _input_file(workdir, "build-requirements.in", buildreqs.input_text(who))
    covers = "".join(f"#   {n.what}: {', '.join(n.requires)}\n" for n in who)
    with _scratch(workdir) as scratch:
        argv = _base_argv(manifest, tool, scratch.path, upgrade, upgrade_packages)
        # the input is in the work directory: no "via" paths
        argv += ["--no-annotate", str(source)]
        _compile(manifest, "build", argv, output, scratch, build_record(manifest, interpreter),
                 tool, runner, workdir, "# Build requirements of:\n" + covers)  # fmt: skip
    return output


def build_record(manifest: Manifest, interpreter: Interpreter) -> dict[str, object]:
    """What a build lock is made from: the main lock (whose record covers the project)."""
    return {
        "python": f"{interpreter.path} {interpreter.version}",
        "inputs": {_shown(manifest, manifest.requirements): sha256_hex(manifest.requirements)},
    }


def _compile(
    manifest: Manifest,
    name: str,
    argv: list[str],
    output: Path,
    scratch: Scratch,
    made_from: dict[str, object],
    tool: Resolver,
    runner: Runner,
    workdir: Path,
    preamble: str,
) -> None:
    """Run the resolver (*argv* writes *scratch*) and replace *output* atomically."""
    if output.is_file():
        # pip-compile (and uv) keep existing pins unless told to upgrade: start from the old
        # lock, its requirement lines only (pip-compile reads it with pip: options included).
        old = output.read_text(encoding="utf-8", errors="replace")
        scratch.write_text(lockfile.salvage(old))
    env = pip_environment(manifest, os.environ)
    if manifest.wheelhouse is not None:
        # Build isolation installs build backends with pip: keep it offline too.
        env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(manifest.wheelhouse))
    if tool.uv is not None:
        env = uvlock.environment(env)
    # build isolation's environments and metadata builds: in the work directory, not in the
    # root's /tmp (a chroot's /tmp is the root's own)
    tmp = workdir / "tmp"
    tmp.mkdir(exist_ok=True)
    env["TMPDIR"] = str(tmp)
    result = runner.run(
        argv, what=f"resolving the {name} lock ({tool.name})",
        cwd=manifest.base_dir, env=env, check=False,
    )  # fmt: skip
    hint = "loosen the conflicting requirements" + (
        " or add the missing distributions to the wheelhouse" if manifest.wheelhouse else ""
    )
    shown = _shown(manifest, output)
    if result.returncode != 0 and tool.uv is not None:
        raise LockError(f"uv could not resolve the {name} lock; {shown} is unchanged", hint,
                        details=[result.tail()])  # fmt: skip
    if result.returncode != 0:
        raise LockError(
            f"pip-compile could not resolve the {name} lock; {shown} is unchanged",
            hint,
            details=[explanation(result.stdout + "\n" + result.stderr)],
        )
    body = _compiled(manifest, scratch.path, tool.name)
    interpreter = tool.interpreter
    header = (
        f"# Locked by `venvrpm lock` for {interpreter.path} "
        f"({interpreter.implementation} {interpreter.version}); regenerate, don't edit.\n"
        f"{RECORD_PREFIX}{json.dumps(made_from, sort_keys=True)}\n"
    )
    text = header + preamble + body
    lockfile.parse(text, output)
    with _writing(manifest, output):
        write_replacing(output, text)


def _writing(manifest: Manifest, output: Path) -> contextlib.AbstractContextManager[None]:
    """A write into the lock's directory, which the user chose: what the machine refuses
    there is said with the lock's path (errors.refused), not a bug's traceback."""
    return refused(
        f"writing the lock {_shown(manifest, output)}",
        "make the lock's directory writable by the user venvrpm runs as, or give the lock "
        "another output; the old lock is unchanged",
    )


def check(
    manifest: Manifest, target: LockTarget, interpreter: Interpreter, markers: Mapping[str, str]
) -> Staleness:
    """Compare a lock with its inputs without touching the network."""
    name = _shown(manifest, target.output)
    if not target.output.is_file():
        return Staleness(target, (f"{name} does not exist",))
    # Unreadable, or a line outside the lock grammar: refused (exit 2), fresh or not.
    locked = lockfile.read(
        target.output, project=manifest.project if target.name == "main" else None
    )
    text = target.output.read_text(encoding="utf-8")
    recorded = _read_record(text)
    if recorded is None:
        return Staleness(target, (f"{name} was not made by `venvrpm lock` (no input record)",))
    reasons: list[str] = []
    now = record(manifest, target, interpreter)
    if _interpreter_key(recorded.get("python")) != _interpreter_key(now["python"]):
        reasons.append(
            f"{name} was made for {recorded.get('python')}; the manifest's interpreter is {now['python']}"
        )
    old_inputs = recorded.get("inputs", {})
    new_inputs = now["inputs"]
    assert isinstance(new_inputs, dict) and isinstance(old_inputs, dict)
    for path, digest in new_inputs.items():
        if path not in old_inputs:
            reasons.append(f"{path} is a new input, not in {name}")
        elif digest is None:
            reasons.append(f"{path} is missing")
        elif old_inputs[path] != digest:
            reasons.append(f"{path} changed since {name} was made")
    reasons += [f"{path} is no longer an input" for path in old_inputs if path not in new_inputs]
    if target.name == "main":
        reasons += check_build(manifest, interpreter)
    pins = {r.name: r.version for r in locked.requirements}
    for source, req in _direct_requirements(manifest, target):
        if req.marker is not None and not req.marker.evaluate(dict(markers)):
            continue
        key = canonicalize_name(req.name)
        if key not in pins:
            reasons.append(f"{req} (from {source}) is missing from {name}")
        elif req.specifier and not req.specifier.contains(pins[key], prereleases=True):
            reasons.append(f"{req} (from {source}) is not satisfied by {name} ({key}=={pins[key]})")
    return Staleness(target, tuple(reasons))


def check_build(manifest: Manifest, interpreter: Interpreter) -> list[str]:
    """Why the build lock is missing or stale (offline: sdists are known from a wheelhouse)."""
    from venvrpm import buildreqs

    path = buildreqs.lock_path(manifest.requirements)
    name = _shown(manifest, path)
    if not path.is_file():
        try:
            who = buildreqs.needs(
                project.read(manifest.project),
                lockfile.read(manifest.requirements, project=manifest.project),
                manifest.wheelhouse,
            )
        except LockError:
            return []  # the main lock's own problems are reported already
        return [f"{name} does not exist; {n.what} needs build requirements" for n in who]
    lockfile.read(path)  # outside the grammar: refused (exit 2), as build refuses it
    recorded = _read_record(path.read_text(encoding="utf-8"))
    if recorded is None:
        return [f"{name} was not made by `venvrpm lock` (no input record)"]
    if recorded.get("inputs") != build_record(manifest, interpreter)["inputs"]:
        return [f"{_shown(manifest, manifest.requirements)} changed since {name} was made"]
    return []


_PTH_WRITER = (
    "import os, sys, sysconfig; "
    "path = os.path.join(sysconfig.get_paths()['purelib'], 'venvrpm-tools.pth'); "
    "f = open(path, 'x'); f.write(sys.argv[1]); f.close()"
)
"""Run by the locking venv's python: its site-packages imports venvrpm's pip-tools and pip."""


def tool_environment(
    interpreter: Interpreter, runner: Runner, workdir: Path, *, copy: bool = False
) -> Path:
    """A virtualenv of the target interpreter, made where *runner* runs it, that can import
    pip-tools (from venvrpm's environment) and the pip the build uses; its python.

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
    return venv_python


def explanation(output: str) -> str:
    """pip-tools' own explanation of a failed resolution, without traceback noise."""
    return pip_text.resolution_failure(output)


def _direct_requirements(manifest: Manifest, target: LockTarget) -> list[tuple[str, Requirement]]:
    found: list[tuple[str, Requirement]] = []
    for path in _with_includes(target.inputs, constraints=False):
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            if not line or line.startswith("-"):
                continue
            try:
                found.append((_shown(manifest, path), Requirement(line)))
            except InvalidRequirement:
                continue
    if target.name == "main" and manifest.project is not None:
        pyproject = manifest.project / "pyproject.toml"
        metadata = project.read(manifest.project)
        if metadata is not None:
            for dep in metadata.dependencies:
                try:
                    found.append((_shown(manifest, pyproject), Requirement(dep)))
                except InvalidRequirement:
                    continue
    return found


def _read_record(text: str) -> dict[str, object] | None:
    for line in text.splitlines()[:5]:
        if line.startswith(RECORD_PREFIX):
            try:
                loaded = json.loads(line[len(RECORD_PREFIX) :])
            except ValueError:
                return None
            return loaded if isinstance(loaded, dict) else None
    return None


def _interpreter_key(value: object) -> tuple[str, str]:
    """Path and minor version: a patch update of the interpreter does not stale a lock."""
    path, _, version = str(value).partition(" ")
    return path, ".".join(version.split(".")[:2])


def _shown(manifest: Manifest, path: Path) -> str:
    """*path* relative to the manifest, so a moved tree keeps its lock record."""
    return Path(os.path.relpath(path, manifest.base_dir)).as_posix()


def targets(manifest: Manifest, names: Sequence[str]) -> list[LockTarget]:
    """The manifest's locks named in *names* (all of them when none is named)."""
    if not manifest.locks:
        raise UsageError(
            f"{manifest.source}: nothing to lock",
            "list requirement files under lock.inputs, or set project: to lock its dependencies",
        )
    unknown = [n for n in names if manifest.lock_target(n) is None]
    if unknown:
        known = ", ".join(t.name for t in manifest.locks)
        raise UsageError(f"no lock called {', '.join(unknown)}", f"locks in this manifest: {known}")
    return [t for t in manifest.locks if not names or t.name in names]


def mounts(manifest: Manifest, targets: Sequence[LockTarget]) -> tuple[Path, ...]:
    """What locking reads where the build runs, mounted read-only there (besides what
    backends.mounts gives every build: the wheelhouse, pip's configuration, the CA bundles).

    The manifest's and the project's directories, and every input; a lock another lock is
    constrained by (and the main lock), as its directory: locking replaces it (a new inode)
    and a file's bind mount would go on showing the old one.
    """
    found = [manifest.base_dir, manifest.requirements.parent]
    if manifest.project is not None:
        found.append(manifest.project)
    for target in targets:
        for path in inputs_of(manifest, target):
            found.append(path.parent if path == target.constraint else path)
    return tuple(dict.fromkeys(found))


@contextlib.contextmanager
def _where_the_build_runs(
    manifest: Manifest,
    targets: Sequence[LockTarget],
    host: HostRunner,
    workdir: Path,
    report: Report,
) -> Iterator[tuple[Runners, Interpreter]]:
    """The runners (the target: this host, a container, a root, as the build's) and the
    target's interpreter, probed there."""
    from venvrpm import backends, venvbuild

    pip_env = pip_environment(manifest, os.environ)
    with backends.open_runners(
        manifest, host, workdir, pip_env, mounts(manifest, targets), report=report
    ) as runners:
        where = backends.describe(manifest)
        report("step", f"probing {manifest.python} {where}")
        yield runners, venvbuild.probe_interpreter(runners.target, manifest.python, where)


def require_up_to_date(
    manifest: Manifest,
    targets: Sequence[LockTarget],
    host: HostRunner,
    shown: Path,
    *,
    report: Report = quiet,
) -> None:
    """``lock --check``: every lock of *targets* up to date with its inputs, for the
    interpreter the manifest names (probed where the build runs), else a VenvrpmError with the
    reasons."""
    from venvrpm.workspace import workspace

    with (
        workspace(keep=False) as workdir,
        _where_the_build_runs(manifest, targets, host, workdir, report) as (_, interpreter),
    ):
        reasons = []
        for target in targets:
            stale = check(manifest, target, interpreter, dict(interpreter.markers))
            reasons += [f"{target.name}: {r}" for r in stale.reasons]
    if reasons:
        raise VenvrpmError(
            f"{len({r.split(':')[0] for r in reasons})} lock(s) out of date",
            f"run `venvrpm lock {shown}`",
            details=reasons,
        )


def lock_all(
    manifest: Manifest,
    targets: Sequence[LockTarget],
    host: HostRunner,
    *,
    keep: bool,
    upgrade: bool,
    upgrade_packages: Sequence[str],
    report: Report = quiet,
) -> None:
    """``venvrpm lock``: lock each of *targets* for the interpreter the manifest names, where
    the build runs."""
    from venvrpm import venvbuild
    from venvrpm.workspace import workspace

    with (
        workspace(keep=keep) as workdir,
        _where_the_build_runs(manifest, targets, host, workdir, report) as (runners, interpreter),
    ):
        uv = None
        if manifest.lock_resolver == "uv":
            uv = venvbuild.find_uv(runners.host, workdir / "tools", setting="lock.resolver",
                                   copy=manifest.build.kind != "host")  # fmt: skip
        tool = resolver(manifest, interpreter, runners.target, workdir, uv=uv)
        if tool.platform is not None:
            report("info", f"uv resolves for Python {interpreter.version} on {tool.platform.name}")
            if tool.platform.note is not None:
                report("warning", tool.platform.note)
        for target in targets:
            report("step", f"locking {target.name} -> {target.output.name} for {interpreter.path}")
            lock(manifest, target, interpreter, runners.target, workdir, tool=tool,
                 upgrade=upgrade, upgrade_packages=list(upgrade_packages))  # fmt: skip
