"""A wheel that bundles its own OpenSSL is reported by build and by inspect (docs/security.md,
FIPS): only the system's OpenSSL is the FIPS-validated module on a host in FIPS mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import tinybackend
from tests.support.apps import BUNDLED_SONAME, VERSIONS, make_smallapp, write_lock
from venvrpm.cli import main

pytestmark = pytest.mark.integration

CRYPTO = "libcrypto-0a1b2c3d.so.3"


def test_build_and_inspect_report_a_bundled_openssl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = make_smallapp(tmp_path / "app")
    wheels = tmp_path / "app" / "wheels"
    old = next(wheels.glob("tinynative-*.whl"))
    lib = (tmp_path / "app" / "native-build" / BUNDLED_SONAME).read_bytes()
    core = (tmp_path / "app" / "native-build" / "_core.so").read_bytes()
    old.unlink()
    # the same wheel, its .libs also holding a (stand-in) libcrypto, as psycopg2-binary's does
    rebuilt = tinybackend.write_wheel(
        wheels, "tinynative", "1.0",
        {"tinynative/__init__.py": "", "tinynative/_core.so": core,
         f"tinynative.libs/{BUNDLED_SONAME}": lib, f"tinynative.libs/{CRYPTO}": lib},
        tag="py3-none-linux_x86_64",
    )  # fmt: skip
    dists = {p.name.split("-")[0].replace("_", "-"): p for p in wheels.iterdir()}
    dists["tinynative"] = rebuilt
    write_lock(tmp_path / "app" / "requirements.lock", dists, VERSIONS)
    capsys.readouterr()
    assert main(["build", str(manifest), "-o", str(tmp_path / "dist")]) == 0
    err = capsys.readouterr().err
    said = (
        "tinynative.libs bundles its own OpenSSL: not the system's FIPS-validated module "
        f"({CRYPTO}); for FIPS, build tinynative from its sdist against the system's OpenSSL"
    )
    assert said in " ".join(err.split()), err
    (rpm,) = (tmp_path / "dist").glob("*.rpm")
    assert main(["inspect", str(rpm)]) == 0
    assert said in " ".join(capsys.readouterr().out.split())
