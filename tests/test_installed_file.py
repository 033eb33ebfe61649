"""Orchestration: the SBOM and the bundled list name the file pip installed, from pip's report,
also when the environment comes from the cache (issue 17, defect 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import apps, tinybackend
from tests.support.recording import RecordingRunner
from venvrpm import finalise, manifest, pipeline, pydists, workspace
from venvrpm.cache import Cache
from venvrpm.runner import HostRunner, Runners

pytestmark = pytest.mark.integration


def test_the_installed_file_is_recorded_and_kept_with_the_cached_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = apps.make_smallapp(tmp_path / "app")
    wheels = tmp_path / "app" / "wheels"
    # tinydep 1.0 as pip-compile --generate-hashes locks it: its wheel and its sdist
    sdist = tinybackend.write_sdist(wheels, "tinydep", "1.0", {"src/tinydep/__init__.py": ""})
    wheel = wheels / "tinydep-1.0-py3-none-any.whl"
    lock = (tmp_path / "app" / "requirements.lock").read_text()
    lock = lock.replace(f"--hash=sha256:{apps.sha256(wheel)}",
                        f"--hash=sha256:{apps.sha256(sdist)} \\\n    "
                        f"--hash=sha256:{apps.sha256(wheel)}")  # fmt: skip
    (tmp_path / "app" / "requirements.lock").write_text(lock)
    # as online: no wheelhouse to derive the file from; only pip's report can tell
    monkeypatch.setattr(finalise, "_wheelhouse_files", lambda plan: {})
    m = manifest.load(path)
    cache = Cache(tmp_path / "cache", key_path=tmp_path / "cache.key")
    found = []
    for _ in ("cold", "from the cache"):
        runner = RecordingRunner(HostRunner(1_700_000_000))
        with workspace.workspace(keep=False) as workdir:
            plan = pipeline.prepare(m, Runners(runner, runner), workdir=workdir,
                                    output_dir=tmp_path / "out", source_date_epoch=1_700_000_000,
                                    host_env={}, cache=cache)  # fmt: skip
            result = pipeline.build(plan, Runners(runner, runner), spec_only=True, cache=cache)
            listed = (plan.stage / pydists.doc_path("smallapp").relative_to("/")).read_text()
        installs = [c.argv for c in runner.calls if c.what == "installing the locked requirements"]
        found.append((installs, result.sbom, listed, str(plan.install_report)))
    (cold_install,), _, _, report = found[0]
    assert cold_install[cold_install.index("--report") + 1] == report
    assert found[1][0] == [], "the second build restored the environment"
    for _, sbom_text, list_text, _ in found:
        tinydep = {c["name"]: c for c in json.loads(sbom_text)["components"]}["tinydep"]
        assert tinydep["hashes"] == [{"alg": "SHA-256", "content": apps.sha256(wheel)}]
        assert apps.sha256(sdist) not in sbom_text
        entry = {d["name"]: d for d in json.loads(list_text)["distributions"]}["tinydep"]
        assert entry["installed"] == f"sha256:{apps.sha256(wheel)}"
        assert len(entry["hashes"]) == 2
