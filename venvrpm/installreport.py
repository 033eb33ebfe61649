"""Which file the installer installed, of the files the lock allows for a distribution.

A line of ``pip-compile --generate-hashes`` allows every file of that version (one wheel per
platform, the sdist); the SBOM and the bundled list name the one installed. pip says which:
``pip install --report FILE`` (pip >= 22.2; format version 1 since pip 23.0) gives each
installed item's ``download_info.archive_info.hashes``, the hashes of the archive it was
installed from (the sdist for one built here). uv (0.13) writes no such report (its
``--output-format json`` lists names and versions only): its installs are told from the
wheelhouse, or not at all (pydists.installed_hash).

The report is written into the work directory, where code run during the build (an sdist's
build backend) can rewrite it, and the environment cache keeps what it said. So it is read
without following a link, and a hash is believed only if the lock allows it for that name:
a forged report can at worst name another file the lock allowed, never one it did not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from packaging.utils import canonicalize_name

from venvrpm import files
from venvrpm.lockfile import Lock

REPORT_LIMIT = 64 * 1024 * 1024
"""Larger reports are not read (pip's is ~10 kB per distribution, metadata included)."""
_ALGORITHMS = ("sha256", "sha384", "sha512")


def read(path: Path, lock: Lock) -> dict[str, str]:
    """Normalised name -> ``alg:hex`` of the file installed, for every distribution of *lock*
    the report at *path* names with a hash the lock allows. Empty when there is no report (uv),
    or it cannot be read or is not pip's format 1: nothing is known then, nothing fails."""
    try:
        # bounded: a backend that runs after pip wrote it can make it a sparse terabyte
        data = files.read_regular(path, REPORT_LIMIT)
    except OSError:  # absent (uv), not a regular file, or over the limit
        return {}
    try:
        report = json.loads(data)
    except (ValueError, RecursionError):
        return {}
    return checked(_recorded(report), lock)


def _recorded(report: object) -> dict[str, list[str]]:
    """Name -> the hashes the report gives for its archive; no judgement yet."""
    if not isinstance(report, dict) or report.get("version") != "1":
        return {}
    items = report.get("install")
    found: dict[str, list[str]] = {}
    for item in items if isinstance(items, list) else ():
        metadata = item.get("metadata") if isinstance(item, dict) else None
        info = item.get("download_info") if isinstance(item, dict) else None
        archive = info.get("archive_info") if isinstance(info, dict) else None
        hashes = archive.get("hashes") if isinstance(archive, dict) else None
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if not isinstance(name, str) or not isinstance(hashes, dict):
            continue  # a local directory (dir_info) or a VCS checkout has no archive hash
        found[canonicalize_name(name)] = [
            f"{alg}:{value.lower()}" for alg in _ALGORITHMS
            if isinstance(value := hashes.get(alg), str)
        ]  # fmt: skip
    return found


def checked(recorded: object, lock: Lock) -> dict[str, str]:
    """Of *recorded* (name -> a hash or a list of them: a report, or what the cache kept), what
    the lock allows: name -> the first hash the lock allows for that name. Anything else,
    of any type, is dropped."""
    if not isinstance(recorded, Mapping):
        return {}
    allowed: dict[str, set[str]] = {}
    for req in lock.requirements:
        allowed.setdefault(req.name, set()).update(req.hashes)
    found: dict[str, str] = {}
    for name, values in recorded.items():
        candidates = [values] if isinstance(values, str) else values
        if not isinstance(name, str) or not isinstance(candidates, list):
            continue
        for value in candidates:
            if isinstance(value, str) and value in allowed.get(name, ()):
                found[name] = value
                break
    return found
