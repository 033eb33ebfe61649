"""venvrpm audit: what is audited (lock, Provides), ignores, the report, the CLI and its --json.

The records are the test's own (tests/test_osv.py's helpers); the real snapshot, RPMs and an
installed root are in tests/integration/test_audit_integration.py.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from tests.test_osv import database, record
from venvrpm import audit, lockfile
from venvrpm.cli import main
from venvrpm.errors import EXIT_BUILD_FAILED, EXIT_OK, EXIT_USAGE, UsageError

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "venvrpm" / "schema" / "audit.schema.json").read_text()
)
HASH = "--hash=sha256:" + "a" * 64
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def app(tmp_path: Path, lock: str) -> Path:
    (tmp_path / "requirements.lock").write_text(lock)
    manifest = tmp_path / "app.yaml"
    manifest.write_text(
        "name: oldweb\nversion: 1.0.0\nrelease: 1\nsummary: s\nlicense: MIT\n"
        "python: /usr/bin/python3.11\nrequirements: requirements.lock\n"
    )
    return manifest


def records(tmp_path: Path, modified: str = "2024-05-30T00:00:00Z") -> Path:
    database(
        tmp_path,
        record("PYSEC-1", "flask", events=[{"introduced": "0"}, {"fixed": "2.2.5"}],
               aliases=["CVE-2023-30861"], modified=modified),
        record("GHSA-1", "flask", events=[{"introduced": "0"}, {"fixed": "2.2.5"}],
               aliases=["CVE-2023-30861"], modified=modified),
        record("PYSEC-2", "jinja2", events=[{"introduced": "0"}, {"fixed": "2.10.1"}],
               aliases=["CVE-2019-10906"], modified=modified),
        record("PYSEC-3", "click", events=[{"introduced": "8.0"}], modified=modified),
    )  # fmt: skip
    return tmp_path / "db"


LOCK = f"flask==1.0 {HASH}\njinja2==2.10 ; python_version < '3' {HASH}\nclick==7.0 {HASH}\n"


def test_a_lock_is_audited_line_by_line_with_its_markers(tmp_path: Path) -> None:
    lock = lockfile.parse(LOCK, Path("requirements.lock"))
    shipped = audit.from_lock(lock, "requirements.lock")
    assert [(s.name, s.version, s.where, s.marker) for s in shipped] == [
        ("flask", "1.0", "requirements.lock line 1", None),
        ("jinja2", "2.10", "requirements.lock line 2", 'python_version < "3"'),
        ("click", "7.0", "requirements.lock line 3", None),
    ]


def test_aliases_make_one_finding_and_each_names_its_fix(tmp_path: Path) -> None:
    db = audit.osv.load(records(tmp_path))
    lock = lockfile.parse(LOCK, Path("requirements.lock"))
    report = audit.audit(db, audit.from_lock(lock, "requirements.lock"), target="app.yaml",
                         kind="manifest", today=NOW.date(), now=NOW)  # fmt: skip
    assert [(f.name, f.vulnerability.id, f.vulnerability.aliases, f.vulnerability.fixed_in)
            for f in report.findings] == [
        ("flask", "GHSA-1", ("CVE-2023-30861", "PYSEC-1"), "2.2.5"),
        ("jinja2", "PYSEC-2", ("CVE-2019-10906",), "2.10.1"),
    ]  # fmt: skip
    assert report.exit_code == EXIT_BUILD_FAILED
    assert not report.stale and report.age_days == pytest.approx(2.0)
    assert audit.fixes(report) == {"flask": "2.2.5", "jinja2": "2.10.1"}


def test_provides_of_rpms_become_pep_440_versions() -> None:
    output = (
        "app-1-1.x86_64\tbundled(python3dist(urllib3)) = 1.24.1\n"
        "app-1-1.x86_64\tbundled(python3dist(oldthing)) = 2:1.0\n"
        "app-1-1.x86_64\tapp = 1-1\n"
        "app-1-1.x86_64\tpython3dist(app)\n"
        "other-2-1.noarch\tbundled(python3dist(urllib3)) = 1.24.1\n"
        "garbage without a tab\n"
    )
    assert [(s.name, s.version, s.where) for s in audit.parse_provides(output)] == [
        ("oldthing", "2!1.0", "app-1-1.x86_64"),
        ("urllib3", "1.24.1", "app-1-1.x86_64"),
        ("urllib3", "1.24.1", "other-2-1.noarch"),
    ]
    assert audit.query_argv("/usr/bin/rpm", root=Path("/r")) == [
        "/usr/bin/rpm", "--root", "/r", "-qa", "--queryformat", audit._QUERY,
    ]  # fmt: skip


def test_one_version_shipped_by_several_rpms_is_one_finding_naming_them(tmp_path: Path) -> None:
    db = audit.osv.load(records(tmp_path))
    shipped = audit.parse_provides(
        "a-1-1.noarch\tbundled(python3dist(flask)) = 1.0\n"
        "b-1-1.noarch\tbundled(python3dist(Flask)) = 1.0\n"
    )
    report = audit.audit(db, shipped, target="host", kind="installed", today=NOW.date(), now=NOW)
    assert [(f.name, f.where) for f in report.findings] == [
        ("flask", ("a-1-1.noarch", "b-1-1.noarch"))
    ]


def test_ignores_hide_until_they_expire_then_are_reported(tmp_path: Path) -> None:
    db = audit.osv.load(records(tmp_path))
    lock = lockfile.parse(LOCK, Path("requirements.lock"))
    ignores = audit.parse_ignores([
        {"id": "CVE-2023-30861", "reason": "no user uploads", "expires": "2024-12-31"},
        {"id": "PYSEC-2", "reason": "sandbox unused", "expires": date(2024, 1, 1)},
        {"id": "PYSEC-99", "reason": "gone", "expires": "2024-01-01"},
    ], "ignores")  # fmt: skip
    report = audit.audit(db, audit.from_lock(lock, "requirements.lock"), target="app.yaml",
                         kind="manifest", ignores=ignores, today=NOW.date(), now=NOW)  # fmt: skip
    assert [f.vulnerability.id for f in report.open] == ["PYSEC-2"]
    assert report.open[0].expired is not None and report.open[0].expired.id == "PYSEC-2"
    hidden = [f for f in report.findings if f.ignored_by]
    assert [f.vulnerability.id for f in hidden] == ["GHSA-1"]  # by its alias
    assert any("PYSEC-99 expired on 2024-01-01" in n for n in report.notes)
    jsonschema.validate(report.to_json(), SCHEMA)
    later = audit.audit(db, audit.from_lock(lock, "l"), target="a", kind="manifest",
                        ignores=ignores, today=date(2025, 1, 1), now=NOW)  # fmt: skip
    assert [f.vulnerability.id for f in later.open] == ["GHSA-1", "PYSEC-2"]


def test_bad_ignores_are_named_each(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        audit.parse_ignores([{"id": "X", "expires": "soon"}, "PYSEC-1", {"id": "Y", "reason": "r",
                             "expires": "2024-01-01", "until": 1}], "f.yaml")  # fmt: skip
    assert caught.value.details == (
        "ignore[0].reason: missing or not a non-empty string",
        "ignore[0].expires: missing or not a date (YYYY-MM-DD)",
        "ignore[1]: not a mapping with id, reason, expires",
        "ignore[2]: unknown key until",
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_on_a_manifest_json_validates_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = app(tmp_path, LOCK)
    db = records(tmp_path)
    code, out, err = run(capsys, "audit", str(manifest), "--db", str(db), "--json")
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    assert (code, document["ok"], document["exit_code"]) == (EXIT_BUILD_FAILED, False, 1)
    assert [f["id"] for f in document["findings"]] == ["GHSA-1", "PYSEC-2"]
    assert document["database"]["stale"] is True  # 2024 records, read years later
    assert "the vulnerability database is" in err and "--max-age 30" in err
    code, out, _ = run(capsys, "audit", str(manifest), "--db", str(db))
    assert code == EXIT_BUILD_FAILED
    assert "GHSA-1" in out and "CVE-2023-30861, PYSEC-1" in out and "2.2.5" in out


def test_cli_clean_and_fresh_is_exit_0_without_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = app(tmp_path, f"flask==2.2.5 {HASH}\n")
    code, out, err = run(capsys, "audit", str(manifest), "--db", str(records(tmp_path, fresh)))
    assert code == EXIT_OK
    assert "no known vulnerability" in out
    assert "warning" not in err


def test_cli_ignore_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = app(tmp_path, f"flask==1.0 {HASH}\n")
    ignores = tmp_path / "ignores.yaml"
    ignores.write_text("ignore:\n- {id: PYSEC-1, reason: not exposed, expires: 2999-01-01}\n")
    code, out, _ = run(capsys, "audit", str(manifest), "--db", str(records(tmp_path)),
                       "--ignore-file", str(ignores), "--json")  # fmt: skip
    document = json.loads(out)
    assert (code, document["findings"], [f["id"] for f in document["ignored"]]) == (
        0,
        [],
        ["GHSA-1"],
    )
    ignores.write_text("ignore:\n- {id: PYSEC-1, reason: not exposed, expires: 2000-01-01}\n")
    code, _, err = run(capsys, "audit", str(manifest), "--db", str(records(tmp_path)),
                       "--ignore-file", str(ignores))  # fmt: skip
    assert code == EXIT_BUILD_FAILED
    assert "the ignore of PYSEC-1 expired on 2000-01-01: GHSA-1 is reported" in err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["audit", "--db", "db"], "give a TARGET"),
        (["audit", "app.yaml", "--installed", "--db", "db"], "give a TARGET"),
        (["audit", "app.yaml", "--root", "/", "--db", "db"], "--root is for --installed"),
        (["audit", "app.yaml", "--db", "db", "--max-age", "-1"], "0 or more"),
        (["audit", "app.yaml"], "--db"),
    ],
)
def test_cli_usage_errors_exit_2(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == EXIT_USAGE
    assert said in err


def test_cli_bad_database_is_exit_2_with_a_json_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = app(tmp_path, f"flask==1.0 {HASH}\n")
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "X.json").write_text('{"id": "X"}')
    code, out, _ = run(capsys, "audit", str(manifest), "--db", str(tmp_path / "db"), "--json")
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    assert (code, document["exit_code"]) == (EXIT_USAGE, EXIT_USAGE)
    assert (
        document["error"]["message"] == "X.json in the vulnerability database is not an OSV record"
    )
    assert document["error"]["details"] == ["modified: missing"]


def test_the_manifests_audit_ignore_hides_until_it_expires(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = app(tmp_path, LOCK)
    manifest.write_text(
        manifest.read_text()
        + "audit:\n  ignore:\n"
        + "    - {id: CVE-2023-30861, reason: no uploads, expires: 2999-12-31}\n"
        + "    - {id: PYSEC-2, reason: sandbox unused, expires: 2001-01-01}\n"
    )
    code, out, err = run(capsys, "audit", str(manifest), "--db", str(records(tmp_path)), "--json")
    document = json.loads(out)
    assert code == EXIT_BUILD_FAILED
    assert [f["id"] for f in document["findings"]] == ["PYSEC-2"]
    assert document["findings"][0]["expired_ignore"]["expires"] == "2001-01-01"
    assert [(f["id"], f["ignored_by"]["reason"]) for f in document["ignored"]] == [
        ("GHSA-1", "no uploads")
    ]
    assert "the ignore of PYSEC-2 expired on 2001-01-01" in err


def test_a_bad_audit_ignore_in_the_manifest_is_a_manifest_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = app(tmp_path, LOCK)
    manifest.write_text(
        manifest.read_text()
        + "audit:\n  ignore:\n    - {id: X-1, reason: r, expires: 2024-02-30}\n"
    )
    code, _, err = run(capsys, "audit", str(manifest), "--db", str(records(tmp_path)))
    assert code == EXIT_USAGE
    assert "audit.ignore[0].expires: '2024-02-30' is not a date (YYYY-MM-DD)" in err
    manifest.write_text(manifest.read_text().replace("expires: 2024-02-30", "until: 2024-01-01"))
    code, _, err = run(capsys, "audit", str(manifest), "--db", str(records(tmp_path)))
    assert code == EXIT_USAGE
    assert "audit.ignore[0]: 'expires' is a required property" in err


def test_fix_asks_pip_compile_for_the_lowest_fixing_version_and_raises_the_release() -> None:
    assert audit.upgrade_requests({"flask": "2.2.5", "jinja2": None, "click": "8.0.1"}) == [
        "click==8.0.1", "flask==2.2.5",
    ]  # fmt: skip
    assert [audit.next_release(r) for r in ("1", "9", "3.el9", "rc1")] == [
        "2", "10", "4.el9", None,
    ]  # fmt: skip


def test_fix_needs_a_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package = tmp_path / "app-1-1.noarch.rpm"
    package.write_bytes(b"\xed\xab\xee\xdb")
    code, _, err = run(capsys, "audit", str(package), "--db", "db", "--fix")
    assert code == EXIT_USAGE
    assert "--fix re-locks a manifest" in err


def test_the_fix_is_said_with_the_release_to_ship(capsys: pytest.CaptureFixture[str]) -> None:
    from venvrpm.console import Console

    console = Console(animate=False)
    fix = audit.Fix(upgraded=(("tinydep", "1.0", "1.1"),), unfixable=("sdistonly",), release="2")
    console.audit_fixed(fix, "smallapp", "1.0.0")
    assert capsys.readouterr().out == (
        "re-locked tinydep: 1.0 -> 1.1\n"
        "no fix known for sdistonly: left as it is\n"
        "ship it as smallapp-1.0.0-2: set `release: 2` in the manifest, then build\n"
    )


def test_native_libraries_come_from_the_file_list_and_reach_the_report(tmp_path: Path) -> None:
    site = "/opt/app/lib/python3.11/site-packages"
    native = audit.parse_files(
        f"app-1-1.x86_64\t{site}/tinynative.libs/libtiny-1a2b3c4d.so.1\n"
        f"app-1-1.x86_64\t{site}/tinynative/_core.so\n"
        f"other-2-1.x86_64\t{site}/psycopg2_binary.libs/libpq-9c0c2e7b.so.5.16\n"
    )
    assert [(w, n.name, n.version) for w, n in native] == [
        ("app-1-1.x86_64", "libtiny", "1"), ("other-2-1.x86_64", "libpq", "5.16"),
    ]  # fmt: skip
    report = audit.audit(audit.osv.load(records(tmp_path)), (), target="t", kind="rpm",
                         native=native, today=NOW.date(), now=NOW)  # fmt: skip
    document = report.to_json()
    jsonschema.validate(document, SCHEMA)
    assert document["native_libraries"][1] == {
        "path": f"{site}/psycopg2_binary.libs/libpq-9c0c2e7b.so.5.16", "name": "libpq",
        "version": "5.16", "where": "other-2-1.x86_64",
    }  # fmt: skip
    from venvrpm.console import render_audit

    assert "not covered by PyPI advisories" in render_audit(report)


def test_a_manifest_locked_by_uv_export_or_as_pylock_is_audited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lock is read as the build reads it: uv export's `-e .` is the project (skipped),
    and a pylock.toml's packages are audited like lines."""
    manifest = app(tmp_path, f"-e .\nflask==1.0 {HASH}\n")
    manifest.write_text(manifest.read_text() + "project: .\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "oldweb"\nversion = "1.0"\n')
    db = records(tmp_path)
    code, out, _ = run(capsys, "audit", str(manifest), "--db", str(db), "--json")
    assert code == EXIT_BUILD_FAILED, out
    assert [f["id"] for f in json.loads(out)["findings"]] == ["GHSA-1"]
    (tmp_path / "pylock.toml").write_text(
        'lock-version = "1.0"\ncreated-by = "test"\n\n[[packages]]\nname = "flask"\n'
        'version = "1.0"\nwheels = [{name = "flask-1.0-py3-none-any.whl", '
        'url = "https://files.example/flask-1.0-py3-none-any.whl", '
        f'hashes = {{sha256 = "{"a" * 64}"}}}}]\n'
    )
    manifest.write_text(manifest.read_text().replace("requirements.lock", "pylock.toml"))
    code, out, _ = run(capsys, "audit", str(manifest), "--db", str(db), "--json")
    assert code == EXIT_BUILD_FAILED, out
    assert [f["id"] for f in json.loads(out)["findings"]] == ["GHSA-1"]
