"""Orchestration: the order and shape of every command a build runs (recorded, run for real)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.apps import make_smallapp
from tests.support.recording import RecordingRunner
from venvrpm import manifest, pipeline, progress, venvbuild, workspace
from venvrpm.errors import SystemRefusal
from venvrpm.runner import HostRunner, Runners

pytestmark = pytest.mark.integration


def test_build_runs_each_step_once_in_order(tmp_path: Path) -> None:
    m = manifest.load(make_smallapp(tmp_path / "app"))
    runner = RecordingRunner(HostRunner(1_700_000_000))
    events: list[tuple[str, str]] = []
    with workspace.workspace(keep=False) as workdir:
        plan = pipeline.prepare(
            m,
            Runners(runner, runner),
            workdir=workdir,
            output_dir=tmp_path / "out",
            source_date_epoch=1_700_000_000,
            host_env={"PIP_INDEX_URL": "https://mirror.invalid"},
            report=lambda kind, text: events.append((kind, text)),
        )
        result = pipeline.build(
            plan, Runners(runner, runner), lambda kind, text: events.append((kind, text))
        )
        site = plan.venv_dir / "lib" / "python3.11" / "site-packages" / "smallapp-1.0.0.dist-info"
        assert (site / "INSTALLER").read_text() == "venvrpm\n"
        assert "from smallapp" in (plan.venv_dir / "bin" / "smallapp").read_text()
    whats = [c.what for c in runner.calls]
    assert whats == [
        "probing the interpreter /usr/bin/python3.11",
        "asking rpm for its config dir",
        "checking that the target can run virtualenv",
        "creating the virtualenv",
        "installing the locked requirements",
        "compiling bytecode for the final path",  # the environment alone: what the cache keeps
        # [build-system] requires = []: no build requirements to install
        "building the project's wheel",  # then installed in process (pypa/installer)
        "compiling bytecode for the final path",
        "reading ELF dependencies",
        "reading ELF provides",
        "rpmbuild",
        "reading the built RPM",
        "reading the built RPM's Requires",
    ]
    calls = {c.what: c for c in runner.calls}
    lock = calls["installing the locked requirements"].argv
    assert {"--require-hashes", "--no-deps", "--no-index", "--no-compile"} <= set(lock)
    assert lock[lock.index("--find-links") + 1] == str(m.wheelhouse)
    # the lock as parsed, written in the work directory: never the user's file
    assert lock[lock.index("-r") + 1] == str(plan.locked_requirements)
    wheel = calls["building the project's wheel"].argv
    assert wheel[:4] == (str(plan.venv_python), "-I", "-S", "-c")
    assert wheel[5] == str(workdir / "src"), "the project is built from a copy"
    # Offline: pip sees only the wheelhouse, never the host's pip configuration.
    # Builds from source: no debug info, pip's temporary and cache directories in the scanned
    # work directory (never ~/.cache/pip: issue 17, defect 4).
    assert calls["installing the locked requirements"].env == {
        "PIP_CONFIG_FILE": os.devnull, **dict(venvbuild.SOURCE_BUILD_FLAGS),
        "TMPDIR": str(workdir / "tmp"), "PIP_CACHE_DIR": str(workdir / "pip-cache"),
        "UV_CACHE_DIR": str(workdir / "uv-cache"),
    }  # fmt: skip
    # the target interpreter runs virtualenv itself, from the toolbox copied into the workdir
    venv = calls["creating the virtualenv"]
    assert venv.argv[:3] == ("/usr/bin/python3.11", "-m", "virtualenv")
    assert "--no-seed" in venv.argv and venv.argv[-1] == str(workdir / "stage" / "opt" / "smallapp")
    assert venv.env["PYTHONPATH"] == str(workdir / "tools")
    lock_pip = calls["installing the locked requirements"].argv[1]
    assert lock_pip.startswith(str(workdir / "tools" / "pip-"))  # unpacked from the wheel
    rpmbuild = calls["rpmbuild"].argv
    assert rpmbuild[rpmbuild.index("--buildroot") + 1] == str(workdir / "stage")
    assert f"_topdir {workdir.parent / 'host' / 'rpmbuild'}" in rpmbuild
    steps = [t for k, t in events if k == "step"]
    assert steps[:3] == ["checking the lock requirements.lock", "probing /usr/bin/python3.11 on this host",
                         "creating the virtualenv"]  # fmt: skip
    assert steps[-2:] == ["running rpmbuild", "verifying the RPM"]
    # installer wrote the project at its final paths (destdir = the stage): bytecode only
    project = steps[steps.index("installing the project") + 1 :]
    assert project[0] == "compiling the project for /opt/smallapp"
    assert [s for s in steps if s.startswith("relocating")] == ["relocating to /opt/smallapp"]
    assert steps.index("relocating to /opt/smallapp") < steps.index("installing the project")
    assert result.rpm == tmp_path / "out" / "smallapp-1.0.0-1.x86_64.rpm"
    assert not workdir.exists()


def test_online_builds_forward_pip_and_tls_settings(tmp_path: Path) -> None:
    text = make_smallapp(tmp_path / "app").read_text().replace("wheelhouse: wheels/\n", "")
    (tmp_path / "app" / "app.yaml").write_text(text)
    m = manifest.load(tmp_path / "app" / "app.yaml")
    runner = RecordingRunner(HostRunner(1))
    host_env = {
        "PIP_INDEX_URL": "https://mirror.invalid/simple",
        "SSL_CERT_FILE": "/etc/ca.pem",
        "HOME": "/root",
        "AWS_SECRET_ACCESS_KEY": "no",
    }
    with workspace.workspace(keep=False) as workdir:
        plan = pipeline.prepare(
            m,
            Runners(runner, runner),
            workdir=workdir,
            output_dir=tmp_path / "out",
            source_date_epoch=1,
            host_env=host_env,
        )
    assert dict(plan.pip_env) == {
        "PIP_INDEX_URL": "https://mirror.invalid/simple",
        "SSL_CERT_FILE": "/etc/ca.pem",
    }
    assert "--no-index" not in plan.install_lock


class _NoVirtualenvTarget(RecordingRunner):
    """A target that cannot import venvrpm's virtualenv (as Python 3.9 cannot)."""

    def run(self, argv, *, what, **kwargs):  # type: ignore[no-untyped-def, override]
        if what == "checking that the target can run virtualenv":
            argv = [argv[0], "-c", "raise SystemExit(1)"]
        return super().run(argv, what=what, **kwargs)


