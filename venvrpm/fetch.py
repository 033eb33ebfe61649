"""``venvrpm fetch``: fill the wheelhouse with exactly what the lock names, for the target.

pip runs under the *target* interpreter (on the host, in the container or in the root), so it
picks the wheels for that interpreter's version and platform tags. Every file is checked
against the lock's hashes (``--require-hashes``). A wheelhouse that already holds a file with
an allowed hash for every requirement is complete: nothing is downloaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from venvrpm import progress
from venvrpm._fenced import pip_text
from venvrpm.errors import LockError
from venvrpm.files import sha256_hex
from venvrpm.lockfile import Lock, LockedRequirement, requirement_line
from venvrpm.manifest import Manifest
from venvrpm.runner import Runner

if TYPE_CHECKING:
    from venvrpm.runner import HostRunner


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a fetch did."""

    present: tuple[str, ...]
    """Requirements the wheelhouse already had."""
    downloaded: tuple[str, ...]


def sha256_of(path: Path) -> str:
    """The file's hash in a lock's notation, ``sha256:HEX``."""
    return "sha256:" + sha256_hex(path)


# (path, inode, size, mtime) -> sha256: a build looks the wheelhouse up three times (the lock,
# who needs build requirements, the build lock); each file is read once per process
_HASHED: dict[tuple[str, int, int, int], str] = {}


def by_hash(directory: Path) -> dict[str, Path]:
    """``{"sha256:HEX": path}`` of the regular files in *directory*, first name first. Symlinks
    are not followed (nor counted): the check must read what it names."""
    found: dict[str, Path] = {}
    if not directory.is_dir():
        return found
    with os.scandir(directory) as listing:
        entries = sorted(listing, key=lambda e: e.name)
    for entry in entries:
        if not entry.is_file(follow_symlinks=False):
            continue
        info = entry.stat(follow_symlinks=False)
        memo = (entry.path, info.st_ino, info.st_size, info.st_mtime_ns)
        if memo not in _HASHED:
            _HASHED[memo] = sha256_of(Path(entry.path))
        found.setdefault(_HASHED[memo], Path(entry.path))
    return found


def missing(lock: Lock, wheelhouse: Path) -> list[LockedRequirement]:
    """Requirements without a file of an allowed hash in *wheelhouse*."""
    have = by_hash(wheelhouse)
    return [r for r in lock.requirements if not have.keys() & set(r.hashes)]


def problems(lock: Lock, wheelhouse: Path) -> list[str]:
    """Why the wheelhouse cannot serve the lock, one line per requirement (empty: it can)."""
    if not wheelhouse.is_dir():
        return [f"{wheelhouse} does not exist"]
    lacking = missing(lock, wheelhouse)
    if not lacking:
        return []
    by_name: dict[str, list[str]] = {}
    present = {path.name for path in wheelhouse.iterdir()}
    for path in wheelhouse.iterdir():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._]*?)-\d", path.name)
        if match:
            shown = path.name + (" (a symlink: not followed)" if path.is_symlink() else "")
            by_name.setdefault(canonicalize_name(match.group(1)), []).append(shown)
    out = []
    for req in lacking:
        files = sorted(by_name.get(req.name, []))
        # a pylock.toml names the one file chosen for the target: said by its name
        if req.filename is not None and req.filename in present:
            out.append(f"hash mismatch for {req.filename}: it is not the file {lock.path.name} "
                       f"names for {req.name}=={req.version}")  # fmt: skip
        elif req.filename is not None:
            out.append(f"{req.filename} ({req.name}=={req.version}) is not in the wheelhouse")
        elif files:
            out.append(f"hash mismatch for {req.name}=={req.version}: {', '.join(files)} "
                       "is not a file the lock names")  # fmt: skip
        else:
            out.append(f"{req.name}=={req.version} is not in the wheelhouse")
    return out


