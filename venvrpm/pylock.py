"""PEP 751 locks (``pylock.toml``, ``pylock.NAME.toml``): read, and the target's files chosen.
Pure: the file is read by lockfile.read_text, as a requirements lock is.

The document is read and validated by ``packaging.pylock``, pypa's reference reader. What
venvrpm asks of any lock is checked when the file is read, for every package whatever its
marker (a requirements lock is refused by its worst line too):

- a package comes from distribution files, wheels or an sdist. A ``vcs`` or ``directory``
  source is refused: a checkout or a working copy is built from whatever it holds, pinned by no
  hash. So is an ``archive``: a URL requirement, which a requirements lock refuses too;
- every file has a hash pip can check (sha256, sha384 or sha512): the installer is given that
  hash, so a file is installed only if it is the one locked;
- a file's ``url`` is one the installer can be given on a requirement line and reads back the
  same (http, https or file; no whitespace, quote, ``#``, ``;``, ``$`` or credentials).

Choosing is PEP 751's, by ``Pylock.select``: markers evaluated for the target with no extras and
the lock's default dependency groups, ``requires-python`` and ``environments`` checked; then,
per package, the wheel whose tags rank best among those the target accepts, else its sdist
(:func:`for_target`). The requirement keeps that one file's hashes and URL: pip and uv verify
exactly it, offline from the wheelhouse, online from where the lock says.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from packaging.markers import UndefinedComparison, UndefinedEnvironmentName
from packaging.pylock import (
    Package,
    PackageSdist,
    PackageWheel,
    Pylock,
    PylockSelectError,
    PylockValidationError,
)
from packaging.tags import Tag, create_compatible_tags_selector, parse_tag
from packaging.utils import InvalidSdistFilename, parse_sdist_filename, parse_wheel_filename

from venvrpm import lockfile
from venvrpm.errors import LockFileError
from venvrpm.lockfile import Ignored, Lock, LockedRequirement

HINT = (
    "lock the app's dependencies to wheels and sdists with their hashes, e.g. "
    "`pip lock -r requirements.in -o pylock.toml` or "
    "`uv export --format pylock.toml --no-emit-project -o pylock.toml`"
)

# The algorithms pip accepts in --hash (and uv), with their length in hex digits.
_HASH_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX = re.compile(r"[0-9a-fA-F]+")
# What the installer is given as `NAME @ URL`: a URL it reads back unchanged. No whitespace
# (pip splits a requirement line there: `--index-url` after a space would be an option), no
# `#` (a comment after whitespace, else a fragment pip reads as a hash or an egg name), no `;`
# (a marker), no `$` (pip substitutes ${VAR}), no quotes; no user:password@ in the host.
_URL = re.compile(
    r"(?:https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?|file://)"
    r"/[A-Za-z0-9._~/%!&()*+,=:@?-]*"
)

_Selector = Callable[[Iterable[tuple[PackageWheel, frozenset[Tag]]]], Iterator[PackageWheel]]


def parse(text: str, path: Path, *, project: Path | None = None) -> Lock:
    """Validate pylock *text*; *path* names the file in messages, and its directory is where a
    relative path in it starts. *project*: the manifest's ``project:`` directory (absolute)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LockFileError(f"{path} is not a TOML document: {exc}", HINT) from None
    except RecursionError:  # tomllib recurses into nested arrays and tables
        raise LockFileError(f"{path} is not a TOML document: nested too deeply", HINT) from None
    oversized = _oversized_wheels(document)
    if oversized is not None:
        raise LockFileError(f"{path} is not a valid PEP 751 lock: {oversized}", HINT)
    try:
        lock = Pylock.from_dict(document)
    except PylockValidationError as exc:
        raise LockFileError(f"{path} is not a valid PEP 751 lock: {exc}", HINT) from None
    requirements: list[LockedRequirement] = []
    ignored: list[Ignored] = []
    problems: list[str] = []
    for index, package in enumerate(lock.packages):
        where = f"packages[{index}] {package.name}"
        if _is_project(package, path.parent, project):
            assert package.directory is not None
            shown = f"{package.name} (directory {lockfile.shorten(package.directory.path)})"
            # still in the document select() reads (whose indexes stay the file's); no
            # requirement stands for it, so nothing installs it
            ignored.append(Ignored(line=0, shown=shown, project=True))
            continue
        refused = _direct_source(package)
        if refused is not None:
            problems.append(f"{where}: {refused}")
            continue
        found = [f"{where}: {p}" for f in _files(package) for p in _file_problems(f)]
        marker = str(package.marker) if package.marker is not None else None
        # a quoted string in a marker may hold any character; pip splits a requirements file
        # with str.splitlines, so the rest would be a line of its own where a marker is written
        control = next((c for c in marker or "" if c != "\t" and lockfile.is_control(c)), None)
        if control is not None:
            found.append(
                f"{where}: its marker holds the control character U+{ord(control):04X}: "
                "pip would split the installer's line there"
            )
        version = _version(package)
        if version is None:
            found.append(f"{where}: no version, and its files' names do not agree on one")
        problems += found
        if found or version is None:
            continue
        hashes = tuple(dict.fromkeys(h for f in _files(package) for h in _hashes(f)))
        requirements.append(
            LockedRequirement(
                # its index (+1) among the packages select() reads: for_target's key
                name=package.name,
                version=version,
                hashes=hashes,
                marker=marker,
                line=index + 1,
            )
        )
    if problems:
        count = len(problems)
        raise LockFileError(
            f"{path} names {count} package{'s' if count > 1 else ''} venvrpm cannot install "
            "hash-checked",
            HINT,
            details=problems,
        )
    return Lock(path=path, requirements=tuple(requirements), ignored=tuple(ignored), pylock=lock)


