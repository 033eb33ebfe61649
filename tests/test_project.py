"""project: the one reader of a project's pyproject.toml."""

from __future__ import annotations

from pathlib import Path

from venvrpm import project


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
