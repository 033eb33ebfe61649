"""rpm.compression and build.installer: manifest -> plan, bad values named with their line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.test_plan import DATA, plan_for
from venvrpm import manifest
from venvrpm.errors import ManifestError
from venvrpm.plan import binary_payload


@pytest.mark.parametrize(
    ("value", "payload"),
    [("zstd", "w3T0.zstdio"), ("zstd:9", "w9T0.zstdio"), ("zstd:19", "w19T0.zstdio"), ("zstd:1", "w1T0.zstdio"),
     ("xz", "w6T0.xzdio"), ("xz:9", "w9T0.xzdio"), ("gzip", "w9.gzdio"), ("gzip:1", "w1.gzdio")],
)  # fmt: skip
def test_compression_becomes_rpms_binary_payload(tmp_path: Path, value: str, payload: str) -> None:
    source = _manifest_with(tmp_path, f"rpm:\n  compression: {value}\n")
    loaded = manifest.load(source)
    assert binary_payload(*loaded.compression) == payload


def test_the_default_is_threaded_zstd_3(tmp_path: Path) -> None:
    assert plan_for(tmp_path).binary_payload == "w3T0.zstdio"


def test_the_schema_documents_the_default_the_code_applies() -> None:
    documented = manifest.schema()["properties"]["rpm"]["properties"]["compression"]["default"]
    assert documented == "{}:{}".format(*manifest.DEFAULT_COMPRESSION)


@pytest.mark.parametrize(
    ("value", "message"),
    [("zstd:20", "zstd levels go from 1 to 19"), ("gzip:0", "gzip levels go from 1 to 9"),
     ("xz:10", "xz levels go from 0 to 9"), ("lz4", "rpm.compression: 'lz4'"),
     ("zstd:", "rpm.compression: 'zstd:'")],
)  # fmt: skip
def test_bad_compression_is_named_with_its_line(tmp_path: Path, value: str, message: str) -> None:
    source = _manifest_with(tmp_path, f"rpm:\n  compression: '{value}'\n")
    line = source.read_text().count("\n")
    with pytest.raises(ManifestError) as info:
        manifest.load(source)
    found = [str(p) for p in info.value.problems]
    assert any(message in p and f"line {line}" in p for p in found), found


def test_installer_is_pip_unless_uv_is_chosen(tmp_path: Path) -> None:
    assert manifest.load(DATA / "good.yaml").build.installer == "pip"
    loaded = manifest.load(_manifest_with(tmp_path, "build:\n  installer: uv\n"))
    assert loaded.build.installer == "uv"
    with pytest.raises(ManifestError) as info:
        manifest.load(_manifest_with(tmp_path / "x", "build:\n  installer: poetry\n"))
    assert "build.installer" in str(info.value.problems[0])


def _manifest_with(tmp_path: Path, extra: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for item in DATA.iterdir():
        target = tmp_path / item.name
        if item.is_dir() and not target.exists():
            shutil.copytree(item, target, symlinks=True)
        elif item.is_file() and not target.exists():
            shutil.copy2(item, target)
    source = tmp_path / "good.yaml"
    source.write_text(source.read_text() + extra)
    return source
