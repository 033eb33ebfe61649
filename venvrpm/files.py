"""File helpers shared by the bundle, the SRPM, fetch, lock and the CLI."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from venvrpm import stale


@contextlib.contextmanager
def replacing(target: Path, *, directory: bool = False, mode: int | None = 0o644) -> Iterator[Path]:
    """A new scratch file (or *directory*) beside *target*, renamed onto it when the block
    succeeds, removed when it fails: readers see the old *target* or the whole new one.

    The scratch is made by mkstemp/mkdtemp in *target*'s directory (O_EXCL, a fresh name):
    two writers of the same target -- concurrent builds into one output directory -- never
    share it, and no link planted there is followed. Its name, ``.NAME.<pid>.<random>.part``,
    lets the next writer remove what a killed one left (venvrpm.stale). A file is fsynced before
    the rename; *mode* is applied to it (None keeps mkstemp's 0600). A directory replaces an
    existing *target* directory whole.
    """
    parent, prefix = target.parent, f".{target.name}."
    stale.remove(parent, prefix, ".part")  # what a killed writer left: its pid is gone
    prefix += f"{os.getpid()}."
    if directory:
        scratch = Path(tempfile.mkdtemp(prefix=prefix, suffix=".part", dir=parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=parent)
        os.close(fd)
        scratch = Path(name)
    try:
        yield scratch
        if directory:
            scratch.chmod(0o755 if mode is None else mode | 0o111)
            shutil.rmtree(target, ignore_errors=True)
        else:
            fd = os.open(scratch, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            if mode is not None:
                scratch.chmod(mode)
        os.replace(scratch, target)  # replaces a link at target, never follows it
    except BaseException:
        if directory:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            scratch.unlink(missing_ok=True)
        raise


def write_replacing(target: Path, data: str | bytes, *, mode: int | None = 0o644) -> Path:
    """Write *data* (text as UTF-8) to *target* through :func:`replacing`; return *target*."""
    with replacing(target, mode=mode) as scratch:
        scratch.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return target


class TooLargeError(OSError):
    """A file larger than its reader's limit: not read (an OSError, so a caller that treats an
    unreadable file as such treats this one so too)."""


def read_regular(path: str | Path, limit: int) -> bytes:
    """A regular file's content, never through a symlink, never blocking on a FIFO, never more
    than *limit* bytes: for files that code run during the build could have replaced or
    truncated to a terabyte (sparse, in an instant) -- the stage, the venv, the work directory.

    Raises :class:`TooLargeError` when the file holds more than *limit* bytes, by its size or
    by what a read finds (it may grow while it is read).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{os.path.basename(path)} is not a regular file")
        if info.st_size > limit:
            raise TooLargeError(errno.EFBIG, f"larger than {limit} bytes", str(path))
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise TooLargeError(errno.EFBIG, f"larger than {limit} bytes", str(path))
    return data


def is_real_dir(path: Path) -> bool:
    """A directory, not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def site_packages(venv_dir: Path) -> list[Path]:
    """``lib*/python*/site-packages`` as real directories: a symlinked lib64 (venv makes one to
    lib) would show everything twice, and no link is followed out of the venv."""
    found = []
    for lib in _real_dirs(venv_dir, "lib"):
        for python in _real_dirs(lib, "python"):
            site = python / "site-packages"
            if is_real_dir(site):
                found.append(site)
    return found


def _real_dirs(parent: Path, prefix: str) -> list[Path]:
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return []
    return [parent / n for n in names if n.startswith(prefix) and is_real_dir(parent / n)]


def sha256_hex(path: Path) -> str:
    """The file's sha256, read in chunks (an RPM may be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def walk(root: str) -> Iterator[os.DirEntry[str]]:
    """Everything below *root*: each directory's entries in name order, a directory before its
    contents; symlinks are yielded, never followed.

    Strings and DirEntry (its type comes with the directory listing, no stat), not pathlib:
    pathlib's parsing was most of the cost of each walk over a 5,000-file venv, and a build
    walks the stage several times.
    """
    with os.scandir(root) as listing:
        entries = sorted(listing, key=_name)
    for entry in entries:
        yield entry
        if entry.is_dir(follow_symlinks=False):
            yield from walk(entry.path)


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def reproducible_tar(directory: Path, target: Path, epoch: int, *, normalise_modes: bool) -> Path:
    """A tarball of *directory* (its name the top member) that depends on contents only.

    Sorted members, mtime *epoch*, owner root, no ``__pycache__``; written under a temporary
    name and renamed (:func:`replacing`), so readers see the whole tarball or none.
    *normalise_modes*: 0755 for directories, 0644 for files (what the builder's umask made does
    not leak in).
    """
    with (
        replacing(target) as partial,
        tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for path in [directory, *sorted(directory.rglob("*"))]:
            if "__pycache__" in path.parts:
                continue
            info = archive.gettarinfo(str(path), arcname=str(path.relative_to(directory.parent)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = epoch, 0, 0, "root", "root"
            if normalise_modes and not path.is_symlink():
                info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_file() and not path.is_symlink():
                with path.open("rb") as fh:
                    archive.addfile(info, fh)
            else:
                archive.addfile(info)
    return target
