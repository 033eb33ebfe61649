"""The Python distributions bundled in the venv: RPM Provides and a list shipped as doc.

``Provides: bundled(python3dist(NAME)) = VERSION`` is Fedora's convention for bundled Python
code, so ``rpm -q --whatprovides 'bundled(python3dist(urllib3))'`` finds the application when a
CVE lands. The JSON list adds the hashes the lock allowed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath
from typing import Literal

from packaging.utils import canonicalize_name

from venvrpm.lockfile import Lock

Origin = Literal["lock", "project", "venv"]


@dataclass(frozen=True, slots=True)
class Distribution:
    """One installed distribution."""

    name: str
    """Canonical (PEP 503) name."""
    version: str
    origin: Origin
    hashes: tuple[str, ...]
    license: str | None = None
    """License-Expression, else a short License field, from the distribution's metadata."""
    requires: tuple[str, ...] = ()
    """Its ``Requires-Dist`` lines."""


def doc_path(package: str) -> PurePosixPath:
    """Where the list is shipped."""
    return PurePosixPath("/usr/share/doc") / package / "bundled-distributions.json"


def find(venv_dir: Path, lock: Lock, project_name: str | None) -> tuple[Distribution, ...]:
    """Every distribution installed in the venv, with the lock's hashes for it."""
    hashes = {r.name: r.hashes for r in lock.requirements}
    found: dict[str, Distribution] = {}
    for metadata in sorted(venv_dir.glob("lib*/python*/site-packages/*.dist-info/METADATA")):
        headers = HeaderParser().parsestr(metadata.read_text(encoding="utf-8", errors="replace"))
        if not headers.get("Name") or not headers.get("Version"):
            continue
        name = canonicalize_name(headers["Name"])
        origin: Origin = (
            "lock" if name in hashes else ("project" if name == project_name else "venv")
        )
        found[name] = Distribution(
            name, headers["Version"], origin, tuple(hashes.get(name, ())), _license(headers),
            tuple(headers.get_all("Requires-Dist") or ()),
        )  # fmt: skip
    return tuple(found[k] for k in sorted(found))


def _license(headers: Message) -> str | None:
    expression = headers.get("License-Expression", "").strip()
    if expression:
        return expression
    text = headers.get("License", "").strip()
    # the License field sometimes holds the whole licence text: keep only short names
    return text if text and "\n" not in text and len(text) <= 80 else None


def sbom_path(package: str) -> PurePosixPath:
    """Where the CycloneDX SBOM is shipped."""
    return PurePosixPath("/usr/share/doc") / package / "sbom.cdx.json"


def provides(distributions: tuple[Distribution, ...]) -> list[str]:
    """The RPM Provides for *distributions*."""
    return [f"bundled(python3dist({d.name})) = {d.version}" for d in distributions]


def document(package: str, python: str, distributions: tuple[Distribution, ...]) -> str:
    """The JSON list shipped in the package's doc directory."""
    data = {
        "package": package,
        "interpreter": python,
        "distributions": [
            {"name": d.name, "version": d.version, "origin": d.origin, "hashes": list(d.hashes)}
            for d in distributions
        ],
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
