"""The Python distributions bundled in the venv: RPM Provides and a list shipped as doc.

``Provides: bundled(python3dist(NAME)) = VERSION`` is Fedora's convention for bundled Python
code, so ``rpm -q --whatprovides 'bundled(python3dist(urllib3))'`` finds the application when a
CVE lands. The JSON list adds the hashes the lock allowed and the one of the file installed.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import io
import json
import os
import posixpath
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath
from typing import Literal

from packaging.tags import parse_tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from venvrpm import files
from venvrpm.errors import VenvrpmError
from venvrpm.lockfile import Lock, LockedRequirement

Origin = Literal["lock", "project", "venv"]

INSTALLERS = frozenset({"pip", "uv", "venvrpm"})
"""What the installers venvrpm runs write in INSTALLER (venvrpm: venvbuild.install_wheel)."""

# packaging's regex for a valid project name (packaging.utils), matched whole: ``$`` in a
# ``re.match`` would let a final newline through.
_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE)
_RECORD_HASHES = frozenset({"sha256", "sha384", "sha512"})
_LICENSE_MAX = 100
DIST_INFO_LIMIT = 64 * 1024 * 1024
"""RECORD, METADATA, INSTALLER and WHEEL larger than this are not read (the largest RECORDs
are a few MB): code run during the build can make any of them a sparse terabyte."""


class ProvenanceError(VenvrpmError):
    """The venv holds distribution metadata its installer did not write, or metadata not valid."""


@dataclass(frozen=True, slots=True)
class Distribution:
    """One installed distribution."""

    name: str
    """Canonical (PEP 503) name."""
    version: str
    """``str(packaging.version.Version)``: normalised PEP 440."""
    origin: Origin
    hashes: tuple[str, ...]
    license: str | None = None
    """License-Expression, else a short License field, from the distribution's metadata."""
    requires: tuple[str, ...] = ()
    """Its ``Requires-Dist`` lines."""
    classifiers: tuple[str, ...] = ()
    """Licences its ``License ::`` classifiers name: SPDX ids where unambiguous, else names."""
    tags: tuple[str, ...] = ()
    """The ``Tag`` lines of its WHEEL file: which of the locked files was installed."""
    installed: str | None = None
    """The ``alg:hex`` hash of the file it was installed from, one of :attr:`hashes`, when
    known (the installer's report, else :func:`installed_hash`)."""


def doc_path(package: str) -> PurePosixPath:
    """Where the list is shipped."""
    return PurePosixPath("/usr/share/doc") / package / "bundled-distributions.json"


@dataclass(frozen=True, slots=True)
class _Installed:
    """A ``*.dist-info`` directory, read without trusting it."""

    path: Path
    record: frozenset[str]
    """The paths into a ``*.dist-info`` directory its RECORD lists, absolute and normalised."""
    headers: Message | None
    problems: tuple[str, ...]


def find(
    venv_dir: Path, lock: Lock, project_name: str | None, recorded: Mapping[str, str] | None = None
) -> tuple[Distribution, ...]:
    """Every distribution the installer installed in the venv, with the lock's hashes for it.

    *recorded*: name -> the hash of the file its installer said it installed (installreport);
    believed only if the lock allows it for the installed version.

    Only what an installer wrote counts: a ``*.dist-info`` directory with an INSTALLER file and
    a RECORD that lists its METADATA (hash included), whose directory name agrees with the
    METADATA Name and Version, one per normalised name. Any other ``*.dist-info`` is refused
    by name, above all one that another distribution's RECORD lists (a wheel planted it): its
    Name and Version would otherwise become the RPM's Provides and the SBOM.
    Raises ProvenanceError listing every problem found.
    """
    found = [_read(path) for site in files.site_packages(venv_dir) for path in _dist_infos(site)]
    writers = _written_by_others(found)
    pins: dict[str, list[LockedRequirement]] = defaultdict(list)
    for req in lock.requirements:
        pins[req.name].append(req)
    problems: list[str] = []
    by_name: dict[str, list[str]] = defaultdict(list)
    distributions: list[Distribution] = []
    for dist in found:
        where = dist.path.name
        if str(dist.path) in writers:
            # planted: what else is wrong with it is of no interest
            problems.append(f"{where}: written by {writers[str(dist.path)]}, not installed as a "
                            "distribution")  # fmt: skip
            continue
        problems.extend(f"{where}: {p}" for p in dist.problems)
        if dist.problems or dist.headers is None:
            continue
        try:
            name, version = _identity(where, dist.headers)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        by_name[name].append(where)
        locked = [r for r in pins.get(name, ()) if _same_version(r.version, version)]
        if pins.get(name) and not locked:
            allowed = " or ".join(sorted({r.version for r in pins[name]}))
            problems.append(f"{where}: {name} {version} is installed, the lock pins {allowed}")
        origin: Origin = "lock" if name in pins else ("project" if name == project_name else "venv")
        hashes = locked[0].hashes if locked else ()
        said = (recorded or {}).get(name)
        distributions.append(Distribution(
            name, str(version), origin, hashes,
            _license(dist.headers), tuple(dist.headers.get_all("Requires-Dist") or ()),
            _classifier_licenses(dist.headers), _wheel_tags(dist.path),
            said if said in hashes else None,
        ))  # fmt: skip
    for name, where_all in sorted(by_name.items()):
        if len(where_all) > 1:
            problems.append(f"{name} is installed {len(where_all)} times: {', '.join(where_all)}")
    if problems:
        raise ProvenanceError(
            "the venv holds distribution metadata that its installer did not write, or that is "
            "not valid",
            "a locked wheel writes another distribution's .dist-info, or its METADATA is "
            "malformed: remove that wheel from the lock (or lock a fixed release); its Name and "
            "Version would otherwise become the RPM's Provides and the SBOM",
            details=sorted(dict.fromkeys(problems)),
        )
    return tuple(sorted(distributions, key=lambda d: d.name))


