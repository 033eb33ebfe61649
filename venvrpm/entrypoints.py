"""Entry points: which commands a wheel declares, and whether the manifest's are there.

Three moments, one answer each:

- ``init --from-pypi`` reads a wheel's commands (:func:`wheel_scripts`) to write them;
- ``check`` asks the locked wheels in the wheelhouse (:func:`check_lock`), offline, when the
  lock and the wheelhouse allow it (an sdist's commands are only known once it is built);
- the build looks in the venv's ``bin`` right after installing (:func:`check_installed`),
  before the dependency check, so a wrong name fails under its own step.

Wheels are untrusted zip files: only their metadata files are read, each bounded in size, and
no code of theirs runs.
"""

from __future__ import annotations

import configparser
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from venvrpm import fetch, lockfile, project
from venvrpm.errors import PayloadError, UsageError
from venvrpm.manifest import Manifest

_NOT_SCRIPTS = ("activate", "deactivate", "python")
"""bin/ names that are never console scripts: virtualenv's activate scripts, the interpreter."""
_MAX_METADATA = 1 << 20
"""Bytes read at most from one metadata file of a wheel (a real entry_points.txt is ~1 KiB)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class WheelFacts:
    """What a wheel says about itself, read without running it."""

    name: str
    """Canonical distribution name (PEP 503)."""
    metadata: str
    """The METADATA file's text (core metadata, email header format)."""
    scripts: tuple[str, ...]
    """Console and GUI scripts, and plain scripts (``.data/scripts``): what lands in bin/."""


def read_wheel(path: Path) -> WheelFacts:
    """The metadata and commands of the wheel at *path*; raise PayloadError if unreadable."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            info_dir = _dist_info(names, path)
            metadata = _member(archive, f"{info_dir}/METADATA", path) or ""
            entry_points = _member(archive, f"{info_dir}/entry_points.txt", path)
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise PayloadError(f"cannot read the wheel {path.name}: {exc}") from None
    scripts = set(_declared(entry_points or "", path))
    # <name>-<version>.data/scripts/<file>: installed into bin/ as it is
    data_dir = info_dir.removesuffix(".dist-info") + ".data/scripts/"
    for name in names:
        if name.startswith(data_dir) and "/" not in name[len(data_dir) :] and name != data_dir:
            scripts.add(name[len(data_dir) :])
    dist = canonicalize_name(info_dir.removesuffix(".dist-info").rsplit("-", 1)[0])
    return WheelFacts(name=dist, metadata=metadata, scripts=tuple(sorted(scripts)))


def wheel_scripts(path: Path) -> tuple[str, ...]:
    """The commands the wheel at *path* installs into bin/."""
    return read_wheel(path).scripts


def _dist_info(names: list[str], path: Path) -> str:
    """The wheel's one top-level ``*.dist-info`` directory that holds METADATA."""
    found = sorted({
        n.split("/", 1)[0] for n in names
        if n.count("/") == 1 and n.split("/", 1)[0].endswith(".dist-info")
        and n.endswith("/METADATA")
    })  # fmt: skip
    if len(found) != 1:
        raise ValueError(f"{len(found)} .dist-info directories with METADATA, expected 1")
    return found[0]


def _member(archive: zipfile.ZipFile, name: str, path: Path) -> str | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > _MAX_METADATA:
        raise ValueError(f"{name} is {info.file_size} bytes, more than metadata ever is")
    with archive.open(info) as member:
        data = member.read(_MAX_METADATA + 1)
    if len(data) > _MAX_METADATA:
        raise ValueError(f"{name} is larger than it says")
    return data.decode("utf-8", errors="replace")


def _declared(text: str, path: Path) -> list[str]:
    """``console_scripts`` and ``gui_scripts`` names of an entry_points.txt."""
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # names are case-sensitive
    try:
        parser.read_string(text, source=f"{path.name}:entry_points.txt")
    except configparser.Error as exc:
        raise PayloadError(f"cannot read the wheel {path.name}: {exc}") from None
    return [
        name.strip()
        for section in ("console_scripts", "gui_scripts")
        if parser.has_section(section)
        for name in parser.options(section)
    ]


@dataclass(frozen=True, kw_only=True, slots=True)
class LockVerdict:
    """What ``check`` can say of the manifest's entry points from the lock and wheelhouse."""

    missing: tuple[str, ...] = ()
    """Entry points no locked wheel (nor the project) declares."""
    available: tuple[str, ...] = ()
    """Every command that is declared, for the hint."""
    unchecked: str | None = None
    """Why the check could not be made (no wheelhouse, an sdist...); None when it was."""