MAX_NAME_BYTES = 255
"""The longest file name Linux file systems hold."""
MAX_TAGS = 1_000_000
"""The most wheel tags a lock's wheels may name, counted as packaging expands them (a large
lock for many platforms names some tens of thousands; a million take seconds to select)."""


def _oversized_wheels(document: Mapping[str, Any]) -> str | None:
    """Where the document's wheel names would take packaging minutes and gigabytes, or None.

    Checked before packaging reads the document: a wheel's tags are the product of its dotted
    tag sets (``py2.py3-none-any``), which packaging expands while it validates and venvrpm
    keeps while it selects, so a 3 KB name is millions of tags, and so are a few dozen names
    of 255 bytes. A name longer than any file's is refused, and a lock whose names add up to
    more than MAX_TAGS tags. Every name a file could be known by is checked for its length:
    ``name``, and the last part of ``path`` and ``url``; the first given (packaging's filename)
    is counted."""
    total = 0
    packages = document.get("packages")
    for i, package in enumerate(packages if isinstance(packages, list) else ()):
        wheels = package.get("wheels") if isinstance(package, dict) else None
        for j, wheel in enumerate(wheels if isinstance(wheels, list) else ()):
            if not isinstance(wheel, dict):
                continue
            name, path, url = (wheel.get(key) for key in ("name", "path", "url"))
            names = [
                name if isinstance(name, str) else "",
                path.rsplit("/", 1)[-1].rsplit("\\", 1)[-1] if isinstance(path, str) else "",
                # its path's last part, decoded, without urlsplit (which refuses some URLs,
                # left to packaging to name)
                unquote(url.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1])
                if isinstance(url, str)
                else "",
            ]
            if any(len(n.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for n in names):
                return (
                    f"packages[{i}].wheels[{j}] names a file longer than {MAX_NAME_BYTES} bytes, "
                    "which no file is (and its tags would be expanded to millions)"
                )
            total += _tag_count(next((n for n in names if n), ""))
            if total > MAX_TAGS:
                return (
                    f"its wheels' names, up to packages[{i}].wheels[{j}], name more than "
                    f"{MAX_TAGS:,} tags (each name the product of its dotted tag sets)"
                )
    return None


def _tag_count(filename: str) -> int:
    """How many tags packaging expands the wheel *filename* to, without expanding them."""
    parts = filename.removesuffix(".whl").split("-")
    count = 1
    for part in parts[-3:] if len(parts) >= 5 else ():
        count *= part.count(".") + 1
    return count


def _is_project(package: Package, base: Path, project: Path | None) -> bool:
    """Whether *package* is the manifest's project: a ``directory`` whose path, joined to the
    lock's directory, is *project*. Lexical, as written (as for ``-e .`` in a requirements
    lock): a path that reaches the project through a link is not it."""
    if project is None or package.directory is None:
        return False
    where = base / package.directory.path / (package.directory.subdirectory or "")
    return Path(os.path.normpath(where)) == project


def for_target(lock: Lock, markers: Mapping[str, str], tags: Sequence[str] | None) -> Lock:
    """*lock* (read by :func:`read`) as the target installs it: the packages PEP 751 selects
    for an interpreter with *markers*, each with the one file that fits *tags* best (the
    target's, best first), or with all its files when *tags* is None (``lock`` before the
    target's tags are known). The packages left out are ``skipped``."""
    document = lock.pylock
    assert document is not None, "for_target is for a pylock.toml read by pylock.read"
    packages = list(document.packages)
    # Selection of packages with every tag the lock's wheels carry, so that select() itself
    # never fails on tags: which file fits is decided below, where a package without one is
    # named with the others.
    every = sorted({t for p in packages for w in p.wheels or () for t in _wheel_tags(w)}, key=str)
    try:
        selected = list(document.select(environment=cast(Any, dict(markers)), tags=every))
    except PylockSelectError as exc:
        raise LockFileError(
            f"{lock.path} cannot be installed on this interpreter", HINT, details=[str(exc)]
        ) from None
    except (UndefinedComparison, UndefinedEnvironmentName) as exc:
        # a marker PEP 508 cannot evaluate for this target (`extra == "x"` in a lock,
        # `~= "3.11.*"`): said with the package whose marker it is
        raise LockFileError(
            f"{lock.path} cannot be installed on this interpreter",
            HINT,
            details=[_unevaluable(document, markers) or f"a marker: {exc}"],
        ) from None
    by_identity = {id(p): i for i, p in enumerate(packages)}
    chosen = {by_identity[id(package)] for package, _ in selected}
    selector = create_compatible_tags_selector(_tags(tags)) if tags is not None else None
    kept: list[LockedRequirement] = []
    lacking: list[str] = []
    for req in lock.requirements:
        index = req.line - 1
        if index not in chosen:
            continue
        if selector is None:
            kept.append(replace(req, marker=None))
            continue
        package = packages[index]
        best = _best(package, selector)
        if best is None:
            shown = ", ".join(w.filename for w in package.wheels or ())
            lacking.append(f"{req.name} {req.version}: no wheel fits and no sdist ({shown})")
            continue
        kept.append(
            replace(req, marker=None, hashes=_hashes(best), url=best.url, filename=best.filename)
        )
    if lacking:
        raise LockFileError(
            f"no file in {lock.path.name} fits the target for "
            f"{', '.join(line.split(' ', 1)[0] for line in lacking)}",
            "lock for the target's platform and Python (its wheels, or an sdist it can build); "
            "the details show the tags the target accepts first",
            details=[*lacking, _target(markers, tags or ())],
        )
    skipped = tuple(r for r in lock.requirements if r.line - 1 not in chosen)
    return replace(lock, requirements=tuple(kept), skipped=(*lock.skipped, *skipped), pylock=None)


def _unevaluable(document: Pylock, markers: Mapping[str, str]) -> str | None:
    """The first package whose marker cannot be evaluated for *markers*, as select() does."""
    environment: dict[str, str | frozenset[str]] = {
        **markers,
        "extras": frozenset(),
        "dependency_groups": frozenset(document.default_groups or ()),
    }
    for index, package in enumerate(document.packages):
        if package.marker is None:
            continue
        try:
            package.marker.evaluate(environment, context="lock_file")
        except (UndefinedComparison, UndefinedEnvironmentName) as exc:
            return f"packages[{index}] {package.name}: marker {str(package.marker)!r}: {exc}"
    return None


def _best(package: Package, selector: _Selector) -> PackageWheel | PackageSdist | None:
    """PEP 751's choice (as Pylock.select makes it): the wheel whose tags rank best, else the
    sdist, else nothing."""
    wheels = ((w, _wheel_tags(w)) for w in package.wheels or ())
    return next(selector(wheels), None) or package.sdist


def _wheel_tags(wheel: PackageWheel) -> frozenset[Tag]:
    return parse_wheel_filename(wheel.filename)[3]


def _tags(tags: Sequence[str]) -> list[Tag]:
    """The target's tags, best first, as packaging's; a line that is not a tag is dropped."""
    found: list[Tag] = []
    for text in tags:
        try:
            found += sorted(parse_tag(text), key=str)
        except ValueError:
            continue
    return found


def _target(markers: Mapping[str, str], tags: Sequence[str]) -> str:
    """The target, in one line of an error's details."""
    python = f"{markers.get('implementation_name', '?')} {markers.get('python_full_version', '?')}"
    where = f"{markers.get('platform_system', '?')} {markers.get('platform_machine', '?')}"
    best = ", ".join(tags[:3]) + (", ..." if len(tags) > 3 else "")
    return f"the target: {python} on {where}; the tags it accepts first: {best or 'none'}"


def _direct_source(package: Package) -> str | None:
    """Why *package* is refused for its source, when it is not distribution files."""
    if package.vcs is not None:
        where = package.vcs.url or package.vcs.path or "?"
        return (
            f"comes from {package.vcs.type} ({lockfile.shorten(where)}): a checkout is built from "
            "whatever it holds, pinned by no hash; lock it to a version from an index or "
            "wheelhouse"
        )
    if package.directory is not None:
        return (
            f"comes from the directory {lockfile.shorten(package.directory.path)!r}: a working copy, "
            "pinned by no hash. If it is the app itself, lock its dependencies only (venvrpm "
            "installs the project from `project:`); else lock it to a version from an index "
            "or wheelhouse"
        )
    if package.archive is not None:
        where = package.archive.url or package.archive.path or "?"
        return (
            f"comes from the archive {lockfile.shorten(where)!r}, a URL requirement; lock it to a "
            "version from an index or wheelhouse"
        )
    return None


def _files(package: Package) -> list[PackageWheel | PackageSdist]:
    return [*(package.wheels or ()), *([package.sdist] if package.sdist is not None else [])]


def _file_problems(file: PackageWheel | PackageSdist) -> list[str]:
    found = []
    usable = [a for a in file.hashes if a in _HASH_LENGTHS]
    if not usable:
        algorithms = ", ".join(sorted(file.hashes))
        found.append(
            f"{file.filename} has no sha256, sha384 or sha512 hash (only {algorithms}): "
            "pip checks no other"
        )
    for algorithm in usable:
        value = file.hashes[algorithm]
        if not (_HEX.fullmatch(value) and len(value) == _HASH_LENGTHS[algorithm]):
            found.append(f"{file.filename}: unusable {algorithm} hash {lockfile.shorten(value)!r}")
    if file.url is not None and not _URL.fullmatch(file.url):
        found.append(
            f"{file.filename}: the url {lockfile.shorten(file.url)!r} is not one venvrpm gives the "
            "installer (http, https or file; no spaces, quotes, '#', ';', '$' or credentials)"
        )
    elif file.url is not None and (named := _url_filename(file.url)) != file.filename:
        # pip tells a wheel from an sdist, and reads a wheel's tags, by the URL's file name
        found.append(
            f"{file.filename}: the url ends in {lockfile.shorten(named)!r}, not in the file's name: "
            "the installer would read it as another file"
        )
    return found


def _url_filename(url: str) -> str:
    """The file name at the end of *url*'s path, decoded, as pip reads it."""
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def _hashes(file: PackageWheel | PackageSdist) -> tuple[str, ...]:
    """``alg:hex`` of *file*, as a requirements lock writes them (checked by :func:`parse`)."""
    return tuple(f"{a}:{file.hashes[a].lower()}" for a in sorted(file.hashes) if a in _HASH_LENGTHS)


def _version(package: Package) -> str | None:
    """The package's version; from its files' names when the lock leaves it out (PEP 751
    allows that), if they agree."""
    if package.version is not None:
        return str(package.version)
    found = {str(parse_wheel_filename(w.filename)[1]) for w in package.wheels or ()}
    if package.sdist is not None:
        try:
            found.add(str(parse_sdist_filename(package.sdist.filename)[1]))
        except InvalidSdistFilename:
            return None
    return found.pop() if len(found) == 1 else None