def _written_by_others(found: list[_Installed]) -> dict[str, str]:
    """Dist-info directory -> who else wrote in it: the distributions whose RECORD lists a file
    inside it. Their wheel planted it; an install of its own never leaves such a file."""
    owners = {str(d.path): d for d in found}
    writers: dict[str, set[str]] = defaultdict(set)
    for dist in found:
        for path in dist.record:
            for directory in _ancestors(path):
                other = owners.get(directory)
                if other is not None and other is not dist:
                    writers[directory].add(
                        f"{_label(dist)} (its RECORD lists {_relative(path, dist.path.parent)})"
                    )
    return {d: ", ".join(sorted(w)) for d, w in writers.items()}


def _dist_infos(site: Path) -> list[Path]:
    return [site / n for n in sorted(os.listdir(site)) if n.endswith(".dist-info")]


def _read(path: Path) -> _Installed:
    """What *path* says of itself; problems instead of exceptions."""
    if not files.is_real_dir(path):
        return _Installed(path, frozenset(), None, ("not a directory",))
    problems: list[str] = []
    try:
        rows = list(csv.reader(io.StringIO(_text(path / "RECORD"))))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return _Installed(path, frozenset(), None, (f"no readable RECORD ({_why(exc)}): "
                                                     "not installed by an installer",))  # fmt: skip
    site = str(path.parent)
    # Only paths into a *.dist-info directory matter (its own METADATA, or another's files):
    # any such path holds ".dist-info", which skips the thousands of module paths cheaply.
    listed = {_absolute(site, row[0]): row for row in rows if row and ".dist-info" in row[0]}
    record = frozenset(listed)
    try:
        installer = _text(path / "INSTALLER").strip()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"no readable INSTALLER ({_why(exc)})")
    else:
        if installer not in INSTALLERS:
            problems.append(f"INSTALLER says {installer[:40]!r}, not one of "
                            + ", ".join(sorted(INSTALLERS)))  # fmt: skip
    row = listed.get(str(path / "METADATA"))
    if row is None:
        problems.append("its RECORD does not list its METADATA")
        return _Installed(path, record, None, tuple(problems))
    try:
        data = files.read_regular(path / "METADATA", DIST_INFO_LIMIT)
    except OSError as exc:
        problems.append(f"no readable METADATA ({_why(exc)})")
        return _Installed(path, record, None, tuple(problems))
    mismatch = _hash_mismatch(row, data)
    if mismatch:
        problems.append(f"METADATA {mismatch}")
    headers = HeaderParser().parsestr(data.decode("utf-8", errors="replace"))
    return _Installed(path, record, headers, tuple(problems))


def _text(path: Path) -> str:
    return files.read_regular(path, DIST_INFO_LIMIT).decode("utf-8")


def _why(exc: Exception) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(
        exc
    ).__name__


def _absolute(site: str, listed: str) -> str:
    """A RECORD path, relative to the directory holding the dist-info, as a normalised path."""
    return posixpath.normpath(posixpath.join(site, listed))


def _ancestors(path: str) -> list[str]:
    parts = []
    parent = posixpath.dirname(path)
    while parent not in ("/", ""):
        parts.append(parent)
        parent = posixpath.dirname(parent)
    return parts