def check_lock(manifest: Manifest, lock: lockfile.Lock) -> LockVerdict:
    """Whether a locked wheel in the wheelhouse (or the project) declares each entry point.

    Every line of the lock counts, whatever its marker: ``check`` does not probe the target.
    """
    if not manifest.entry_points:
        return LockVerdict()
    if manifest.wheelhouse is None or not manifest.wheelhouse.is_dir():
        return LockVerdict(unchecked="no wheelhouse to read the locked wheels from")
    have = fetch.by_hash(manifest.wheelhouse)
    declared: set[str] = set()
    unknown: list[str] = []
    for req in lock.requirements:
        path = next((have[h] for h in req.hashes if h in have), None)
        if path is None:
            return LockVerdict(unchecked=f"{req.name}=={req.version} is not in the wheelhouse")
        if not path.name.endswith(".whl"):
            unknown.append(f"{req.name} (an sdist)")
            continue
        try:
            declared.update(wheel_scripts(path))
        except PayloadError:
            unknown.append(f"{req.name} (unreadable wheel)")
    if manifest.project is not None:
        metadata = project.read(manifest.project)
        scripts = metadata.scripts if metadata is not None else None
        if scripts is None:
            unknown.append("the project (dynamic or no [project] scripts)")
        else:
            declared.update(scripts)
    missing = tuple(ep for ep in manifest.entry_points if ep not in declared)
    if missing and unknown:
        return LockVerdict(unchecked="commands known only once built: " + ", ".join(unknown))
    return LockVerdict(missing=missing, available=tuple(sorted(declared)))


def check_installed(manifest: Manifest, venv_dir: Path) -> None:
    """Each entry point is a console script in the venv's bin/; raise PayloadError naming the
    missing ones and what bin/ holds.

    A console script is a regular file; bin/python* are links to the system interpreter and
    exposing one would put a link loop over /usr/bin/python3.X.
    """
    bindir = venv_dir / "bin"
    missing = [
        ep
        for ep in manifest.entry_points
        if ep.startswith(_NOT_SCRIPTS) or (bindir / ep).is_symlink() or not (bindir / ep).is_file()
    ]
    if not missing:
        return
    available = sorted(
        entry.name
        for entry in (os.scandir(bindir) if bindir.is_dir() else ())
        if entry.is_file(follow_symlinks=False) and not entry.name.startswith(_NOT_SCRIPTS)
    )
    raise PayloadError(
        f"entry point(s) not found in {manifest.prefix}/bin: {', '.join(missing)}",
        "entry_points lists console scripts the lock or project installs; "
        f"available: {', '.join(available) or 'none'}",
    )


@dataclass(frozen=True, slots=True)
class ManifestCheck:
    """What ``venvrpm check`` found: the manifest valid, its lock readable."""

    locked: int
    """Lines in the main lock."""
    declared: bool
    """Every entry point is declared by a locked wheel or the project."""
    unchecked: str
    """Why the entry points could not be checked ("" when they were)."""
    warnings: tuple[str, ...]
    notes: tuple[str, ...] = ()
    """What the lock holds that venvrpm does not use (lockfile.ignored_note)."""


def check_manifest(loaded: Manifest) -> ManifestCheck:
    """Everything ``venvrpm check`` checks without building: the lock's grammar, the version
    (``version: {from: NAME}``), and that a locked wheel or the project declares each entry
    point (a UsageError names those none declares)."""
    from venvrpm import manifest as manifest_module

    lock = loaded.read_lock()
    manifest_module.require_version(loaded)
    mismatch = manifest_module.version_warning(loaded)
    verdict = check_lock(loaded, lock)
    if verdict.missing:
        raise UsageError(
            f"entry point(s) no locked distribution declares: {', '.join(verdict.missing)}",
            "entry_points lists console scripts of the lock's wheels or of the project; "
            f"declared: {', '.join(verdict.available) or 'none'}",
        )
    return ManifestCheck(
        locked=len(lock.requirements),
        declared=bool(loaded.entry_points) and not verdict.unchecked,
        unchecked=verdict.unchecked or "",
        warnings=() if mismatch is None else (mismatch,),
        notes=tuple(n for n in [lockfile.ignored_note(lock)] if n is not None),
    )
