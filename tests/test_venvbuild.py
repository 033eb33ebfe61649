"""venvbuild's pure file work: copying the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from venvrpm import venvbuild
from venvrpm.errors import EXIT_USAGE, UsageError


def _project(root: Path) -> Path:
    project = root / "project"
    (project / "src" / "pkg").mkdir(parents=True)
    (project / "src" / "pkg" / "__init__.py").write_text("")
    (project / "README.md").write_text("readme\n")
    return project


def test_links_inside_the_project_are_copied_as_links(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "src" / "pkg" / "README.md").symlink_to("../../README.md")
    (project / "docs").symlink_to("src")
    venvbuild.copy_project(project, tmp_path / "copy")
    assert (tmp_path / "copy" / "src" / "pkg" / "README.md").is_symlink()
    assert (tmp_path / "copy" / "src" / "pkg" / "README.md").read_text() == "readme\n"


@pytest.mark.parametrize(
    "target", ["/etc/shadow", "../../../secret", "../../../project-other/x", "/"]
)
def test_a_link_leading_out_of_the_project_is_refused(tmp_path: Path, target: str) -> None:
    """The backend reads through a link: ``leak -> /etc/shadow`` shipped the host's file."""
    project = _project(tmp_path)
    (tmp_path / "secret").write_text("secret\n")
    (project / "src" / "pkg" / "leak.txt").symlink_to(target)
    with pytest.raises(UsageError) as caught:
        venvbuild.copy_project(project, tmp_path / "copy")
    assert caught.value.exit_code == EXIT_USAGE
    assert "lead out of it" in caught.value.message
    assert caught.value.details == (f"src/pkg/leak.txt -> {target}",)


def test_a_chain_of_links_is_followed_to_its_end(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "inner").symlink_to("/etc")
    (project / "src" / "pkg" / "x").symlink_to("../../inner/hostname")
    with pytest.raises(UsageError) as caught:
        venvbuild.copy_project(project, tmp_path / "copy")
    assert len(caught.value.details) == 2
