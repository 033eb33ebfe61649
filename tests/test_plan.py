"""The plan is a pure value: paths and argv decided before anything runs."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from venvrpm import manifest
from venvrpm.plan import DEFAULT_BINARY_PAYLOAD, Interpreter, Tools, make_plan

DATA = Path(__file__).parent / "data" / "manifests"


def plan_for(tmp_path: Path, host_env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """The plan of good.yaml, built on a fixed interpreter and tools (*host_env*: the host's)."""
    m = manifest.load(DATA / "good.yaml")
    return make_plan(
        m,
        interpreter=Interpreter(
            path=PurePosixPath("/usr/bin/python3.11"), version="3.11.2", implementation="cpython"
        ),
        tools=Tools(
            host_python="/venv/bin/python",
            toolbox=Path("/w/tools"),
            pip=Path("/w/pip.whl"),
            rpmbuild="/usr/bin/rpmbuild",
            elfdeps="/usr/lib/rpm/elfdeps",
        ),
        workdir=tmp_path / "work",
        output_dir=tmp_path / "out",
        source_date_epoch=1,
        host_env={"PIP_EXTRA_INDEX_URL": "x", "PATH": "/bin"} if host_env is None else host_env,
    )


def test_paths(tmp_path: Path) -> None:
    plan = plan_for(tmp_path)
    assert plan.venv_dir == tmp_path / "work" / "stage" / "opt" / "smallapp"
    # the host's files live beside the work directory, never in what a build mounts
    assert plan.spec_path == tmp_path / "host" / "rpmbuild" / "SPECS" / "smallapp.spec"
    assert not plan.spec_path.is_relative_to(plan.workdir)
    assert plan.binary_payload == DEFAULT_BINARY_PAYLOAD
    assert plan.interpreter.minor == "3.11"


def test_pip_runs_from_its_wheel_under_the_target_interpreter(tmp_path: Path) -> None:
    plan = plan_for(tmp_path)
    assert plan.install_lock[:3] == (str(plan.venv_python), "/w/pip.whl/pip", "install")
    # pip check never runs: depcheck applies its rules in process
    assert not any("check" in argv for argv in plan.commands().values())
    # no wheelhouse in good.yaml: online, pip's configuration forwarded, nothing else
    assert not plan.offline and dict(plan.pip_env) == {"PIP_EXTRA_INDEX_URL": "x"}


def test_describe_is_json_friendly(tmp_path: Path) -> None:
    import json

    described = json.loads(json.dumps(plan_for(tmp_path).describe()))
    assert described["commands"]["rpmbuild"][0] == "/usr/bin/rpmbuild"
    assert described["prefix"] == "/opt/smallapp"
