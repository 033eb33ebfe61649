"""Shared fixtures. Integration tests use real tools; a missing tool is a failure, not a skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support import target
from tests.support.apps import make_smallapp
from tests.support.procs import survivors
from venvrpm.cli import main

# Hypothesis: quick and varied at a desk; in CI (CI set) more examples, derandomized so a
# failure is the same on a re-run. Timing varies with the machine's load, so no deadline in
# either. HYPOTHESIS_PROFILE picks one explicitly.
settings.register_profile(
    "dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per core. An integration test waits on rpm, chroot, podman and
    the disk about half its time (its wall time is twice its CPU time), so one worker per core
    leaves the cores half idle. PYTEST_XDIST_AUTO_NUM_WORKERS overrides it."""
    return 2 * (os.cpu_count() or 1)


@pytest.fixture(scope="session")
def pip_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An environment cache holding only venvrpm's own pip for the tests' interpreter,
    unpacked and compiled (and its key): made once per worker. Compiling pip costs ~1 s of CPU
    and is not what a test exercises, except the tests marked ``cold_pip``."""
    from pathlib import PurePosixPath

    from venvrpm import cache as cache_module
    from venvrpm import venvbuild
    from venvrpm.runner import HostRunner

    seed = tmp_path_factory.mktemp("pip-seed")
    env = {
        "VENVRPM_CACHE_DIR": str(seed / "venvrpm-cache"),
        "XDG_CONFIG_HOME": str(seed / "config"),
    }
    runner = HostRunner(0)
    interpreter = venvbuild.probe_interpreter(runner, PurePosixPath("/usr/bin/python3.11"))
    cache = cache_module.from_environment(env)
    venvbuild.pip_for(interpreter, seed / "tools", runner, cache)
    shutil.rmtree(seed / "tools")
    return seed


@pytest.fixture(autouse=True)
def isolated_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[None]:
    """No PIP_* from the developer's shell, and a private TMPDIR so leftovers can be counted."""
    for key in list(os.environ):
        if key.startswith("PIP_"):
            monkeypatch.delenv(key)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    # Each test its own environment cache: a hit must never hide what a test exercises. An
    # integration test's starts with venvrpm's own pip in it (a copy of pip_seed's), unless the
    # test is about that pip (marked cold_pip).
    if request.node.get_closest_marker("integration") and not request.node.get_closest_marker(
        "cold_pip"
    ):
        seed = request.getfixturevalue("pip_seed")
        shutil.copytree(seed / "venvrpm-cache", tmp_path / "venvrpm-cache", symlinks=True)
        shutil.copytree(seed / "config", tmp_path / "config", symlinks=True)
    monkeypatch.setenv("VENVRPM_CACHE_DIR", str(tmp_path / "venvrpm-cache"))
    # ... and its own key for the cache's records, outside the cache (docs/security.md)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    # podman on hosts like CI's needs runc and modest ulimits (docs/containers.md)
    if "CONTAINERS_CONF" not in os.environ:
        monkeypatch.setenv(
            "CONTAINERS_CONF", str(Path(__file__).parent / "data" / "containers.conf")
        )
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    yield
    # target roots are overlays (tests/support/target.py): not left mounted
    target.unmount_under(tmp_path)
    # gpg starts an agent for each GNUPGHOME a signing test makes (tmp_path/gnupg) and leaves it
    # running: stop it, and check that nothing of it is left
    gnupg = tmp_path / "gnupg"
    if gnupg.is_dir():
        subprocess.run(["gpgconf", "--homedir", str(gnupg), "--kill", "gpg-agent"],
                       capture_output=True, check=False)  # fmt: skip
        assert survivors(str(gnupg)) == [], "a gpg-agent of the test is still running"


@dataclass(frozen=True)
class Built:
    """A built test application."""

    manifest: Path
    rpm: Path
    tmpdir: Path
    """TMPDIR during the build: its path must not appear in the payload."""


def build_app(root: Path, tmp: Path | None = None, **kwargs: str) -> Built:
    """Make the test application under *root* and build it with the real CLI (TMPDIR *tmp*)."""
    manifest = make_smallapp(root, **kwargs)
    if tmp is None:
        tmp = root / "build-tmp"
        tmp.mkdir()
    saved = tempfile.tempdir
    tempfile.tempdir = str(tmp)
    try:
        code = main(["build", str(manifest), "-o", str(root / "dist"), "-q"])
    finally:
        tempfile.tempdir = saved
    assert code == 0
    (rpm,) = (root / "dist").glob("*.rpm")
    assert list(tmp.iterdir()) == [], "the work directory was not removed"
    return Built(manifest, rpm, tmp)


@pytest.fixture(scope="session")
def smallapp(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The test application built once per session."""
    return build_app(tmp_path_factory.mktemp("smallapp"))


def require_tools(*names: str) -> None:
    """Integration tests need these; their absence fails the test with how to get them."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.fail(f"missing tools {missing}: run .ci/setup (it installs them)")


@pytest.fixture
def terminal_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A terminal rich treats as interactive (TERM=dumb would turn the live display off)."""
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("TTY_INTERACTIVE", "TTY_COMPATIBLE", "CI"):
        monkeypatch.delenv(name, raising=False)
    yield
