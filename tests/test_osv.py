"""venvrpm.osv: reading an OSV database (directory or zip) as untrusted input, and matching.

Every record here is written by the test: a fresh clone without ../shared tests the matcher.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from venvrpm import osv
from venvrpm.errors import EXIT_USAGE


def record(
    ident: str,
    name: str = "demo",
    *,
    events: list[dict[str, str]] | None = None,
    versions: list[str] | None = None,
    aliases: list[str] | None = None,
    modified: str = "2024-01-02T03:04:05Z",
    **extra: Any,
) -> dict[str, Any]:
    """One OSV record for PyPI package *name*."""
    affected: dict[str, Any] = {"package": {"ecosystem": "PyPI", "name": name}}
    if events is not None:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": events}]
    if versions is not None:
        affected["versions"] = versions
    return {"id": ident, "modified": modified, "aliases": aliases or [], "summary": f"flaw {ident}",
            "affected": [affected], **extra}  # fmt: skip


def database(tmp_path: Path, *records: dict[str, Any]) -> osv.Database:
    root = tmp_path / "db"
    for one in records:
        folder = root / "vulns" / one["affected"][0]["package"]["name"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{one['id']}.json").write_text(json.dumps(one))
    return osv.load(root)


def ids(db: osv.Database, name: str, version: str) -> list[str]:
    return [v.id for v in osv.vulnerabilities(db, name, version)]


def test_ecosystem_range_covers_introduced_up_to_fixed(tmp_path: Path) -> None:
    db = database(tmp_path, record("PYSEC-1", events=[{"introduced": "1.2"}, {"fixed": "1.4.1"}]))
    assert ids(db, "demo", "1.1") == []
    assert ids(db, "demo", "1.2") == ["PYSEC-1"]
    assert ids(db, "demo", "1.4.0") == ["PYSEC-1"]
    assert ids(db, "demo", "1.4.1") == []
    assert osv.vulnerabilities(db, "demo", "1.3")[0].fixed_in == "1.4.1"


def test_several_introductions_and_fixes_each_cover_their_branch(tmp_path: Path) -> None:
    events = [{"introduced": "0"}, {"fixed": "2.2.5"}, {"introduced": "3.0"}, {"fixed": "3.0.2"}]
    db = database(tmp_path, record("PYSEC-2", events=events))
    assert osv.vulnerabilities(db, "demo", "2.2.4")[0].fixed_in == "2.2.5"
    assert ids(db, "demo", "2.9") == []
    assert osv.vulnerabilities(db, "demo", "3.0.1")[0].fixed_in == "3.0.2"
    assert ids(db, "demo", "3.0.2") == []


def test_last_affected_includes_that_version_and_knows_no_fix(tmp_path: Path) -> None:
    db = database(
        tmp_path, record("PYSEC-3", events=[{"introduced": "1.0"}, {"last_affected": "1.5"}])
    )
    assert ids(db, "demo", "1.5") == ["PYSEC-3"]
    assert ids(db, "demo", "1.5.1") == []
    assert osv.vulnerabilities(db, "demo", "1.5")[0].fixed_in is None


def test_explicit_versions_match_as_pep_440_versions(tmp_path: Path) -> None:
    db = database(tmp_path, record("PYSEC-4", versions=["1.0", "2.0.0-final"]))
    assert ids(db, "demo", "1.0.0") == ["PYSEC-4"]  # 1.0 == 1.0.0 to PEP 440
    assert ids(db, "demo", "1.1") == []
    assert osv.vulnerabilities(db, "demo", "1.0")[0].fixed_in is None


def test_names_are_compared_normalised(tmp_path: Path) -> None:
    db = database(tmp_path, record("PYSEC-5", "Zope.Interface", events=[{"introduced": "0"}]))
    assert ids(db, "zope-interface", "5.0") == ["PYSEC-5"]
    assert ids(db, "ZOPE_interface", "5.0") == ["PYSEC-5"]


def test_withdrawn_records_other_ecosystems_and_git_ranges_are_not_used(tmp_path: Path) -> None:
    withdrawn = record("PYSEC-6", events=[{"introduced": "0"}], withdrawn="2024-02-01T00:00:00Z")
    npm = record("GHSA-npm", events=[{"introduced": "0"}])
    npm["affected"][0]["package"]["ecosystem"] = "npm"
    git = record("PYSEC-7")
    git["affected"][0]["ranges"] = [{"type": "GIT", "repo": "x", "events": [{"introduced": "0"}]}]
    db = database(tmp_path, withdrawn, npm, git)
    assert ids(db, "demo", "1.0") == []
    assert (db.records, db.withdrawn) == (3, 1)


def test_aliases_group_records_of_one_flaw_into_one_finding(tmp_path: Path) -> None:
    # osv.dev's zip holds PyPA's PYSEC record and GitHub's GHSA record of the same CVE
    pysec = record("PYSEC-8", events=[{"introduced": "0"}, {"fixed": "1.2"}],
                   aliases=["CVE-2024-1", "GHSA-aaaa"])  # fmt: skip
    ghsa = record("GHSA-aaaa", events=[{"introduced": "0"}, {"fixed": "1.3"}],
                  aliases=["CVE-2024-1"], modified="2024-05-01T00:00:00Z")  # fmt: skip
    other = record("PYSEC-9", events=[{"introduced": "0"}, {"fixed": "1.1"}], aliases=["CVE-2"])
    db = database(tmp_path, pysec, ghsa, other)
    found = osv.vulnerabilities(db, "demo", "1.0")
    assert [(v.id, v.aliases, v.fixed_in) for v in found] == [
        ("GHSA-aaaa", ("CVE-2024-1", "PYSEC-8"), "1.3"),  # fixed only when both say so
        ("PYSEC-9", ("CVE-2",), "1.1"),
    ]
    assert db.newest is not None and db.newest.isoformat() == "2024-05-01T00:00:00+00:00"


def test_a_version_outside_pep_440_reads_the_range_wider_and_says_so(tmp_path: Path) -> None:
    db = database(
        tmp_path, record("PYSEC-10", events=[{"introduced": "0"}, {"fixed": "2019-09-12"}])
    )
    found = osv.vulnerabilities(db, "demo", "9.0")
    assert [v.id for v in found] == ["PYSEC-10"]
    assert found[0].fixed_in is None
    assert "'2019-09-12' is not a PEP 440 version" in found[0].notes[0]


def test_fix_version_climbs_past_a_fix_that_is_affected_itself(tmp_path: Path) -> None:
    first = record("PYSEC-11", events=[{"introduced": "0"}, {"fixed": "2.0.1"}])
    later = record("PYSEC-12", events=[{"introduced": "2.0.0"}, {"fixed": "2.0.3"}])
    db = database(tmp_path, first, later)
    found = osv.vulnerabilities(db, "demo", "1.0")
    assert [v.id for v in found] == ["PYSEC-11"]
    assert osv.fix_version(db, "demo", found, "1.0") == "2.0.3"
    unfixed = database(tmp_path / "u", record("PYSEC-13", events=[{"introduced": "0"}]))
    assert osv.fix_version(unfixed, "demo", osv.vulnerabilities(unfixed, "demo", "1"), "1") is None


def test_yaml_records_keep_versions_as_written(tmp_path: Path) -> None:
    root = tmp_path / "db"
    root.mkdir()
    (root / "PYSEC-14.yaml").write_text(
        "id: PYSEC-14\nmodified: 2024-01-01T00:00:00Z\naffected:\n"
        "- package: {ecosystem: PyPI, name: demo}\n"
        "  ranges: [{type: ECOSYSTEM, events: [{introduced: 1.10}, {fixed: 1.20}]}]\n"
    )
    db = osv.load(root)
    assert ids(db, "demo", "1.15") == ["PYSEC-14"]  # as floats 1.1 .. 1.2, 1.15 would be out
    assert ids(db, "demo", "1.9") == []


def test_a_zip_of_json_records_reads_like_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "PYSEC-15.json", json.dumps(record("PYSEC-15", events=[{"introduced": "0"}]))
        )
        archive.writestr("README.txt", "not a record")
    db = osv.load(path)
    assert (db.kind, db.records, ids(db, "demo", "1")) == ("zip", 1, ["PYSEC-15"])
    assert len(db.sha256) == 64


def test_the_directory_digest_changes_with_any_record(tmp_path: Path) -> None:
    db = database(tmp_path, record("PYSEC-16", events=[{"introduced": "0"}]))
    again = osv.load(tmp_path / "db")
    assert again.sha256 == db.sha256
    (tmp_path / "db" / "vulns" / "demo" / "PYSEC-16.json").write_text(
        json.dumps(record("PYSEC-16", events=[{"introduced": "1"}]))
    )
    assert osv.load(tmp_path / "db").sha256 != db.sha256


def bad(root: Path) -> osv.DatabaseError:
    with pytest.raises(osv.DatabaseError) as caught:
        osv.load(root)
    assert caught.value.exit_code == EXIT_USAGE
    return caught.value


def test_a_record_that_is_not_osv_is_named_with_its_key(tmp_path: Path) -> None:
    broken = record("PYSEC-17", events=[{"introduced": "0"}])
    broken["affected"][0]["ranges"][0]["events"].append({"removed": "2"})
    root = tmp_path / "db"
    root.mkdir()
    (root / "PYSEC-17.json").write_text(json.dumps(broken))
    error = bad(root)
    assert "PYSEC-17.json" in error.message
    assert error.details[0].startswith("affected[0].ranges[0].events[1]:")
    (root / "PYSEC-17.json").write_text(json.dumps({"id": "PYSEC-17", "modified": "yesterday"}))
    assert bad(root).details == ("modified: not an RFC 3339 time",)
    (root / "PYSEC-17.json").write_text("{not json")
    assert "not a readable OSV record" in bad(root).message


def test_links_in_the_database_are_refused_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "db"
    root.mkdir()
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps(record("PYSEC-18", events=[{"introduced": "0"}])))
    os.symlink(secret, root / "PYSEC-18.json")
    assert "PYSEC-18.json in the vulnerability database is a symbolic link" in bad(root).message


def test_limits_on_records_and_on_their_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "db"
    root.mkdir()
    (root / "big.json").write_bytes(b" " * (osv.RECORD_LIMIT + 1))
    assert "larger than" in bad(root).message
    (root / "big.json").unlink()
    # YAML aliases: a 3 kB record that walks 200,000 versions
    bomb = (
        "v: &v [" + ", ".join(["x"] * 1000) + "]\n"
        "e: &e {package: {ecosystem: PyPI, name: demo}, versions: *v}\n"
        "id: X\nmodified: 2024-01-01T00:00:00Z\naffected: [" + ", ".join(["*e"] * 200) + "]\n"
    )
    (root / "bomb.yaml").write_text(bomb)
    error = bad(root)
    assert "bomb.yaml" in error.message
    assert f"more than {osv.ITEMS_LIMIT} list items" in error.details[0]
    # nested aliases: 15 lines that would walk 16 million nodes
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [*a{n - 1}, *a{n - 1}, *a{n - 1}]" for n in range(1, 14)]
    (root / "bomb.yaml").write_text("\n".join([*lines, "id: X", "aliases: *a13"]) + "\n")
    assert "YAML nodes in one record" in bad(root).details[0]
    (root / "bomb.yaml").unlink()
    (root / "a.json").write_text(json.dumps(record("A", events=[])))
    (root / "b.json").write_text(json.dumps(record("B", events=[])))
    monkeypatch.setattr(osv, "RECORDS_LIMIT", 1)
    assert "more than 1 records" in bad(root).message


def test_a_zip_member_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.json", b"[" + b" " * osv.RECORD_LIMIT + b"]")
    assert "bomb.json in all.zip is larger than" in bad(path).message


def test_an_empty_or_missing_database_is_a_usage_error(tmp_path: Path) -> None:
    assert "cannot be read" in bad(tmp_path / "nowhere").message
    (tmp_path / "empty").mkdir()
    assert "holds no OSV records" in bad(tmp_path / "empty").message
    (tmp_path / "file.txt").write_text("x")
    assert "neither a directory nor a zip" in bad(tmp_path / "file.txt").message


def test_a_linked_directory_is_refused_not_skipped(tmp_path: Path) -> None:
    root = tmp_path / "db"
    (root / "vulns").mkdir(parents=True)
    (root / "vulns" / "a.json").write_text(json.dumps(record("A", events=[])))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, root / "vulns" / "flask")
    assert bad(root).message == "vulns/flask in the vulnerability database is a symbolic link"
    (root / "vulns" / "flask").unlink()
    assert osv.load(root).records == 1


def test_a_walk_deeper_than_python_recurses_is_a_database_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_deep(root: str) -> Iterator[os.DirEntry[str]]:
        raise RecursionError
        yield

    monkeypatch.setattr(osv.files, "walk", too_deep)
    (tmp_path / "db").mkdir()
    assert (
        bad(tmp_path / "db").message
        == f"the vulnerability database {tmp_path / 'db'} is nested too deeply"
    )