def fetch(
    lock: Lock,
    wheelhouse: Path,
    pip: list[str],
    runner: Runner,
    env: dict[str, str],
    scratch: Path,
    *,
    build_env: Path | None = None,
    isolated: bool = False,
    binary_only: bool = False,
    report: progress.Report = progress.quiet,
) -> Fetched:
    """Download what *wheelhouse* lacks; raise LockError naming everything that could not be had.

    *lock* is the lock for the target (:meth:`Lock.for_target`): pip skips a line whose marker
    is false and exits 0 having downloaded nothing, so a line is done only when its file is here.

    pip prepares an sdist's metadata even to download it, running its backend. In an isolated
    build that backend would come from the index without a hash check; so, unless *isolated*
    (locking, which trusts the index as pip-compile does), build isolation is off and the
    backend comes from *build_env*, the build lock installed hash-checked (:func:`build_env`).
    *binary_only*: wheels only (the build lock's own files, which nothing may build).
    *report* hears how many distributions are wanted and each one pip starts on.
    """
    wanted = missing(lock, wheelhouse)
    present = tuple(f"{r.name}=={r.version}" for r in lock.requirements if r not in wanted)
    if not wanted:
        return Fetched(present, ())
    wheelhouse.mkdir(parents=True, exist_ok=True)
    base = [*pip, "download", "--no-deps", "--require-hashes", "--disable-pip-version-check",
            "--no-input", "--progress-bar", "off", "--dest", str(wheelhouse)]  # fmt: skip
    if not isolated:
        base.append("--no-build-isolation")
    if binary_only:
        base += ["--only-binary", ":all:"]
    if build_env is not None:
        env = {**env, "PYTHONPATH": str(build_env)}
    # One pip for the whole lock: a pip per distribution cost ~1 s each in start-up and index
    # round trips (docs/performance.md). pip checks each file against its line's hashes.
    progress.total(report, len(wanted), "distributions")
    progress.count_lines(report, pip_text.STARTED)
    everything = scratch / "all-requirements.txt"
    # online: a pylock.toml's file from the URL the lock names (a requirements lock names none)
    lines = "".join(requirement_line(r, online=True) + "\n" for r in wanted)
    everything.write_text(lines, encoding="utf-8")
    result = runner.run([*base, "-r", str(everything)], what="downloading the lock", env=env,
                        check=False)  # fmt: skip
    still = [r for r in missing(lock, wheelhouse) if r in wanted]
    failures: list[str] = []
    if result.returncode != 0 or still:
        # pip stops at the first failure: one pip per distribution still missing names every
        # one that cannot be had, and why (the slow way, only when something failed)
        failures = _one_by_one(lock, wheelhouse, still, base, runner, env, scratch)
    if failures:
        raise LockError(
            f"{len(failures)} distribution(s) could not be fetched into {wheelhouse}",
            "check the index (pip's configuration) and that the lock was made for this interpreter",
            details=failures,
        )
    return Fetched(present, tuple(f"{r.name}=={r.version}" for r in wanted))


def _one_by_one(
    lock: Lock,
    wheelhouse: Path,
    wanted: list[LockedRequirement],
    base: list[str],
    runner: Runner,
    env: dict[str, str],
    scratch: Path,
) -> list[str]:
    """Fetch each of *wanted* with a pip of its own; one line per failure, naming the reason."""
    failures: list[str] = []
    for req in wanted:
        requirements = scratch / f"{req.name}.txt"
        requirements.write_text(requirement_line(req, online=True) + "\n", encoding="utf-8")
        result = runner.run([*base, "-r", str(requirements)], what=f"downloading {req.name}",
                            env=env, check=False)  # fmt: skip
        if result.returncode != 0:
            output = result.stdout + result.stderr
            reason = "hash mismatch" if pip_text.hash_mismatch(output) else (
                "no file for this interpreter and platform" if pip_text.not_found(output)
                else (output.strip().splitlines() or ["pip failed"])[-1]
            )  # fmt: skip
            failures.append(f"{req.name}=={req.version}: {reason}")
        elif req in missing(lock, wheelhouse):
            failures.append(f"{req.name}=={req.version}: pip downloaded no file the lock names")
    return failures


def fetch_build_lock(
    done: Fetched,
    requirements: Path,
    wheelhouse: Path,
    pip: list[str],
    runner: Runner,
    env: dict[str, str],
    scratch: Path,
    markers: Mapping[str, str],
    report: progress.Report = progress.quiet,
) -> Fetched:
    """*done* plus the fetch of the build lock beside *requirements*, when there is one (its
    lines for the target with *markers*, as for the main lock)."""
    from venvrpm import buildreqs, lockfile

    path = buildreqs.lock_path(requirements)
    if not path.is_file():
        return done
    build_lock = lockfile.read(path).for_target(markers)
    more = fetch(build_lock, wheelhouse, pip, runner, env, scratch, binary_only=True, report=report)
    return Fetched(done.present + more.present, done.downloaded + more.downloaded)


