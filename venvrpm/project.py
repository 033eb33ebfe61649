"""The project's ``pyproject.toml``: the one place venvrpm parses it. Pure but for reading it.

A build reads it once (pipeline.prepare / sketch) into :class:`ProjectMetadata` on the plan;
``lock``, ``check`` and ``init`` read it here too. Only static values are taken: what a backend
computes (``dynamic``) is unknown until the project is built.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from venvrpm import files

# PEP 518: a project without [build-system] is built with setuptools.
DEFAULT_REQUIRES = ("setuptools>=40.8.0",)

PYPROJECT_LIMIT = 1024 * 1024
"""The most of a ``pyproject.toml`` read (a project's or an sdist's): real ones are a few kB."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ProjectMetadata:
    """What venvrpm knows of a project directory before building it."""

    pyproject: bool
    """The directory holds a readable, valid ``pyproject.toml`` (else only ``setup.py``)."""
    name: str | None = None
    """``[project] name``, normalised; None when it is not there."""
    build_requires: tuple[str, ...] | None = None
    """``[build-system] requires`` (PEP 518's default without the table, or with only
    ``setup.py``); None when they cannot be told (unreadable or not a list of strings)."""
    scripts: frozenset[str] | None = None
    """``[project.scripts]`` and ``gui-scripts``; None when dynamic or without ``[project]``."""
    dependencies: tuple[str, ...] = ()
    """``[project] dependencies`` as written (not validated)."""


def parse(text: str) -> dict[str, Any]:
    """*text* as TOML; raises ``tomllib.TOMLDecodeError`` (a ValueError)."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        # tomllib recurses on nested arrays and inline tables: a file of "[" is not TOML we
        # can read, not a bug in venvrpm
        raise tomllib.TOMLDecodeError("arrays or tables nested too deeply") from None


def load(directory: Path) -> dict[str, Any]:
    """``directory/pyproject.toml`` parsed; raises OSError, UnicodeDecodeError or
    ``tomllib.TOMLDecodeError`` for the caller to word.

    Read as files.read_regular does: never through a link (the project copy refuses links
    leading out of the project, and this runs before it, as root), never more than
    :data:`PYPROJECT_LIMIT` bytes (TooLargeError, an OSError).
    """
    data = files.read_regular(directory / "pyproject.toml", PYPROJECT_LIMIT)
    return parse(data.decode("utf-8"))


def read(directory: Path | None) -> ProjectMetadata | None:
    """The metadata of the project in *directory*; None without a project (no directory, or
    neither pyproject.toml nor setup.py). An unusable pyproject.toml gives no values."""
    if directory is None:
        return None
    if not (directory / "pyproject.toml").is_file():
        if (directory / "setup.py").is_file():
            return ProjectMetadata(pyproject=False, build_requires=DEFAULT_REQUIRES)
        return None
    try:
        data = load(directory)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return ProjectMetadata(pyproject=False)
    table = data.get("project")
    table = table if isinstance(table, dict) else {}
    name = table.get("name")
    dependencies = table.get("dependencies", [])
    return ProjectMetadata(
        pyproject=True,
        name=canonicalize_name(name) if isinstance(name, str) else None,
        build_requires=build_requires(data),
        scripts=_scripts(data),
        dependencies=tuple(d for d in dependencies if isinstance(d, str))
        if isinstance(dependencies, list)
        else (),
    )


def build_requires(data: dict[str, Any]) -> tuple[str, ...] | None:
    """``[build-system] requires`` of parsed *data* (a project's or an sdist's pyproject.toml):
    PEP 518's default without the table; None when it is not a list of strings."""
    system = data.get("build-system", {"requires": list(DEFAULT_REQUIRES)})
    requires = system.get("requires") if isinstance(system, dict) else None
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        return None
    return tuple(requires)


def _scripts(data: dict[str, Any]) -> frozenset[str] | None:
    table = data.get("project")
    if not isinstance(table, dict) or "scripts" in table.get("dynamic", []):
        return None
    found: set[str] = set()
    for key in ("scripts", "gui-scripts"):
        value = table.get(key, {})
        if isinstance(value, dict):
            found.update(str(k) for k in value)
    return frozenset(found)
