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


def test_a_locked_distribution_missing_from_the_venv_fails_the_build(tmp_path: Path) -> None:
    """Issue 17, defect 1: pip skipped the lock's pip==26.3, seeing its own copy in the tools
    directory; whatever the lock pins must be in the venv at its version."""
    from venvrpm import lockfile
    from venvrpm.errors import LockError

    path = tmp_path / "requirements.lock"
    path.write_text(
        f"httpie==3.2.4 --hash=sha256:{'a' * 64}\n"
        f"pip==26.3 --hash=sha256:{'b' * 64}\n"
        f"setuptools==84.2.1 --hash=sha256:{'c' * 64}\n"
        f"wheel==0.45.0 ; python_version < '3' --hash=sha256:{'d' * 64}\n"
    )
    lock = lockfile.read(path).for_target({"python_version": "3.11"})
    installed = [("httpie", "3.2.4"), ("setuptools", "84.2.1"), ("pip", "26.2")]
    with pytest.raises(LockError, match=r"1 locked distribution\(s\) were not installed") as exc:
        venvbuild.check_locked_installed(lock, installed)
    assert list(exc.value.details) == ["pip==26.3"]
    venvbuild.check_locked_installed(lock, [*installed, ("pip", "26.3")])


def test_a_version_spelled_otherwise_is_the_locked_one(tmp_path: Path) -> None:
    """PEP 440: ``2.0`` is ``2.0.0`` (and ``1.0RC1`` is ``1.0rc1``): pip installs it for that pin,
    so it is installed, not missing."""
    from venvrpm import lockfile

    path = tmp_path / "requirements.lock"
    path.write_text(f"foo==2.0 --hash=sha256:{'a' * 64}\nbar==1.0RC1 --hash=sha256:{'b' * 64}\n")
    lock = lockfile.read(path).for_target({"python_version": "3.11"})
    venvbuild.check_locked_installed(lock, [("foo", "2.0.0"), ("bar", "1.0rc1")])
