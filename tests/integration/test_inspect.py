"""`venvrpm inspect` on RPMs made by real tools: venvrpm's own, signed, foreign, broken, not one."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import Built, require_tools
from tests.integration.test_lifecycle import throwaway_key
from tests.support.apps import BUNDLED_SONAME
from venvrpm import rpmbuild
from venvrpm.cli import main
from venvrpm.console import SCRIPTLET_LINES
from venvrpm.inspect import inspect_rpm
from venvrpm.plan import sign_command
from venvrpm.runner import HostRunner

pytestmark = pytest.mark.integration

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "venvrpm" / "schema" / "inspect.schema.json").read_text()
)


@pytest.fixture(autouse=True)
def tools() -> None:
    require_tools("rpm", "rpm2cpio")


def inspect_json(rpm: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    assert main(["inspect", str(rpm), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, SCHEMA)
    return document


def rpm_query(rpm: Path, *args: str) -> list[str]:
    return subprocess.run(
        ["rpm", "-qp", *args, str(rpm)], capture_output=True, text=True, check=True
    ).stdout.splitlines()


def test_json_report_of_a_venvrpm_rpm(smallapp: Built, capsys: pytest.CaptureFixture[str]) -> None:
    doc = inspect_json(smallapp.rpm, capsys)
    assert doc["ok"] is True and doc["built_by_venvrpm"] is True and doc["notes"] == []
    assert doc["sha256"] == hashlib.sha256(smallapp.rpm.read_bytes()).hexdigest()
    meta = doc["metadata"]
    assert (meta["name"], meta["version"], meta["release"], meta["arch"]) == (
        "smallapp", "1.0.0", "1", "x86_64",
    )  # fmt: skip
    assert meta["summary"] == "Tiny CLI with 100% awkward %{names}"
    assert (meta["license"], meta["payload_compressor"]) == ("MIT", "zstd")
    assert str(meta["build_time"]) == rpm_query(smallapp.rpm, "--queryformat", "%{BUILDTIME}")[0]
    assert doc["signature"] is None

    # the shipped list, with its hashes, agrees with the Provides and with the lock
    bundled = doc["bundled"]
    assert (bundled["source"], bundled["interpreter"]) == ("payload", "/usr/bin/python3.11")
    by_name = {d["name"]: d for d in bundled["distributions"]}
    assert set(by_name) == {"awkward-data", "sdistonly", "smallapp", "tinydep", "tinynative"}
    assert by_name["smallapp"]["origin"] == "project"
    lock = (smallapp.manifest.parent / "requirements.lock").read_text()
    assert by_name["tinydep"]["origin"] == "lock"
    assert by_name["tinydep"]["hashes"][0].removeprefix("sha256:") in lock
    provides = [f"{p['name']} {p['op']} {p['version']}".strip() for p in doc["provides"]]
    assert provides == rpm_query(smallapp.rpm, "--provides")
    requires = [f"{r['name']} {r['op']} {r['version']}".strip() for r in doc["requires"]]
    assert requires == [line.strip() for line in rpm_query(smallapp.rpm, "--requires")]

    # sizes: the bundled soname is one file of exactly its size in the wheel
    sizes = doc["size_by_package"]
    per_name = {s["name"]: s for s in sizes["site_packages"]}
    wheel = next((smallapp.manifest.parent / "wheels").glob("tinynative-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        soname = zf.getinfo(f"tinynative.libs/{BUNDLED_SONAME}").file_size
    assert per_name["tinynative.libs"] == {"name": "tinynative.libs", "size": soname, "files": 1}
    listed = [s["size"] for s in sizes["site_packages"]]
    assert listed == sorted(listed, reverse=True)
    dump = rpm_query(smallapp.rpm, "--queryformat", "[%{FILESIZES} %{FILEMODES}\n]")
    regular = [int(size) for size, mode in map(str.split, dump) if stat.S_ISREG(int(mode))]
    assert sum(listed) + sizes["other"]["size"] == sum(regular)
    assert sum(s["files"] for s in sizes["site_packages"]) + sizes["other"]["files"] == len(regular)


def test_human_report_of_a_venvrpm_rpm(smallapp: Built, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(smallapp.rpm)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert lines[0] == smallapp.rpm.name
    assert "  summary         Tiny CLI with 100% awkward %{names}" in lines
    assert "  signature       unsigned" in lines
    assert "  payload         zstd" in lines
    assert (
        "bundled distributions: 5, from the shipped list (interpreter /usr/bin/python3.11)" in lines
    )
    rows = [line.split() for line in lines if line.startswith("  tinydep ")]
    assert rows[0] == ["tinydep", "1.0", "lock", "1"]  # the bundled table: 1 hash
    assert rows[1][-1] == "2"  # the size table: __init__.py and its .pyc
    assert "  /usr/bin/python3.11" in lines and "scriptlets: 0" in lines
    assert not [line for line in lines if line.startswith("note:")]


def test_signed_rpm_shows_its_key(
    smallapp: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    require_tools("rpmsign", "gpg", "gpgconf")
    throwaway_key(tmp_path, monkeypatch)
    signed = tmp_path / smallapp.rpm.name
    shutil.copy(smallapp.rpm, signed)
    try:
        host = HostRunner(0)
        argv = sign_command(*rpmbuild.find_signing(host), "signing@example.invalid")
        rpmbuild.sign(argv, "signing@example.invalid", signed, host)
        listed = subprocess.run(
            ["gpg", "--list-keys", "--with-colons", "signing@example.invalid"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:  # the agent gpg started for this GNUPGHOME
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], check=False)
    key_id = next(line.split(":")[4] for line in listed.splitlines() if line.startswith("pub:"))
    doc = inspect_json(signed, capsys)
    assert doc["signature"]["key_id"] == key_id.lower()
    assert main(["inspect", str(signed)]) == 0
    lines = capsys.readouterr().out.splitlines()
    (line,) = [x for x in lines if x.startswith("  signature ")]
    assert line.startswith(f"  signature       key {key_id.lower()} (RSA/")


FOREIGN_SPEC = """\
Name: foreign
Version: 2.1
Release: 3
Epoch: 1
Summary: Not from venvrpm
License: GPL-2.0-or-later
BuildArch: noarch
Provides: bundled(python3dist(six)) = 1.16.0

