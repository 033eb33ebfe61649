"""Provides and the SBOM come only from distributions the installer installed, validated.

The venvs here are real installs: wheels made by tests/support/tinybackend.py, installed by
pypa/installer the way pip and venvrpm's in-process install do (RECORD, INSTALLER).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

from tests.support import limits, tinybackend
from venvrpm import pydists, sbom
from venvrpm.errors import VenvrpmError
from venvrpm.lockfile import Lock, LockedRequirement

SITE = "lib/python3.11/site-packages"


def venv(tmp_path: Path) -> Path:
    root = tmp_path / "venv"
    (root / SITE).mkdir(parents=True)
    (root / "bin").mkdir()
    return root


def install_wheel(
    root: Path,
    name: str,
    version: str,
    files: dict[str, str] | None = None,
    *,
    installer: bytes = b"pip\n",
    metadata: str | None = None,
) -> None:
    """Build *name*'s wheel and install it into the venv at *root* as pip would."""
    wheels = root.parent / "wheels"
    wheels.mkdir(exist_ok=True)
    wheel = tinybackend.write_wheel(
        wheels, name, version, files or {f"{name.replace('-', '_')}/__init__.py": ""}
    )
    if metadata is not None:
        wheel = _with_metadata(wheel, metadata)
    site = root / SITE
    scheme = {"purelib": str(site), "platlib": str(site), "scripts": str(root / "bin"),
              "data": str(root), "headers": str(root / "include")}  # fmt: skip
    destination = SchemeDictionaryDestination(scheme, interpreter="/usr/bin/python3",
                                              script_kind="posix")  # fmt: skip
    with WheelFile.open(wheel) as source:
        install(source, destination, {"INSTALLER": installer})


def _with_metadata(wheel: Path, metadata: str) -> Path:
    """*wheel* with its METADATA replaced (and RECORD kept true to it)."""
    import zipfile

    out = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith(".dist-info/METADATA"):
                data = metadata.encode()
            zout.writestr(info, data)
    out.replace(wheel)
    return wheel


def lock(**pins: str) -> Lock:
    return Lock(
        path=Path("requirements.lock"),
        requirements=tuple(
            LockedRequirement(
                name=n, version=v, hashes=(f"sha256:{'a' * 64}",), marker=None, line=i + 1
            )
            for i, (n, v) in enumerate(pins.items())
        ),
    )


def refused(root: Path, *words: str, pins: Lock | None = None) -> str:
    with pytest.raises(pydists.ProvenanceError) as caught:
        pydists.find(root, pins or lock(click="8.5.1", evil="1.0"), "app")
    error = caught.value
    assert isinstance(error, VenvrpmError) and error.exit_code == 1
    assert error.hint
    text = "\n".join([error.message, *error.details])
    for word in words:
        assert word in text, text
    return text


def test_installed_distributions_are_found_with_their_origin(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "click", "8.5.1")
    install_wheel(root, "Zope.Interface", "6.0")
    install_wheel(root, "app", "1.0", installer=b"venvrpm\n")
    found = pydists.find(root, lock(click="8.5.1"), "app")
    assert [(d.name, d.version, d.origin) for d in found] == [
        ("app", "1.0", "project"),
        ("click", "8.5.1", "lock"),
        ("zope-interface", "6.0", "venv"),
    ]
    assert pydists.provides(found) == [
        "bundled(python3dist(app)) = 1.0",
        "bundled(python3dist(click)) = 8.5.1",
        "bundled(python3dist(zope-interface)) = 6.0",
    ]


def test_a_symlinked_lib64_is_not_read_twice(tmp_path: Path) -> None:
    root = venv(tmp_path)
    (root / "lib64").symlink_to("lib")
    install_wheel(root, "click", "8.5.1")
    assert [d.name for d in pydists.find(root, lock(click="8.5.1"), None)] == ["click"]


def test_a_dist_info_planted_by_another_wheel_is_refused(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "click", "8.5.1")
    install_wheel(root, "evil", "1.0", {
        "evil/__init__.py": "",
        "evil-1.0.data/purelib/glibc-99.dist-info/METADATA": "Name: glibc\nVersion: 99\n",
        "evil-1.0.data/purelib/glibc-99.dist-info/INSTALLER": "pip\n",
        "evil-1.0.data/purelib/glibc-99.dist-info/RECORD": "glibc-99.dist-info/METADATA,,\n",
    })  # fmt: skip
    refused(root, "glibc-99.dist-info", "evil 1.0")


