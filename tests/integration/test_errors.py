"""Failures with real tools: one clear message and hint, exit 1, nothing partial left behind."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from tests.support.apps import make_smallapp
from venvrpm.cli import main

pytestmark = pytest.mark.integration


def run_build(manifest: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["build", str(manifest), "-o", str(manifest.parent / "dist"), *extra])
    return code, capsys.readouterr().err


def assert_nothing_left(manifest: Path) -> None:
    dist = manifest.parent / "dist"
    assert not dist.exists() or list(dist.iterdir()) == [], "partial output left behind"
    assert list(Path(os.environ["TMPDIR"]).iterdir()) == [], "work directory left behind"


def assert_clean_error(code: int, err: str, message: str, exit_code: int = 1) -> None:
    assert code == exit_code, err
    assert "Traceback" not in err
    assert message in err, err
    assert "hint:" in err


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return make_smallapp(tmp_path / "app")


def test_missing_interpreter(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app.write_text(app.read_text().replace("/usr/bin/python3.11", "/usr/bin/python3.99"))
    code, err = run_build(app, capsys)
    assert_clean_error(code, err, "interpreter not found on this host: /usr/bin/python3.99")
    assert_nothing_left(app)


def test_missing_rpmbuild(
    app: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, err = run_build(app, capsys)
    assert_clean_error(code, err, "rpmbuild is not installed")
    assert "apt-get install rpm" in err and "dnf install rpm-build" in err
    assert_nothing_left(app)


def test_broken_rpmbuild(
    app: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A broken rpmbuild (fault injection: it fails the way a broken install does)."""
    shadow = tmp_path / "shadow-bin"
    shadow.mkdir()
    fake = shadow / "rpmbuild"
    fake.write_text("#!/bin/sh\necho 'error: simulated rpmbuild breakage' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shadow}:{os.environ['PATH']}")
    code, err = run_build(app, capsys)
    assert_clean_error(code, err, "rpmbuild failed")
    assert "simulated rpmbuild breakage" in err
    assert_nothing_left(app)


def test_hash_mismatch_names_the_package(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = app.parent / "requirements.lock"
    text = lock.read_text()
    bad = re.sub(r"(tinydep==1.0 \\\n    --hash=sha256:)[0-9a-f]{64}", r"\g<1>" + "0" * 64, text)
    assert bad != text
    lock.write_text(bad)
    code, err = run_build(app, capsys)
    assert_clean_error(code, err, "hash mismatch for tinydep==1.0")
    assert_nothing_left(app)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            r"tinydep==1.0 \\\n    --hash=sha256:[0-9a-f]{64}",
            "tinydep==1.0",
            "tinydep==1.0 has no --hash",
        ),
        (r"tinydep==1.0", "tinydep>=1.0", "tinydep is not pinned to one version"),
    ],
)
def test_unusable_lock_lines_are_named(
    app: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str
) -> None:
    lock = app.parent / "requirements.lock"
    lock.write_text(re.sub(old, new, lock.read_text()))
    code, err = run_build(app, capsys)
    assert_clean_error(code, err, message, exit_code=2)  # a bad lock is bad input
    assert "requirements.lock line" in err
    assert_nothing_left(app)


