"""`venvrpm audit` against the real advisory snapshot (../shared/advisory-db), a built RPM, and a
root the RPM is installed into.

The older web stack is audited twice: as a lock with made-up hashes (OLD_WEB, no build), and as
a real app (tests/data/realapps/oldweb: the same stack locked from PyPI with real hashes, built
offline from its cached wheelhouse and installed into the bookworm root without --nodeps), where
the manifest, the RPM and the installed root must give the same findings."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from packaging.version import InvalidVersion, Version

from tests.conftest import Built, require_tools
from tests.integration.test_lock import make_app
from tests.support import realapps, target, tinybackend
from tests.support.apps import BUNDLED_SONAME, make_smallapp
from venvrpm import lockfile
from venvrpm.cli import main

pytestmark = pytest.mark.integration

SNAPSHOT = Path(__file__).resolve().parents[3] / "shared" / "advisory-db"
if not SNAPSHOT.is_dir():  # the worktree layout of the session: /work/wt/NAME/tests/...
    SNAPSHOT = Path(__file__).resolve().parents[4] / "shared" / "advisory-db"
SCHEMA = json.loads(
    (Path(__file__).parents[2] / "venvrpm" / "schema" / "audit.schema.json").read_text()
)
HASH = "--hash=sha256:" + "a" * 64
OLD_WEB = {
    "flask": "1.0", "jinja2": "2.10", "werkzeug": "0.14", "urllib3": "1.24.1",
    "requests": "2.19.0", "pyyaml": "5.3", "click": "7.0", "itsdangerous": "1.1.0",
}  # fmt: skip


def snapshot() -> Path:
    assert SNAPSHOT.is_dir(), f"the advisory snapshot is missing: {SNAPSHOT} (see its README)"
    return SNAPSHOT


def audit_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["audit", *argv, "--json"])
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, SCHEMA)
    return code, document


def found(document: dict[str, Any]) -> dict[str, dict[str, tuple[tuple[str, ...], str | None]]]:
    """name -> {id: (aliases, fixed_in)}."""
    result: dict[str, dict[str, tuple[tuple[str, ...], str | None]]] = {}
    for f in document["findings"]:
        result.setdefault(f["name"], {})[f["id"]] = (tuple(f["aliases"]), f["fixed_in"])
    return result


def old_web_app(tmp_path: Path) -> Path:
    (tmp_path / "requirements.lock").write_text(
        "".join(f"{name}=={version} {HASH}\n" for name, version in OLD_WEB.items())
    )
    manifest = tmp_path / "app.yaml"
    manifest.write_text(
        "name: oldweb\nversion: 1.0.0\nrelease: 1\nsummary: s\nlicense: MIT\n"
        "python: /usr/bin/python3.11\nrequirements: requirements.lock\n"
    )
    return manifest


def plainly_affected(locked: dict[str, str]) -> dict[str, set[str]]:
    """A second, simpler reading of the snapshot for *locked*, to compare the matcher with."""
    result: dict[str, set[str]] = {}
    for name, version in locked.items():
        folder = snapshot() / "vulns" / name
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            record = yaml.load(path.read_text(), Loader=yaml.BaseLoader)
            if record.get("withdrawn"):
                continue
            for affected in record["affected"]:
                if covers(affected, Version(version)):
                    result.setdefault(name, set()).add(record["id"])
    return result


def covers(affected: dict[str, Any], version: Version) -> bool:
    if any(Version(v) == version for v in affected.get("versions", []) if _pep440(v)):
        return True
    for one in affected.get("ranges", []):
        if one["type"] != "ECOSYSTEM":
            continue
        start: Version | None = None
        for event in one["events"]:
            ((kind, value),) = event.items()
            if kind == "introduced":
                start = Version(value)
            elif start is not None and start <= version:
                end = Version(value)
                if version < end or (kind == "last_affected" and version == end):
                    return True
                start = None
        if start is not None and start <= version:
            return True
    return False


def _pep440(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def test_an_older_web_stack_against_the_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = audit_json(capsys, str(old_web_app(tmp_path)), "--db", str(snapshot()))
    assert code == 1
    by_name = found(document)
    # checked by hand against vulns/<name>/*.yaml: every record whose ECOSYSTEM range covers
    # the version, none other (pyyaml's PYSEC-2018-49 is fixed in 5.1, PYSEC-2020-176 in
    # 5.2b1; requests' PYSEC-2014-13/14 in 2.3.0, PYSEC-2015-17 covers 2.1.0..2.6.0)
    assert by_name["pyyaml"] == {
        "PYSEC-2020-96": (("CVE-2020-1747", "GHSA-6757-jp84-gxfx"), "5.3.1"),
        "PYSEC-2021-142": (("CVE-2020-14343", "GHSA-8q59-q68h-6hv4"), "5.4"),
    }
    assert by_name["requests"] == {
        "PYSEC-2018-28": (("CVE-2018-18074", "GHSA-x84v-xcm2-53pg"), "2.20.0"),
        "PYSEC-2023-74": (("CVE-2023-32681", "GHSA-j8r2-6x86-q33q"), "2.31.0"),
    }
    assert by_name["jinja2"] == {
        "PYSEC-2019-217": (("CVE-2019-10906", "GHSA-462w-v97r-4m45"), "2.10.1"),
        "PYSEC-2021-66": (
            ("CVE-2020-28493", "GHSA-g3rq-g295-4j3m", "SNYK-PYTHON-JINJA2-1012994"),
            "2.11.3",
        ),
    }
    # urllib3 "through 1.24.1": last version affected, fixed in 1.24.3
    assert by_name["urllib3"]["PYSEC-2019-132"] == (
        ("CVE-2019-11236", "GHSA-r64q-w8jr-g9qp"), "1.24.3",
    )  # fmt: skip
    assert "click" not in by_name and "itsdangerous" not in by_name
    # and the whole list: what a plain reading of the records (each range's events pairwise,
    # as PyPA writes them: introduced, then fixed or last_affected) says
    assert {n: set(ids) for n, ids in by_name.items()} == plainly_affected(OLD_WEB)
    assert sum(len(v) for v in by_name.values()) == 19
    db = document["database"]
    assert (db["records"], db["withdrawn"], db["newest_modified"]) == (
        2661, 10, "2024-10-10T17:22:00Z",
    )  # fmt: skip
    assert db["stale"] is True


def test_a_real_older_web_stack_from_its_lock_rpm_and_installed_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """tests/data/realapps/oldweb: OLD_WEB resolved for real (requests 2.19.0 allows urllib3
    <1.24 only, so urllib3 is 1.23) with what it needs (markupsafe, certifi, chardet, idna),
    PyYAML 5.3 built from its sdist (no cp311 wheel), the RPM built offline from the cached
    wheelhouse and installed into the root with its Requires met by the root's rpmdb."""
    require_tools("rpm", "rpmbuild", "unshare", "chroot", "debootstrap")
    manifest = realapps.prepare("oldweb", tmp_path / "oldweb")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    built = realapps.build_offline(manifest, tmp_path / "dist", env, "-q")
    assert built.returncode == 0, built.stderr[-3000:]
    (package,) = (tmp_path / "dist").glob("*.rpm")
    lock = lockfile.read(manifest.parent / "requirements.lock")
    locked = {r.name: r.version for r in lock.requirements}
    assert {**OLD_WEB, "urllib3": "1.23"}.items() <= locked.items()
    assert len(locked) == 12, locked

    db = str(snapshot())
    code, from_manifest = audit_json(capsys, str(manifest), "--db", db)
    assert code == 1
    code, from_rpm = audit_json(capsys, str(package), "--db", db)
    assert code == 1
    root = target.fresh_root(tmp_path / "root")
    install = target.rpm(root, "-i", str(package), check=False)  # no --nodeps
    assert install.returncode == 0, install.stderr
    code, installed = audit_json(capsys, "--installed", "--root", str(root), "--db", db)
    assert code == 1

    # the same findings, ids, aliases and fixed versions, whichever way the stack is read
    assert key(from_manifest) == key(from_rpm) == key(installed)
    assert len(key(from_manifest)) == 20
    for document in (from_manifest, from_rpm, installed):
        assert {(a["name"], a["version"]) for a in document["audited"]} == locked.items()
    for document in (from_rpm, installed):
        assert {w for f in document["findings"] for w in f["where"]} == {"oldweb-1.0.0-1.x86_64"}
    assert installed["target"] == {"kind": "installed", "name": f"installed RPMs of {root}"}

    # ... and they are the records whose ranges cover the locked versions, by a plain reading
    by_name = found(from_manifest)
    assert {n: set(ids) for n, ids in by_name.items()} == plainly_affected(locked)
    # checked by hand against vulns/<name>/*.yaml, the boundaries first: flask's
    # PYSEC-2019-179 is fixed in 1.0 and urllib3's PYSEC-2018-32 (CVE-2018-20060) in 1.23,
    # the very versions locked, so neither is reported
    assert "PYSEC-2019-179" not in by_name["flask"]
    assert "PYSEC-2018-32" not in by_name["urllib3"]
    assert by_name["flask"] == {
        "PYSEC-2023-62": (("CVE-2023-30861", "GHSA-m2qf-hxjv-5gpq"), "2.2.5")
    }
    assert by_name["requests"]["PYSEC-2018-28"] == (
        ("CVE-2018-18074", "GHSA-x84v-xcm2-53pg"), "2.20.0",
    )  # fmt: skip
    # "through 1.24.1": 1.23 is inside; PYSEC-2023-207 has a CVE and no GHSA alias
    assert by_name["urllib3"]["PYSEC-2019-132"] == (
        ("CVE-2019-11236", "GHSA-r64q-w8jr-g9qp"), "1.24.3",
    )  # fmt: skip
    assert by_name["urllib3"]["PYSEC-2023-207"] == (("CVE-2018-25091",), "1.24.2")
    assert len(by_name["urllib3"]) == 7
    # idna's record also has a GIT range (commits): only its ECOSYSTEM range is compared
    assert by_name["idna"] == {"PYSEC-2024-60": (("CVE-2024-3651",), "3.7")}
    assert by_name["pyyaml"] == {
        "PYSEC-2020-96": (("CVE-2020-1747", "GHSA-6757-jp84-gxfx"), "5.3.1"),
        "PYSEC-2021-142": (("CVE-2020-14343", "GHSA-8q59-q68h-6hv4"), "5.4"),
    }
    assert by_name["werkzeug"]["PYSEC-2019-140"] == (
        ("CVE-2019-14806", "GHSA-gq9m-qvpx-68hc"), "0.15.3",
    )  # fmt: skip
    assert len(by_name["werkzeug"]) == 5 and len(by_name["jinja2"]) == 2
    assert not {"certifi", "chardet", "click", "itsdangerous", "markupsafe"} & by_name.keys()

    # what was audited is what is installed: the root runs the stack's HTTP and YAML halves
    # (not Flask: Werkzeug 0.14 imports ABCs from collections, gone in Python 3.10); PyYAML
    # is pure Python, its pregenerated C module does not compile for 3.11
    run = target.chroot(root, "/opt/oldweb/bin/python", "-c",
                        "import requests, urllib3, yaml;"
                        " print(requests.__version__, urllib3.__version__, yaml.__version__,"
                        " yaml.__with_libyaml__)")  # fmt: skip
    assert (run.returncode, run.stdout) == (0, "2.19.0 1.23 5.3 False\n"), run.stderr
    verify = target.rpm(root, "-V", "oldweb", check=False)
    assert (verify.returncode, verify.stdout) == (0, ""), verify.stdout + verify.stderr