def test_targets_too_old_for_virtualenv_use_the_standard_venv(tmp_path: Path) -> None:
    from tests.support import target

    m = manifest.load(make_smallapp(tmp_path / "app"))
    runner = _NoVirtualenvTarget(HostRunner(1))
    with workspace.workspace(keep=False) as workdir:
        plan = pipeline.prepare(m, Runners(runner, runner), workdir=workdir, output_dir=tmp_path / "out",
                                source_date_epoch=1, host_env={})  # fmt: skip
        result = pipeline.build(plan, Runners(runner, runner))
    created = next(c for c in runner.calls if c.what == "creating the virtualenv")
    assert created.argv[1:4] == ("-m", "venv", "--without-pip")
    assert result.rpm is not None
    root = target.fresh_root(tmp_path / "root")
    assert target.rpm(root, "-i", str(result.rpm), check=False).returncode == 0
    run = target.chroot(root, "/usr/bin/smallapp")
    assert run.returncode == 0 and '"native": 42' in run.stdout
    assert target.rpm(root, "-V", "smallapp", check=False).stdout == ""


def test_shared_pip_gets_its_bytecode_once_per_python_version(tmp_path: Path) -> None:
    """Every command runs with PYTHONDONTWRITEBYTECODE=1, so pip kept between builds is
    compiled when unpacked; otherwise each pip run compiled what it imported again."""
    import sys
    from pathlib import PurePosixPath

    from venvrpm import venvbuild
    from venvrpm.plan import Interpreter

    runner = RecordingRunner(HostRunner(0))
    version = ".".join(map(str, sys.version_info[:3]))
    interpreter = Interpreter(
        path=PurePosixPath(sys.executable), version=version, implementation="cpython"
    )
    from venvrpm.cache import Cache

    cache = Cache(tmp_path / "cache")
    pip = venvbuild.pip_for(interpreter, tmp_path / "build1", runner, cache)
    assert [c.what for c in runner.calls] == ["compiling pip's bytecode"]
    tag = sys.implementation.cache_tag
    assert (pip / "pip" / "__pycache__" / f"__main__.{tag}.pyc").is_file()
    again = venvbuild.pip_for(interpreter, tmp_path / "build2", runner, Cache(tmp_path / "cache"))
    assert again.name == pip.name and (again / "pip" / "__pycache__").is_dir()
    assert len(runner.calls) == 1, "compiled once, not on every build"


def test_a_cached_pip_is_placed_only_when_a_step_runs_it(tmp_path: Path) -> None:
    """Restoring and checking pip's ~1,000 files from the cache cost ~0.1 s of every rebuild,
    which runs no pip: it is placed when a step first needs it, and then verified."""
    import sys
    from pathlib import PurePosixPath

    from venvrpm import venvbuild
    from venvrpm.cache import Cache
    from venvrpm.plan import Interpreter

    runner = RecordingRunner(HostRunner(0))
    version = ".".join(map(str, sys.version_info[:3]))
    interpreter = Interpreter(
        path=PurePosixPath(sys.executable), version=version, implementation="cpython"
    )
    first = venvbuild.pip_for(interpreter, tmp_path / "build1", runner, Cache(tmp_path / "cache"))
    where, place = venvbuild.deferred_pip(
        interpreter, tmp_path / "build2", runner, Cache(tmp_path / "cache")
    )
    assert where.name == first.name and place is not None
    assert not where.exists(), "nothing is restored before a step asks"
    assert place() == where and (where / "pip" / "__main__.py").is_file()
    # an empty cache: pip is unpacked at once, nothing is deferred
    now, later = venvbuild.deferred_pip(
        interpreter, tmp_path / "build3", runner, Cache(tmp_path / "other-cache")
    )
    assert later is None and (now / "pip" / "__main__.py").is_file()


