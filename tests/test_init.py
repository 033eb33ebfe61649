"""``venvrpm init``: pyproject.toml -> a manifest that validates, and nothing half-written."""

from __future__ import annotations

import errno
import itertools
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.version import Version

from tests.conftest import require_tools
from venvrpm import init, manifest
from venvrpm.cli import main
from venvrpm.errors import SystemRefusal, UsageError

PYPROJECT = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "My_App"
version = "1.2.3"
description = "Does useful things."
license = "MIT"
dependencies = ["click>=8", "requests[socks]>=2.31; python_version < '3.12'"]

[project.urls]
Homepage = "https://example.invalid/my-app"

[project.scripts]
my-app = "my_app:main"
my-app-admin = "my_app.admin:main"
"""


def _project(root: Path, text: str = PYPROJECT) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(text, encoding="utf-8")
    return root


def _render(**project: Any) -> init.Scaffold:
    return init.render({"project": {"name": "app", **project}})


def _fields(made: init.Scaffold) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(made.app_yaml)
    return loaded


# --- render: pure --------------------------------------------------------------------------


def test_render_maps_every_field(tmp_path: Path) -> None:
    made = init.render(init.read_pyproject(_project(tmp_path)))
    assert made.app_yaml.splitlines()[0] == "# yaml-language-server: $schema=venvrpm.schema.json"
    assert _fields(made) == {
        "name": "my-app",
        "version": "1.2.3",
        "summary": "Does useful things",
        "license": "MIT",
        "url": "https://example.invalid/my-app",
        "python": "/usr/bin/python3",
        "project": ".",
        "requirements": "requirements.txt",
        "lock": {"inputs": ["requirements.in"]},
        "entry_points": ["my-app", "my-app-admin"],
    }
    requirements = [
        line for line in made.requirements_in.splitlines() if line and not line.startswith("#")
    ]
    assert requirements == ["click>=8", "requests[socks]>=2.31; python_version < '3.12'"]
    assert made.warnings == ()
    assert made.placeholders == ()


def test_dynamic_version_is_a_placeholder_with_a_warning() -> None:
    made = _render(dynamic=["version"], description="x", license="MIT")
    assert _fields(made)["version"] == init.PLACEHOLDER
    assert "version: CHANGEME  # TODO: project.version is dynamic" in made.app_yaml
    assert made.placeholders == ("version",)
    assert any("project.version is dynamic" in w for w in made.warnings)


def test_nothing_but_a_name_gives_placeholders_that_validate() -> None:
    made = _render()
    assert made.placeholders == ("version", "summary", "license")
    assert len(made.warnings) == 3
    assert "entry_points" not in _fields(made) and "url" not in _fields(made)


@pytest.mark.parametrize(
    ("pep440", "rpm"),
    [
        ("1.0", "1.0"),
        ("v1.0", "1.0"),
        ("1.0rc1", "1.0~rc1"),
        ("1.0a1.dev2", "1.0~a1~dev2"),
        ("1.0.dev2", "1.0~~dev2"),
        ("1.0-1", "1.0.post1"),
        ("1.0.post1.dev2", "1.0.post1~dev2"),
        ("1.0+ubuntu.1", "1.0+ubuntu.1"),
        ("1!2.0", "2.0"),
    ],
)
def test_versions_become_rpm_versions_that_sort_like_pep440(pep440: str, rpm: str) -> None:
    version, note = init.rpm_version(pep440)
    assert version == rpm
    assert (note is None) == (pep440 == rpm)
    if "!" in pep440:
        assert note is not None and "epoch" in note


@pytest.mark.integration
def test_rpm_orders_the_versions_like_pip() -> None:
    require_tools("rpm")
    pep440 = ["1.0.dev1", "1.0a1.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0+local.1",
              "1.0.post1.dev1", "1.0.post1", "1.0.1", "1.10"]  # fmt: skip
    assert sorted(pep440, key=Version) == pep440
    converted = [init.rpm_version(v)[0] for v in pep440]
    calls = ", ".join(f"rpm.vercmp('{a}', '{b}')" for a, b in itertools.pairwise(converted))
    out = subprocess.run(
        ["rpm", "--eval", f"%{{lua: print(table.concat({{{calls}}}, ' '))}}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.split() == ["-1"] * (len(pep440) - 1), (converted, out)


@pytest.mark.parametrize(
    ("license", "classifiers", "expected", "warned"),
    [
        ("mit", [], "MIT", False),  # canonicalised
        ({"text": "Apache-2.0"}, [], "Apache-2.0", False),
        (
            {"file": "LICENSE"},
            ["License :: OSI Approved :: MIT License"],
            "MIT",
            True,
        ),
        ({"file": "LICENSE"}, [], init.PLACEHOLDER, True),
        ({"text": "Permission is hereby granted\nto anyone"}, [], init.PLACEHOLDER, True),
        ("Proprietary, see LICENSE", [], "Proprietary, see LICENSE", True),
        (None, ["License :: OSI Approved :: BSD License"], init.PLACEHOLDER, True),
    ],
)
def test_license_is_spdx_or_a_flagged_guess(
    license: object, classifiers: list[str], expected: str, warned: bool
) -> None:
    project: dict[str, Any] = {"classifiers": classifiers}
    if license is not None:
        project["license"] = license
    made = _render(**project)
    assert _fields(made)["license"] == expected
    assert any("license" in w for w in made.warnings) == warned


def test_url_prefers_homepage_then_source_by_pep753_label() -> None:
    urls = {"Bug Tracker": "https://b.invalid", "Source Code": "https://s.invalid"}
    assert _fields(_render(urls=urls))["url"] == "https://s.invalid"
    urls["home-page"] = "https://h.invalid"
    assert _fields(_render(urls=urls))["url"] == "https://h.invalid"


@pytest.mark.parametrize(
    "description",
    [
        "key: value # not a comment",
        "- starts like a list item",
        "'quoted' and \"double\"",
        "%{expand:macro} & *star* [x] {y} | z",
        "yes",
        "1.10",
    ],
)
def test_summary_text_survives_yaml(description: str) -> None:
    assert _fields(_render(description=description))["summary"] == description


def test_multiline_description_keeps_first_line() -> None:
    made = _render(description="First line\nSecond line")
    assert _fields(made)["summary"] == "First line"
    assert any("several lines" in w for w in made.warnings)


def test_names_are_canonicalised_and_odd_scripts_left_out() -> None:
    made = _render(name="Foo.Bar__baz", scripts={"ok": "m:f", "bad name": "m:g"})
    assert _fields(made)["name"] == "foo-bar-baz"
    assert _fields(made)["entry_points"] == ["ok"]
    assert any("'bad name'" in w for w in made.warnings)


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        ({"tool": {}}, "no [project] table"),
        ({"project": {}}, "project.name is missing"),
        ({"project": {"name": "a", "version": 1}}, "project.version must be a string"),
        ({"project": {"name": "a", "dependencies": ["ok>=1", "not a req !"]}}, "invalid"),
        ({"project": {"name": "a", "scripts": ["a"]}}, "project.scripts must be a table"),
    ],
)
def test_unusable_pyproject_is_a_usage_error(pyproject: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        init.render(pyproject)


# --- the generated manifest passes `venvrpm check`'s validation ----------------------------


@pytest.mark.parametrize(
    "text",
    [
        PYPROJECT,
        '[project]\nname = "bare"\ndynamic = ["version", "dependencies"]\n',
        '[project]\nname = "x"\nversion = "2.0rc1"\nlicense = {file = "LICENSE"}\n'
        'description = "Odd: summary # here"\n[project.scripts]\n"123" = "x:main"\n',
    ],
)
def test_generated_manifest_validates(tmp_path: Path, text: str) -> None:
    project = _project(tmp_path / "proj", text)
    written = init.scaffold(project)
    loaded = manifest.load(written.manifest)  # schema and semantic checks
    assert loaded.project == project.resolve()
    assert loaded.requirements == project.resolve() / "requirements.txt"
    assert [t.inputs for t in loaded.locks] == [(project.resolve() / "requirements.in",)]


# --- the command line ----------------------------------------------------------------------


def test_cli_happy_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path / "proj")
    assert main(["init", str(project)]) == 0
    err = capsys.readouterr().err
    assert f"venvrpm lock {project / 'app.yaml'}" in err
    assert f"venvrpm build {project / 'app.yaml'}" in err
    assert sorted(p.name for p in project.iterdir()) == [
        "app.yaml", "pyproject.toml", "requirements.in", "venvrpm.schema.json",
    ]  # fmt: skip
    assert (project / "venvrpm.schema.json").read_text() == manifest.schema_text()
    assert (project / "app.yaml").stat().st_mode & 0o777 == 0o644
    # `venvrpm check` accepts the manifest; only the lock is missing, and it says how to make it
    assert main(["check", str(project / "app.yaml")]) == 2  # a missing lock is missing input
    err = capsys.readouterr().err
    assert "does not exist" in err and "venvrpm lock" in err


def test_cli_default_dir_and_dynamic_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path / "proj", '[project]\nname = "dyn"\ndynamic = ["version"]\n')
    monkeypatch.chdir(project)
    assert main(["init"]) == 0
    err = capsys.readouterr().err
    assert "warning: project.version is dynamic" in err
    assert "set version, summary, license in app.yaml first" in err
    assert "next: `venvrpm lock app.yaml`" in err
    manifest.load(project / "app.yaml")


def test_cli_without_pyproject(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path)]) == 2
    assert f"no pyproject.toml in {tmp_path}" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]  # conftest's TMPDIR only


def test_cli_invalid_pyproject(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _project(tmp_path / "proj", "[project\nname = 1\n")
    assert main(["init", str(project)]) == 2
    assert "is not valid TOML" in capsys.readouterr().err
    assert [p.name for p in project.iterdir()] == ["pyproject.toml"]


@pytest.mark.parametrize(
    "existing", [["app.yaml"], ["requirements.in"], ["app.yaml", "requirements.in"]]
)
def test_cli_refuses_to_overwrite_and_writes_nothing(
    tmp_path: Path, existing: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path / "proj")
    for name in existing:
        (project / name).write_text("mine\n")
    assert main(["init", str(project)]) == 2
    err = capsys.readouterr().err
    assert (
        " and ".join(existing) + (" already exists" if len(existing) == 1 else " already exist")
        in err
    )
    assert "--force" in err
    assert sorted(p.name for p in project.iterdir()) == sorted(["pyproject.toml", *existing])
    assert all((project / name).read_text() == "mine\n" for name in existing)


def test_cli_force_replaces(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    for name in ("app.yaml", "requirements.in", "venvrpm.schema.json"):
        (project / name).write_text("mine\n")
    assert main(["init", "--force", str(project)]) == 0
    assert manifest.load(project / "app.yaml").name == "my-app"
    assert "click>=8" in (project / "requirements.in").read_text()
    assert (project / "venvrpm.schema.json").read_text() == manifest.schema_text()


def test_cli_keeps_an_existing_schema_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path / "proj")
    (project / "venvrpm.schema.json").write_text("{}\n")
    assert main(["init", str(project)]) == 0
    assert f"kept {project / 'venvrpm.schema.json'}" in capsys.readouterr().err
    assert (project / "venvrpm.schema.json").read_text() == "{}\n"
    assert (project / "app.yaml").is_file()


def test_cli_failed_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path / "proj")
    real_fsync = os.fsync
    calls = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the disk fills up while the second file is written
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(init.os, "fsync", fsync)
    assert main(["init", str(project)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert [p.name for p in project.iterdir()] == ["pyproject.toml"]


# --- --from-pypi: an application from the index, offline from a wheelhouse -----------------


def _index(root: Path) -> Path:
    """A local index (find-links) with tool-x 1.0 and 2.0 (other commands), and an sdist."""
    from tests.support import tinybackend

    root.mkdir(parents=True, exist_ok=True)
    for version, scripts in (("1.0", {"toolx": "tool_x:main"}),
                             ("2.0", {"toolx": "tool_x:main", "toolx-admin": "tool_x:admin"})):  # fmt: skip
        wheel = tinybackend.write_wheel(
            root, "Tool_X", version, {"tool_x/__init__.py": "raise SystemExit('never run')\n"},
            entry_points=scripts,
        )  # fmt: skip
        if version == "2.0":
            _add_metadata(wheel, "tool_x-2.0.dist-info/METADATA", (
                "Summary: Does tool things.\nLicense-Expression: MIT\n"
                "Project-URL: Source, https://example.invalid/tool-x\n"))  # fmt: skip
    tinybackend.write_sdist(root, "onlysdist", "3.1", {"src/onlysdist/__init__.py": ""})
    return root


def _add_metadata(wheel: Path, member: str, extra: str) -> None:
    import zipfile

    rewritten = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(rewritten, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data + extra.encode() if item.filename == member else data)
    rewritten.replace(wheel)


def _from_pypi(tmp_path: Path, *args: str) -> tuple[int, Path]:
    index = _index(tmp_path / "index")
    out = tmp_path / "out"
    code = main(["init", "--from-pypi", *args, "--find-links", str(index), str(out)])
    return code, out


@pytest.mark.integration  # runs pip (offline, from a test wheelhouse)
def test_from_pypi_writes_the_wheels_real_commands_and_a_lock_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _from_pypi(tmp_path, "Tool_X")
    assert code == 0, capsys.readouterr().err
    fields = yaml.safe_load((out / "app.yaml").read_text())
    assert fields["name"] == "tool-x"
    assert fields["version"] == {"from": "tool-x"}  # follows the lock
    assert fields["entry_points"] == ["toolx", "toolx-admin"]  # the newest: 2.0's
    assert fields["summary"] == "Does tool things"
    assert fields["license"] == "MIT"
    assert fields["url"] == "https://example.invalid/tool-x"
    assert "project" not in fields
    assert fields["lock"] == {"inputs": ["requirements.in"]}
    assert "tool-x==2.0" in (out / "requirements.in").read_text().splitlines()
    loaded = manifest.load(out / "app.yaml")  # valid; its version waits for the lock
    assert loaded.version_from == "tool-x" and loaded.version_problem is not None
    assert (out / init.SCHEMA).is_file()


@pytest.mark.integration  # runs pip (offline, from a test wheelhouse)
def test_from_pypi_takes_the_pinned_version(tmp_path: Path) -> None:
    code, out = _from_pypi(tmp_path, "tool-x==1.0", "--python", "/usr/bin/python3.11")
    assert code == 0
    fields = yaml.safe_load((out / "app.yaml").read_text())
    assert fields["entry_points"] == ["toolx"]
    assert fields["python"] == "/usr/bin/python3.11"
    assert "tool-x==1.0" in (out / "requirements.in").read_text().splitlines()


@pytest.mark.integration  # runs pip (offline, from a test wheelhouse)
def test_from_pypi_with_only_an_sdist_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _from_pypi(tmp_path, "onlysdist")
    assert code == 0
    err = capsys.readouterr().err
    assert "onlysdist 3.1 has no wheel on the index, only an sdist" in err
    text = (out / "app.yaml").read_text()
    assert "entry_points" not in yaml.safe_load(text)
    assert "# entry_points: [COMMAND]  # TODO" in text
    assert "onlysdist==3.1" in (out / "requirements.in").read_text()


@pytest.mark.integration  # runs pip (offline, from a test wheelhouse)
def test_from_pypi_refuses_what_the_index_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _from_pypi(tmp_path, "tool-x==9.9")
    assert code == 2
    assert "error: tool-x==9.9 is not on the index" in capsys.readouterr().err
    assert not (out / "app.yaml").exists()


@pytest.mark.integration  # runs pip (offline, from a test wheelhouse)
def test_from_pypi_uses_pips_own_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --find-links: pip's settings (here PIP_NO_INDEX, PIP_FIND_LINKS) reach pip."""
    index = _index(tmp_path / "index")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    assert main(["init", "--from-pypi", "tool-x==1.0", str(tmp_path / "out")]) == 0
    assert yaml.safe_load((tmp_path / "out" / "app.yaml").read_text())["entry_points"] == ["toolx"]