def test_the_osv_zip_form_finds_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # osv.dev's PyPI/all.zip: the same records, one JSON member each
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for folder, _, names in os.walk(snapshot() / "vulns"):
            for name in names:
                if name.endswith(".yaml"):
                    text = (Path(folder) / name).read_text()
                    record = yaml.load(text, Loader=yaml.BaseLoader)  # strings, as osv reads
                    out.writestr(name.removesuffix(".yaml") + ".json", json.dumps(record))
    manifest = old_web_app(tmp_path)
    _, from_dir = audit_json(capsys, str(manifest), "--db", str(snapshot()))
    code, from_zip = audit_json(capsys, str(manifest), "--db", str(archive))
    assert code == 1
    assert from_zip["database"]["kind"] == "zip"
    assert from_zip["findings"] == from_dir["findings"]


OWN_RECORDS = {
    "PYSEC-9001": {"name": "tinydep", "events": [{"introduced": "0"}, {"fixed": "1.1"}],
                   "aliases": ["CVE-2099-0001"]},
    "PYSEC-9002": {"name": "sdistonly", "versions": ["2.0"], "aliases": ["GHSA-test-test-test"]},
    "PYSEC-9003": {"name": "awkward-data", "events": [{"introduced": "2.0"}]},
}  # fmt: skip


