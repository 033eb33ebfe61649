"""The SBOM: every component's licence from its metadata, and the hash of the file installed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import tinybackend
from tests.test_pydists import install_wheel, venv
from venvrpm import fetch, pydists, sbom
from venvrpm.lockfile import Lock, LockedRequirement


def _lock(*entries: tuple[str, str, tuple[str, ...]]) -> Lock:
    return Lock(
        path=Path("requirements.lock"),
        requirements=tuple(
            LockedRequirement(name=n, version=v, hashes=h, marker=None, line=i + 1)
            for i, (n, v, h) in enumerate(entries)
        ),
    )


def _components(text: str) -> dict[str, dict[str, object]]:
    return {c["name"]: c for c in json.loads(text)["components"]}


def _licences(component: dict[str, object]) -> list[str]:
    found = []
    for entry in component.get("licenses", []):  # type: ignore[attr-defined]
        if "expression" in entry:
            found.append(entry["expression"])
        else:
            found.append(entry["license"].get("id") or entry["license"]["name"])
    return sorted(found)


def test_licences_come_from_the_field_the_expression_or_the_classifiers(tmp_path: Path) -> None:
    root = venv(tmp_path)
    metadata = {
        "field": "License: BSD-3-Clause\n",
        "expression": "License-Expression: MIT OR Apache-2.0\n",
        "classifiers": "Classifier: License :: OSI Approved :: MIT License\n"
        "Classifier: License :: OSI Approved :: Apache Software License\n"
        "Classifier: Programming Language :: Python\n",
        # setuptools wrote UNKNOWN when setup() had no licence: the classifier says it
        "unknown": "License: UNKNOWN\nClassifier: License :: OSI Approved :: ISC License (ISCL)\n",
        # the whole licence text in License: its first line names it
        "text": "License: BSD 3-Clause License\n        \n        Copyright (c) 2020, Someone\n",
        "bare": "Classifier: License :: OSI Approved\n",
    }
    for name, extra in metadata.items():
        install_wheel(root, name, "1.0", metadata=f"Name: {name}\nVersion: 1.0\n{extra}")
    found = pydists.find(root, _lock(), None)
    components = _components(sbom.document("app", "1.0-1", found, 0))
    assert {n: _licences(c) for n, c in components.items()} == {
        "field": ["BSD-3-Clause"],
        "expression": ["MIT OR Apache-2.0"],
        "classifiers": ["Apache Software License", "MIT"],
        "unknown": ["ISC"],
        "text": ["BSD 3-Clause License"],
        "bare": [],
    }


def test_only_the_hash_of_the_installed_file_is_listed(tmp_path: Path) -> None:
    """A lock entry allows a wheel per platform and the sdist: the SBOM names the one installed."""
    root = venv(tmp_path)
    install_wheel(root, "click", "8.5.1")  # writes wheels/click-8.5.1-py3-none-any.whl
    wheels = tmp_path / "wheels"
    files = {"click/__init__.py": "# another build\n"}
    other = tinybackend.write_wheel(wheels, "click", "8.5.1", files, tag="cp311-cp311-win_amd64")
    sdist = tinybackend.write_sdist(wheels, "click", "8.5.1", {"src/click/__init__.py": ""})
    installed = fetch.sha256_hex(wheels / "click-8.5.1-py3-none-any.whl")
    allowed = (f"sha256:{fetch.sha256_hex(other)}", f"sha256:{installed}",
               f"sha256:{fetch.sha256_hex(sdist)}")  # fmt: skip
    found = pydists.find(root, _lock(("click", "8.5.1", allowed)), None)
    text = sbom.document("app", "1.0-1", pydists.with_installed(found, fetch.by_hash(wheels)), 0)
    assert _components(text)["click"]["hashes"] == [{"alg": "SHA-256", "content": installed}]
    for digest in allowed:
        if digest != f"sha256:{installed}":
            assert digest.split(":")[1] not in text
    # without the wheelhouse or the installer's report (an online uv build) the file cannot be
    # told: no hash, not all of them
    online = sbom.document("app", "1.0-1", pydists.with_installed(found, {}), 0)
    assert "hashes" not in _components(online)["click"]


def test_a_distribution_built_from_its_sdist_lists_the_sdist(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "click", "8.5.1")
    wheels = tmp_path / "wheels"
    (wheels / "click-8.5.1-py3-none-any.whl").unlink()  # the wheel was built here, from:
    sdist = tinybackend.write_sdist(wheels, "click", "8.5.1", {"src/click/__init__.py": ""})
    other = tinybackend.write_wheel(wheels, "click", "8.5.1", {}, tag="cp311-cp311-win_amd64")
    allowed = (f"sha256:{fetch.sha256_hex(other)}", f"sha256:{fetch.sha256_hex(sdist)}")
    found = pydists.find(root, _lock(("click", "8.5.1", allowed)), None)
    text = sbom.document("app", "1.0-1", pydists.with_installed(found, fetch.by_hash(wheels)), 0)
    assert _components(text)["click"]["hashes"] == [
        {"alg": "SHA-256", "content": fetch.sha256_hex(sdist)}
    ]
