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


def _uv_plan(tmp_path: Path, *, installer: str = "uv", offline: bool = True):  # type: ignore[no-untyped-def]
    """good.yaml with a build lock, built by *installer*, from a wheelhouse when *offline*."""
    import shutil

    app = tmp_path / "app"
    shutil.copytree(DATA, app)
    (app / "wheels").mkdir()
    (app / "requirements-build.lock").write_text("")
    text = (app / "good.yaml").read_text() + f"build:\n  installer: {installer}\n"
    (app / "good.yaml").write_text(text + ("wheelhouse: wheels/\n" if offline else ""))
    return make_plan(
        manifest.load(app / "good.yaml"),
        interpreter=Interpreter(
            path=PurePosixPath("/usr/bin/python3.11"), version="3.11.2", implementation="cpython"
        ),
        tools=Tools(
            host_python="/venv/bin/python", toolbox=tmp_path / "work" / "tools",
            pip=tmp_path / "work" / "tools" / "pip-25.0", rpmbuild="/usr/bin/rpmbuild",
            elfdeps="/usr/lib/rpm/elfdeps", uv=Path("/venv/bin/uv"),
        ),
        workdir=tmp_path / "work",
        output_dir=tmp_path / "out",
        source_date_epoch=1,
        host_env={},
        build_lock=app / "requirements-build.lock",
    )  # fmt: skip


def test_uv_installs_the_build_requirements_with_pips_checks(tmp_path: Path) -> None:
    """Hash-checked, wheels only, compiled, nothing but the wheelhouse: what pip does, by uv,
    so that a uv build runs no pip (issue 21: pip's unpacking, compiling and start cost ~1 s
    of a cold build)."""
    plan = _uv_plan(tmp_path)
    work = tmp_path / "work"
    assert plan.build_env == (
        "/venv/bin/uv", "pip", "install", "--python", str(plan.venv_python), "--no-deps",
        "--link-mode", "copy", "--cache-dir", str(work / "uv-cache"), "--no-progress",
        "--quiet", "--no-config", "--no-index", "--find-links", str(tmp_path / "app" / "wheels"),
        "--target", str(work / "build-env"), "--only-binary", ":all:", "--require-hashes",
        "--compile-bytecode", "-r", str(work / "locked-build-requirements.txt"),
    )  # fmt: skip
    pip = str(plan.tools.pip / "pip")
    assert not [name for name, argv in plan.commands().items() if pip in argv]
    assert not plan.runs_pip
    described = plan.describe()
    assert "compile_pip" not in described["before_the_build"], "pip is never compiled"
    assert not [u for u in described["unknown"] if "pip" in u]


def test_online_uv_reads_the_index_for_the_build_requirements_as_pip_does(tmp_path: Path) -> None:
    plan = _uv_plan(tmp_path, offline=False)
    assert plan.build_env is not None
    assert not {"--no-config", "--no-index", "--find-links"} & set(plan.build_env)
    assert {"--require-hashes", "--compile-bytecode", "--target"} <= set(plan.build_env)


def test_pip_still_installs_the_build_requirements_of_a_pip_build(tmp_path: Path) -> None:
    plan = _uv_plan(tmp_path, installer="pip")
    assert plan.build_env is not None
    assert plan.build_env[:4] == (str(plan.venv_python), str(plan.tools.pip / "pip"),
                                  "install", "--target")  # fmt: skip
    assert plan.runs_pip and "compile_pip" in plan.describe()["before_the_build"]


def test_the_installer_of_the_build_requirements_is_in_their_cache_key(tmp_path: Path) -> None:
    """uv and pip install the build lock differently (INSTALLER, RECORD, bytecode): a build
    with one never restores what the other stored."""
    import dataclasses

    from venvrpm import cachekeys
    from venvrpm.plan import BuildIdentity

    identity = BuildIdentity(interpreter=("/usr/bin/python3.11",), backend=("host",))
    uv = dataclasses.replace(_uv_plan(tmp_path / "uv"), built_with=identity)
    pip = dataclasses.replace(_uv_plan(tmp_path / "pip", installer="pip"), built_with=identity)
    assert cachekeys.build_env_key(uv) and cachekeys.build_env_key(pip)
    assert cachekeys.build_env_key(uv) != cachekeys.build_env_key(pip)


def test_a_uv_environments_key_does_not_name_pip(tmp_path: Path) -> None:
    """A uv build never asks which pip virtualenv bundles (importing virtualenv to ask costs
    ~0.1 s): its environment's key names uv, whatever the plan's stand-in for pip."""
    import dataclasses

    from venvrpm import cachekeys, lockfile
    from venvrpm.plan import BuildIdentity

    identity = BuildIdentity(interpreter=("/usr/bin/python3.11",), backend=("host",))
    plan = _uv_plan(tmp_path)
    plan = dataclasses.replace(
        plan, built_with=identity, lock=lockfile.read(plan.manifest.requirements)
    )
    unplaced = dataclasses.replace(
        plan, tools=dataclasses.replace(plan.tools, pip=plan.tools.toolbox / "pip")
    )
    assert cachekeys.environment_key(plan) == cachekeys.environment_key(unplaced)
    pip = dataclasses.replace(plan, manifest=dataclasses.replace(
        plan.manifest, build=dataclasses.replace(plan.manifest.build, installer="pip")))  # fmt: skip
    assert cachekeys.environment_key(pip) != cachekeys.environment_key(
        dataclasses.replace(pip, tools=unplaced.tools)
    ), "a pip build's key names its pip, as before"
