"""The environment cache is untrusted input: real builds against caches an attacker prepared, or
that cannot be written. A build never fails because of its cache and never runs or ships what
the cache holds unchecked (docs/security.md, "The environment cache")."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tools
from tests.support.apps import make_smallapp
from venvrpm.cli import main

# about the cache itself: each test's starts empty (no seeded pip, tests/conftest.py)
pytestmark = [pytest.mark.integration, pytest.mark.cold_pip]


def _build(manifest: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code = main(["build", str(manifest), "-o", str(manifest.parent / "dist"), "--json"])
    document: dict[str, object] = json.loads(capsys.readouterr().out)
    assert code == 0, document.get("error")
    return document


def _cache_warnings(document: dict[str, object]) -> list[str]:
    warnings = document["warnings"]
    assert isinstance(warnings, list)
    return [w for w in warnings if "cache" in w]


@pytest.fixture
def mounted() -> Iterator[list[Path]]:
    """Mount points to unmount after the test, whatever happens."""
    points: list[Path] = []
    yield points
    for point in points:
        subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.mark.parametrize(
    "options", ["ro,mode=0755", "size=64k,mode=0755"], ids=["read-only", "full"]
)
def test_a_read_only_or_full_cache_never_fails_a_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mounted: list[Path], options: str
) -> None:
    require_tools("rpmbuild", "mount")
    cache = Path(os.environ["VENVRPM_CACHE_DIR"])
    cache.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(cache)], check=True)
    mounted.append(cache)
    document = _build(make_smallapp(tmp_path / "app"), capsys)
    (warning,) = _cache_warnings(document)
    assert str(cache) in warning and "without it" in warning


def test_a_cache_owned_by_another_user_is_not_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tools("rpmbuild")
    cache = Path(os.environ["VENVRPM_CACHE_DIR"])
    cache.mkdir()
    os.chown(cache, 4242, 4242)  # the tests run as root: another user's directory
    document = _build(make_smallapp(tmp_path / "app"), capsys)
    (warning,) = _cache_warnings(document)
    assert str(cache) in warning and "VENVRPM_CACHE_DIR" in warning
    assert list(cache.iterdir()) == [], "root wrote into another user's cache"


def test_a_tampered_shared_pip_is_never_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tools("rpmbuild")
    cache = Path(os.environ["VENVRPM_CACHE_DIR"])
    _build(make_smallapp(tmp_path / "first"), capsys)  # fills the cache, pip included
    marker = tmp_path / "pip-ran-the-planted-code"
    planted = f"open({str(marker)!r}, 'w').close()\n".encode()
    mains = list(cache.rglob("pip/__main__.py"))
    assert mains, "no pip kept in the cache"
    for path in mains:
        edited = planted + path.read_bytes()
        path.unlink()  # a new file: the stage's copy of the old one stays as it was
        path.write_bytes(edited)
        # and, as an attacker who can write the cache would, its record too
        for record_path in [p / "entry.json" for p in path.parents if (p / "entry.json").is_file()]:
            record = json.loads(record_path.read_text())
            rel = str(path.relative_to(record_path.parent / "tree"))
            for row in record["files"]:
                if row[0] == rel:
                    row[3], row[4] = len(edited), hashlib.sha256(edited).hexdigest()
            record_path.write_text(json.dumps(record))
    # another application: its environment is not cached, so pip installs it
    document = _build(make_smallapp(tmp_path / "second", name="otherapp"), capsys)
    assert not marker.exists(), "the tampered pip in the cache ran"
    assert any("failed verification; rebuilt" in w for w in _cache_warnings(document))