%description
A hand-written package.

%install
mkdir -p %{buildroot}/usr/lib/python3.11/site-packages/foo
echo 'x = 1' > %{buildroot}/usr/lib/python3.11/site-packages/foo/__init__.py

%post
echo "installed 'quoted' $1"
"""


def test_an_rpm_not_built_by_venvrpm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_tools("rpmbuild")
    body = "".join(f"echo step {n}\n" for n in range(SCRIPTLET_LINES + 2))
    spec = tmp_path / "foreign.spec"
    spec.write_text(
        FOREIGN_SPEC + body + "\n%files\n/usr/lib/python3.11/site-packages/foo\n", encoding="utf-8"
    )
    rpm = _rpmbuild(spec, tmp_path / "top")

    doc = inspect_json(rpm, capsys)
    assert doc["built_by_venvrpm"] is False
    assert doc["metadata"]["epoch"] == 1
    assert doc["bundled"] == {
        "source": "provides",
        "interpreter": None,
        "distributions": [{"name": "six", "version": "1.16.0", "origin": None, "hashes": []}],
    }
    assert doc["size_by_package"]["site_packages"] == [{"name": "foo", "size": 6, "files": 1}]
    (post,) = doc["scriptlets"]
    assert post == {
        "name": "post",
        "interpreter": "/bin/sh",
        "body": "echo \"installed 'quoted' $1\"\n" + body.rstrip("\n"),
    }
    (note,) = doc["notes"]
    assert "not built by venvrpm" in note

    assert main(["inspect", str(rpm)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "  %post (/bin/sh)" in lines
    assert "    ... 3 more lines (--json shows them whole)" in lines
    assert lines[-1].startswith("note: not built by venvrpm: it ships no /usr/share/doc/foreign/")


def test_a_file_that_is_not_an_rpm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text("name: smallapp\n")
    assert main(["inspect", str(manifest)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert f"error: {manifest} is not an RPM" in captured.err and "hint:" in captured.err
    assert main(["inspect", str(manifest), "--json"]) == 2
    failed = json.loads(capsys.readouterr().out)
    jsonschema.validate(failed, SCHEMA)
    assert failed["ok"] is False and failed["exit_code"] == 2 and failed["error"]["hint"]


def test_damaged_rpms(smallapp: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = smallapp.rpm.read_bytes()
    # the header cut short: rpm cannot read it, so it is no RPM to report on (exit 2)
    cut = tmp_path / "cut.rpm"
    cut.write_bytes(data[:3000])
    assert main(["inspect", str(cut)]) == 2
    err = capsys.readouterr().err
    assert f"error: {cut} is not a readable RPM" in err and "hint:" in err
    assert "Traceback" not in err
    # the payload cut short: the header is reported, the list comes from the Provides, a note
    truncated = tmp_path / "truncated.rpm"
    truncated.write_bytes(data[:-2000])
    doc = inspect_json(truncated, capsys)
    assert doc["bundled"]["source"] == "provides"
    (note,) = doc["notes"]
    assert "could not be read from the payload" in note and "damaged or truncated" in note


def test_no_shell_and_nothing_left_behind(smallapp: Built) -> None:
    """Commands are argv lists; inspecting writes nothing in TMPDIR."""
    calls: list[tuple[str, ...]] = []
    runner = HostRunner(0, on_command=lambda argv: calls.append(tuple(argv)))
    inspect_rpm(smallapp.rpm, runner)
    assert [Path(c[0]).name for c in calls] == ["rpm", Path(sys.executable).name]
    assert not any(c[0] in ("sh", "/bin/sh", "bash") for c in calls)
    assert list(Path(os.environ["TMPDIR"]).iterdir()) == []


# --- RPMs someone else made, made hostile: bounded work, no traceback, escaped strings ---

HOSTILE_SPEC = """\
Name: hostile
Version: 1
Release: 1
Summary: tool \x1b]0;pwned\x07 \u202eevil\u202c [bold]x[/]
License: MIT
BuildArch: noarch
%define _binary_payload w3.zstdio