def own_database(directory: Path) -> Path:
    directory.mkdir()
    for ident, spec in OWN_RECORDS.items():
        affected: dict[str, Any] = {"package": {"ecosystem": "PyPI", "name": spec["name"]}}
        if "events" in spec:
            affected["ranges"] = [{"type": "ECOSYSTEM", "events": spec["events"]}]
        if "versions" in spec:
            affected["versions"] = spec["versions"]
        record = {"id": ident, "modified": "2026-01-01T00:00:00Z", "affected": [affected],
                  "aliases": spec.get("aliases", []), "summary": ident}  # fmt: skip
        (directory / f"{ident}.json").write_text(json.dumps(record))
    return directory


def key(document: dict[str, Any]) -> list[tuple[str, str, str, tuple[str, ...], str | None]]:
    return sorted((f["name"], f["version"], f["id"], tuple(f["aliases"]), f["fixed_in"])
                  for f in document["findings"])  # fmt: skip


def test_manifest_rpm_and_installed_root_agree(
    smallapp: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tools("rpm")
    db = str(own_database(tmp_path / "db"))
    expected = [
        ("sdistonly", "2.0", "PYSEC-9002", ("GHSA-test-test-test",), None),
        ("tinydep", "1.0", "PYSEC-9001", ("CVE-2099-0001",), "1.1"),
    ]
    code, from_manifest = audit_json(capsys, str(smallapp.manifest), "--db", db)
    assert (code, key(from_manifest)) == (1, expected)
    code, from_rpm = audit_json(capsys, str(smallapp.rpm), "--db", db)
    assert (code, key(from_rpm)) == (1, expected)
    assert {f["where"][0] for f in from_rpm["findings"]} == {"smallapp-1.0.0-1.x86_64"}
    # the project itself is bundled too: audited from the RPM, not in the lock
    assert ("smallapp", "1.0.0") in {(a["name"], a["version"]) for a in from_rpm["audited"]}

    root = target.fresh_root(tmp_path / "root")
    code, before = audit_json(capsys, "--installed", "--root", str(root), "--db", db)
    assert (code, before["findings"]) == (0, [])
    target.rpm(root, "-U", "--nodeps", str(smallapp.rpm))
    code, installed = audit_json(capsys, "--installed", "--root", str(root), "--db", db)
    assert (code, key(installed)) == (1, expected)
    assert installed["target"] == {"kind": "installed", "name": f"installed RPMs of {root}"}
    # the library tinynative's wheel bundles (as auditwheel grafts them): reported from the
    # RPM's file list and the installed one alike, and in the SBOM the RPM ships
    site = "/opt/smallapp/lib/python3.11/site-packages"
    library = {"path": f"{site}/tinynative.libs/{BUNDLED_SONAME}", "name": "libtiny",
               "version": "1", "where": "smallapp-1.0.0-1.x86_64"}  # fmt: skip
    assert from_rpm["native_libraries"] == installed["native_libraries"] == [library]
    assert from_manifest["native_libraries"] == []
    shipped = json.loads((root / "usr/share/doc/smallapp/sbom.cdx.json").read_text())
    (component,) = [c for c in shipped["components"] if c["name"] == "libtiny"]
    assert component["version"] == "1"
    assert {p["name"]: p["value"] for p in component["properties"]}["venvrpm:path"] == library[
        "path"
    ]


def test_fix_relocks_to_the_lowest_fixing_version_builds_and_audits_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tools("rpmbuild", "rpm")
    manifest = make_app(tmp_path)
    root = manifest.parent
    assert main(["lock", str(manifest), "-q"]) == 0
    # newer releases reach the wheelhouse: 1.1 fixes the flaw, 1.2 is merely newer
    for version in ("1.1", "1.2"):
        tinybackend.write_wheel(
            root / "wheels", "tinydep", version,
            {"tinydep/__init__.py": f"VALUE = 'tinydep {version}'\n"},
            scripts={"tinydep-tool": "#!python\nimport tinydep\nprint(tinydep.VALUE)\n"},
        )  # fmt: skip
    tinybackend.write_wheel(
        root / "wheels", "awkward-data", "1.1", {"awkward_data/__init__.py": ""}
    )
    db = own_database(tmp_path / "db")
    (Path(db) / "PYSEC-9002.json").unlink()  # sdistonly's: no fix known, tested elsewhere

    def pins() -> dict[str, str]:
        return {r.name: r.version for r in lockfile.read(root / "requirements.lock").requirements}

    assert pins()["tinydep"] == "1.0"
    code, document = audit_json(capsys, str(manifest), "--db", str(db), "--fix")
    assert code == 0, document
    assert document["fix"] == {
        "upgraded": [{"name": "tinydep", "from": "1.0", "to": "1.1"}],
        "unfixable": [],
        "release": "2",
    }
    assert document["findings"] == []
    assert (pins()["tinydep"], pins()["awkward-data"]) == ("1.1", "1.0"), "nothing else moves"
    manifest.write_text(manifest.read_text().replace("release: 1\n", "release: 2\n"))
    assert main(["build", str(manifest), "-o", str(root / "dist"), "-q"]) == 0
    capsys.readouterr()  # the build's own line on stdout
    (package,) = (root / "dist").glob("*.rpm")
    assert package.name == "smallapp-1.0.0-2.x86_64.rpm"
    code, after = audit_json(capsys, str(package), "--db", str(db))
    assert (code, after["findings"]) == (0, [])
    assert ("tinydep", "1.1") in {(a["name"], a["version"]) for a in after["audited"]}


def test_bundle_ships_the_audit_of_its_rpm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tools("rpmbuild", "rpm", "createrepo_c")
    manifest = make_smallapp(tmp_path / "app")
    manifest.write_text(
        manifest.read_text()
        + "audit:\n  ignore:\n    - {id: GHSA-test-test-test, reason: sdistonly is not "
        + "reachable here, expires: 2999-01-01}\n"
    )
    db = own_database(tmp_path / "db")
    code = main(["bundle", str(manifest), "-o", str(tmp_path / "out"), "-q",
                 "--audit-db", str(db)])  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "smallapp-1.0.0-1.x86_64.rpm carries 1 known vulnerabilities" in err
    bundle = tmp_path / "out" / "smallapp-1.0.0-1"
    report = json.loads((bundle / "audit.json").read_text())
    jsonschema.validate(report, SCHEMA)
    assert report["target"] == {"kind": "rpm", "name": "smallapp-1.0.0-1.x86_64.rpm"}
    assert [(f["name"], f["id"]) for f in report["findings"]] == [("tinydep", "PYSEC-9001")]
    assert [f["id"] for f in report["ignored"]] == ["PYSEC-9002"]
    assert [n["name"] for n in report["native_libraries"]] == ["libtiny"]
    assert "  audit.json" in (bundle / "SHA256SUMS").read_text()
    assert "audit.json" in (bundle / "README.txt").read_text()
