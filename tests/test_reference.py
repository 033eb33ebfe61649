"""docs/reference.md is what ``venvrpm schema --markdown`` prints, and it names every key."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from venvrpm import manifest, reference
from venvrpm.cli import main

DOC = Path(__file__).resolve().parent.parent / "docs" / "reference.md"


def _keys(node: Mapping[str, Any], path: str = "") -> Iterator[str]:
    """Every property of the schema as a dotted path, walked independently of the generator."""
    for name, child in node.get("properties", {}).items():
        key = f"{path}.{name}" if path else name
        yield key
        yield from _keys(child, key)
        if isinstance(child.get("items"), dict):
            yield from _keys(child["items"], f"{key}[]")
        if isinstance(child.get("additionalProperties"), dict):
            yield from _keys(child["additionalProperties"], f"{key}.<name>")


def test_reference_is_up_to_date() -> None:
    expected = reference.render(manifest.schema())
    assert DOC.read_text(encoding="utf-8") == expected, (
        f"docs/reference.md is out of date with the schema: run `{reference.COMMAND}`"
    )


def test_every_schema_key_is_in_the_reference() -> None:
    text = reference.render(manifest.schema())
    keys = list(_keys(manifest.schema()))
    assert len(keys) > 60
    missing = [k for k in keys if f"| `{k}` |" not in text]
    assert missing == []


def test_cli_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--markdown"]) == 0
    assert capsys.readouterr().out == reference.render(manifest.schema())
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == manifest.schema()


def test_render_cells() -> None:
    schema = {
        "title": "T",
        "description": "Paths like /opt/<name>.",
        "type": "object",
        "required": ["mode"],
        "properties": {
            "mode": {
                "description": "How: `a|b` or <x>",
                "oneOf": [{"type": "boolean"}, {"enum": ["on", "off"]}],
                "default": False,
            },
            "quote": {"type": "string", "pattern": "^[^`|]*$"},
            "items": {
                "type": "array",
                "uniqueItems": True,
                "items": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "integer", "minimum": 1}},
                },
            },
        },
    }
    lines = reference.render(schema).splitlines()
    assert "T. Paths like /opt/&lt;name>." in lines
    assert (
        "| `mode` | boolean or string | yes | `false` | How: `a\\|b` or &lt;x>. "
        "Values: `on`, `off`. |"
    ) in lines
    assert "| `quote` | string | no |  | Pattern ``^[^`\\|]*$``. |" in lines
    assert "| `items` | list of mappings | no |  | No duplicates. |" in lines
    assert "## `items[]`" in lines
    assert "| `items[].id` | integer | yes |  | At least 1. |" in lines
