"""venvbuild's pure file work: copying the project."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.test_plan import plan_for
from venvrpm import venvbuild
from venvrpm.errors import EXIT_USAGE, PayloadError, UsageError, VenvrpmError
from venvrpm.runner import Result


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


class _Compiler:
    """Stands in for the target's interpreter: records the module list it was handed."""

    def __init__(self) -> None:
        self.listed: list[bytes] = []

    def run(self, argv: Sequence[str], **kwargs: object) -> Result:
        self.listed.append(Path(argv[-1]).read_bytes())
        return Result(tuple(argv), 0, '{"compiled": 1, "failed": []}', "")


def test_the_compile_list_is_never_written_through_a_planted_link(tmp_path: Path) -> None:
    """A backend run in a container or root build planted ``<work>/compile-list`` as a link
    to a host file: venvrpm, root on the host, overwrote that file (found by the red team)."""
    plan = plan_for(tmp_path)
    plan.workdir.mkdir()
    victim = tmp_path / "host-file"
    victim.write_text("the host's own\n")
    (plan.workdir / "compile-list").symlink_to(victim)
    compiler = _Compiler()
    only = [plan.venv_dir / "a.py", plan.venv_dir / "b.py"]
    venvbuild.compile_bytecode(plan, compiler, only)  # type: ignore[arg-type]
    assert victim.read_text() == "the host's own\n"
    assert compiler.listed == [b"\0".join(os.fsencode(p) for p in only)]
    # the list is removed once used; the planted link is left alone
    assert [p.name for p in plan.workdir.iterdir()] == ["compile-list"]


def test_a_compiler_report_that_is_not_json_is_a_clean_error(tmp_path: Path) -> None:
    plan = plan_for(tmp_path)
    plan.workdir.mkdir()

    class Garbled(_Compiler):
        def run(self, argv: Sequence[str], **kwargs: object) -> Result:
            return Result(tuple(argv), 0, "hello from a replaced python\n", "")

    with pytest.raises(VenvrpmError, match="bytecode"):
        venvbuild.compile_bytecode(plan, Garbled())  # type: ignore[arg-type]


def _built(tmp_path: Path, result: bytes | None) -> Path:
    built = tmp_path / "built"
    built.mkdir(parents=True)
    (built / "app-1.0-py3-none-any.whl").write_bytes(b"PK")
    if result is not None:
        (built / "result.json").write_bytes(result)
    return built


def test_the_built_wheel_is_named_by_the_helpers_result(tmp_path: Path) -> None:
    built = _built(tmp_path, b'{"wheel": "app-1.0-py3-none-any.whl"}')
    assert venvbuild.built_wheel(built) == built / "app-1.0-py3-none-any.whl"


@pytest.mark.parametrize(
    "result",
    [
        b"not json",
        b"[1]",
        b'{"wheel": 3}',
        b'{"wheel": "/etc/shadow"}',
        b'{"wheel": "../../host-file.whl"}',
        b'{"wheel": "sub/app.whl"}',
        b'{"wheel": "missing.whl"}',
        b'{"wheel": "linked.whl"}',
        b'{"wheel": "."}',
        b" " * (2 << 20),
        None,
    ],
)
def test_a_forged_result_is_a_clean_error_and_opens_nothing_outside(
    tmp_path: Path, result: bytes | None
) -> None:
    """The project's backend (or a locked sdist's, in the build) can rewrite ``result.json``:
    venvrpm joined its ``wheel`` to the directory unchecked (an absolute path opened a host
    file as the wheel) and a non-JSON one was a ValueError traceback (found by the red team)."""
    built = _built(tmp_path, result)
    (tmp_path / "host-file.whl").write_bytes(b"PK")
    (built / "linked.whl").symlink_to(tmp_path / "host-file.whl")
    with pytest.raises(VenvrpmError) as caught:
        venvbuild.built_wheel(built)
    assert caught.value.exit_code == 1
    assert "result" in caught.value.message or "wheel" in caught.value.message