def test_a_planted_newer_click_is_refused(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "click", "8.5.1")
    install_wheel(root, "evil", "1.0", {
        "evil/__init__.py": "",
        "evil-1.0.data/purelib/click-9.9.9.dist-info/METADATA": "Name: click\nVersion: 9.9.9\n",
    })  # fmt: skip
    refused(root, "click-9.9.9.dist-info", "evil 1.0")


def test_metadata_overwritten_by_another_wheel_is_refused(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "click", "8.5.1")
    # pip overwrites what a later wheel ships (pypa/installer refuses): fabricate its result
    install_wheel(root, "evil", "1.0", {
        "evil/__init__.py": "",
        "evil-1.0.data/purelib/click-8.5.1.dist-info/METADATA.new": "x",
    })  # fmt: skip
    record = root / SITE / "evil-1.0.dist-info" / "RECORD"
    record.write_text(record.read_text().replace("METADATA.new", "METADATA"))
    refused(root, "click-8.5.1.dist-info", "evil 1.0")


def test_a_path_or_a_second_dependency_in_a_name_is_refused(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "evil", "1.0", metadata="Name: evil)) = 1, /usr/bin/sudo, glibc\n"
                  "Version: 1.0\n")  # fmt: skip
    refused(root, "not a valid project name")


@pytest.mark.parametrize(
    "metadata",
    ["Name: evil\nVersion: 1.0\n 2\n", "Name: evil\n glibc\nVersion: 1.0\n",
     "Name: evil\nVersion: 1.0\nVersion: 2.0\n", "Name: evil\n"],
    ids=["folded-version", "folded-name", "two-versions", "no-version"],
)  # fmt: skip
def test_malformed_headers_are_a_clean_error(tmp_path: Path, metadata: str) -> None:
    root = venv(tmp_path)
    install_wheel(root, "evil", "1.0", metadata=metadata)
    refused(root, "evil-1.0.dist-info")


def test_an_invalid_version_is_a_clean_error(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "evil", "1.0", metadata="Name: evil\nVersion: 1.0 = 2\n")
    refused(root, "evil-1.0.dist-info", "not a valid version")


def test_metadata_that_disagrees_with_its_directory_is_refused(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "evil", "1.0", metadata="Name: click\nVersion: 9.9.9\n")
    refused(root, "evil-1.0.dist-info", "click 9.9.9")


def test_a_dist_info_without_record_is_refused(tmp_path: Path) -> None:
    root = venv(tmp_path)
    info = root / SITE / "glibc-99.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Name: glibc\nVersion: 99\n")
    (info / "INSTALLER").write_text("pip\n")
    refused(root, "glibc-99.dist-info", "RECORD")


