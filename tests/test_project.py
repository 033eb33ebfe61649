"""project: the one reader of a project's pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from venvrpm import project
from venvrpm.files import TooLargeError


def _requires(directory: Path | None) -> tuple[str, ...] | None:
    metadata = project.read(directory)
    return metadata.build_requires if metadata is not None else None


def test_build_requires(tmp_path: Path) -> None:
    assert _requires(None) is None
    assert _requires(tmp_path) is None  # nothing to build
    (tmp_path / "setup.py").write_text("")
    assert _requires(tmp_path) == project.DEFAULT_REQUIRES
    (tmp_path / "pyproject.toml").write_text('[build-system]\nrequires = ["hatchling"]\n')
    assert _requires(tmp_path) == ("hatchling",)


def test_name_scripts_and_dependencies_are_the_static_ones(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "My_App"\ndependencies = ["rich>=13"]\n'
        '[project.scripts]\nmy-app = "m:main"\n[project.gui-scripts]\nmy-gui = "m:gui"\n'
    )
    metadata = project.read(tmp_path)
    assert metadata == project.ProjectMetadata(
        pyproject=True, name="my-app", build_requires=project.DEFAULT_REQUIRES,
        scripts=frozenset({"my-app", "my-gui"}), dependencies=("rich>=13",),
    )  # fmt: skip
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "a"\ndynamic = ["scripts"]\n')
    assert project.read(tmp_path).scripts is None  # type: ignore[union-attr]


def test_an_unusable_pyproject_gives_no_values(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    assert project.read(tmp_path) == project.ProjectMetadata(pyproject=False)


def test_load_refuses_what_read_treats_as_unusable(tmp_path: Path) -> None:
    """``init`` words load's exceptions: deep nesting is invalid TOML (not a RecursionError,
    a bug traceback), a link is not followed (an OSError), nor a file read past the limit."""
    (tmp_path / "pyproject.toml").write_text("x = " + "{a = " * 100_000 + "\n")
    with pytest.raises(tomllib.TOMLDecodeError, match="nested too deeply"):
        project.load(tmp_path)
    (tmp_path / "pyproject.toml").unlink()
    (tmp_path / "real.toml").write_text('[project]\nname = "a"\n')
    (tmp_path / "pyproject.toml").symlink_to("real.toml")
    with pytest.raises(OSError):
        project.load(tmp_path)
    (tmp_path / "pyproject.toml").unlink()
    (tmp_path / "pyproject.toml").write_text("#" * (project.PYPROJECT_LIMIT + 1))
    with pytest.raises(TooLargeError):
        project.load(tmp_path)
