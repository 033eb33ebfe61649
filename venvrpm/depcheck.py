"""Every installed distribution has what it requires: ``pip check``'s rules, in process. Pure.

pip check started a pip (~0.8 s) on every build, most of a rebuild's fixed cost for a small
app. The rules are pip's (``pip._internal.operations.check``): a requirement whose marker holds
(with ``extra`` empty) must name an installed distribution whose version its specifier
contains, pre-releases included. Markers are evaluated with the target interpreter's
environment (from the probe), as pip check run by that interpreter would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from venvrpm.pydists import Distribution


def unmet(installed: Iterable[Distribution], markers: Mapping[str, str]) -> list[str]:
    """What is missing or conflicts, one line per problem in pip check's words; [] when none."""
    present = {d.name: d for d in installed}
    environment = {**markers, "extra": ""}
    problems: list[str] = []
    for dist in sorted(present.values(), key=lambda d: d.name):
        for line in dist.requires:
            try:
                req = Requirement(line)
            except InvalidRequirement:
                problems.append(f"{dist.name} {dist.version} has an invalid requirement: {line}")
                continue
            if req.marker is not None and not req.marker.evaluate(environment):
                continue
            other = present.get(canonicalize_name(req.name))
            if other is None:
                problems.append(
                    f"{dist.name} {dist.version} requires {req.name}, which is not installed."
                )
            elif not _contains(req, other.version):
                problems.append(
                    f"{dist.name} {dist.version} has requirement {req}, but you have "
                    f"{other.name} {other.version}."
                )
    return problems


def _contains(req: Requirement, version: str) -> bool:
    try:
        return req.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        # a legacy version string: only an unconstrained requirement can be met, as in pip
        return not req.specifier
