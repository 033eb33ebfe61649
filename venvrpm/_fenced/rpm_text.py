"""rpm's output text: rpmbuild's ``Wrote:`` lines, ``rpm -q --whatprovides``' misses and
rpmlint's findings.

Fragile: rpmbuild names the packages it wrote only in its log (``Wrote: /path/x.rpm``), and
rpmlint its findings only as text (``pkg.arch: E: check-name rest`` and a summary line
``N packages and M specfiles checked; E errors, W warnings``). Neither is an interface.

Checked with rpm 4.18.0 and rpmlint 2.4.0 (tests/test_fenced.py holds their lines; the
integration tests run both for real).

``rpm -q --whatprovides NAME`` says ``no package provides NAME`` for each name nothing
provides (exit 1); when that changes, a missing ``build.requires`` name is not named before the
build, and the build fails later, where the missing package is needed.

When they change: a build that finds no ``Wrote:`` line fails ("rpmbuild reported 0 binary
RPMs instead of one"), never picks a wrong file (a named file must exist and be the one
kind wanted); a finding line not recognised is left in ``venvrpm lint``'s output, unfiltered,
and counted by rpmlint's own summary (nothing is hidden).
"""

from __future__ import annotations

import re
from pathlib import Path

_WROTE = re.compile(r"^Wrote: (.+\.rpm)$", re.MULTILINE)

FINDING = re.compile(r"^(?P<package>\S+): (?P<level>[EW]): (?P<check>\S+)(?: (?P<rest>.*))?$")
"""One rpmlint finding: ``pkg.arch: E: check-name rest of the line``."""

SUMMARY = re.compile(r"(\d+) errors, (\d+) warnings")
"""rpmlint's count of errors and warnings, in its last line."""


def written(output: str) -> list[Path]:
    """The packages rpmbuild says it wrote, in its order (binary and source RPMs)."""
    return [Path(p) for p in _WROTE.findall(output)]


def unprovided(output: str, names: list[str]) -> list[str]:
    """The *names* ``rpm -q --whatprovides`` says no package provides, in their order."""
    return [n for n in names if f"no package provides {n}" in output]
