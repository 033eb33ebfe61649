"""Provides and the SBOM tell the truth: a locked wheel cannot speak for another distribution."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import tinybackend
from tests.support.apps import VERSIONS, make_smallapp, write_lock
from venvrpm.cli import main

pytestmark = pytest.mark.integration


def test_a_wheel_that_plants_a_second_dist_info_fails_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """tinydep's wheel also installs glibc-99.dist-info and click-9.9.9.dist-info (through its
    .data/purelib): before, they became ``Provides: bundled(python3dist(glibc)) = 99`` and SBOM
    components. Now the build fails naming them and the wheel that wrote them."""
    manifest = make_smallapp(tmp_path / "app")
    wheels = manifest.parent / "wheels"
    planted = "tinydep-1.0.data/purelib"
    for wheel in wheels.glob("tinydep-*.whl"):
        wheel.unlink()
    dists = {p.name.split("-")[0].replace("_", "-"): p for p in wheels.iterdir()}
    dists["tinydep"] = tinybackend.write_wheel(wheels, "tinydep", "1.0", {
        "tinydep/__init__.py": "VALUE = 'tinydep 1.0'\n",
        f"{planted}/glibc-99.dist-info/METADATA": "Metadata-Version: 2.1\nName: glibc\nVersion: 99\n",
        f"{planted}/glibc-99.dist-info/INSTALLER": "pip\n",
        f"{planted}/glibc-99.dist-info/RECORD": "glibc-99.dist-info/METADATA,,\n",
        f"{planted}/click-9.9.9.dist-info/METADATA": "Metadata-Version: 2.1\nName: click\nVersion: 9.9.9\n",
    }, scripts={"tinydep-tool": "#!python\nimport tinydep\nprint(tinydep.VALUE)\n"})  # fmt: skip
    write_lock(manifest.parent / "requirements.lock", dists, VERSIONS)
    out = manifest.parent / "dist"

    code = main(["build", str(manifest), "-o", str(out)])

    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err
    assert "glibc-99.dist-info: written by tinydep 1.0" in err, err
    assert "click-9.9.9.dist-info: written by tinydep 1.0" in err, err
    assert "hint:" in err
    assert not out.exists() or list(out.iterdir()) == [], "an RPM was written"
    assert list(Path(os.environ["TMPDIR"]).iterdir()) == [], "work directory left behind"