def test_distribution_missing_from_the_wheelhouse(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    next((app.parent / "wheels").glob("tinydep-*.whl")).unlink()
    code, err = run_build(app, capsys)
    assert_clean_error(code, err, "tinydep==1.0 is not in the wheelhouse")
    assert_nothing_left(app)


def test_project_dependency_missing_from_the_lock(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = app.parent / "requirements.lock"
    lock.write_text(
        re.sub(r"tinydep==1.0 \\\n    --hash=sha256:[0-9a-f]{64}\n", "", lock.read_text())
    )
    code, err = run_build(app, capsys)
    # tinydep's script is missing first; the error names the cause too
    assert_clean_error(code, err, "entry point(s) not found in /opt/smallapp/bin: tinydep-tool")
    assert "the venv's requirements are not met either" in err
    assert "smallapp 1.0.0 requires tinydep, which is not installed." in err
    app.write_text(app.read_text().replace("[smallapp, tinydep-tool]", "[smallapp]"))
    code, err = run_build(app, capsys)
    assert_clean_error(
        code, err, "the installed distributions do not meet each other's requirements"
    )
    assert "smallapp 1.0.0 requires tinydep, which is not installed." in err
    assert_nothing_left(app)


def test_unknown_entry_point(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app.write_text(app.read_text().replace("[smallapp, tinydep-tool]", "[smallap]"))
    code, err = run_build(app, capsys)
    assert_clean_error(code, err, "entry point(s) not found in /opt/smallapp/bin: smallap")
    assert "available: smallapp, tinydep-tool" in err
    assert_nothing_left(app)


def test_keep_workdir_keeps_and_names_it(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app.write_text(app.read_text().replace("[smallapp, tinydep-tool]", "[smallap]"))
    code, err = run_build(app, capsys, "--keep-workdir")
    assert code == 1
    kept = re.search(r"work directory kept: (\S+)", err)
    assert (
        kept
        and Path(kept.group(1), "work", "stage", "opt", "smallapp", "bin", "smallapp").is_file()
    )


def test_unwritable_output_path(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (app.parent / "dist").write_text("a file, not a directory")
    code, err = run_build(app, capsys)
    assert code == 2 and "is not a directory" in err


def test_project_source_is_never_written(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = app.parent / "project"
    before = sorted((p.relative_to(project), p.stat().st_mtime_ns) for p in project.rglob("*"))
    os.chmod(project, stat.S_IRUSR | stat.S_IXUSR)
    try:
        code, err = run_build(app, capsys)
    finally:
        os.chmod(project, 0o755)
    assert code == 0, err
    assert (
        sorted((p.relative_to(project), p.stat().st_mtime_ns) for p in project.rglob("*")) == before
    )


def test_a_file_name_rpm_cannot_carry_is_refused_by_name(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """rpm 4.18 rejects control characters in file names, even through a glob: refuse clearly."""
    from tests.support import tinybackend
    from tests.support.apps import VERSIONS, write_lock

    wheels = app.parent / "wheels"
    next(wheels.glob("tinydep-*.whl")).unlink()
    tinybackend.write_wheel(
        wheels, "tinydep", "1.0",
        {"tinydep/__init__.py": "VALUE = 'tinydep 1.0'\n", "tinydep/tab\there.txt": "x"},
        scripts={"tinydep-tool": "#!python\nprint(1)\n"},
    )  # fmt: skip
    dists = {p.name.split("-")[0].replace("_", "-"): p for p in wheels.iterdir()}
    write_lock(app.parent / "requirements.lock", dists, VERSIONS)
    code, err = run_build(app, capsys)
    assert_clean_error(code, err, "path(s) in the payload cannot be carried by an RPM")
    assert "site-packages/tinydep/tab\\there.txt" in err and "'\\t'" in err
    assert_nothing_left(app)


def test_dry_run_prints_the_plan_and_builds_nothing(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    assert main(["build", str(app), "-o", str(app.parent / "dist"), "--dry-run"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["offline"] is True and plan["prefix"] == "/opt/smallapp"
    assert "--require-hashes" in plan["commands"]["install_lock"]
    assert_nothing_left(app)


def test_interpreter_that_is_not_python(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app.write_text(app.read_text().replace("/usr/bin/python3.11", "/bin/true"))
    code, err = run_build(app, capsys)
    assert_clean_error(code, err, "/bin/true did not answer like a Python interpreter")
    assert_nothing_left(app)


def test_interpreter_links_are_not_entry_points(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The venv's interpreter links are no console scripts, and /usr/bin/python3.11 is the
    system's: refused when the manifest is read (exit 2), before anything is built."""
    app.write_text(app.read_text().replace("[smallapp, tinydep-tool]", "[smallapp, python3.11]"))
    code, err = run_build(app, capsys)
    assert_clean_error(
        code, err, "'python3.11' would be /usr/bin/python3.11, which belongs to the system's "
        "Python", exit_code=2,
    )  # fmt: skip
    assert_nothing_left(app)


def test_work_directory_inside_the_project(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import tempfile

    inside = app.parent / "project" / "tmp"
    inside.mkdir()
    saved = tempfile.tempdir
    tempfile.tempdir = str(inside)
    try:
        code, err = run_build(app, capsys)
    finally:
        tempfile.tempdir = saved
    assert_clean_error(code, err, "is inside the project")
    assert list(inside.iterdir()) == []


def test_keep_workdir_is_named_even_when_quiet(
    app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_build(app, capsys, "--keep-workdir", "-q")
    assert code == 0
    kept = re.search(r"work directory kept: (\S+)", err)
    assert kept and Path(kept.group(1), "host", "rpmbuild", "SPECS", "smallapp.spec").is_file()


def test_json_output_on_success_and_failure(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One JSON document on stdout, valid against the shipped schema, both ways."""
    import hashlib
    import json

    import jsonschema

    schema = json.loads(
        (Path(__file__).parents[2] / "venvrpm" / "schema" / "result.schema.json").read_text()
    )
    assert main(["build", str(app), "-o", str(app.parent / "dist"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, schema)
    rpm = Path(doc["artifact"]["path"])
    assert doc["ok"] is True and rpm.is_file()
    assert doc["artifact"]["sha256"] == hashlib.sha256(rpm.read_bytes()).hexdigest()
    assert {"name": "tinydep", "version": "1.0"} in doc["bundled"]
    assert [s["step"] for s in doc["steps"]][:4] == [
        "checking the lock requirements.lock",
        "probing /usr/bin/python3.11 on this host",
        "looking up the environment cache",
        "creating the virtualenv",
    ]
    app.write_text(app.read_text().replace("/usr/bin/python3.11", "/usr/bin/python3.99"))
    assert main(["build", str(app), "-o", str(app.parent / "dist"), "--json"]) == 1
    failed = json.loads(capsys.readouterr().out)
    jsonschema.validate(failed, schema)
    assert failed["ok"] is False and failed["exit_code"] == 1
    assert "interpreter not found" in failed["error"]["message"] and failed["error"]["hint"]
