"""``install: host`` (venvrpm.hostinstall): which wheel each locked distribution gets for the
target's tags, and what is refused before anything is built. The build itself, and that its
payload is the emulated build's, is tests/integration/test_targets.py's."""

from __future__ import annotations

import hashlib
import platform
import sys
from pathlib import Path, PurePosixPath

import pytest

from venvrpm import hostinstall, lockfile, manifest
from venvrpm.errors import LockError, ManifestError, UsageError
from venvrpm.plan import Interpreter

ARM = "cp311-cp311-manylinux_2_17_aarch64"
TAGS = (ARM, "cp311-abi3-manylinux_2_17_aarch64", "py3-none-linux_aarch64", "py3-none-any")
"""The target's tags, best first (what probe_tags asks of its pip), shortened."""


def _wheelhouse(tmp_path: Path, names: dict[str, list[str]]) -> tuple[lockfile.Lock, Path]:
    """Files of the given names, each of its own content, and a lock allowing them all."""
    house = tmp_path / "wheels"
    house.mkdir()
    lines = []
    for pin, files in names.items():
        hashes = []
        for name in files:
            (house / name).write_bytes(name.encode())
            hashes.append(f"--hash=sha256:{hashlib.sha256(name.encode()).hexdigest()}")
        lines.append(f"{pin} {' '.join(hashes)}\n")
    lock = tmp_path / "requirements.txt"
    lock.write_text("".join(lines))
    return lockfile.read(lock), house


def test_each_distribution_gets_its_best_wheel_for_the_target(tmp_path: Path) -> None:
    lock, house = _wheelhouse(tmp_path, {
        "markupsafe==2.1.5": ["MarkupSafe-2.1.5-cp311-cp311-manylinux_2_17_x86_64.whl",
                              "MarkupSafe-2.1.5.tar.gz",
                              "MarkupSafe-2.1.5-py3-none-any.whl",
                              f"MarkupSafe-2.1.5-{ARM}.whl"],
        "attrs==24.2.0": ["attrs-24.2.0-py3-none-any.whl"],
    })  # fmt: skip
    chosen = hostinstall.choose_wheels(lock, house, TAGS)
    assert [p.name for p in chosen] == [f"MarkupSafe-2.1.5-{ARM}.whl",
                                        "attrs-24.2.0-py3-none-any.whl"]  # fmt: skip


def test_a_file_the_lock_does_not_allow_is_never_chosen(tmp_path: Path) -> None:
    lock, house = _wheelhouse(tmp_path, {"attrs==24.2.0": ["attrs-24.2.0-py3-none-any.whl"]})
    (house / f"attrs-24.2.0-{ARM}.whl").write_bytes(b"planted")  # better tag, no locked hash
    (chosen,) = hostinstall.choose_wheels(lock, house, TAGS)
    assert chosen.name == "attrs-24.2.0-py3-none-any.whl"


def test_an_sdist_or_another_platforms_wheel_is_refused_by_name(tmp_path: Path) -> None:
    lock, house = _wheelhouse(tmp_path, {
        "psycopg2==2.9.9": ["psycopg2-2.9.9.tar.gz"],
        "markupsafe==2.1.5": ["MarkupSafe-2.1.5-cp311-cp311-manylinux_2_17_x86_64.whl"],
        "attrs==24.2.0": ["attrs-24.2.0-py3-none-any.whl"],
    })  # fmt: skip
    with pytest.raises(LockError) as info:
        hostinstall.choose_wheels(lock, house, TAGS)
    assert str(info.value) == ("install: host needs a wheel for the target of every locked "
                               "distribution; 2 have none in the wheelhouse")  # fmt: skip
    assert info.value.details == (
        "psycopg2==2.9.9: psycopg2-2.9.9.tar.gz",
        "markupsafe==2.1.5: MarkupSafe-2.1.5-cp311-cp311-manylinux_2_17_x86_64.whl",
    )
    assert "install: target" in info.value.hint


def test_without_a_wheelhouse_it_is_refused(tmp_path: Path) -> None:
    lock, _ = _wheelhouse(tmp_path, {"attrs==24.2.0": ["attrs-24.2.0-py3-none-any.whl"]})
    with pytest.raises(UsageError, match="install: host installs from a wheelhouse"):
        hostinstall.choose_wheels(lock, None, TAGS)


def _interpreter(version: str, implementation: str = "cpython") -> Interpreter:
    return Interpreter(path=PurePosixPath("/usr/bin/python3.11"), version=version,
                       implementation=implementation)  # fmt: skip


def test_venvrpms_interpreter_must_be_the_targets_version() -> None:
    hostinstall.check_host(_interpreter(platform.python_version(), sys.implementation.name))
    other = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro + 1}"
    with pytest.raises(UsageError) as info:
        hostinstall.check_host(_interpreter(other))
    assert f"needs venvrpm to run on the target's Python, cpython {other}" in str(info.value)
    with pytest.raises(UsageError):
        hostinstall.check_host(_interpreter(platform.python_version(), "pypy"))