%description
A package made to hurt the tools that read it.

%install
mkdir -p %{buildroot}/opt/hostile %{buildroot}/usr/share/doc/hostile %{buildroot}/usr/zzz
printf '%s' '@DOCUMENT@' > %{buildroot}/usr/share/doc/hostile/bundled-distributions.json
truncate -s @BEFORE@ %{buildroot}/opt/hostile/zeros
truncate -s @AFTER@ %{buildroot}/usr/zzz/zeros

%files
/opt/hostile
/usr/share/doc/hostile
/usr/zzz
"""
VALID_LIST = '{"interpreter": "/usr/bin/python3", "distributions": []}'


def hostile_rpm(tmp_path: Path, document: str, *, before: int = 0, after: int = 0) -> Path:
    """An RPM whose payload has *before* zeros, then venvrpm's list holding *document*, then *after*.

    A file of zeros compresses to almost nothing: the RPM stays small while its payload is large.
    """
    require_tools("rpmbuild", "truncate")
    spec = tmp_path / "hostile.spec"
    text = HOSTILE_SPEC.replace("@BEFORE@", str(before)).replace("@AFTER@", str(after))
    spec.write_text(text.replace("@DOCUMENT@", document), encoding="utf-8")
    rpm = _rpmbuild(spec, tmp_path / "top")
    return rpm


def test_a_deeply_nested_list_and_hostile_strings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """200,000 ``[`` crashed inspect with a RecursionError; the summary's OSC retitled the terminal.

    The payload holds 64 MiB after the list and venvrpm reads at most 4 MiB of it here: the list is
    read all the same, because the payload is read up to the list and no further.
    """
    rpm = hostile_rpm(tmp_path, "[" * 200_000, after=64 << 20)
    monkeypatch.setattr("venvrpm.inspect.PAYLOAD_LIMIT", 4 << 20)
    assert main(["inspect", str(rpm), "--json"]) == 0
    document = json.loads(capfd.readouterr().out)
    jsonschema.validate(document, SCHEMA)
    assert document["bundled"]["source"] is None
    (note,) = document["notes"]
    assert "bundled-distributions.json cannot be read (it is nested more than 16 levels" in note

    assert main(["inspect", str(rpm)]) == 0
    out = capfd.readouterr().out
    assert "  summary         tool \\x1b]0;pwned\\x07 \\u202eevil\\u202c [bold]x[/]" in out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out

    require_tools("rpmlint")
    main(["lint", str(rpm)])
    captured = capfd.readouterr()
    assert "\x1b" not in captured.out + captured.err and "\u202e" not in captured.out + captured.err
    assert "\\x1b]0;pwned\\x07" in captured.out, "rpmlint quotes the summary, escaped"


def test_a_large_payload_is_not_read_to_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """inspect decompressed a whole payload to read one small member (8 GB of zeros: 9.7 s)."""
    rpm = hostile_rpm(tmp_path, VALID_LIST, before=256 << 20)
    assert rpm.stat().st_size < 1 << 20
    monkeypatch.setattr("venvrpm.inspect.PAYLOAD_LIMIT", 16 << 20)
    started = time.monotonic()
    assert main(["inspect", str(rpm), "--json"]) == 0
    elapsed = time.monotonic() - started
    document = json.loads(capsys.readouterr().out)
    (note,) = document["notes"]
    assert f"the payload is larger than the {16 << 20} bytes venvrpm reads of it" in note
    assert elapsed < 5, f"inspect took {elapsed:.1f}s"

    # a budget as large as the header's files: the list is reached
    monkeypatch.setattr("venvrpm.inspect.PAYLOAD_LIMIT", 1 << 30)
    assert inspect_json(rpm, capsys)["bundled"]["source"] == "payload"


def _rpmbuild(spec: Path, top: Path) -> Path:
    """The noarch RPM rpmbuild makes of *spec* (a package venvrpm did not make) under *top*."""
    subprocess.run(
        ["rpmbuild", "-bb", "--define", f"_topdir {top}", str(spec)],
        capture_output=True, check=True, env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"},
    )  # fmt: skip
    (rpm,) = (top / "RPMS" / "noarch").glob("*.rpm")
    return rpm
