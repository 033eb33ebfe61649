"""The staged tree as an inventory the spec can list: every file, link and owned directory."""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from venvrpm import entrypoints
from venvrpm.errors import PayloadError
from venvrpm.files import walk
from venvrpm.manifest import ConfigKind, Manifest
from venvrpm.paths import BINDIR, SYSTEM_DIRS, bad_characters

EntryKind = Literal["dir", "file", "link"]

_ELF_MAGIC = b"\x7fELF"
# Characters _name_problem() looks closer at: controls, DEL, undecodable bytes (surrogates).
_SUSPECT = re.compile("[\x00-\x1f\x7f\udc80-\udcff]")


@dataclass(frozen=True, kw_only=True, slots=True)
class Attrs:
    """What the manifest says of a path beyond its content: %attr, %config, %doc, %ghost."""

    mode: int | None = None
    owner: str | None = None
    group: str | None = None
    config: ConfigKind | None = None
    doc: bool = False
    ghost: bool = False


@dataclass(frozen=True, slots=True)
class OwnedPath:
    """One path the package owns."""

    path: PurePosixPath
    kind: EntryKind
    attrs: Attrs | None = None


@dataclass(frozen=True, slots=True)
class Payload:
    """Everything the RPM carries, sorted by path."""

    entries: tuple[OwnedPath, ...]
    elf_files: tuple[Path, ...]
    """Staged paths of ELF files, for dependency extraction."""
    size: int


def attributes(manifest: Manifest) -> dict[PurePosixPath, Attrs]:
    """The manifest's attributes for ``files`` and ``dirs``, by target path."""
    found = {
        f.dest: Attrs(mode=f.mode, owner=f.owner, group=f.group, config=f.config, doc=f.doc, ghost=f.ghost)
        for f in manifest.files
    }  # fmt: skip
    for d in manifest.dirs:
        found[d.path] = Attrs(mode=d.mode, owner=d.owner, group=d.group)
    return found


