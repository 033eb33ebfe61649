"""Build requirements: what must be installed to build the project and the lock's sdists.

They run as root and write the shipped code, so they are locked and hash-checked like the main
lock: ``venvrpm lock`` writes a *build lock* beside the main one (:func:`lock_path`), ``fetch``
fetches it, and builds install it with ``--require-hashes`` and build isolation off. Only the
static ``[build-system] requires`` are read, from the project's ``pyproject.toml`` or from the
archive of an sdist (never extracted: read member by member). Pure but for reading files.
"""

from __future__ import annotations

import lzma
import tarfile
import tomllib
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from venvrpm import project
from venvrpm.errors import EXIT_USAGE, LockError
from venvrpm.lockfile import Lock, LockedRequirement, is_pylock, read
from venvrpm.manifest import Manifest

_SDIST_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")


class BuildLockError(LockError):
    """Build requirements that no build lock pins: missing or stale lock (bad input: exit 2)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True, slots=True)
class Needs:
    """Who needs build requirements, as shown to the user (``project``, ``NAME==VERSION``)."""

    what: str
    requires: tuple[str, ...]


def lock_path(requirements: Path) -> Path:
    """The build lock of the main lock *requirements*: ``<stem>-build<suffix>`` beside it.

    ``requirements.lock`` -> ``requirements-build.lock``, ``requirements.txt`` ->
    ``requirements-build.txt``: found without a manifest key, and sorted next to its main lock.
    Beside a PEP 751 lock it is ``<stem>-build.txt`` (``pylock.toml`` -> ``pylock-build.txt``,
    ``pylock.web.toml`` -> ``pylock.web-build.txt``): the build lock is hash-locked
    requirements whatever the main lock's format, and ``.txt`` is that format's suffix; a
    ``.toml`` name would be taken for a PEP 751 lock by people and tools (a ``pylock.*.toml``
    glob), though it is not one.
    """
    suffix = ".txt" if is_pylock(requirements) else requirements.suffix
    return requirements.with_name(f"{requirements.stem}-build{suffix}")


def is_sdist(path: Path) -> bool:
    """Whether *path* names a source archive (anything but a wheel is built)."""
    return path.name.endswith(_SDIST_SUFFIXES)


def sdist_requires(archive: Path) -> tuple[str, ...]:
    """The ``[build-system] requires`` of the sdist *archive*, read without extracting it.

    An sdist without ``pyproject.toml`` gets PEP 518's default; an unreadable one raises
    LockError naming the file (the archive's hash matched the lock: it is broken upstream).
    """
    try:
        text = _pyproject_member(archive)
        if text is None:
            return project.DEFAULT_REQUIRES
        requires = project.build_requires(project.parse(text))
    # what a damaged archive raises: truncated streams, bad compressed data, encrypted or
    # unsupported zip members
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile, zlib.error, lzma.LZMAError,
            RuntimeError, NotImplementedError, UnicodeDecodeError,
            tomllib.TOMLDecodeError) as exc:  # fmt: skip
        raise LockError(
            f"cannot read the build requirements of {archive.name}: {exc}",
            "the sdist is damaged; fetch it again, or lock a version with a wheel",
        ) from None
    if requires is None:
        raise LockError(
            f"{archive.name}: [build-system] requires is not a list of strings",
            "lock a version with a wheel, or one whose pyproject.toml is valid",
        )
    return requires


def _pyproject_member(archive: Path) -> str | None:
    """``<top>/pyproject.toml`` of the archive, a regular file; None when there is none."""

    def top_level(name: str) -> bool:
        parts = PurePosixPath(name).parts
        return len(parts) == 2 and parts[1] == "pyproject.toml"

    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if top_level(info.filename) and not info.is_dir():
                    if info.file_size > project.PYPROJECT_LIMIT:
                        raise OSError("pyproject.toml is too large")
                    return zf.read(info).decode("utf-8")
        return None
    with tarfile.open(archive) as tf:
        for member in tf:
            if top_level(member.name) and member.isfile():
                if member.size > project.PYPROJECT_LIMIT:
                    raise OSError("pyproject.toml is too large")
                handle = tf.extractfile(member)
                assert handle is not None  # a regular file
                return handle.read().decode("utf-8")
    return None


def locked_files(lock: Lock, directory: Path) -> list[tuple[LockedRequirement, Path]]:
    """The file in *directory* with an allowed hash, per requirement that has one."""
    from venvrpm.fetch import by_hash

    files = by_hash(directory)
    found = []
    for req in lock.requirements:
        match = next((files[h] for h in req.hashes if h in files), None)
        if match is not None:
            found.append((req, match))
    return found


def needs(metadata: project.ProjectMetadata | None, lock: Lock, files: Path | None) -> list[Needs]:
    """Who needs build requirements: the project (its *metadata*), and every sdist of *lock* in
    *files* (the wheelhouse, or a download of the lock) whose backend needs any."""
    found = []
    requires = metadata.build_requires if metadata is not None else None
    if requires:
        found.append(Needs("the project", requires))
    if files is not None:
        for req, path in locked_files(lock, files):
            if is_sdist(path):
                requires = sdist_requires(path)
                if requires:
                    found.append(Needs(f"{req.name}=={req.version} ({path.name})", requires))
    return found


def missing_lock_error(build_lock: Path, who: Sequence[Needs], manifest_name: str) -> LockError:
    """The refusal when *who* need build requirements and *build_lock* does not exist."""
    return BuildLockError(
        f"no build lock {build_lock.name}: the build requirements of "
        f"{', '.join(n.what for n in who)} would be installed without a hash check",
        f"run `venvrpm lock {manifest_name}` (it writes {build_lock.name} beside the lock), "
        "then `venvrpm fetch` when you build from a wheelhouse",
        details=[f"{n.what} needs {', '.join(n.requires)}" for n in who],
    )


def input_text(who: Sequence[Needs]) -> str:
    """The requirements file pip-compile resolves into the build lock."""
    lines = []
    for need in who:
        lines.append(f"# {need.what}")
        lines += list(need.requires)
    return "\n".join(lines) + "\n"


def checked_lock(
    manifest: Manifest,
    lock: Lock,
    markers: Mapping[str, str],
    metadata: project.ProjectMetadata | None,
) -> Path | None:
    """The build lock to build with, checked; None when nothing needs build requirements.

    Who needs them is known before building for the project, and for sdists only with a
    wheelhouse (online, pip picks the files): online, an existing build lock is always used,
    and an sdist that needs one without it fails in pip (build isolation is off).
    """
    from venvrpm.fetch import require_served

    path = lock_path(manifest.requirements)
    who = needs(metadata, lock, manifest.wheelhouse)
    if not path.is_file():
        if who:
            raise missing_lock_error(path, who, manifest.source.name)
        return None
    if not who and manifest.wheelhouse is not None:
        return None
    require_served(manifest, read(path).for_target(markers))
    return path
