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
from typing import BinaryIO, Literal, overload

from venvrpm import stale


class ReplacedError(OSError):
    """The scratch of :func:`replacing` no longer is what venvrpm made: someone who can write
    the target's directory renamed it away. Nothing is renamed onto the target (an OSError, so
    a caller that reports a refused write reports this one so too)."""


class Scratch:
    """The scratch file of :func:`replacing`, written through the descriptor mkstemp opened:
    never reopened by its name, which whoever can write the directory can point elsewhere."""

    def __init__(self, path: Path, file: BinaryIO) -> None:
        self.path = path
        """Its name, for messages; not to be opened."""
        self.file = file
        """Open for writing (binary), on mkstemp's descriptor."""

    def write_bytes(self, data: bytes) -> None:
        """Make *data* the whole content (flushed: a program may read the file next)."""
        self.file.seek(0)
        self.file.truncate()
        self.file.write(data)
        self.file.flush()

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        """Make *text*, encoded, the whole content."""
        self.write_bytes(text.encode(encoding))


@overload
def replacing(
    target: Path, *, directory: Literal[False] = False, mode: int | None = 0o644
) -> contextlib.AbstractContextManager[Scratch]: ...
@overload
def replacing(
    target: Path, *, directory: Literal[True], mode: int | None = 0o644
) -> contextlib.AbstractContextManager[Path]: ...
@overload
def replacing(
    target: Path, *, directory: bool, mode: int | None = 0o644
) -> contextlib.AbstractContextManager[Scratch | Path]: ...
def replacing(
    target: Path, *, directory: bool = False, mode: int | None = 0o644
) -> contextlib.AbstractContextManager[Scratch | Path]:
    """A new scratch file (or *directory*) beside *target*, renamed onto it when the block
    succeeds, removed when it fails: readers see the old *target* or the whole new one.

    The scratch is made by mkstemp/mkdtemp in *target*'s directory (O_EXCL, a fresh name):
    two writers of the same target -- concurrent builds into one output directory -- never
    share it, and no link planted there is followed. Its name, ``.NAME.<pid>.<random>.part``,
    lets the next writer remove what a killed one left (venvrpm.stale). A file is a
    :class:`Scratch`, written through its descriptor and fsynced before the rename; *mode* is
    applied to it (None keeps mkstemp's 0600). A directory is yielded as its path; it replaces
    an existing *target* directory whole.

    The directory may be writable by others (an output directory shared without the sticky
    bit): they can rename the scratch away and put anything under its name while the block
    runs. Modes are set through descriptors, and before the rename the name must still be
    what was made (:class:`ReplacedError` otherwise); what they can do after that check, they
    could do to *target* themselves.
    """
    return _replacing_dir(target, mode) if directory else _replacing_file(target, mode)


@contextlib.contextmanager
def _replacing_file(target: Path, mode: int | None) -> Iterator[Scratch]:
    fd, name = tempfile.mkstemp(prefix=scratch_prefix(target), suffix=".part", dir=target.parent)
    scratch = Path(name)
    with os.fdopen(fd, "w+b") as out:
        made = os.fstat(fd)
        try:
            yield Scratch(scratch, out)
            out.flush()
            os.fsync(fd)
            if mode is not None:
                os.fchmod(fd, mode)
            _still(scratch, made)
            os.replace(scratch, target)  # replaces a link at target, never follows it
        except BaseException:
            with contextlib.suppress(OSError):
                _still(scratch, made)
                scratch.unlink()
            raise


@contextlib.contextmanager
def _replacing_dir(target: Path, mode: int | None) -> Iterator[Path]:
    scratch = Path(
        tempfile.mkdtemp(prefix=scratch_prefix(target), suffix=".part", dir=target.parent)
    )
    try:
        fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        with contextlib.suppress(OSError):
            os.rmdir(scratch)  # only if empty: what else is there now is not ours
        raise
    try:
        made = os.fstat(fd)
        try:
            yield scratch
            os.fchmod(fd, 0o755 if mode is None else mode | 0o111)
            _still(scratch, made)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(scratch, target)
        except BaseException:
            # emptied through the descriptor (a tree renamed to its name meanwhile is not
            # ours), then removed by name, which removes only an empty directory
            shutil.rmtree(".", ignore_errors=True, dir_fd=fd)
            with contextlib.suppress(OSError):
                os.rmdir(scratch)
            raise
    finally:
        os.close(fd)


def scratch_prefix(target: Path, suffix: str = ".part") -> str:
    """A scratch's name beside *target* before mkstemp's random part and *suffix*
    (``.NAME.<pid>.``); first, what a killed writer left (its pid is gone) is removed."""
    prefix = f".{target.name}."
    stale.remove(target.parent, prefix, suffix)
    return f"{prefix}{os.getpid()}."


def _still(scratch: Path, made: os.stat_result) -> None:
    """Raise :class:`ReplacedError` unless *scratch* names what was *made*."""
    try:
        now = os.lstat(scratch)
    except OSError as exc:
        raise ReplacedError(
            errno.EPERM, f"the scratch was removed by someone else ({exc.strerror})", str(scratch)
        ) from None
    if (now.st_dev, now.st_ino) != (made.st_dev, made.st_ino):
        raise ReplacedError(
            errno.EPERM,
            "the scratch was replaced by someone who can write the directory",
            str(scratch),
        )


def write_replacing(target: Path, data: str | bytes, *, mode: int | None = 0o644) -> Path:
    """Write *data* (text as UTF-8) to *target* through :func:`replacing`; return *target*."""
    with replacing(target, mode=mode) as scratch:
        scratch.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return target


class TooLargeError(OSError):
    """A file larger than its reader's limit: not read (an OSError, so a caller that treats an
    unreadable file as such treats this one so too)."""


def read_regular(path: str | Path, limit: int, *, own: bool = False) -> bytes:
    """A regular file's content, never through a symlink, never blocking on a FIFO, never more
    than *limit* bytes: for files that code run during the build could have replaced or
    truncated to a terabyte (sparse, in an instant) -- the stage, the venv, the work directory.

    Raises :class:`TooLargeError` when the file holds more than *limit* bytes, by its size or
    by what a read finds (it may grow while it is read). *own*: the file must also belong to
    this user and have one link (a file another program wrote for us by name, in a directory
    others may write: not one of theirs, nor a hard link to one of ours).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode) or (own and info.st_nlink != 1):
            raise OSError(f"{os.path.basename(path)} is not a regular file with one link"
                          if own else f"{os.path.basename(path)} is not a regular file")  # fmt: skip
        if own and info.st_uid != os.geteuid():
            raise OSError(errno.EPERM, f"owned by uid {info.st_uid}", str(path))
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
        tarfile.open(fileobj=partial.file, mode="w", format=tarfile.PAX_FORMAT) as archive,
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
