"""Red Hat's install-post chain (tests/support/redhat/macros) against venvrpm's spec header.

Each step gets a payload that provokes it, built by rpmbuild through a real ``%install``
(as a farm rebuilds the source RPM): with venvrpm's header (spec.NEUTRALISE) the RPM must ship
exactly what was staged, byte for byte and mode for mode, and nothing else (no debuginfo
package, no /usr/lib/.build-id); without it the same step must change or refuse the payload,
which proves the payload provokes it. docs/rpmbuild.md lists the steps.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_tools
from tests.support import redhat
from venvrpm.spec import NEUTRALISE

pytestmark = pytest.mark.integration

_C = "int probe(void) { return 42; }\n"


@dataclass(frozen=True)
class Result:
    ok: bool
    log: str
    rpms: list[Path]
    files: dict[str, tuple[str, str, str]]


def _elf(tmp: Path, *flags: str) -> bytes:
    """A small shared library with debug info and a build-id, as wheels' libraries often are."""
    (tmp / "probe.c").write_text(_C)
    out = tmp / "probe.so"
    subprocess.run(
        ["gcc", "-g", "-O1", "-shared", "-fPIC", "-Wl,--build-id", *flags, "-o", str(out),
         str(tmp / "probe.c")], check=True,
    )  # fmt: skip
    return out.read_bytes()


# step -> the files that provoke it (path -> (bytes, mode)); "@BUILDROOT@" becomes the build
# root's path.
def _payloads(tmp: Path) -> dict[str, dict[str, tuple[bytes, int]]]:
    site = "/opt/probe/lib/python3.11/site-packages"
    elf = _elf(tmp)
    return {
        # strip, strip-comment-note, find-debuginfo (debuginfo package, stripped library)
        "strip-and-debuginfo": {f"{site}/probe.libs/libprobe-1a2b3c4d.so": (elf, 0o644)},
        # brp-elfperms takes the executable bit off shared libraries (wheels ship 0755 ones)
        "elfperms": {f"{site}/native.cpython-311-x86_64-linux-gnu.so": (elf, 0o755)},
        # check-rpaths refuses a library whose RPATH is a standard directory
        "check-rpaths": {f"{site}/rpath.so": (_elf(tmp, "-Wl,-rpath,/usr/lib64"), 0o644)},
        # _build_id_links: /usr/lib/.build-id/xx/… links, which collide with other packages
        "build-id-links": {"/opt/probe/bin/python3.11": (elf, 0o755)},
        # brp-python-bytecompile: recompiles with the system python, adds .opt-1.pyc
        "python-bytecompile": {f"{site}/mod.py": (b"VALUE = 1\n", 0o644)},
        # brp-mangle-shebangs: an unversioned python refuses the build; env is rewritten
        "mangle-shebangs": {
            f"{site}/tool/cli.py": (b"#!/usr/bin/env python\nprint(1)\n", 0o755),
            f"{site}/tool/run.sh": (b"#!/usr/bin/env bash\necho 1\n", 0o755),
        },
        # check-buildroot: the build root's path in a file
        "check-buildroot": {"/opt/probe/where.txt": (b"built in @BUILDROOT@\n", 0o644)},
        # brp-compress: man pages gzipped (and symlinks to them re-pointed)
        "compress": {"/usr/share/man/man1/probe.1": (b".TH PROBE 1\nprobe\n", 0o644)},
    }


def _build(
    tmp: Path, files: dict[str, tuple[bytes, int]], header: str
) -> tuple[Result, dict[str, tuple[str, str, str]]]:
    """rpmbuild -bb of a spec whose %install copies *files* into the build root."""
    top, buildroot, src = tmp / "top", tmp / "buildroot", tmp / "src"
    staged: dict[str, tuple[str, str, str]] = {}
    for path, (data, mode) in files.items():
        data = data.replace(b"@BUILDROOT@", str(buildroot).encode())
        dest = src / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        dest.chmod(mode)
        staged[path] = (f"{0o100000 | mode:o}", hashlib.sha256(data).hexdigest(), "")
    spec = tmp / "probe.spec"
    spec.write_text(
        header
        + textwrap.dedent(f"""\
        Name: probe
        Version: 1
        Release: 1
        Summary: probe
        License: MIT
        AutoReqProv: no
        %description
        probe

        %prep
        %setup -q -c -T -n probe-1
        cp -a {src}/. .

        %build

        %install
        cp -a . %{{buildroot}}/

        %files
        """)
        + "".join(f"{p}\n" for p in files)
    )
    env = {**os.environ, "HOME": str(redhat.home(tmp / "home"))}
    run = subprocess.run(
        ["rpmbuild", "-bb", "--define", f"_topdir {top}", "--buildroot", str(buildroot), str(spec)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    rpms = sorted((top / "RPMS").rglob("*.rpm")) if (top / "RPMS").is_dir() else []
    main = [r for r in rpms if r.name.startswith("probe-1-")]
    shipped = redhat.shipped(main[0]) if run.returncode == 0 and main else {}
    return Result(run.returncode == 0, run.stdout + run.stderr, rpms, shipped), staged


STEPS = (
    "strip-and-debuginfo",
    "elfperms",
    "check-rpaths",
    "build-id-links",
    "python-bytecompile",
    "mangle-shebangs",
    "check-buildroot",
    "compress",
)


@pytest.mark.parametrize("step", STEPS)
def test_venvrpms_header_neutralises_the_step(tmp_path: Path, step: str) -> None:
    require_tools("rpmbuild", *redhat.TOOLS)
    files = _payloads(tmp_path)[step]
    kept, staged = _build(tmp_path / "venvrpm", files, NEUTRALISE)
    assert kept.ok, kept.log[-3000:]
    assert [r.name for r in kept.rpms] == ["probe-1-1.x86_64.rpm"], "a debuginfo package was made"
    assert kept.files == staged, "the shipped payload is not what was staged"
    # control: the same payload under the same configuration without venvrpm's header
    changed, _ = _build(tmp_path / "plain", files, "")
    assert not changed.ok or changed.files != staged or len(changed.rpms) > 1, (
        f"{step}: the payload does not provoke the step; the test proves nothing\n"
        + changed.log[-2000:]
    )
