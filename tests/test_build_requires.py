"""build.requires (issue 17, defect 5): the grammar, the SRPM's BuildRequires, the check before
the build, and the error that names what a build from source misses."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from venvrpm import backends, manifest, srpm, venvbuild
from venvrpm.errors import ManifestError, ToolMissingError
from venvrpm.runner import HostRunner

BASE = """\
name: pgapp
version: 1.0.0
summary: s
license: MIT
python: {python}
requirements: requirements.lock
"""


def load(
    tmp_path: Path, requires: list[str], python: str = "/usr/bin/python3.11"
) -> manifest.Manifest:
    (tmp_path / "requirements.lock").write_text("")
    text = BASE.format(python=python) + f"build:\n  requires: {json.dumps(requires)}\n"
    (tmp_path / "app.yaml").write_text(text)
    return manifest.load(tmp_path / "app.yaml")


def test_build_requires_are_read_as_written(tmp_path: Path) -> None:
    found = load(tmp_path, ["gcc", "libpq-devel >= 13", "python3.11-devel", "/usr/bin/pg_config"])
    assert found.build.requires == ("gcc", "libpq-devel >= 13", "python3.11-devel",
                                    "/usr/bin/pg_config")  # fmt: skip


@pytest.mark.parametrize(
    "value",
    ["gcc\nBuildRequires: evil", "gcc\n", "%{lua:os.execute('id')}", "gcc %{?x}", "-q",
     "gcc >=13", "gcc  >= 13", "gcc >= 1 2", "/usr//bin/x", "/usr/bin/", "/usr/./bin/x", ""],
)  # fmt: skip
def test_a_value_outside_the_grammar_of_an_rpm_dependency_is_refused(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(ManifestError) as info:
        load(tmp_path, [value])
    assert any("build.requires[0]" in str(p) for p in info.value.problems), info.value.problems


def test_the_source_rpm_build_requires_them(tmp_path: Path) -> None:
    found = load(tmp_path, ["gcc", "libpq-devel >= 13"])
    binary = "Name: pgapp\nAutoReqProv:    no\n\n%files\n/opt/pgapp\n"
    text = srpm.source_spec(binary, found, 1)
    assert "BuildRequires:  /usr/bin/python3.11\nBuildRequires:  gcc\n" in text
    assert "BuildRequires:  libpq-devel >= 13\n" in text


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("    Error: pg_config executable not found.\n", ["pg_config"]),
        ("psycopg/psycopg.h:36:10: fatal error: libpq-fe.h: No such file or directory\n",
         ["the header libpq-fe.h"]),
        ("In file included from x.c:1:\nfatal error: Python.h: No such file or directory",
         ["the header Python.h"]),
        ("error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory",
         ["the compiler x86_64-linux-gnu-gcc"]),
        ("error: command '/usr/bin/gcc' failed: No such file or directory",
         ["the compiler gcc"]),
        ("unable to execute 'gcc': No such file or directory", ["the compiler gcc"]),
        ("sh: 1: gcc: not found\n", ["the compiler gcc"]),
        ("/bin/sh: 1: mysql_config: not found\n", ["mysql_config"]),
        ("xml2-config: command not found\n", ["xml2-config"]),
        ("ERROR: Unknown compiler(s): [['cc'], ['gcc']]", ["a compiler"]),
        ("error: command 'gcc' failed with exit code 1\nsyntax error in foo.c", []),
        ("ModuleNotFoundError: No module named 'setuptools'", []),
    ],
)  # fmt: skip
def test_what_a_failed_build_from_source_misses(output: str, expected: list[str]) -> None:
    assert venvbuild.missing_build_tools(output) == expected


def test_a_missing_path_fails_before_the_build_naming_it(tmp_path: Path) -> None:
    (tmp_path / "present").write_text("")
    found = load(tmp_path, [str(tmp_path / "present"), str(tmp_path / "absent")], sys.executable)
    with pytest.raises(ToolMissingError) as info:
        backends.check_build_requires(found, HostRunner(1))
    assert info.value.message == f"build.requires not met on this host: {tmp_path / 'absent'}"


@pytest.mark.skipif(not Path("/var/lib/dpkg/status").exists(), reason="a Debian-family host")
def test_names_are_not_checked_on_a_debian_system_but_said_so(tmp_path: Path) -> None:
    found = load(tmp_path, ["gcc", sys.executable], sys.executable)
    assert backends.check_build_requires(found, HostRunner(1)) == ["gcc"]
