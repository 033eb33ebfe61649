"""Every complete manifest shown in the user guides is one venvrpm accepts: the recipes and the
getting-started page cannot use a key the schema does not have, or break a check made beyond
the schema (units shipped, paths not overlapping, ...)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from venvrpm import manifest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ("recipes.md", "getting-started.md", "targets.md")


def _manifests() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = (DOCS / page).read_text(encoding="utf-8")
        blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
        # complete manifests only (fragments, e.g. a CI job or the end of a file, are skipped)
        found += [
            (f"{page}#{i}", b) for i, b in enumerate(blocks) if re.search(r"^name: ", b, re.M)
        ]
    return found


def _stub_inputs(text: str, base: Path) -> None:
    """Create the files and directories the manifest names, empty, so that only the
    manifest itself is judged."""
    data = yaml.safe_load(text)
    for item in data.get("files", []):
        if "src" in item:
            (base / item["src"]).parent.mkdir(parents=True, exist_ok=True)
            (base / item["src"]).write_text("")
    for name in data.get("lock", {}).get("inputs", []):
        (base / name).write_text("")
    if "project" in data:
        (base / data["project"]).mkdir(parents=True, exist_ok=True)
        (base / data["project"] / "pyproject.toml").write_text("")
    if "rootfs" in data.get("build", {}):
        (base / data["build"]["rootfs"]).mkdir(parents=True, exist_ok=True)


def test_the_pages_show_manifests() -> None:
    assert len([m for m in _manifests() if m[0].startswith("recipes.md")]) == 4
    assert any(m[0].startswith("getting-started.md") for m in _manifests())


@pytest.mark.parametrize(("where", "text"), _manifests(), ids=[m[0] for m in _manifests()])
def test_every_shown_manifest_is_valid(where: str, text: str, tmp_path: Path) -> None:
    _stub_inputs(text, tmp_path)
    parsed = manifest.parse(text, tmp_path / "app.yaml")  # raises ManifestError with each problem
    assert parsed.name
