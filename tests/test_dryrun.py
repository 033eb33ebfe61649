"""``build --dry-run`` runs nothing of the target: no interpreter probe, no container, no chroot.

The manifest is untrusted input: its ``python:`` and its image are the build's, and a dry run
is what one runs to look at a manifest before trusting it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from venvrpm.cli import main

DATA = Path(__file__).parent / "data" / "manifests"


def _marker_script(path: Path, marker: Path) -> Path:
    """An executable that leaves *marker* behind if anything runs it."""
    path.write_text(f'#!/bin/sh\necho ran "$@" >> {marker}\nexit 1\n')
    path.chmod(0o755)
    return path


def _manifest(tmp_path: Path, python: str, build: str = "") -> Path:
    shutil.copy(DATA / "requirements.lock", tmp_path / "requirements.lock")
    text = (
        "name: smallapp\nversion: 1.0.0\nsummary: s\nlicense: MIT\n"
        f"python: {python}\nrequirements: requirements.lock\n{build}"
    )
    (tmp_path / "app.yaml").write_text(text)
    return tmp_path / "app.yaml"


def _dry_run(app: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    out = app.parent / "dist"
    assert main(["build", str(app), "-o", str(out), "--dry-run"]) == 0, capsys.readouterr().err
    assert not out.exists()
    plan: dict[str, object] = json.loads(capsys.readouterr().out)
    return plan


def test_host_dry_run_does_not_probe_the_interpreter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "ran"
    python = _marker_script(tmp_path / "python3", marker)
    plan = _dry_run(_manifest(tmp_path, str(python)), capsys)
    assert not marker.exists()
    interpreter = plan["interpreter"]
    assert isinstance(interpreter, dict)
    assert interpreter["path"] == str(python)
    assert interpreter["version"] == f"unknown until the build probes {python}"
    unknown = plan["unknown"]
    assert isinstance(unknown, list) and any(str(python) in u for u in unknown)
    commands = plan["commands"]
    assert isinstance(commands, dict) and "--require-hashes" in commands["install_lock"]


@pytest.mark.parametrize("engine", ["podman", "docker"])
def test_container_dry_run_starts_no_engine(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    engine: str,
) -> None:
    """Not the engine, not even to look for it: the image need not exist, nor the engine."""
    marker = tmp_path / "ran"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _marker_script(bin_dir / engine, marker)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    build = (
        f"build:\n  container: localhost/venvrpm-no-such-image:0\n  engine: {engine}\n"
        "  run_args: [--memory, 2g]\n"
    )
    plan = _dry_run(_manifest(tmp_path, "/usr/bin/python3.11", build), capsys)
    assert not marker.exists()
    assert plan["build_environment"] == "container"
    assert plan["container"] == {
        "image": "localhost/venvrpm-no-such-image:0", "engine": engine, "run_args": ["--memory", "2g"]
    }  # fmt: skip
    unknown = plan["unknown"]
    assert isinstance(unknown, list)
    assert any("localhost/venvrpm-no-such-image:0" in u for u in unknown)


def test_rootfs_dry_run_does_not_chroot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No root needed, nothing run in the root: its interpreter is a marker script."""
    marker = tmp_path / "ran"
    root = tmp_path / "root"
    (root / "usr" / "bin").mkdir(parents=True)
    _marker_script(root / "usr" / "bin" / "python3", marker)
    plan = _dry_run(_manifest(tmp_path, "/usr/bin/python3", "build:\n  rootfs: root\n"), capsys)
    assert not marker.exists()
    assert plan["build_environment"] == "rootfs"


def test_dry_run_lists_the_commands_a_project_build_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The project's wheel and its build environment are built: listed. pip check never runs
    (depcheck applies its rules in process): not listed. Helpers are named, not printed."""
    shutil.copytree(DATA, tmp_path / "app")
    app = tmp_path / "app" / "good.yaml"
    (tmp_path / "app" / "requirements-build.lock").write_text("")
    plan = _dry_run(app, capsys)
    commands = plan["commands"]
    assert isinstance(commands, dict)
    assert list(commands) == [
        "check_virtualenv", "create_venv", "build_env", "install_lock", "compile_environment",
        "build_wheel", "compile_project", "elf_requires", "elf_provides", "rpmbuild", "verify_rpm",
        "rpm_requires",
    ]  # fmt: skip
    assert "<helper build_project.py>" in commands["build_wheel"]
    assert commands["compile_project"][-1] == "<compile-list>"
    assert not any("check" in argv for argv in commands.values())
    placeholders = plan["placeholders"]
    assert isinstance(placeholders, dict) and "<compile-list>" in placeholders
    fallbacks = plan["fallbacks"]
    assert isinstance(fallbacks, dict) and set(fallbacks) == {
        "create_venv_fallback",
        "install_project",
    }


def test_dry_run_with_sign_lists_rpmsign_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--sign is part of the plan: rpmsign with the key, after the RPM is verified."""
    shutil.copytree(DATA, tmp_path / "app")
    app = tmp_path / "app" / "good.yaml"
    out = tmp_path / "dist"
    argv = ["build", str(app), "-o", str(out), "--dry-run", "--sign", "ops@example.invalid"]
    assert main(argv) == 0
    commands = json.loads(capsys.readouterr().out)["commands"]
    assert list(commands)[-1] == "sign"
    assert commands["sign"][:2] == ["rpmsign", "--addsign"]
    assert "_gpg_name ops@example.invalid" in commands["sign"]
    # SHA-256 whatever the host says: EL 9 rejects SHA-1 signatures
    assert "_gpg_digest_algo sha256" in commands["sign"]


