"""What the source RPM's kit takes from the build host: no credentials, nothing a link points to."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from venvrpm import lockfile, srpm
from venvrpm.errors import UsageError
from venvrpm.fetch import sha256_of
from venvrpm.runner import HostRunner


@pytest.mark.parametrize(
    "path",
    [".env", "sub/.env", ".env.production", ".envrc", ".pypirc", ".netrc", ".git-credentials",
     ".npmrc", ".aws/credentials", ".ssh/config", "deploy/id_rsa", "id_ed25519", "tls/server.key",
     "certs/client.pem", "store.p12", ".docker/config.json"],
)  # fmt: skip
def test_credential_like_paths(path: str) -> None:
    assert srpm.credential_like(path)


@pytest.mark.parametrize(
    "path",
    [".env.example", "env.py", "src/app/keys.py", "id_rsa.pub", ".docker/Dockerfile",
     "docs/environment.md", "pyproject.toml", "src/app/pem.py"],
)  # fmt: skip
def test_ordinary_paths(path: str) -> None:
    assert not srpm.credential_like(path)


def _project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hi')\n")
    (root / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    return root


def _git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True, capture_output=True,
    )  # fmt: skip


def test_a_git_project_ships_what_git_would_commit_not_what_it_ignores(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = _project(tmp_path / "p")
    (project / ".gitignore").write_text(".env\nscratch/\n")
    (project / ".env").write_text("TOKEN=s3cret\n")
    (project / "scratch").mkdir()
    (project / "scratch" / "notes.txt").write_text("private\n")
    _git(project, "init", "-q")
    _git(project, "add", "src/app.py", ".gitignore")
    _git(project, "commit", "-qm", "x")
    # untracked, not ignored: what `git add -A` would take, as the direct build does
    assert srpm._copy_project(project, tmp_path / "kit", HostRunner(1)) == "git ls-files"
    shipped = sorted(str(p.relative_to(tmp_path / "kit")) for p in (tmp_path / "kit").rglob("*"))
    assert shipped == [".gitignore", "pyproject.toml", "src", "src/app.py"]
    srpm._refuse_credentials(project, tmp_path / "kit")  # nothing to refuse


def test_without_git_credentials_are_refused_by_name(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    (project / ".env").write_text("TOKEN=s3cret\n")
    (project / ".aws").mkdir()
    (project / ".aws" / "credentials").write_text("[default]\n")
    assert srpm._copy_project(project, tmp_path / "kit", HostRunner(1)) == "the copy rules"
    with pytest.raises(UsageError) as caught:
        srpm._refuse_credentials(project, tmp_path / "kit")
    assert caught.value.exit_code == 2
    assert ".env" in caught.value.message and ".aws/credentials" in caught.value.message


def test_a_tracked_credential_is_refused_too(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = _project(tmp_path / "p")
    (project / ".pypirc").write_text("[pypi]\npassword = s3cret\n")
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    srpm._copy_project(project, tmp_path / "kit", HostRunner(1))
    with pytest.raises(UsageError, match=r"\.pypirc"):
        srpm._refuse_credentials(project, tmp_path / "kit")


def test_a_git_listed_path_through_a_link_out_of_the_project_is_refused(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = _project(tmp_path / "p")
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    # src/ becomes a link out after git saw it: git still lists src/app.py
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "app.py").write_text("secret\n")
    shutil.rmtree(project / "src")
    (project / "src").symlink_to(outside)
    with pytest.raises(UsageError, match="lead out of it"):
        srpm._copy_project(project, tmp_path / "kit", HostRunner(1))


def test_only_locked_regular_wheels_are_copied(tmp_path: Path) -> None:
    house = tmp_path / "wheels"
    house.mkdir()
    locked = house / "a-1-py3-none-any.whl"
    locked.write_bytes(b"wheel a")
    (house / "stray-1-py3-none-any.whl").write_bytes(b"not in the lock")
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY\n")
    (house / "b-1-py3-none-any.whl").symlink_to(secret)
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        f"a==1 --hash={sha256_of(locked)}\nb==1 --hash={sha256_of(secret)}\n", encoding="utf-8"
    )
    assert srpm._copy_locked_wheels(house, [lockfile.read(lock)], tmp_path / "kit") == 1
    assert os.listdir(tmp_path / "kit") == ["a-1-py3-none-any.whl"]


def test_the_toolchain_holds_no_locking_tools_and_only_documented_native_code(
    tmp_path: Path,
) -> None:
    root = srpm.toolchain(tmp_path)
    tops = {p.name for p in root.iterdir()}
    assert {"venvrpm", "virtualenv", "jsonschema", "yaml"} <= tops
    assert not tops & {"piptools", "pip", "setuptools", "wheel", "build", "click", "pkg_resources"}
    native = {p.relative_to(root).parts[0] for p in root.rglob("*.so")}
    assert native <= set(srpm.NATIVE_IN_TOOLCHAIN), native
