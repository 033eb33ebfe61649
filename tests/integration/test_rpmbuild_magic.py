"""venvrpm's small magic database (venvrpm/rpmfc.magic) gives rpmbuild the same file colours
as the system's full one: the colour is what rpm keeps of libmagic's verdict."""

from __future__ import annotations

import _ctypes
import gzip
import os
import shutil
import struct
import subprocess
import zipfile
from importlib import resources
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SPEC = """\
Name: magic
Version: 1
Release: 1
Summary: s
License: MIT
AutoReqProv: no
%global __os_install_post %{nil}
%global debug_package %{nil}
%global _build_id_links none
%description
d
%files
/opt/magic
"""


def elf_header(word: int, order: str, kind: int) -> bytes:
    """A bare ELF header: class (1 = 32-bit, 2 = 64-bit), byte order, e_type."""
    fmt = "<" if order == "LSB" else ">"
    ident = b"\x7fELF" + bytes([word, 1 if order == "LSB" else 2, 1]) + bytes(9)
    machine = 3 if word == 1 else 62
    rest = struct.pack(fmt + "HHI", kind, machine, 1)
    return ident + rest + bytes(64 - len(ident) - len(rest))


def stage(root: Path) -> None:
    opt = root / "opt" / "magic"
    opt.mkdir(parents=True)
    shutil.copy("/usr/bin/true", opt / "exe64")
    shutil.copy(_ctypes.__file__, opt / "lib64.so")  # an extension module: a shared object
    (opt / "lib64.so").chmod(0o755)  # as wheels ship them; rpm colours executable ELF only
    (opt / "lib32.so").write_bytes(elf_header(1, "LSB", 3))
    (opt / "exe32-msb").write_bytes(elf_header(1, "MSB", 2))
    (opt / "obj64.o").write_bytes(elf_header(2, "LSB", 1))
    for name in ("lib32.so", "exe32-msb", "obj64.o"):
        (opt / name).chmod(0o755)
    (opt / "script").write_text("#!/usr/bin/python3\nprint('x')\n")
    (opt / "module.py").write_text("import os\n\ndef f():\n    return os.sep\n")
    (opt / "data.bin").write_bytes(bytes(range(256)) * 4)
    (opt / "empty").write_bytes(b"")
    (opt / "utf8.txt").write_text("naïve café\n", encoding="utf-8")
    (opt / "c.gz").write_bytes(gzip.compress(b"hello\n", mtime=0))
    with zipfile.ZipFile(opt / "a.zip", "w") as archive:
        archive.writestr("x.txt", "x")
    (opt / "link").symlink_to("exe64")
    (opt / "sub").mkdir()


def colours(tmp_path: Path, root: Path, magic: str | None) -> dict[str, str]:
    top = tmp_path / f"top-{magic is not None}"
    env = {k: v for k, v in os.environ.items() if k != "MAGIC"}
    if magic is not None:
        env["MAGIC"] = magic
    (tmp_path / "m.spec").write_text(SPEC)
    subprocess.run(
        ["rpmbuild", "-bb", "--noclean", "--define", f"_topdir {top}", "--buildroot", str(root),
         str(tmp_path / "m.spec")],
        check=True, capture_output=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    (rpm,) = (top / "RPMS").rglob("*.rpm")
    out = subprocess.run(
        ["rpm", "-qp", "--qf", "[%{FILENAMES} %{FILECOLORS}\n]", str(rpm)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return dict(line.rsplit(" ", 1) for line in out.splitlines())


def test_same_colours_as_the_full_database(tmp_path: Path) -> None:
    root = tmp_path / "root"
    stage(root)
    with resources.as_file(resources.files("venvrpm").joinpath("rpmfc.magic")) as magic:
        ours = colours(tmp_path, root, str(magic))
    full = colours(tmp_path, root, None)
    assert ours == full
    # the comparison means something: both word sizes were told apart
    assert ours["/opt/magic/exe64"] == ours["/opt/magic/lib64.so"] == "2"
    assert ours["/opt/magic/lib32.so"] == ours["/opt/magic/exe32-msb"] == "1"
    assert ours["/opt/magic/module.py"] == ours["/opt/magic/link"] == "0"
