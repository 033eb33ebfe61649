"""``venvrpm init --from-pypi`` against the real index: an application nobody here wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from venvrpm import manifest
from venvrpm.cli import main

pytestmark = pytest.mark.integration


def test_httpie_from_pypi_gets_its_real_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """httpie 3.2.4 declares http, https and httpie in its wheel's entry_points.txt; the
    manifest lists exactly those, follows the lock for its version and validates."""
    out = tmp_path / "httpie-rpm"
    code = main(["init", "--from-pypi", "httpie==3.2.4", "--python", "/usr/bin/python3.11",
                 str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    fields = yaml.safe_load((out / "app.yaml").read_text())
    assert fields["name"] == "httpie"
    assert fields["entry_points"] == ["http", "httpie", "https"]
    assert fields["version"] == {"from": "httpie"}
    assert fields["python"] == "/usr/bin/python3.11"
    assert fields["summary"].startswith("HTTPie")
    assert "httpie==3.2.4" in (out / "requirements.in").read_text().splitlines()
    loaded = manifest.load(out / "app.yaml")
    assert loaded.locks[0].inputs == ((out / "requirements.in").resolve(),)
    assert loaded.version_problem is not None  # until `venvrpm lock` writes the lock
    assert list(tmp_path.glob("tmp/venvrpm-init-*")) == [], "the download was not removed"
