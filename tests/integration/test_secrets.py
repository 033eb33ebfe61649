"""An index URL's password, given to pip by the environment, is never printed (docs/security.md, 9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.apps import make_smallapp
from venvrpm.cli import main

pytestmark = pytest.mark.integration

SECRET = "s3cret"


@pytest.fixture
def online_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """smallapp without its wheelhouse: pip installs from an index with a password in its URL."""
    app = make_smallapp(tmp_path / "app")
    app.write_text(app.read_text().replace("wheelhouse: wheels/\n", ""))
    monkeypatch.setenv("PIP_INDEX_URL", f"https://user:{SECRET}@example.invalid/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", f"https://tok{SECRET}@extra.invalid/simple")
    monkeypatch.setenv("https_proxy", f"http://proxy:{SECRET}@127.0.0.1:9")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    return app


def test_dry_run_masks_the_index_password(
    online_app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = online_app.parent / "dist"
    assert main(["build", str(online_app), "-o", str(out), "--dry-run"]) == 0
    printed = capsys.readouterr()
    plan = json.loads(printed.out)
    assert SECRET not in printed.out + printed.err
    # the variables are there, the account named, the password masked
    assert plan["pip_env"]["PIP_INDEX_URL"] == "https://user:****@example.invalid/simple"
    assert plan["pip_env"]["PIP_EXTRA_INDEX_URL"] == "https://****@extra.invalid/simple"


def test_a_failed_online_build_shows_no_password(
    online_app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pip cannot reach the index: the error (console and --json) names no password."""
    out = online_app.parent / "dist"
    assert main(["build", str(online_app), "-o", str(out), "-v", "--json"]) == 1
    printed = capsys.readouterr()
    document = json.loads(printed.out)
    assert document["ok"] is False and document["error"]["details"]
    assert SECRET not in printed.out + printed.err