def test_a_uv_build_runs_no_pip_and_installs_the_build_requirements_with_uv(
    tmp_path: Path,
) -> None:
    """With build.installer: uv, pip is neither unpacked nor compiled nor run (issue 21: ~1 s
    of a cold build for the build requirements alone): uv installs them, hash-checked and
    compiled, and the cache keeps what uv installed for the next build."""
    from tests.integration.test_build_requirements import (
        app_with_build_requirements,
        write_build_lock,
    )
    from venvrpm.cache import Cache

    app = app_with_build_requirements(tmp_path / "app")
    app.write_text(app.read_text() + "build:\n  installer: uv\n")
    write_build_lock(app.parent)
    m = manifest.load(app)

    def build(out: Path) -> tuple[RecordingRunner, list[str]]:
        runner = RecordingRunner(HostRunner(1_700_000_000))
        with workspace.workspace(keep=False) as workdir:
            plan = pipeline.prepare(
                m, Runners(runner, runner), workdir=workdir, output_dir=out,
                source_date_epoch=1_700_000_000, host_env={}, cache=Cache(tmp_path / "cache"),
            )  # fmt: skip
            assert plan.tools.uv is not None
            result = pipeline.build(plan, Runners(runner, runner), cache=Cache(tmp_path / "cache"))
            assert result.rpm is not None
            tools = sorted(p.name for p in (workdir / "tools").iterdir())
            pips = [str(workdir / "tools" / "pip"), str(plan.tools.pip)]
            assert not [c.argv for c in runner.calls if any(a.startswith(tuple(pips))
                                                            for a in c.argv)]  # fmt: skip
            if (plan.build_env_dir / "tinybackend.py").is_file():  # installed, not restored
                tag = "cpython-311"
                assert (plan.build_env_dir / "__pycache__" / f"tinybackend.{tag}.pyc").is_file()
            calls = {c.what: c for c in runner.calls}
            installed = calls.get("installing the build requirements (hash-checked)")
            if installed is not None:
                assert installed.argv == plan.build_env
                assert installed.argv[:3] == (str(plan.tools.uv), "pip", "install")
        assert not [t for t in tools if t.startswith("pip")], "pip unpacked for a uv build"
        assert "compiling pip's bytecode" not in [c.what for c in runner.calls]
        return runner, tools

    first, _ = build(tmp_path / "out")
    whats = [c.what for c in first.calls]
    assert "installing the build requirements (hash-checked)" in whats
    assert whats.index("installing the build requirements (hash-checked)") < whats.index(
        "installing the locked requirements"
    ), "the lock's sdist builds with them"
    (rpm,) = (tmp_path / "out").glob("*.rpm")
    # a rebuild restores uv's build environment from the cache: nothing is installed again
    again, _ = build(tmp_path / "again")
    whats = [c.what for c in again.calls]
    assert "installing the build requirements (hash-checked)" not in whats
    assert "installing the locked requirements" not in whats, "the environment's key is stable"
    assert (tmp_path / "again" / rpm.name).read_bytes() == rpm.read_bytes()


def test_entry_points_are_checked_right_after_installing_under_their_name(tmp_path: Path) -> None:
    """A wrong entry point fails in its own step, before the dependency check (which used to
    run first, so the failure was reported under "checking dependencies")."""
    from venvrpm.errors import PayloadError

    m = manifest.load(make_smallapp(tmp_path / "app", entry_points="[smallap]"))
    runner = RecordingRunner(HostRunner(1_700_000_000))
    events: list[tuple[str, str]] = []
    with workspace.workspace(keep=False) as workdir:
        plan = pipeline.prepare(
            m, Runners(runner, runner), workdir=workdir, output_dir=tmp_path / "out",
            source_date_epoch=1_700_000_000, host_env={},
        )  # fmt: skip
        with pytest.raises(PayloadError, match=r"entry point\(s\) not found.*: smallap") as caught:
            pipeline.assemble(plan, Runners(runner, runner), lambda k, t: events.append((k, t)))
    steps = [t for k, t in events if k == "step"]
    assert steps[-1] == "checking the entry points"
    assert "checking dependencies" not in steps
    assert steps.index("checking the entry points") > steps.index("installing the project")
    assert (
        caught.value.hint is not None and "available: smallapp, tinydep-tool" in caught.value.hint
    )


def test_a_buildroot_that_cannot_be_made_is_said(tmp_path: Path) -> None:
    """session makes `venvrpm stage`'s buildroot: a file in its way is the machine's refusal,
    said with the path (exit 1), not a bug."""
    m = manifest.load(make_smallapp(tmp_path / "app"))
    (tmp_path / "blocked").write_text("a file where a directory should be\n")
    with (
        pytest.raises(SystemRefusal, match="making the buildroot: Not a directory"),
        pipeline.session(
            m,
            keep=False,
            output_dir=tmp_path / "out",
            report=progress.quiet,
            stage=tmp_path / "blocked" / "root",
        ),  # fmt: skip
    ):
        raise AssertionError("the session started")