def build_env(
    requirements: Path,
    wheelhouse: Path,
    pip: list[str],
    runner: Runner,
    env: dict[str, str],
    dest: Path,
) -> Path | None:
    """The build lock beside *requirements* installed from *wheelhouse* into *dest*, hash-checked
    and wheels only, for pip to prepare the lock's sdists with; None without a build lock."""
    from venvrpm import buildreqs, files, lockfile

    path = buildreqs.lock_path(requirements)
    if not path.is_file():
        return None
    # as parsed, as every lock pip installs: pip never reads the file itself. Written fresh,
    # not through a name the sdists' backends (run by pip download here) may have planted.
    parsed = dest.with_name(f"{dest.name}-requirements.txt")
    files.write_replacing(parsed, lockfile.normalized(lockfile.read(path)))
    runner.run(
        [*pip, "install", "--target", str(dest), "--no-deps", "--require-hashes", "--no-index",
         "--find-links", str(wheelhouse), "--only-binary", ":all:", "--no-input",
         "--disable-pip-version-check", "--progress-bar", "off", "-r", str(parsed)],
        what=f"installing {path.name} to prepare the lock's sdists", env=env,
        hint="the build lock must be installable from the wheelhouse: wheels, of its hashes",
    )  # fmt: skip
    return dest


@dataclass(frozen=True, slots=True)
class Filled:
    """What ``venvrpm fetch`` did to the wheelhouse."""

    wheelhouse: Path
    fetched: Fetched
    """The main lock's and the build lock's requirements, present or downloaded."""
    skipped: tuple[LockedRequirement, ...]
    """The lock's requirements whose markers exclude the target interpreter."""


def fill_wheelhouse(
    loaded: Manifest,
    host: HostRunner,
    host_env: Mapping[str, str],
    *,
    report: progress.Report = progress.quiet,
) -> Filled:
    """Fill the manifest's wheelhouse with what its locks name, for the target interpreter:
    the build lock first (wheels only), then the main lock (``venvrpm fetch``).

    *report* gets the steps, and what the runners say of the pip configuration they leave out."""
    from venvrpm import backends, venvbuild
    from venvrpm.errors import refused
    from venvrpm.plan import pip_environment
    from venvrpm.workspace import workspace

    if loaded.wheelhouse is None:  # the CLI refuses it, naming the manifest as given
        raise ValueError(f"{loaded.source} has no wheelhouse")
    lock = loaded.read_lock()
    # the user's directory: what the machine refuses there is said, with the path (pip's own
    # writes into it fail as pip: named by fetch)
    with refused(f"filling the wheelhouse {loaded.wheelhouse}",
                 "make the wheelhouse a directory venvrpm can write, or choose another"):  # fmt: skip
        loaded.wheelhouse.mkdir(parents=True, exist_ok=True)
    with workspace(keep=False) as workdir:
        pip_env = pip_environment(loaded, host_env, online=True)
        with backends.open_runners(
            loaded, host, workdir, pip_env, report=report, fetching=True
        ) as runners:
            where = backends.describe(loaded)
            report("step", f"probing {loaded.python} {where}")
            interpreter = venvbuild.probe_interpreter(runners.target, loaded.python, where)
            wheel = venvbuild.pip_for(interpreter, workdir / "tools")
            # a pylock.toml's files: the one per package that fits the target, as build picks
            tags = (venvbuild.probe_tags(runners.target, interpreter, wheel)
                    if lock.pylock is not None else None)  # fmt: skip
            lock = lock.for_target(dict(interpreter.markers), tags)
            scratch = workdir / "fetch"
            scratch.mkdir()
            report("step", f"fetching into {loaded.wheelhouse}")
            pip = [str(loaded.python), str(wheel / "pip")]
            # The build lock first (wheels only): builds install it hash-checked from the
            # wheelhouse, and pip prepares the lock's sdists with it here (no build isolation,
            # whose backends would come from the index unchecked).
            done = fetch_build_lock(
                Fetched((), ()), loaded.requirements, loaded.wheelhouse, pip,
                runners.target, pip_env, scratch, dict(interpreter.markers), report,
            )  # fmt: skip
            built_env = build_env(loaded.requirements, loaded.wheelhouse, pip,
                                  runners.target, pip_env, workdir / "build-env")  # fmt: skip
            main_done = fetch(lock, loaded.wheelhouse, pip, runners.target, pip_env,
                              scratch, build_env=built_env, report=report)  # fmt: skip
    both = Fetched(main_done.present + done.present, main_done.downloaded + done.downloaded)
    return Filled(loaded.wheelhouse, both, tuple(lock.skipped))


def require_served(manifest: Manifest, lock: Lock) -> None:
    """With a wheelhouse, it must hold a file of a locked hash for every line of *lock*."""
    if manifest.wheelhouse is None:
        return
    found = problems(lock, manifest.wheelhouse)
    if found:
        raise LockError(
            f"the wheelhouse {manifest.wheelhouse} cannot serve {lock.path.name}",
            f"fill it with `venvrpm fetch {manifest.source.name}` (needs the index once)",
            details=found,
        )