def stage_extras(manifest: Manifest, stage: Path, venv_dir: Path) -> None:
    """Put the manifest's ``files`` and ``dirs`` into the stage; link entry points into /usr/bin."""
    for extra in manifest.files:
        dest = stage / extra.dest.relative_to("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if extra.src is None:
            # %ghost: owned, not shipped; rpmbuild still wants the path to exist.
            dest.touch()
            executable = 0
        else:
            shutil.copyfile(extra.src, dest)
            executable = os.stat(extra.src).st_mode & stat.S_IXUSR
        if extra.mode is not None:
            mode = extra.mode
        else:
            mode = 0o755 if executable and not extra.config else 0o644
        dest.chmod(mode)
    for owned in manifest.dirs:
        directory = stage / owned.path.relative_to("/")
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(owned.mode if owned.mode is not None else 0o755)
    _stage_links(manifest, stage, venv_dir)
    if not manifest.entry_points:
        return
    # checked right after installing already (pipeline.assemble); again for other callers
    entrypoints.check_installed(manifest, venv_dir)
    bindir = stage / BINDIR.relative_to("/")
    bindir.mkdir(parents=True, exist_ok=True)
    for ep in manifest.entry_points:
        # relative, so the link also works when the root is mounted elsewhere (rescue, images)
        (bindir / ep).symlink_to(os.path.relpath(manifest.prefix / "bin" / ep, BINDIR))


def _stage_links(manifest: Manifest, stage: Path, venv_dir: Path) -> None:
    """The manifest's ``links``: relative links from their dest to files in the venv."""
    missing = [
        f"{link.src}" for link in manifest.links
        # lexists, never following: what is there is the venv's own (a link in it is shipped too)
        if not os.path.lexists(venv_dir / link.src)
    ]  # fmt: skip
    if missing:
        raise PayloadError(
            f"links: not in the installed virtualenv {manifest.prefix}: {', '.join(missing)}",
            "a links src is a path relative to the prefix that the lock or project installs "
            "(e.g. share/man/man1/NAME.1); --keep-workdir keeps the venv to look",
        )
    for link in manifest.links:
        dest = stage / link.dest.relative_to("/")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            # relative, so the link also works when the root is mounted elsewhere (rescue, images)
            dest.symlink_to(os.path.relpath(manifest.prefix / link.src, link.dest.parent))
        except OSError as exc:
            # the manifest's paths are checked: what is in the way ran during the build
            # (links_out has refused links leading out, so nothing was written through one)
            raise PayloadError(
                f"links: cannot make {link.dest} in the stage: {exc.strerror or exc}",
                "something that ran during the build (a build backend) put a file or directory "
                "at that path or above it; --keep-workdir keeps the stage to look",
            ) from None


def normalise_modes(stage: Path, explicit: Set[PurePosixPath]) -> None:
    """Give every staged path the mode it should have on the target, whatever the builder's umask.

    Directories 0755; files 0755 when anyone may execute them, else 0644; paths in *explicit*
    (manifest ``files`` with a ``mode``) keep theirs. A build under ``umask 077`` would
    otherwise ship an application only root can run, and builds would not be reproducible.
    """
    root = str(stage)
    kept = {str(p) for p in explicit}
    if "/" not in kept:
        _chmod(root, os.lstat(root).st_mode, 0o755)
    for entry in walk(root):
        if entry.is_symlink() or "/" + entry.path[len(root) + 1 :] in kept:
            continue
        mode = entry.stat(follow_symlinks=False).st_mode
        if entry.is_dir(follow_symlinks=False):
            _chmod(entry.path, mode, 0o755)
        else:
            _chmod(entry.path, mode, 0o755 if mode & 0o111 else 0o644)


def _chmod(path: str, mode: int, wanted: int) -> None:
    # Most modes are already right: a chmod per file was a third of this step.
    if stat.S_IMODE(mode) != wanted:
        os.chmod(path, wanted)


def ownership(manifest: Manifest) -> Callable[[PurePosixPath], bool]:
    """Which directories the package owns (and so removes on erase).

    An allow-list: the prefix, the manifest's ``dirs``, directories named after the package
    (``/etc/NAME``, ``/usr/share/doc/NAME``, ``/etc/NAME.d``), and everything below those.
    Any other directory on the way to a file (``/etc/pam.d``, ``/etc/pki/...``) belongs to the
    system: rpm creates it if missing and never removes it.
    """
    roots = {manifest.prefix, *(d.path for d in manifest.dirs)}

    def owned(path: PurePosixPath) -> bool:
        if path in SYSTEM_DIRS:
            return False
        for candidate in (path, *path.parents):
            if candidate in SYSTEM_DIRS:
                return False
            if candidate in roots or _named_after(candidate.name, manifest.name):
                return True
        return False

    return owned


def _named_after(directory: str, package: str) -> bool:
    """``smallapp``, ``smallapp.d``, ``smallapp-plugins``; not ``apparmor.d`` for ``app``."""
    return directory == package or directory.startswith(
        (f"{package}.", f"{package}-", f"{package}_")
    )


def inventory(
    stage: Path,
    attrs: Mapping[PurePosixPath, Attrs],
    owned: Callable[[PurePosixPath], bool] = lambda p: p not in SYSTEM_DIRS,
) -> Payload:
    """List everything under *stage*; refuse names an RPM cannot carry.

    Files and links are all listed; directories where *owned* says so (see ownership()).
    """
    entries: list[OwnedPath] = []
    elf: list[Path] = []
    refused: list[str] = []
    size = 0
    root = str(stage)
    top = PurePosixPath("/")
    if owned(top):
        entries.append(OwnedPath(top, "dir", attrs.get(top)))
    for item in walk(root):
        target = PurePosixPath("/" + item.path[len(root) + 1 :])
        problem = _name_problem(item.name)
        if item.is_dir(follow_symlinks=False):
            if problem:
                refused.append(f"{_shown(target)}/: {problem}")
            elif owned(target):
                entries.append(OwnedPath(target, "dir", attrs.get(target)))
            continue
        if problem:
            refused.append(f"{_shown(target)}: {problem}")
            continue
        if item.is_symlink():
            entries.append(OwnedPath(target, "link"))
            continue
        st = item.stat(follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            refused.append(f"{_shown(target)}: not a regular file, directory or symlink")
            continue
        size += st.st_size
        entries.append(OwnedPath(target, "file", attrs.get(target)))
        if st.st_size >= 4:
            with open(item.path, "rb") as fh:
                if fh.read(4) == _ELF_MAGIC:
                    elf.append(Path(item.path))
    if refused:
        raise PayloadError(
            f"{len(refused)} path(s) in the payload cannot be carried by an RPM",
            "rename or drop them (a wheel's data files, or the manifest's files)",
            details=refused,
        )
    entries.sort(key=lambda e: str(e.path))
    return Payload(tuple(entries), tuple(elf), size)


def _name_problem(name: str) -> str | None:
    if not _SUSPECT.search(name):  # nearly every name; checking each character was slow
        return None
    if any("\udc80" <= ch <= "\udcff" for ch in name):
        return "the name is not valid UTF-8"
    bad = bad_characters(name)
    if bad:
        return f"the name contains {', '.join(bad)}, which rpmbuild rejects"
    return None


def _shown(path: PurePosixPath) -> str:
    return repr(str(path)).encode("ascii", "backslashreplace").decode("ascii")