@pytest.mark.parametrize(
    "text", ["tool-x>=1", "tool-x[extra]", "tool-x==1.*", "tool-x; os_name=='nt'", "not a name"]
)
def test_from_pypi_takes_a_name_and_at_most_one_exact_version(text: str) -> None:
    with pytest.raises(UsageError, match="is not NAME or NAME==VERSION"):
        init.parse_from_pypi(text)


def test_init_python_is_written_and_must_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path / "p")
    assert main(["init", str(project), "--python", "/nonexistent/python3"]) == 2
    assert "--python /nonexistent/python3: no executable interpreter" in capsys.readouterr().err
    assert not (project / "app.yaml").exists()
    assert main(["init", str(project), "--python", "relative/python"]) == 2
    assert main(["init", str(project), "--python", "/usr/bin/python3.11"]) == 0
    assert yaml.safe_load((project / "app.yaml").read_text())["python"] == "/usr/bin/python3.11"


def test_init_without_pyproject_points_at_from_pypi(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path)]) == 2
    assert "venvrpm init --from-pypi NAME[==VERSION]" in capsys.readouterr().err


# --- --from-pypi: a hostile wheel on the index (issue 17 red team) ---------------------------


def _rewrite_metadata(wheel: Path, old: str, new: str) -> None:
    import zipfile

    rewritten = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(rewritten, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith(".dist-info/METADATA"):
                data = data.replace(old.encode(), new.encode())
            dst.writestr(item, data)
    rewritten.replace(wheel)


@pytest.mark.integration  # runs pip (offline, from a test wheelhouse)
def test_from_pypi_leaves_out_a_script_name_with_a_newline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support import tinybackend

    index = tmp_path / "index"
    index.mkdir()
    tinybackend.write_wheel(
        index, "nl", "1.0", {"nl/__init__.py": "", "nl-1.0.data/scripts/evil\n": "#!/bin/sh\n",
                             "nl-1.0.data/scripts/good": "#!/bin/sh\n"},
    )  # fmt: skip
    out = tmp_path / "out"
    assert main(["init", "--from-pypi", "nl", "--find-links", str(index), str(out)]) == 0
    assert "'evil\\n' cannot be linked into /usr/bin" in capsys.readouterr().err
    assert yaml.safe_load((out / "app.yaml").read_text())["entry_points"] == ["good"]


@pytest.mark.integration  # runs pip (offline, from a test wheelhouse)
def test_from_pypi_says_what_pip_said_when_it_rejects_the_wheel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support import tinybackend

    index = tmp_path / "index"
    index.mkdir()
    wheel = tinybackend.write_wheel(index, "hostile", "1.0", {"hostile/__init__.py": ""})
    # a U+2028 would end the YAML comment the version goes into
    _rewrite_metadata(wheel, "Version: 1.0\n", "Version: 1.0\u2028scripts: {post: x}\u2028#\n")
    out = tmp_path / "out"
    code = main(["init", "--from-pypi", "hostile", "--find-links", str(index), str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    # pip 23 discards it ("inconsistent version"), pip 26 dies on it ("Invalid version")
    assert "pip rejected the wheel of hostile" in err, err
    assert "inconsistent version" in err or "Invalid version" in err, err
    assert "only an sdist" not in err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [("1.0\u2028scripts: {post: x}", "is not a version"), ("1.1", "not the file name's 1.0"),
     (None, "no Version")],
)  # fmt: skip
def test_the_wheels_version_must_be_its_file_names(metadata: str | None, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        init.wheel_version("x-1.0-py3-none-any.whl", metadata)
    assert init.wheel_version("x-1.0.0-py3-none-any.whl", "1.0") == "1.0.0"


def test_a_project_directory_that_cannot_be_made_is_said(tmp_path: Path) -> None:
    """scaffold makes the directory of a `--from-pypi` project: a file in its way is the
    machine's refusal, said (exit 1)."""
    made = _render(version="1.0")
    (tmp_path / "blocked").write_text("a file where a directory should be\n")
    with pytest.raises(SystemRefusal, match="making the project directory: Not a directory"):
        init.scaffold(tmp_path / "blocked" / "app", made=made)
