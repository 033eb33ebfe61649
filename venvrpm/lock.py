"""``venvrpm lock``: hash-locked requirements resolved under the *target* interpreter.

Locking runs where the build runs (this host, the container, the root: backends.open_runners,
as the build), with the resolver :mod:`venvrpm.resolvers` makes there. The inputs are mounted
read-only; the resolver writes its output in the work directory, and venvrpm, on the host,
checks it against the lock grammar and writes the lock, headed by the record of what it was
made from (:mod:`venvrpm.freshness`, which ``--check`` compares).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from venvrpm import files, freshness, lockfile, project, resolvers, uvlock
from venvrpm.errors import LockError, LockFileError, UsageError, VenvrpmError, refused
from venvrpm.files import Scratch, write_replacing
from venvrpm.manifest import LockTarget, Manifest
from venvrpm.plan import Interpreter, pip_environment
from venvrpm.progress import Report, quiet
from venvrpm.runner import HostRunner, Runner, Runners


def lock(
    manifest: Manifest,
    target: LockTarget,
    interpreter: Interpreter,
    runner: Runner,
    workdir: Path,
    *,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
    tool: resolvers.Resolver | None = None,
) -> Path:
    """Resolve *target* and replace its lock atomically; on failure the old lock is untouched.

    *tool*: the resolver made once for several locks (else made here: pip-tools)."""
    if tool is None:
        tool = resolvers.resolver(manifest, interpreter, runner, workdir)
    made_from = freshness.record(manifest, target, interpreter)
    pylock = lockfile.is_pylock(target.output)
    constraint = None
    if target.constraint is not None and not lockfile.is_pylock(target.constraint):
        constraint = resolvers.constraint_file(manifest, target, workdir)
    with _scratch(workdir, "pylock.toml" if pylock else "requirements.txt") as scratch:
        if pylock:
            argv = resolvers.pylock_argv(manifest, target, tool, scratch.path, workdir,
                                         upgrade=upgrade,
                                         upgrade_packages=upgrade_packages)  # fmt: skip
        else:
            argv = resolvers.compile_argv(manifest, target, tool, scratch.path, upgrade=upgrade,
                                          upgrade_packages=upgrade_packages, constraint=constraint,
                                          workdir=workdir)  # fmt: skip
        _compile(manifest, target.name, argv, target.output, scratch, made_from, tool,
                 runner, workdir, "")  # fmt: skip
    if target.name == "main":
        # what builds the project and the lock's sdists is hash-locked too
        lock_build(manifest, interpreter, runner, workdir, tool,
                   upgrade=upgrade, upgrade_packages=upgrade_packages)  # fmt: skip
    return target.output


def require_format(manifest: Manifest, wanted: str | None) -> None:
    """``lock --format``: the main lock (``requirements:``) is named for that format. A lock's
    format is its name's (PEP 751: ``pylock.toml``, ``pylock.NAME.toml``), as ``build`` reads
    it; an environment's lock follows its own output's name."""
    shown = freshness.shown(manifest, manifest.requirements)
    named = lockfile.is_pylock(manifest.requirements)
    if wanted == "pylock" and not named:
        raise UsageError(
            f"--format pylock writes a PEP 751 lock, but requirements: {shown} is not named as one",
            "set requirements: pylock.toml (or pylock.NAME.toml), or leave out --format",
        )
    if wanted == "requirements" and named:
        raise UsageError(
            f"--format requirements writes hash-locked requirements, but requirements: "
            f"{shown} is named as a PEP 751 lock",
            "set requirements: e.g. requirements.lock, or use --format pylock",
        )


@contextlib.contextmanager
def _scratch(workdir: Path, name: str) -> Iterator[Scratch]:
    """The resolver's output file, *name* (uv wants a pylock.toml named as PEP 751 says) in
    a fresh directory of the work directory, which the target sees read-write (the lock's
    directory is mounted read-only; pip-compile's "via" paths are relative to its working
    directory, not to this file); made with O_EXCL, removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="lock-", dir=workdir))
    path = directory / name
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w+b") as out:
            yield Scratch(path, out)
    finally:
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            directory.rmdir()


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
        return files.read_regular(scratch, lockfile.MAX_BYTES, own=True).decode("utf-8")
    except OSError as exc:  # TooLargeError too
        why = exc.strerror or str(exc)
    raise LockError(
        f"{engine}'s output {freshness.shown(manifest, scratch)} is not the file it wrote",
        "something where the lock was resolved replaced pip-compile's output in the work "
        "directory; rerun with --keep-workdir to look at it; the old lock is unchanged",
        details=[why],
    )


