"""Relocation on small trees: what carries the staging root is rewritten, the rest refused."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from venvrpm import relocate
from venvrpm.errors import RelocationError


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    workdir = tmp_path / "work"
    stage = workdir / "stage"
    venv = stage / "opt" / "app"
    site = venv / "lib" / "python3.11" / "site-packages"
    (venv / "bin").mkdir(parents=True)
    site.mkdir(parents=True)
    return workdir, stage, venv


def site(venv: Path) -> Path:
    return venv / "lib" / "python3.11" / "site-packages"


def write_dist(venv: Path, name: str, files: dict[str, bytes]) -> Path:
    info = site(venv) / f"{name}-1.0.dist-info"
    info.mkdir()
    rows = []
    for rel, data in files.items():
        path = Path(os.path.normpath(site(venv) / rel))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append([rel, relocate.record_hash(data), str(len(data))])
    rows.append([f"{name}-1.0.dist-info/RECORD", "", ""])
    with (info / "RECORD").open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return info


def records(info: Path) -> dict[str, list[str]]:
    with (info / "RECORD").open() as fh:
        return {row[0]: row for row in csv.reader(fh)}


def test_shebangs_are_rewritten_and_record_follows(tree: tuple[Path, Path, Path]) -> None:
    workdir, stage, venv = tree
    script = f"#!{venv}/bin/python\nimport app\n".encode()
    info = write_dist(venv, "app", {"../../../bin/app": script, "app/__init__.py": b"x = 1\n"})
    result = relocate.relocate(stage, venv, workdir)
    fixed = (venv / "bin" / "app").read_bytes()
    assert fixed == b"#!/opt/app/bin/python\nimport app\n"
    assert venv / "bin" / "app" in result.rewritten
    row = records(info)["../../../bin/app"]
    assert row[1:] == [relocate.record_hash(fixed), str(len(fixed))]
    assert records(info)["app/__init__.py"][1] == relocate.record_hash(b"x = 1\n")


def test_after_a_restore_only_files_written_since_are_relocated(
    tree: tuple[Path, Path, Path],
) -> None:
    """A rebuild relocates what the project's install wrote; the installer's debris among
    those files (uv's .lock) is dropped first, without tripping the loop over them."""
    workdir, stage, venv = tree
    restored = venv / "restored.txt"
    restored.write_bytes(f"{venv}\n".encode())  # as restored: not looked at again
    before = relocate.snapshot(venv)
    info = write_dist(venv, "app", {"../../../bin/app": f"#!{venv}/bin/python\n".encode()})
    (venv / ".lock").write_bytes(b"")
    changed = relocate.changed_since(stage, before)
    assert venv / ".lock" in changed and restored not in changed
    result = relocate.relocate(stage, venv, workdir, changed)
    assert (venv / "bin" / "app").read_bytes() == b"#!/opt/app/bin/python\n"
    assert venv / ".lock" in result.removed and not (venv / ".lock").exists()
    assert records(info)["../../../bin/app"][1] == relocate.record_hash(b"#!/opt/app/bin/python\n")
    assert restored.read_bytes() == f"{venv}\n".encode()


def test_absolute_record_rows_lose_the_stage_even_when_csv_quotes_it(tmp_path: Path) -> None:
    """A quote in the work directory's path is doubled in RECORD's text: still found."""
    workdir = tmp_path / 'a"b'
    stage = workdir / "stage"
    venv = stage / "opt" / "app"
    (venv / "bin").mkdir(parents=True)
    site(venv).mkdir(parents=True)
    info = write_dist(venv, "app", {"app.py": b"x = 1\n"})
    with (info / "RECORD").open("a", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerow([f"{venv}/share/app.txt", "", ""])
    assert '""' in (info / "RECORD").read_text()
    relocate.relocate(stage, venv, workdir, paths=[])
    assert "/opt/app/share/app.txt" in records(info)
    assert str(stage) not in (info / "RECORD").read_text().replace('""', '"')


def test_pips_long_sh_launcher_becomes_a_plain_shebang(tree: tuple[Path, Path, Path]) -> None:
    workdir, stage, venv = tree
    launcher = (
        b"#!/bin/sh\n'''exec' \"" + os.fsencode(venv) + b'/bin/python" "$0" "$@"\n\' \'\'\'\n'
        b"import sys\n"
    )
    (venv / "bin" / "tool").write_bytes(launcher)
    relocate.relocate(stage, venv, workdir)
    assert (venv / "bin" / "tool").read_bytes() == b"#!/opt/app/bin/python\nimport sys\n"


def test_launcher_kept_when_the_final_path_is_still_too_long(tmp_path: Path) -> None:
    workdir = tmp_path / "w"
    stage = workdir / "stage"
    venv = stage / "opt" / ("x" * 130)
    (venv / "bin").mkdir(parents=True)
    launcher = b"#!/bin/sh\n'''exec' " + os.fsencode(venv) + b"/bin/python \"$0\" \"$@\"\n' '''\n"
    (venv / "bin" / "tool").write_bytes(launcher)
    relocate.relocate(stage, venv, workdir)
    text = (venv / "bin" / "tool").read_bytes()
    assert text.startswith(b"#!/bin/sh\n'''exec' /opt/" + b"x" * 130 + b"/bin/python ")


def test_every_text_file_carrying_the_stage_is_fixed(tree: tuple[Path, Path, Path]) -> None:
    workdir, stage, venv = tree
    (venv / "pyvenv.cfg").write_text(
        f"home = /usr/bin\ncommand = /build/venv/bin/python -m virtualenv {venv}\nversion = 3.11.2\n"
    )
    for name in ("activate", "activate.fish", "activate.xsh", "activate.some-future-shell"):
        (venv / "bin" / name).write_text(
            f"VIRTUAL_ENV='{venv}'\nexport PATH=\"{venv}/bin:$PATH\"\n"
        )
    (site(venv) / "extra.pth").write_text(f"{venv}/lib/extra\n")
    (venv / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    relocate.relocate(stage, venv, workdir)
    assert (venv / "pyvenv.cfg").read_text() == "home = /usr/bin\nversion = 3.11.2\n"
    for name in ("activate", "activate.fish", "activate.xsh", "activate.some-future-shell"):
        assert (venv / "bin" / name).read_text() == (
            "VIRTUAL_ENV='/opt/app'\nexport PATH=\"/opt/app/bin:$PATH\"\n"
        )
    assert (site(venv) / "extra.pth").read_text() == "/opt/app/lib/extra\n"
    assert not (venv / "CACHEDIR.TAG").exists()
    assert relocate.scan(stage, [os.fsencode(workdir)]) == []


def test_direct_url_into_the_workdir_is_dropped_with_its_record_row(
    tree: tuple[Path, Path, Path],
) -> None:
    workdir, stage, venv = tree
    local = {"url": f"file://{workdir}/src", "dir_info": {}}
    remote = {"url": "https://example.invalid/x.whl", "archive_info": {}}
    mine = write_dist(
        venv, "mine", {"mine-1.0.dist-info/direct_url.json": json.dumps(local).encode()}
    )
    other = write_dist(
        venv, "other", {"other-1.0.dist-info/direct_url.json": json.dumps(remote).encode()}
    )
    relocate.relocate(stage, venv, workdir)
    assert not (mine / "direct_url.json").exists()
    assert "mine-1.0.dist-info/direct_url.json" not in records(mine)
    assert (other / "direct_url.json").exists()
    assert "other-1.0.dist-info/direct_url.json" in records(other)


def test_symlinks_into_the_stage_are_relinked(tree: tuple[Path, Path, Path]) -> None:
    workdir, stage, venv = tree
    (venv / "bin" / "python").symlink_to("/usr/bin/python3.11")
    (venv / "bin" / "alias").symlink_to(venv / "bin" / "python")
    relocate.relocate(stage, venv, workdir)
    assert os.readlink(venv / "bin" / "alias") == "/opt/app/bin/python"
    assert os.readlink(venv / "bin" / "python") == "/usr/bin/python3.11"


def test_stale_bytecode_is_removed_for_recompilation(tree: tuple[Path, Path, Path]) -> None:
    workdir, stage, venv = tree
    pyc = site(venv) / "__pycache__" / "m.cpython-311.pyc"
    pyc.parent.mkdir()
    pyc.write_bytes(b"\x00" * 16 + os.fsencode(venv) + b"/lib/m.py")
    result = relocate.relocate(stage, venv, workdir)
    assert not pyc.exists() and pyc in result.removed


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("_ext.so", b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"RPATH=%s/lib\x00", "ELF binary"),
        ("blob.dat", b"\xff\xfe\x00binary %s\x00\xff", "binary data file"),
    ],
)
def test_binaries_carrying_the_stage_are_refused(
    tree: tuple[Path, Path, Path], name: str, content: bytes, message: str
) -> None:
    workdir, stage, venv = tree
    (site(venv) / name).write_bytes(content.replace(b"%s", os.fsencode(venv)))
    with pytest.raises(RelocationError) as info:
        relocate.relocate(stage, venv, workdir)
    assert any(name in d and message in d for d in info.value.details)


@pytest.mark.parametrize("name", ["mod.cpython-311.pyc", "_native.so", "data.txt", "RECORD"])
def test_scan_finds_a_planted_build_path_anywhere(tree: tuple[Path, Path, Path], name: str) -> None:
    workdir, stage, venv = tree
    (site(venv) / "clean.txt").write_text("nothing here\n")
    (site(venv) / name).write_bytes(b"\x7fELF\x00\x00" + os.fsencode(workdir) + b"/stage\x00")
    findings = relocate.scan(stage, [os.fsencode(workdir)])
    assert [f.path.name for f in findings] == [name]
    assert findings[0].where == "content at byte 6"


def test_scan_finds_a_path_straddling_read_chunks(tree: tuple[Path, Path, Path]) -> None:
    workdir, stage, venv = tree
    needle = os.fsencode(workdir)
    offset = (1 << 20) - 5
    (site(venv) / "big.bin").write_bytes(b"\x00" * offset + needle + b"\x00" * 100)
    (venv / "bin" / "link").symlink_to(f"{workdir}/elsewhere")
    found = {f.path.name: f.where for f in relocate.scan(stage, [needle])}
    assert found == {"big.bin": f"content at byte {offset}", "link": "symlink target"}
