"""cyclonedx-python-lib: every import of it, in one place.

Fragile: the library moves its modules between major releases and deprecates the old paths
with a warning (``cyclonedx.factory.license`` became ``cyclonedx.contrib.license.factories``
in 11.1: 51 warnings in venvrpm's tests, which run with warnings as errors). sbom.py imports
the names below from here, never from cyclonedx.

Checked with cyclonedx-python-lib 11.12 (and the old path for releases before 11.1; pyproject
allows >= 8). tests/test_sbom.py builds a document with them.

When the library moves a name again: the import here fails (ImportError, at venvrpm's import
of sbom), or its deprecation warning fails every SBOM test (pytest's filterwarnings = error).
"""

from __future__ import annotations

try:  # cyclonedx-python-lib >= 11.1; the old path warns there
    from cyclonedx.contrib.license.factories import LicenseFactory
except ImportError:  # pragma: no cover - older releases
    from cyclonedx.factory.license import LicenseFactory  # type: ignore[no-redef,unused-ignore]
from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot5

__all__ = [
    "Bom",
    "Component",
    "ComponentType",
    "HashAlgorithm",
    "HashType",
    "JsonV1Dot5",
    "LicenseFactory",
    "Property",
]