TARGET = """\
name: app
version: "1.0"
summary: an app
license: MIT
python: /usr/bin/python3.11
requirements: requirements.txt
wheelhouse: wheels
targets:
  - name: arm64
    rootfs: root
    dist: .deb12
    arch: aarch64
"""


def test_install_is_a_targets_key(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    path = tmp_path / "app.yaml"
    path.write_text(TARGET + "    install: host\n")
    loaded = manifest.load(path)
    assert loaded.targets[0].install == "host"
    assert manifest.for_target(loaded, loaded.targets[0]).install == "host"
    path.write_text(TARGET)
    assert manifest.for_target(manifest.load(path), manifest.load(path).targets[0]).install == (
        "target"
    )
    path.write_text(TARGET + "    install: native\n")
    with pytest.raises(ManifestError) as info:
        manifest.load(path)
    assert any("targets[0].install" in str(p) for p in info.value.problems), info.value.problems


def test_the_dry_run_says_what_install_host_runs_instead(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from venvrpm import targets
    from venvrpm.cli import main

    monkeypatch.setattr(targets, "emulation_enabled", lambda arch: True)
    (tmp_path / "root").mkdir()
    lock, _ = _wheelhouse(tmp_path, {"attrs==24.2.0": ["attrs-24.2.0-py3-none-any.whl"]})
    (tmp_path / "requirements.arm64.txt").write_text(lock.path.read_text())
    path = tmp_path / "app.yaml"
    path.write_text(TARGET + "    install: host\n")
    assert main(["build", str(path), "--dry-run", "-q", "-o", str(tmp_path / "out")]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["targets"]
    text = json.dumps(entry["plan"])
    assert "never: install: host unpacks the locked wheels in process" in text
    assert "installing each locked wheel (pypa/installer), install: host" in text


def _host_plan(tmp_path: Path, wheels: list[Path]):  # type: ignore[no-untyped-def]
    """A plan (tests/test_plan.py's) whose lock allows *wheels* and that installs them."""
    import dataclasses

    from tests.test_plan import plan_for

    plan = plan_for(tmp_path)
    (plan.venv_dir / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    lock = tmp_path / "requirements.txt"
    lock.write_text("".join(
        f"{w.name.split('-')[0]}=={w.name.split('-')[1]} "
        f"--hash=sha256:{hashlib.sha256(w.read_bytes()).hexdigest()}\n" for w in wheels
    ))  # fmt: skip
    return dataclasses.replace(plan, lock=lockfile.read(lock), host_wheels=tuple(wheels))


def test_each_wheel_is_installed_at_its_final_paths_and_recorded(tmp_path: Path) -> None:
    from tests.support.tinybackend import write_wheel

    (tmp_path / "wheels").mkdir()
    wheel = write_wheel(tmp_path / "wheels", "proj", "1.0", {"proj/__init__.py": "X = 1\n"},
                        entry_points={"proj": "proj:X"})  # fmt: skip
    plan = _host_plan(tmp_path, [wheel])
    recorded, warnings = hostinstall.install(plan)
    assert recorded == {"proj": "sha256:" + hashlib.sha256(wheel.read_bytes()).hexdigest()}
    assert warnings == []
    site = plan.venv_dir / "lib" / "python3.11" / "site-packages"
    assert (site / "proj" / "__init__.py").read_text() == "X = 1\n"
    assert (site / "proj-1.0.dist-info" / "INSTALLER").read_text() == "venvrpm\n"
    script = (plan.venv_dir / "bin" / "proj").read_text()
    assert script.startswith(f"#!{plan.manifest.prefix}/bin/python\n")


def test_a_wheel_replaced_since_it_was_chosen_is_refused(tmp_path: Path) -> None:
    from tests.support.tinybackend import write_wheel

    (tmp_path / "wheels").mkdir()
    wheel = write_wheel(tmp_path / "wheels", "proj", "1.0", {"proj/__init__.py": "X = 1\n"})
    chosen = wheel.read_bytes()
    plan = _host_plan(tmp_path, [wheel])
    write_wheel(tmp_path / "wheels", "proj", "1.0", {"proj/__init__.py": "X = 'evil'\n"})
    with pytest.raises(LockError, match="changed in the wheelhouse during the build"):
        hostinstall.install(plan)
    assert not (plan.venv_dir / "lib" / "python3.11" / "site-packages" / "proj").exists()
    # nor is a link put in its place followed, even to the very file chosen
    (tmp_path / "elsewhere.whl").write_bytes(chosen)
    wheel.unlink()
    wheel.symlink_to(tmp_path / "elsewhere.whl")
    with pytest.raises(LockError, match=r"install: host: cannot read proj-1\.0-py3-none-any\.whl"):
        hostinstall.install(plan)
