"""The plan is the build: a build runs exactly the commands ``describe()`` (``--dry-run``) lists.

A real build, recorded (tests/support/recording.py), compared with its plan's description both
ways: nothing runs that is not described, nothing described fails to run, in the described order.
An argument the description names as a placeholder (a value known only at run time) matches any
one argument.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_build_requirements import app_with_build_requirements, write_build_lock
from tests.integration.test_lock import app  # noqa: F401 (a fixture)
from tests.integration.test_pylock import pip_lock
from tests.support.apps import make_smallapp
from tests.support.recording import RecordingRunner
from venvrpm import buildreqs, manifest, pipeline, workspace
from venvrpm.plan import BuildPlan
from venvrpm.runner import HostRunner, Runners

pytestmark = pytest.mark.integration


def _with_project(root: Path) -> Path:
    """The test app whose project builds with a build requirement (tinybackend, build-locked)."""
    made = app_with_build_requirements(root, sdist=False)
    write_build_lock(root)
    return made


def _without_project(root: Path) -> Path:
    """The test app's locked requirements alone: no project, so no wheel and no build env."""
    made = make_smallapp(root, entry_points="[tinydep-tool]")
    made.write_text(made.read_text().replace("project: project\n", ""))
    return made


def _pylock_without_project(root: Path) -> Path:
    """The same, locked by `pip lock` as a pylock.toml: prepare also asks the target's tags."""
    return pip_lock(_without_project(root).parent)


def _with_uv(make):  # type: ignore[no-untyped-def]
    """*make*'s app, installed by uv (build.installer: uv)."""

    def made(root: Path) -> Path:
        path = make(root)
        path.write_text(path.read_text() + "build:\n  installer: uv\n")
        return path

    return made


def _matches(described: list[str], ran: tuple[str, ...], placeholders: set[str]) -> bool:
    # a program the plan names as found on PATH (rpm) ran by the path where it was found
    return len(described) == len(ran) and all(
        want == got or want in placeholders or (i == 0 and Path(got).name == want)
        for i, (want, got) in enumerate(zip(described, ran, strict=True))
    )


@pytest.mark.parametrize(
    ("make", "probes"),
    [
        (_without_project, ["probe", "compile_pip", "rpm_configdir"]),
        (_pylock_without_project, ["probe", "compile_pip", "target_tags", "rpm_configdir"]),
        # uv installs: pip is neither unpacked nor compiled, unless it tells the wheel tags
        (_with_uv(_with_project), ["probe", "rpm_configdir"]),
        (
            _with_uv(_pylock_without_project),
            ["probe", "compile_pip", "target_tags", "rpm_configdir"],
        ),
    ],
    ids=["requirements", "pylock", "uv", "uv-pylock"],
)
def test_what_prepare_runs_is_described_before_the_build(tmp_path: Path, make, probes) -> None:  # type: ignore[no-untyped-def]
    """prepare's probes (the interpreter, rpm, venvrpm's pip compiled into an empty cache; the
    target's wheel tags for a pylock.toml) are listed in ``before_the_build``, each matched by
    one command that ran before the plan."""
    from venvrpm import cache as cache_module

    m = manifest.load(make(tmp_path / "app"))
    runner = RecordingRunner(HostRunner(1))
    cache = cache_module.from_environment({"VENVRPM_CACHE_DIR": str(tmp_path / "cache")})
    with workspace.workspace(keep=False) as workdir:
        plan = pipeline.prepare(
            m, Runners(runner, runner), workdir=workdir, output_dir=workdir / "out",
            source_date_epoch=1, host_env={}, cache=cache,
        )  # fmt: skip
    described = json.loads(json.dumps(plan.describe()))
    before: dict[str, dict[str, list[str]]] = described["before_the_build"]
    placeholders = set(described["placeholders"])
    named = []
    for call in runner.calls:
        names = [n for n, d in before.items() if _matches(d["argv"], call.argv, placeholders)]
        assert len(names) == 1, f"prepare ran, but it is not described: {call.argv}"
        named.append(names[0])
    assert named == probes
    assert named == [n for n in before if n in named], "described in the order prepare runs"


def _prepare(m: manifest.Manifest, runner: RecordingRunner, workdir: Path) -> BuildPlan:
    """The plan as a build makes it, every command recorded (prepare's probes too)."""
    return pipeline.prepare(
        m, Runners(runner, runner), workdir=workdir, output_dir=workdir / "out",
        source_date_epoch=1, host_env={},
    )  # fmt: skip


@pytest.mark.parametrize(
    "make",
    [_with_project, _without_project, _pylock_without_project, _with_uv(_with_project)],
    ids=["project", "no-project", "pylock", "uv-project"],
)
def test_a_build_runs_exactly_the_commands_its_plan_describes(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    m = manifest.load(make(tmp_path / "app"))
    runner = RecordingRunner(HostRunner(1))
    with workspace.workspace(keep=False) as workdir:
        plan = _prepare(m, runner, workdir)
        start = len(runner.calls)  # prepare probes the target and the host; the plan follows
        result = pipeline.build(plan, Runners(runner, runner))
    assert result.rpm is not None
    described = json.loads(json.dumps(plan.describe()))
    commands: dict[str, list[str]] = described["commands"]
    placeholders = set(described.get("placeholders", {}))
    assert all(isinstance(p, str) and p.startswith("<") for p in placeholders)
    ran = [c.argv for c in runner.calls[start:]]
    named = []
    for argv in ran:
        names = [n for n, want in commands.items() if _matches(want, argv, placeholders)]
        assert len(names) == 1, f"ran, but not described (or ambiguous: {names}): {argv}"
        named.append(names[0])
    assert named == list(commands), "described in the order a build runs them, each once"
    # the installers read the locks as parsed: pip would obey whatever else the user's file says
    build_lock = buildreqs.lock_path(m.requirements)
    assert not [argv for argv in ran if str(m.requirements) in argv or str(build_lock) in argv]
    for name, fallback in described.get("fallbacks", {}).items():
        assert not any(_matches(fallback["argv"], argv, placeholders) for argv in ran), name
    if m.project is not None:
        assert {"build_env", "build_wheel"} <= set(commands)
    else:
        assert not {"build_env", "build_wheel", "install_project"} & set(commands)


def test_venvrpm_test_builds_its_environment_with_the_plans_commands(app: Path) -> None:  # noqa: F811
    """`venvrpm test` runs the build's steps (the project's wheel built by its backend, the
    plan's installer), then the test lock's install; no pip: depcheck checks in process."""
    from venvrpm import testenv
    from venvrpm.cli import main

    assert main(["lock", str(app)]) == 0
    m = manifest.load(app)
    runner = RecordingRunner(HostRunner(1))
    with workspace.workspace(keep=False) as workdir:
        plan = _prepare(m, runner, workdir)
        start = len(runner.calls)
        testenv.run_tests(plan, runner)
    ran = [c.argv for c in runner.calls[start:]]
    whats = [c.what for c in runner.calls[start:]]
    assert "building the project's wheel" in whats, whats
    users = {str(t.output) for t in m.locks} | {str(buildreqs.lock_path(m.requirements))}
    assert not [argv for argv in ran if users & set(argv)], "only the locks as parsed"
    assert not [argv for argv in ran if "check" in argv], "pip check: depcheck's, in process"
    assert ran == [
        plan.check_virtualenv,
        plan.create_venv,
        plan.install_lock,
        plan.build_wheel,
        plan.install_test_lock,
        tuple(m.tests.command if m.tests else ()),
    ]