def lock_build(
    manifest: Manifest,
    interpreter: Interpreter,
    runner: Runner,
    workdir: Path,
    tool: resolvers.Resolver,
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
    # what the target installs: pip skips a line whose marker is false, and fetch counts it;
    # of a pylock.toml, the one file per package that fits the target's tags, as build picks
    main_lock = manifest.read_lock()
    tags = None
    if main_lock.pylock is not None:
        assert tool.pip is not None, "resolvers.resolver places pip for a pylock.toml"
        tags = venvbuild.probe_tags(runner, interpreter, tool.pip)
    main_lock = main_lock.for_target(dict(interpreter.markers), tags)
    files = manifest.wheelhouse
    if files is None:
        files = workdir / "lock-downloads"
        scratch_dir = workdir / "lock-downloads-scratch"
        scratch_dir.mkdir(parents=True, exist_ok=True)
        assert tool.pip is not None, "resolvers.resolver places pip without a wheelhouse"
        pip = tool.pip
        # isolated: locking trusts the index as pip-compile does (docs/security.md, section 5)
        fetch.fetch(main_lock, files, [str(interpreter.path), str(pip / "pip")], runner,
                    pip_environment(manifest, os.environ, online=True), scratch_dir,
                    isolated=True)  # fmt: skip
    who = buildreqs.needs(project.read(manifest.project), main_lock, files)
    if not who:
        if (
            output.is_file()
            and freshness.read_record(output.read_text("utf-8", errors="replace")) is not None
        ):
            output.unlink()  # ours, and nothing needs it any more
        return None
    # after the main lock's resolution ran in the target: a fresh file (resolvers.input_file)
    source = resolvers.input_file(workdir, "build-requirements.in", buildreqs.input_text(who))
    covers = "".join(f"#   {n.what}: {', '.join(n.requires)}\n" for n in who)
    made_from = freshness.build_record(manifest, interpreter)
    with _scratch(workdir, "requirements.txt") as scratch:
        argv = resolvers.base_argv(manifest, tool, scratch.path, upgrade, upgrade_packages)
        # the input is in the work directory: no "via" paths
        argv += ["--no-annotate", str(source)]
        _compile(manifest, "build", argv, output, scratch, made_from, tool, runner, workdir,
                 "# Build requirements of:\n" + covers)  # fmt: skip
    return output


def _compile(
    manifest: Manifest,
    name: str,
    argv: list[str],
    output: Path,
    scratch: Scratch,
    made_from: dict[str, object],
    tool: resolvers.Resolver,
    runner: Runner,
    workdir: Path,
    preamble: str,
) -> None:
    """Run the resolver (*argv* writes *scratch*) and replace *output* atomically."""
    pylock = lockfile.is_pylock(output)
    engine = "pip lock" if pylock and tool.uv is None else tool.name
    if output.is_file() and not pylock:
        # pip-compile (and uv) keep existing pins unless told to upgrade: start from the old
        # lock, its requirement lines only (pip-compile reads it with pip: options included).
        old = output.read_text(encoding="utf-8", errors="replace")
        scratch.write_text(lockfile.salvage(old))
    elif tool.uv is not None:
        # uv keeps the pins of a pylock.toml it is writing too: the old one, if it is a lock
        # venvrpm reads (its comments are TOML comments); else none (uv would read an empty
        # file as a broken lock)
        try:
            lockfile.read(output)
            scratch.write_text(output.read_text(encoding="utf-8"))
        except LockFileError:
            scratch.path.unlink()  # a name in a fresh directory of ours: uv creates it
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
        argv, what=f"resolving the {name} lock ({engine})",
        cwd=manifest.base_dir, env=env, check=False,
    )  # fmt: skip
    hint = "loosen the conflicting requirements" + (
        " or add the missing distributions to the wheelhouse" if manifest.wheelhouse else ""
    )
    shown = freshness.shown(manifest, output)
    if result.returncode != 0 and engine != "pip-compile":
        raise LockError(f"{engine} could not resolve the {name} lock; {shown} is unchanged",
                        hint, details=[result.tail()])  # fmt: skip
    if result.returncode != 0:
        raise LockError(
            f"pip-compile could not resolve the {name} lock; {shown} is unchanged",
            hint,
            details=[resolvers.explanation(result.stdout + "\n" + result.stderr)],
        )
    body = _compiled(manifest, scratch.path, engine)
    interpreter = tool.interpreter
    header = (
        f"# Locked by `venvrpm lock` for {interpreter.path} "
        f"({interpreter.implementation} {interpreter.version}); regenerate, don't edit.\n"
        + freshness.record_line(made_from)
    )
    text = header + preamble + body
    if pylock:
        from venvrpm import pylock as pylock_file

        pylock_file.parse(text, output)  # what build will read: hashes, files, no vcs
    else:
        lockfile.parse(text, output)
    with _writing(manifest, output):
        write_replacing(output, text)


def _writing(manifest: Manifest, output: Path) -> contextlib.AbstractContextManager[None]:
    """A write into the lock's directory, which the user chose: what the machine refuses
    there is said with the lock's path (errors.refused), not a bug's traceback."""
    return refused(
        f"writing the lock {freshness.shown(manifest, output)}",
        "make the lock's directory writable by the user venvrpm runs as, or give the lock "
        "another output; the old lock is unchanged",
    )


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
        for path in freshness.inputs_of(manifest, target):
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
            stale = freshness.check(manifest, target, interpreter, dict(interpreter.markers))
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
        tool = resolvers.resolver(manifest, interpreter, runners.target, workdir, uv=uv)
        if tool.platform is not None:
            report("info", f"uv resolves for Python {interpreter.version} on {tool.platform.name}")
            if tool.platform.note is not None:
                report("warning", tool.platform.note)
        for target in targets:
            report("step", f"locking {target.name} -> {target.output.name} for {interpreter.path}")
            lock(manifest, target, interpreter, runners.target, workdir, tool=tool,
                 upgrade=upgrade, upgrade_packages=list(upgrade_packages))  # fmt: skip
