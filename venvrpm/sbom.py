"""A CycloneDX SBOM of the bundled distributions, made with cyclonedx-python-lib.

Reproducible: the timestamp is SOURCE_DATE_EPOCH and the serial number is derived from the
content, so the same build gives the same SBOM (and the same RPM, which ships it).
"""

from __future__ import annotations

import datetime
import uuid

from cyclonedx.factory.license import LicenseFactory
from cyclonedx.model import HashAlgorithm, HashType
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot5
from packageurl import PackageURL

from venvrpm.bundled import Distribution, checked, license_text


def document(
    name: str, version: str, distributions: tuple[Distribution, ...], source_date_epoch: int
) -> str:
    """CycloneDX 1.5 JSON for the application and every distribution bundled in it."""
    licenses = LicenseFactory()
    bom = Bom()
    bom.metadata.timestamp = datetime.datetime.fromtimestamp(
        source_date_epoch, datetime.timezone.utc
    )
    bom.metadata.component = Component(
        name=name, version=version, type=ComponentType.APPLICATION, bom_ref=f"rpm:{name}@{version}"
    )
    seed = [f"{name}=={version}"]
    components = []
    for dist in distributions:
        # nothing reaches the SBOM unvalidated (bundled.find validated these once already)
        dist_name, dist_version = checked(dist)
        purl = PackageURL(type="pypi", name=dist_name, version=str(dist_version))
        component = Component(
            name=dist_name, version=str(dist_version), type=ComponentType.LIBRARY, purl=purl,
            bom_ref=purl.to_string(),
        )  # fmt: skip
        for value in dist.hashes:
            algorithm, _, digest = value.partition(":")
            if algorithm == "sha256":
                component.hashes.add(HashType(alg=HashAlgorithm.SHA_256, content=digest))
        licence = license_text(dist.license) if dist.license else None
        if licence:
            component.licenses.add(licenses.make_from_string(licence))
        bom.components.add(component)
        components.append(component)
        seed.append(f"{dist_name}=={dist_version} {' '.join(dist.hashes)}")
    # the application depends on everything bundled (a complete graph, as CycloneDX asks)
    bom.register_dependency(bom.metadata.component, components)
    bom.serial_number = uuid.uuid5(uuid.NAMESPACE_URL, "venvrpm:" + "\n".join(seed))
    return JsonV1Dot5(bom).output_as_string(indent=2) + "\n"
