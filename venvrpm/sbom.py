"""A CycloneDX SBOM of the bundled distributions, made with cyclonedx-python-lib.

Reproducible: the timestamp is SOURCE_DATE_EPOCH and the serial number is derived from the
content, so the same build gives the same SBOM (and the same RPM, which ships it).

A component's hash is the one of the file that was installed, not every file the lock allows
(a lock lists one hash per platform's wheel and the sdist): pydists.installed_hash, which
with_installed sets on each distribution (pip's report says it; from the wheelhouse for uv).
A component whose file cannot be told (an online uv build whose lock allows several files)
has no hash; the bundled list keeps the lock's.
"""

from __future__ import annotations

import datetime
import uuid

from packageurl import PackageURL

from venvrpm._fenced.cyclonedx_api import (
    Bom,
    Component,
    ComponentType,
    HashAlgorithm,
    HashType,
    JsonV1Dot5,
    LicenseFactory,
    Property,
)
from venvrpm.nativelibs import NOT_COVERED, NativeLibrary
from venvrpm.pydists import Distribution, checked, license_text

_ALGORITHMS = {
    "sha256": HashAlgorithm.SHA_256,
    "sha384": HashAlgorithm.SHA_384,
    "sha512": HashAlgorithm.SHA_512,
}


def document(
    name: str,
    version: str,
    distributions: tuple[Distribution, ...],
    source_date_epoch: int,
    native: tuple[NativeLibrary, ...] = (),
) -> str:
    """CycloneDX 1.5 JSON for the application and every distribution bundled in it; each
    component's hash is its :attr:`Distribution.installed` (pydists.with_installed).

    *native*: the shared libraries wheels bundle (venvrpm.nativelibs), components without a
    purl -- no PyPI advisory covers them -- with the property ``venvrpm:advisories`` saying
    so and ``venvrpm:path`` where they are installed."""
    licenses = LicenseFactory()
    bom = Bom()
    bom.metadata.timestamp = datetime.datetime.fromtimestamp(source_date_epoch, datetime.UTC)
    bom.metadata.component = Component(
        name=name, version=version, type=ComponentType.APPLICATION, bom_ref=f"rpm:{name}@{version}"
    )
    seed = [f"{name}=={version}"]
    components = []
    for dist in distributions:
        # nothing reaches the SBOM unvalidated (pydists.find validated these once already)
        dist_name, dist_version = checked(dist)
        purl = PackageURL(type="pypi", name=dist_name, version=str(dist_version))
        component = Component(
            name=dist_name, version=str(dist_version), type=ComponentType.LIBRARY, purl=purl,
            bom_ref=purl.to_string(),
        )  # fmt: skip
        value = dist.installed if dist.installed in dist.hashes else None
        if value is not None:
            algorithm, _, digest = value.partition(":")
            if algorithm in _ALGORITHMS:
                component.hashes.add(HashType(alg=_ALGORITHMS[algorithm], content=digest))
        licence = license_text(dist.license) if dist.license else None
        # the metadata's License-Expression or License first; the classifiers when it has none
        for text in (licence,) if licence else dist.classifiers:
            component.licenses.add(licenses.make_from_string(text))
        bom.components.add(component)
        components.append(component)
        seed.append(f"{dist_name}=={dist_version} {value or ' '.join(dist.hashes)}")
    for library in native:
        component = Component(
            name=library.name, version=library.version, type=ComponentType.LIBRARY,
            bom_ref=f"native:{library.path}", description=f"in {library.directory}",
            properties=[Property(name="venvrpm:advisories", value=NOT_COVERED),
                        Property(name="venvrpm:path", value=library.path)],
        )  # fmt: skip
        bom.components.add(component)
        components.append(component)
        seed.append(f"native {library.path}")
    # the application depends on everything bundled (a complete graph, as CycloneDX asks)
    bom.register_dependency(bom.metadata.component, components)
    bom.serial_number = uuid.uuid5(uuid.NAMESPACE_URL, "venvrpm:" + "\n".join(seed))
    return JsonV1Dot5(bom).output_as_string(indent=2) + "\n"