def test_a_fifo_planted_as_metadata_is_refused_not_waited_on(tmp_path: Path) -> None:
    """A backend that runs during the build can leave a FIFO where a file is read: opening it
    for reading blocked the build for ever. The alarm turns a hang into a failure."""
    import os
    import signal

    root = venv(tmp_path)
    install_wheel(root, "click", "8.5.1")
    installer = root / SITE / "click-8.5.1.dist-info" / "INSTALLER"
    installer.unlink()
    os.mkfifo(installer)

    def hung(signum: int, frame: object) -> None:
        raise AssertionError("reading the venv's metadata blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        refused(root, "click-8.5.1.dist-info", "INSTALLER")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_dist_info_without_installer_is_refused(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "click", "8.5.1")
    (root / SITE / "click-8.5.1.dist-info" / "INSTALLER").unlink()
    refused(root, "click-8.5.1.dist-info", "INSTALLER")


def test_a_record_that_does_not_list_its_metadata_is_refused(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "click", "8.5.1")
    record = root / SITE / "click-8.5.1.dist-info" / "RECORD"
    record.write_text("".join(line for line in record.read_text().splitlines(keepends=True)
                              if "/METADATA," not in line))  # fmt: skip
    refused(root, "click-8.5.1.dist-info", "METADATA")


def test_metadata_edited_after_the_install_is_refused(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "click", "8.5.1")
    (root / SITE / "click-8.5.1.dist-info" / "METADATA").write_text(
        "Name: click\nVersion: 8.5.1\n\n"
    )
    refused(root, "click-8.5.1.dist-info", "METADATA")


def test_two_distributions_of_one_name_are_refused(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "click", "8.5.1")
    fabricate(root / SITE / "Click-8.5.1.dist-info", "Name: Click\nVersion: 8.5.1\n")
    refused(root, "click-8.5.1.dist-info", "Click-8.5.1.dist-info")


def test_a_self_consistent_dist_info_is_accepted(tmp_path: Path) -> None:
    """What an installer leaves, made by hand: the rules are not pypa/installer's quirks."""
    root = venv(tmp_path)
    fabricate(root / SITE / "jaraco.text-4.0.0.dist-info", "Name: jaraco.text\nVersion: 4.0.0\n")
    assert [(d.name, d.version) for d in pydists.find(root, lock(), None)] == [
        ("jaraco-text", "4.0.0")
    ]


def test_a_version_other_than_the_locked_one_is_refused(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "click", "9.9.9")
    refused(root, "click 9.9.9", "8.5.1")


def test_licences_are_kept_only_when_short_and_printable(tmp_path: Path) -> None:
    root = venv(tmp_path)
    for name, licence in (("a", "License-Expression: MIT OR Apache-2.0"), ("b", "License: BSD"),
                          ("c", "License: MIT\n  and then the whole text"),
                          ("d", "License: " + "x" * 200), ("e", "License: MIT\x1b[2J")):  # fmt: skip
        install_wheel(root, name, "1.0", metadata=f"Name: {name}\nVersion: 1.0\n{licence}\n")
    found = pydists.find(root, lock(), None)
    assert [d.license for d in found] == ["MIT OR Apache-2.0", "BSD", None, None, None]


def test_versions_are_normalised_and_epochs_written_for_rpm(tmp_path: Path) -> None:
    root = venv(tmp_path)
    fabricate(root / SITE / "a-1.0-1.dist-info", "Name: a\nVersion: 1.0-1\n")
    fabricate(root / SITE / "b-1!2.0.dist-info", "Name: b\nVersion: 1!2.0\n")
    found = pydists.find(root, lock(), None)
    assert [d.version for d in found] == ["1.0.post1", "1!2.0"]
    assert pydists.provides(found) == [
        "bundled(python3dist(a)) = 1.0.post1",
        "bundled(python3dist(b)) = 1:2.0",
    ]


def test_provides_refuses_unvalidated_distributions() -> None:
    bad = pydists.Distribution("x)) = 1, /usr/bin/sudo", "1.0", "venv", ())
    with pytest.raises(pydists.ProvenanceError):
        pydists.provides((bad,))
    with pytest.raises(pydists.ProvenanceError):
        sbom.document("app", "1.0-1", (bad,), 0)


def test_the_sbom_names_only_what_was_installed(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "click", "8.5.1")
    text = sbom.document("app", "1.0-1", pydists.find(root, lock(click="8.5.1"), None), 0)
    assert "pkg:pypi/click@8.5.1" in text


def fabricate(info: Path, metadata: str, installer: str = "uv\n") -> None:
    """A dist-info as an installer leaves it: METADATA, INSTALLER and a RECORD of both."""
    info.mkdir()
    lines = []
    for name, text in (("METADATA", metadata), ("INSTALLER", installer)):
        data = text.encode()
        (info / name).write_bytes(data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{info.name}/{name},sha256={digest},{len(data)}\n")
    (info / "RECORD").write_text("".join(lines) + f"{info.name}/RECORD,,\n")


@pytest.mark.parametrize(
    "version", ["0", "1.0", "2!1.0a1.post2.dev3+ubuntu.1", "1.0rc1", "1.0.dev0", "2024.10.1+cpu"]
)
def test_every_valid_version_renders_a_provide_the_spec_accepts(version: str) -> None:
    from venvrpm import spec

    dist = pydists.Distribution("zope-interface", version, "lock", ())
    spec.check_provides(pydists.provides((dist,)))


def test_a_metadata_file_larger_than_the_limit_is_refused_not_read(tmp_path: Path) -> None:
    """Code run during the build can truncate METADATA to 1 TB (sparse): reading it whole was
    a MemoryError traceback."""
    root = venv(tmp_path)
    install_wheel(root, "click", "8.5.1")
    limits.sparse_terabyte(root / SITE / "click-8.5.1.dist-info" / "METADATA")
    with limits.address_space():  # a failure, not a full memory
        refused(root, "click-8.5.1.dist-info", "METADATA", "larger than")
