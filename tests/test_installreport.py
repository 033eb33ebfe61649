"""The installer's report: which of the files the lock allows was installed (issue 17, defect 13)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.support import limits
from tests.test_plan import plan_for
from tests.test_pydists import install_wheel, venv
from tests.test_sbom import _components, _lock
from venvrpm import installreport, pydists, sbom

WHEEL = "a" * 64
SDIST = "b" * 64
OTHER = "c" * 64


def _report(*items: tuple[str, dict[str, str]], version: str = "1") -> dict[str, object]:
    """pip's installation report (format 1) naming each (name, archive hashes)."""
    return {
        "version": version,
        "pip_version": "26.3",
        "install": [
            {
                "metadata": {"name": name, "version": "8.5.1"},
                "download_info": {
                    "url": f"file:///wh/{name}.whl",
                    "archive_info": {"hashes": hashes},
                },
            }
            for name, hashes in items
        ],
    }


def _write(tmp_path: Path, report: object) -> Path:
    path = tmp_path / "install-report.json"
    path.write_text(json.dumps(report))
    return path


def test_pip_writes_its_report_into_the_work_directory(tmp_path: Path) -> None:
    plan = plan_for(tmp_path)
    argv = plan.install_lock
    assert argv[argv.index("--report") + 1] == str(plan.install_report)
    assert plan.install_report.parent == plan.workdir


def test_the_report_names_the_installed_file_among_those_the_lock_allows(tmp_path: Path) -> None:
    lock = _lock(("click", "8.5.1", (f"sha256:{WHEEL}", f"sha256:{SDIST}")),
                 ("six", "1.16.0", (f"sha256:{OTHER}",)))  # fmt: skip
    path = _write(tmp_path, _report(("Click", {"sha256": WHEEL.upper()}), ("six", {"md5": "x"})))
    assert installreport.read(path, lock) == {"click": f"sha256:{WHEEL}"}


def test_a_hash_the_lock_does_not_allow_is_not_believed(tmp_path: Path) -> None:
    lock = _lock(("click", "8.5.1", (f"sha256:{WHEEL}", f"sha256:{SDIST}")),
                 ("six", "1.16.0", (f"sha256:{OTHER}",)))  # fmt: skip
    # another name's hash, an unlocked name: a rewritten report names nothing the lock forbids
    path = _write(tmp_path, _report(("click", {"sha256": OTHER}), ("evil", {"sha256": WHEEL})))
    assert installreport.read(path, lock) == {}
    assert installreport.checked({"click": f"sha256:{OTHER}", "six": 3}, lock) == {}


def test_an_unreadable_or_unknown_report_names_nothing(tmp_path: Path) -> None:
    lock = _lock(("click", "8.5.1", (f"sha256:{WHEEL}", f"sha256:{SDIST}")))
    assert installreport.read(tmp_path / "absent.json", lock) == {}  # uv writes none
    for report in (_report(("click", {"sha256": WHEEL}), version="2"), [], {"install": 3},
                   {"version": "1", "install": [None, {"metadata": 1}]}):  # fmt: skip
        assert installreport.read(_write(tmp_path, report), lock) == {}
    (tmp_path / "install-report.json").write_text("{not json")
    assert installreport.read(tmp_path / "install-report.json", lock) == {}
    # never through a link something run during the build planted
    real = _write(tmp_path, _report(("click", {"sha256": WHEEL})))
    os.replace(real, tmp_path / "real.json")
    (tmp_path / "install-report.json").symlink_to(tmp_path / "real.json")
    assert installreport.read(tmp_path / "install-report.json", lock) == {}


def test_the_recorded_file_reaches_the_sbom_and_the_bundled_list(tmp_path: Path) -> None:
    root = venv(tmp_path)
    install_wheel(root, "click", "8.5.1")
    lock = _lock(("click", "8.5.1", (f"sha256:{WHEEL}", f"sha256:{SDIST}")))
    # online: no wheelhouse tells which file it was; the installer's report does
    found = pydists.with_installed(pydists.find(root, lock, None, {"click": f"sha256:{SDIST}"}), {})
    assert _components(sbom.document("app", "1.0-1", found, 0))["click"]["hashes"] == [
        {"alg": "SHA-256", "content": SDIST}
    ]
    listed = json.loads(pydists.document("app", "/usr/bin/python3", found))["distributions"]
    assert listed == [{"name": "click", "version": "8.5.1", "origin": "lock",
                       "hashes": [f"sha256:{WHEEL}", f"sha256:{SDIST}"],
                       "installed": f"sha256:{SDIST}"}]  # fmt: skip
    # a recorded hash the lock does not allow for the installed version is ignored
    ignored = pydists.find(root, lock, None, {"click": f"sha256:{OTHER}"})
    assert pydists.with_installed(ignored, {})[0].installed is None
    assert "hashes" not in _components(sbom.document("app", "1.0-1", ignored, 0))["click"]


def test_a_report_truncated_to_a_sparse_terabyte_names_nothing(tmp_path: Path) -> None:
    """A locked sdist's backend runs after pip wrote its report, and can truncate it to 1 TB
    (sparse, instant): reading it whole was a MemoryError traceback (found by the red team)."""
    lock = _lock(("click", "8.5.1", (f"sha256:{WHEEL}",)))
    path = limits.sparse_terabyte(_write(tmp_path, _report(("click", {"sha256": WHEEL}))))
    with limits.address_space():
        assert installreport.read(path, lock) == {}