def _relative(path: str, site: Path) -> str:
    return posixpath.relpath(path, str(site))


def _label(dist: _Installed) -> str:
    """How a distribution is named in messages: ``name version`` from its directory."""
    stem = dist.path.name.removesuffix(".dist-info")
    return stem.replace("-", " ", 1)


def _hash_mismatch(row: list[str], data: bytes) -> str | None:
    """What is wrong with *data* against its RECORD *row*, or None."""
    algorithm, _, digest = (row[1] if len(row) > 1 else "").partition("=")
    if algorithm not in _RECORD_HASHES or not digest:
        return "has no usable hash in RECORD"
    actual = base64.urlsafe_b64encode(hashlib.new(algorithm, data).digest()).rstrip(b"=")
    if actual.decode() != digest:
        return "does not match its RECORD hash (changed after the install)"
    return None


def _identity(directory: str, headers: Message) -> tuple[str, Version]:
    """The validated, normalised (name, version) of a METADATA; ValueError saying what is wrong."""
    name = _one(headers, "Name")
    if not _NAME.fullmatch(name):
        raise ValueError(f"Name {name[:80]!r} is not a valid project name")
    raw = _one(headers, "Version")
    try:
        version = Version(raw)
    except InvalidVersion:
        raise ValueError(f"Version {raw[:80]!r} is not a valid version (PEP 440)") from None
    canonical = canonicalize_name(name)
    # {name}-{version}.dist-info, the name escaped or not by the tool that wrote it
    stem = directory.removesuffix(".dist-info")
    for at in (i for i, ch in enumerate(stem) if ch == "-"):
        if canonicalize_name(stem[:at]) == canonical and _same_version(stem[at + 1 :], version):
            return canonical, version
    raise ValueError(f"its METADATA says {canonical} {version}, not what the directory is named")


def _one(headers: Message, field: str) -> str:
    values = headers.get_all(field) or []
    if len(values) != 1:
        raise ValueError(f"METADATA has {len(values)} {field} fields, not 1")
    return str(values[0]).strip()


def _same_version(text: str, version: Version) -> bool:
    try:
        return Version(text) == version
    except InvalidVersion:
        return False


def _license(headers: Message) -> str | None:
    """A licence for the SBOM: one short line of printable characters, else none.

    License-Expression (PEP 639) first, then the License field: a short name as it is, or the
    first line of a whole licence text when that line names it ("BSD 3-Clause License"). The
    placeholder ``UNKNOWN`` that old setuptools wrote is no licence.
    """
    for field in ("License-Expression", "License"):
        values = headers.get_all(field) or []
        text = str(values[0]).strip() if len(values) == 1 else ""
        if not text or text.upper() == "UNKNOWN":
            continue
        if "\n" not in text:
            return license_text(text)
        first = text.splitlines()[0].strip()
        if "licen" in first.lower():
            return license_text(first)
    return None


# The licence classifiers that name one SPDX licence unambiguously; any other is kept as a
# name (``Apache Software License`` does not say which version, ``BSD License`` which clauses).
_CLASSIFIER_SPDX = {
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "ISC License (ISCL)": "ISC",
    "Python Software Foundation License": "PSF-2.0",
    "Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "The Unlicense (Unlicense)": "Unlicense",
    "Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "Zero-Clause BSD (0BSD)": "0BSD",
}


def _classifier_licenses(headers: Message) -> tuple[str, ...]:
    """The licences the ``License ::`` classifiers name, in their order, without repeats."""
    found: dict[str, None] = {}
    for value in headers.get_all("Classifier") or []:
        parts = [p.strip() for p in str(value).split("::")]
        if len(parts) < 2 or parts[0] != "License" or parts[1:] == ["OSI Approved"]:
            continue  # "License :: OSI Approved" alone names no licence
        name = _CLASSIFIER_SPDX.get(parts[-1], parts[-1])
        text = license_text(name)
        if text:
            found[text] = None
    return tuple(found)


def _wheel_tags(dist_info: Path) -> tuple[str, ...]:
    """The ``Tag`` lines of *dist_info*'s WHEEL file; none when it cannot be read.

    Used only to choose among files the lock allowed, so an untrue WHEEL can at worst name
    another allowed file.
    """
    try:
        text = files.read_regular(dist_info / "WHEEL", DIST_INFO_LIMIT).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return ()
    tags = HeaderParser().parsestr(text).get_all("Tag") or []
    return tuple(sorted({str(t).strip() for t in tags if str(t).strip()}))


