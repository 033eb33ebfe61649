"""venvrpm.nativelibs: the shared libraries wheels bundle, from file names and a venv."""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

import pytest

from venvrpm import nativelibs, sbom


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("libssl-4f7f1e14.so.3", ("libssl", "3")),
        ("libpq-9c0c2e7b.so.5.16", ("libpq", "5.16")),
        ("libopenblas64_p-r0-15028c96.3.21.so", ("libopenblas64_p-r0", "3.21")),
        ("libgfortran-040039e1.so.5.0.0", ("libgfortran", "5.0.0")),
        ("libz.so.1.2.13", ("libz", "1.2.13")),
        ("libfoo.so", ("libfoo", None)),
    ],
)
def test_name_and_version_from_the_file_name(
    filename: str, expected: tuple[str, str | None]
) -> None:
    assert nativelibs.parse_name(filename) == expected


def test_only_shared_libraries_of_libs_directories_in_site_packages() -> None:
    site = "/opt/app/lib/python3.11/site-packages"
    found = nativelibs.from_paths([
        f"{site}/numpy.libs/libopenblas64_p-r0-15028c96.3.21.so",
        f"{site}/numpy.libs",
        f"{site}/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so",
        f"{site}/numpy.libs/README.txt",
        "/usr/lib64/libssl.so.3",
    ])  # fmt: skip
    assert [(n.directory, n.name, n.version) for n in found] == [
        ("numpy.libs", "libopenblas64_p-r0", "3.21")
    ]


def test_in_venv_follows_no_link(tmp_path: Path) -> None:
    libs = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "psycopg2_binary.libs"
    libs.mkdir(parents=True)
    (libs / "libpq-9c0c2e7b.so.5.16").write_bytes(b"\x7fELF")
    os.symlink("/usr/lib64/libssl.so.3", libs / "libssl-4f7f1e14.so.3")
    elsewhere = tmp_path / "elsewhere.libs"
    elsewhere.mkdir()
    (elsewhere / "libevil-00000000.so.1").write_bytes(b"")
    os.symlink(elsewhere, libs.parent / "linked.libs")
    found = nativelibs.in_venv(tmp_path / "venv", PurePosixPath("/opt/app"))
    assert [(n.path, n.name, n.version) for n in found] == [(
        "/opt/app/lib/python3.11/site-packages/psycopg2_binary.libs/libpq-9c0c2e7b.so.5.16",
        "libpq", "5.16",
    )]  # fmt: skip


def test_the_sbom_carries_them_marked_not_covered() -> None:
    library = nativelibs.NativeLibrary(
        path="/opt/app/lib/python3.11/site-packages/psycopg2_binary.libs/libpq-9c0c2e7b.so.5.16",
        directory="psycopg2_binary.libs", name="libpq", version="5.16",
    )  # fmt: skip
    document = json.loads(sbom.document("app", "1.0-1", (), 0, native=(library,)))
    (component,) = document["components"]
    assert (component["name"], component["version"], component["type"]) == (
        "libpq",
        "5.16",
        "library",
    )
    assert "purl" not in component
    assert {p["name"]: p["value"] for p in component["properties"]} == {
        "venvrpm:advisories": nativelibs.NOT_COVERED,
        "venvrpm:path": library.path,
    }
    app = next(d for d in document["dependencies"] if d["ref"] == "rpm:app@1.0-1")
    assert app["dependsOn"] == [component["bom-ref"]]
    assert (
        json.loads(sbom.document("app", "1.0-1", (), 0))["serialNumber"] != document["serialNumber"]
    )


def test_own_openssl_one_line_per_wheel_with_the_alternative() -> None:
    site = "/opt/app/lib/python3.11/site-packages"
    libs = nativelibs.from_paths([
        f"{site}/psycopg2_binary.libs/libcrypto-fb8d5b21.so.3",
        f"{site}/psycopg2_binary.libs/libssl-8a0b4c6d.so.3",
        f"{site}/psycopg2_binary.libs/libpq-9c0c2e7b.so.5.16",
        f"{site}/numpy.libs/libscipy_openblas64_-ff651d7f.so",
        f"{site}/other_wheel.libs/libcrypto.so.1.1",
        f"{site}/notlibs/libssl.so.3",
    ])  # fmt: skip
    lines = nativelibs.own_openssl(libs)
    assert [line.split(" ", 1)[0] for line in lines] == ["other_wheel.libs", "psycopg2_binary.libs"]
    assert nativelibs.OWN_OPENSSL in lines[1]
    assert "(libcrypto-fb8d5b21.so.3, libssl-8a0b4c6d.so.3)" in lines[1]
    assert "build psycopg2-binary from its sdist against the system's OpenSSL" in lines[1]
    assert (
        nativelibs.own_openssl(
            [lib for lib in libs if lib.name in ("libpq", "libscipy_openblas64_")]
        )
        == []
    )
