"""venvrpm.buildreqs: the build lock's name and the build requirements read from sdists."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from venvrpm import buildreqs, project
from venvrpm.errors import LockError


def _tar(path: Path, members: dict[str, str], symlinks: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, text in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tf.addfile(info, io.BytesIO(text.encode()))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return path


def test_the_build_lock_is_named_after_the_lock() -> None:
    assert buildreqs.lock_path(Path("/a/requirements.lock")) == Path("/a/requirements-build.lock")
    assert buildreqs.lock_path(Path("/a/requirements.txt")) == Path("/a/requirements-build.txt")


def test_sdist_requires_are_read_from_the_archive(tmp_path: Path) -> None:
    pyproject = '[build-system]\nrequires = ["setuptools>=70.1", "wheel"]\n'
    sdist = _tar(
        tmp_path / "x-1.tar.gz", {"x-1/pyproject.toml": pyproject, "x-1/a/pyproject.toml": ""}
    )
    assert buildreqs.sdist_requires(sdist) == ("setuptools>=70.1", "wheel")
    archive = tmp_path / "y-1.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("y-1/pyproject.toml", "[build-system]\nrequires = []\n")
    assert buildreqs.sdist_requires(archive) == ()


def test_an_sdist_without_pyproject_gets_pep_518s_default(tmp_path: Path) -> None:
    sdist = _tar(tmp_path / "x-1.tar.gz", {"x-1/setup.py": ""})
    assert buildreqs.sdist_requires(sdist) == project.DEFAULT_REQUIRES


def test_a_symlinked_pyproject_is_never_followed(tmp_path: Path) -> None:
    sdist = _tar(tmp_path / "x-1.tar.gz", {}, symlinks={"x-1/pyproject.toml": "/etc/passwd"})
    assert buildreqs.sdist_requires(sdist) == project.DEFAULT_REQUIRES


def test_a_broken_sdist_is_a_clean_error(tmp_path: Path) -> None:
    bad = tmp_path / "x-1.tar.gz"
    bad.write_bytes(b"not an archive")
    with pytest.raises(LockError, match=r"cannot read the build requirements of x-1\.tar\.gz"):
        buildreqs.sdist_requires(bad)
    sdist = _tar(tmp_path / "y-1.tar.gz", {"y-1/pyproject.toml": "[build-system]\nrequires = 1\n"})
    with pytest.raises(LockError, match="not a list of strings"):
        buildreqs.sdist_requires(sdist)