def test_a_result_planted_as_a_link_is_not_followed(tmp_path: Path) -> None:
    built = _built(tmp_path, None)
    (tmp_path / "elsewhere.json").write_text('{"wheel": "app-1.0-py3-none-any.whl"}')
    (built / "result.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(VenvrpmError):
        venvbuild.built_wheel(built)
    # nor is the directory itself
    (tmp_path / "b2").symlink_to(_built(tmp_path / "x", b'{"wheel": "app-1.0-py3-none-any.whl"}'))
    with pytest.raises(VenvrpmError):
        venvbuild.built_wheel(tmp_path / "b2")


def test_the_project_wheel_is_installed_with_its_final_paths(tmp_path: Path) -> None:
    """installer's destdir: the stage is the root at runtime, so the project's scripts carry
    the final interpreter and nothing written names the stage (no relocation needed)."""
    from tests.support.tinybackend import write_wheel

    plan = plan_for(tmp_path)
    site = plan.venv_dir / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    wheel = write_wheel(
        tmp_path, "proj", "1.0", {"proj/__init__.py": "def main(): pass\n"},
        entry_points={"proj-cli": "proj:main"}, scripts={"tool": "#!python\nprint(1)\n"},
    )  # fmt: skip
    assert venvbuild.install_wheel(plan, wheel) == []
    final = f"#!{plan.manifest.prefix}/bin/python\n"
    assert (plan.venv_dir / "bin" / "proj-cli").read_text().startswith(final)
    assert (plan.venv_dir / "bin" / "tool").read_text().startswith(final)
    assert (site / "proj" / "__init__.py").is_file()
    record = (site / "proj-1.0.dist-info" / "RECORD").read_text()
    assert "../../../bin/proj-cli," in record
    stage = os.fsencode(plan.stage)
    written = [p for p in plan.stage.rglob("*") if p.is_file()]
    assert written and not [p for p in written if stage in p.read_bytes()]


@pytest.mark.parametrize("planted", ["proj", "bin", "proj-1.0.dist-info"])
def test_the_project_wheel_is_never_written_through_a_planted_link(
    tmp_path: Path, planted: str
) -> None:
    """The project's backend ran before the install (in a container build, confined; its
    processes may outlive it there) and could leave a link in the venv: installer, run by
    venvrpm as root on the host, must not write through it (docs/security.md)."""
    from tests.support.tinybackend import write_wheel

    plan = plan_for(tmp_path)
    site = plan.venv_dir / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    link = plan.venv_dir / "bin" if planted == "bin" else site / planted
    link.symlink_to(outside)
    wheel = write_wheel(
        tmp_path, "proj", "1.0", {"proj/__init__.py": "x = 1\n"},
        entry_points={"proj-cli": "proj:main"},
    )  # fmt: skip
    with pytest.raises(PayloadError):
        venvbuild.install_wheel(plan, wheel)
    assert list(outside.iterdir()) == []


def test_the_toolbox_keeps_its_bytecode_valid(tmp_path: Path) -> None:
    """Every command runs with PYTHONDONTWRITEBYTECODE=1: without the bytecode copied (with the
    sources' mtimes, which it is checked against), the target compiled virtualenv's modules in
    memory on every run (creating the venv 0.5 s -> 0.3 s)."""
    import importlib.util
    import sys

    from venvrpm import toolbox

    toolbox.export(tmp_path, toolbox.VIRTUALENV, copy=True)
    source = tmp_path / "virtualenv" / "__init__.py"
    cached = Path(importlib.util.cache_from_source(str(source)))
    assert cached.is_file(), f"no {cached.name} copied"
    flags = int.from_bytes(cached.read_bytes()[4:8], "little")
    stamp = int.from_bytes(cached.read_bytes()[8:12], "little")
    assert flags != 0 or stamp == int(source.stat().st_mtime), "the copy's mtime invalidates it"
    assert sys.implementation.cache_tag in cached.name
