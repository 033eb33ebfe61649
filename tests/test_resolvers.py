"""resolvers: the locking environment pip-tools runs in, and the commands of ``pip lock``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_lock import ScriptedTarget, rootfs_app
from venvrpm import resolvers


def test_a_target_that_cannot_run_pip_tools_is_sent_to_the_uv_resolver(tmp_path: Path) -> None:
    from venvrpm import manifest
    from venvrpm.errors import VenvrpmError
    from venvrpm.plan import Interpreter

    loaded = manifest.load(rootfs_app(tmp_path))
    workdir = tmp_path / "work"
    site = workdir / "lock-tools" / "site-packages"
    site.mkdir(parents=True)
    target = ScriptedTarget(site, "", piptools_runs=False)
    old = Interpreter(path=loaded.python, version="3.9.21", implementation="cpython")
    with pytest.raises(VenvrpmError) as raised:
        resolvers.tool_environment(old, target, workdir, copy=True)  # type: ignore[arg-type]
    assert "does not run under /usr/bin/python3.11 (3.9.21)" in raised.value.message
    assert "set lock.resolver: uv" in (raised.value.hint or "")
    assert "unsupported operand" in raised.value.details[0]


def test_pip_lock_is_given_the_projects_dependencies_and_the_main_locks_pins(
    tmp_path: Path,
) -> None:
    """pip lock (lock.resolver: pip-tools, --format pylock) runs the target interpreter with
    the build's pip; the project is given as its dependencies (pip would lock the project
    itself as a `directory` entry); an environment's constraint is the main lock's pins."""
    from venvrpm import manifest
    from venvrpm.plan import Interpreter

    app = rootfs_app(tmp_path)
    loaded = manifest.load(app)
    workdir = tmp_path / "work"
    workdir.mkdir()
    interpreter = Interpreter(path=loaded.python, version="3.13.5", implementation="cpython")
    tool = resolvers.Resolver(
        interpreter=interpreter, python=workdir / "py", pip=workdir / "pipdir"
    )
    main, dev = loaded.locks
    argv = resolvers.pylock_argv(loaded, main, tool, workdir / "o" / "pylock.toml", workdir,
                                 upgrade=False, upgrade_packages=())  # fmt: skip
    assert argv[:3] == [str(loaded.python), str(workdir / "pipdir" / "pip"), "lock"]
    assert argv[argv.index("--find-links") + 1] == str(loaded.wheelhouse)
    deps = Path(argv[-1])
    assert deps.parent.parent == workdir  # a fresh directory (resolvers.input_file)
    assert deps.read_text().split() == ["tinydep", "awkward-data", "tinynative", "sdistonly"]
    argv = resolvers.pylock_argv(loaded, dev, tool, workdir / "o" / "pylock.toml", workdir,
                                 upgrade=False, upgrade_packages=())  # fmt: skip
    pins = Path(argv[argv.index("--constraint") + 1])
    assert pins.read_text().splitlines() == [
        "awkward-data==1.0", "sdistonly==2.0", "tinydep==1.0", "tinynative==1.0"
    ]  # fmt: skip


def test_pip_lock_refuses_a_project_whose_dependencies_are_dynamic(tmp_path: Path) -> None:
    from venvrpm import manifest
    from venvrpm.errors import UsageError
    from venvrpm.plan import Interpreter

    app = rootfs_app(tmp_path)
    pyproject = app.parent / "project" / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'dependencies = ["tinydep", "awkward-data", "tinynative", "sdistonly"]',
            'dynamic = ["dependencies"]',
        )
    )
    loaded = manifest.load(app)
    interpreter = Interpreter(path=loaded.python, version="3.13.5", implementation="cpython")
    tool = resolvers.Resolver(interpreter=interpreter, pip=tmp_path / "pip")
    with pytest.raises(UsageError, match=r"not listed in its pyproject\.toml") as raised:
        resolvers.pylock_argv(loaded, loaded.locks[0], tool, tmp_path / "pylock.toml", tmp_path,
                                 upgrade=False, upgrade_packages=())  # fmt: skip
    assert "lock.resolver: uv" in (raised.value.hint or "")