@pytest.mark.parametrize(
    "key",
    [
        "%(id)",  # rpm expands _gpg_name: %(cmd) runs a shell command
        "%{lua:os.execute('id')}",
        "--output=/tmp/x",  # gpg --export would read it as an option
        '-u "x" --output /tmp/x',
        'x" --output "/tmp/x',  # rpm splits %__gpg_sign_cmd at its quotes: -u "%{_gpg_name}"
        "x\\y",
        "ops\n@example.invalid",
    ],
)
@pytest.mark.parametrize("source", ["--sign", "VENVRPM_SIGN_KEY"])
def test_a_sign_key_rpm_or_gpg_would_read_as_code_or_options_is_refused(
    key: str, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The key goes into ``rpmsign --define "_gpg_name KEY"`` (macros expanded, then split at
    quotes into gpg's argv) and into ``gpg --export KEY``: refused where the CLI takes it, exit
    2, the --json document written, nothing planned or run."""
    shutil.copytree(DATA, tmp_path / "app")
    argv = ["build", str(tmp_path / "app" / "good.yaml"), "-o", str(tmp_path / "dist")]
    if source == "--sign":
        argv.append(f"--sign={key}")
    else:
        monkeypatch.setenv("VENVRPM_SIGN_KEY", key)
    assert main([*argv, "--dry-run", "--json"]) == 2
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["exit_code"] == 2 and "commands" not in document
    assert "is not a gpg key id, fingerprint or user id" in document["error"]["message"]
    assert "error: the signing key" in captured.err and "hint:" in captured.err


@pytest.mark.parametrize(
    "key",
    [
        "ops@example.invalid",
        "Ops Team (release) <ops@example.invalid>",
        "O'Brien",
        "0xDEADBEEFCAFEBABE",
        "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678",
        "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678!",
    ],
)
def test_key_ids_fingerprints_and_user_ids_are_signed_with(
    key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(DATA, tmp_path / "app")
    app = tmp_path / "app" / "good.yaml"
    assert main(["build", str(app), "-o", str(tmp_path / "dist"), "--dry-run", "--sign", key]) == 0
    assert f"_gpg_name {key}" in json.loads(capsys.readouterr().out)["commands"]["sign"]


def test_a_pylock_dry_run_chooses_no_file_but_needs_one_of_each_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No tags without probing: the wheelhouse must serve some file of each package without a
    marker, and the plan says that which one is chosen is known only to the build."""
    from tests.test_pylock import WHEELS, multiplatform

    marker = tmp_path / "ran"
    python = _marker_script(tmp_path / "python3", marker)
    text = multiplatform(sdist=False)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    arm = wheels / WHEELS["arm"][0]
    arm.write_bytes(b"an aarch64 wheel")
    pure = wheels / "purelib-1.0-py3-none-any.whl"
    pure.write_bytes(b"pure")
    text = text.replace("2" * 64, _sha256(arm)).replace("5" * 64, _sha256(pure))
    (tmp_path / "pylock.toml").write_text(text)
    (tmp_path / "app.yaml").write_text(
        "name: smallapp\nversion: 1.0.0\nsummary: s\nlicense: MIT\n"
        f"python: {python}\nrequirements: pylock.toml\nwheelhouse: wheels\n"
    )
    plan = _dry_run(tmp_path / "app.yaml", capsys)
    assert not marker.exists()
    assert any("pylock.toml fits that interpreter's wheel tags" in u for u in plan["unknown"])  # type: ignore[union-attr]
    before = plan["before_the_build"]
    assert isinstance(before, dict) and "<helper target_tags.py>" in before["target_tags"]["argv"]
    pure.unlink()
    assert main(["build", str(tmp_path / "app.yaml"), "--dry-run"]) != 0
    assert "purelib==1.0 is not in the wheelhouse" in capsys.readouterr().err


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