def license_text(text: str) -> str | None:
    """*text* if it is one short line of printable characters, else None.

    The License field sometimes holds the whole licence text; keep only short names.
    """
    return text if text.isprintable() and len(text) <= _LICENSE_MAX else None


def checked(dist: Distribution) -> tuple[str, Version]:
    """*dist*'s name and version, validated again where they leave venvrpm (Provides, SBOM)."""
    if not _NAME.fullmatch(dist.name) or canonicalize_name(dist.name) != dist.name:
        raise ProvenanceError(
            f"not a normalised project name: {dist.name[:80]!r}",
            "distributions come from pydists.find(), which validates them",
        )
    try:
        return dist.name, Version(dist.version)
    except InvalidVersion:
        raise ProvenanceError(
            f"{dist.name}: not a valid version: {dist.version[:80]!r}",
            "distributions come from pydists.find(), which validates them",
        ) from None


def sbom_path(package: str) -> PurePosixPath:
    """Where the CycloneDX SBOM is shipped."""
    return PurePosixPath("/usr/share/doc") / package / "sbom.cdx.json"


def provides(distributions: tuple[Distribution, ...]) -> list[str]:
    """The RPM Provides for *distributions*."""
    return [_provide(*checked(d)) for d in distributions]


def _provide(name: str, version: Version) -> str:
    # rpm writes an epoch "N:" where PEP 440 writes "N!" (rpm refuses "!" in a version)
    evr = str(version).split("!", 1)[-1]
    return f"bundled(python3dist({name})) = {f'{version.epoch}:' if version.epoch else ''}{evr}"


def installed_hash(dist: Distribution, wheelhouse: Mapping[str, Path]) -> str | None:
    """The ``alg:hex`` hash of the file *dist* was installed from, or None when not known.

    What its installer reported (:attr:`Distribution.installed`); else the lock's only hash
    (``--require-hashes``: the installed file had it); else the file of *wheelhouse* (hashes
    to the files of an offline build's only source, fetch.by_hash; empty online) among those
    the lock allows whose wheel tags are the installed WHEEL's, or the sdist when no such wheel
    is there (it was built here). None: an online uv build whose lock allows several files.
    """
    if dist.installed is not None and dist.installed in dist.hashes:
        return dist.installed
    if len(dist.hashes) == 1:
        return dist.hashes[0]
    there = [(h, wheelhouse[h]) for h in dist.hashes if h in wheelhouse]
    installed = {t for line in dist.tags for t in _tags(line)}
    wheels, sdists = [], []
    for digest, path in there:
        if not path.name.endswith(".whl"):
            sdists.append(digest)
            continue
        try:
            tags = parse_wheel_filename(path.name)[3]
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
        if installed and tags == installed:
            wheels.append(digest)
    if len(set(wheels)) == 1:
        return wheels[0]
    if not wheels and len(set(sdists)) == 1 and installed:
        # no wheelhouse wheel carries the installed tags: pip built this one from the sdist
        return sdists[0]
    return None


_MAX_TAGS = 4096
"""More tags than any wheel's name stands for (a 255-byte name is at most some 75,000, a real
one a handful): a WHEEL's Tag line is the wheel's text, and its dotted sets expand to their
product."""


def _tags(line: str) -> frozenset[object]:
    count = 1
    for part in line.split("-"):
        count *= part.count(".") + 1
        if count > _MAX_TAGS:
            return frozenset()  # names no file the lock allows: matches none
    try:
        return frozenset(parse_tag(line))
    except ValueError:
        return frozenset()


def with_installed(
    distributions: tuple[Distribution, ...], wheelhouse: Mapping[str, Path]
) -> tuple[Distribution, ...]:
    """*distributions*, each with the hash of its installed file where it can be told
    (:func:`installed_hash`): what the SBOM and the bundled list name."""
    return tuple(
        dataclasses.replace(d, installed=installed_hash(d, wheelhouse)) for d in distributions
    )


def document(package: str, python: str, distributions: tuple[Distribution, ...]) -> str:
    """The JSON list shipped in the package's doc directory: each distribution's allowed
    ``hashes`` and the ``installed`` one (null when it cannot be told)."""
    data = {
        "package": package,
        "interpreter": python,
        "distributions": [
            {"name": name, "version": str(version), "origin": d.origin, "hashes": list(d.hashes),
             "installed": d.installed if d.installed in d.hashes else None}
            for d in distributions
            for name, version in (checked(d),)
        ],
    }  # fmt: skip
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
