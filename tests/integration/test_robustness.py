"""Interruptions and faults never leave a wrong or partial artifact, and the next build works."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apps import VERSIONS, make_smallapp, write_lock
from tests.support.procs import survivors
from venvrpm.cli import main

pytestmark = pytest.mark.integration


def build(app: Path, out: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "venvrpm", "build", str(app), "-o", str(out), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


# Where a build is killed: the argv words of a process of the build running at that point
# (a process of the test names its tmp_path). Each is a step of its own that leaves something
# behind if it is cut short: pip's bytecode, the venv, the installed lock, the RPM being packed.
STAGES = {
    "compiling pip": (b"compileall",),
    "making the venv": (b"virtualenv",),
    "installing the lock": (b"install", b"--no-deps"),
    "packing the RPM": (b"-bb",),
}


def running(marker: str, words: tuple[bytes, ...]) -> bool:
    """Whether a live process naming *marker* has every one of *words* in its argv."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if any(marker.encode() in a for a in argv) and all(w in argv for w in words):
                    return True
    return False


@pytest.mark.parametrize("stage", [
    # pip is compiled only into a cache that lacks it
    pytest.param(s, marks=pytest.mark.cold_pip) if s == "compiling pip" else s
    for s in sorted(STAGES)
])  # fmt: skip
def test_sigkill_at_any_point_leaves_nothing_wrong_and_the_next_build_works(
    tmp_path: Path, stage: str
) -> None:
    app = make_smallapp(tmp_path / "app")
    out = tmp_path / "out"
    proc = build(app, out)
    deadline = time.monotonic() + 120
    while not running(str(tmp_path), STAGES[stage]):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the build was never seen {stage} ({proc.communicate()[1][-2000:]})")
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()  # and its pipes closed (an open one is a warning when collected)
    assert survivors(str(tmp_path)) == [], "a process of the killed build is still running"
    if out.exists():
        assert [p for p in out.iterdir() if p.suffix == ".rpm" and not p.name.startswith(".")] in (
            [],
            [out / "smallapp-1.0.0-1.x86_64.rpm"],
        )
    again = build(app, out)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["smallapp-1.0.0-1.x86_64.rpm"], (
        "stale .part removed"
    )
    tmp = Path(os.environ["TMPDIR"])
    assert [p.name for p in tmp.iterdir() if p.name.startswith("venvrpm-")] == [], (
        "stale work directory removed"
    )


def test_two_builds_into_one_output_directory_at_once(tmp_path: Path) -> None:
    one = make_smallapp(tmp_path / "one", name="appone")
    two = make_smallapp(tmp_path / "two", name="apptwo")
    out = tmp_path / "out"
    procs = [build(one, out), build(two, out)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "appone-1.0.0-1.x86_64.rpm",
        "apptwo-1.0.0-1.x86_64.rpm",
    ]


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def assert_clean_failure(code: int, err: str, *words: str) -> None:
    assert code == 1, err
    assert "Traceback" not in err and "hint:" in err
    for word in words:
        assert word in err, err


def test_full_disk_for_the_work_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tempfile

    app = make_smallapp(tmp_path / "app")
    with tmpfs(tmp_path / "small", "size=2m") as small:
        monkeypatch.setattr(tempfile, "tempdir", str(small))
        code = main(["build", str(app), "-o", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert_clean_failure(code, err, "No space left on device")
        assert list(small.iterdir()) == [], "the work directory is removed"
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_full_disk_for_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_smallapp(tmp_path / "app")
    with tmpfs(tmp_path / "out", "size=16k") as out:
        code = main(["build", str(app), "-o", str(out)])
        err = capsys.readouterr().err
        assert_clean_failure(code, err, "cannot write the RPM", "No space left on device")
        assert list(out.iterdir()) == [], "no partial file"


def test_read_only_output_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_smallapp(tmp_path / "app")
    with tmpfs(tmp_path / "out", "ro,size=1m") as out:
        code = main(["build", str(app), "-o", str(out)])
        err = capsys.readouterr().err
        assert_clean_failure(code, err, "Read-only file system")
        assert list(out.iterdir()) == []


def test_a_wheel_that_fails_to_install(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_smallapp(tmp_path / "app")
    wheels = app.parent / "wheels"
    broken = next(wheels.glob("tinydep-*.whl"))
    broken.write_bytes(b"this is not a zip file")
    dists = {p.name.split("-")[0].replace("_", "-"): p for p in wheels.iterdir()}
    write_lock(app.parent / "requirements.lock", dists, VERSIONS)  # the lock trusts the bad file
    code = main(["build", str(app), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert_clean_failure(code, err, "not a valid wheel: tinydep-1.0-py3-none-any.whl")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("smallapp/built_from.txt", b"built in %s\n"),
        ("smallapp/cached.pyc", b"\x00\x00\x00\x00%s\x00"),  # sourceless bytecode
        ("smallapp/_native.so", b"\x7fELF\x02\x01\x01\x00%s\x00"),
    ],
)
def test_a_planted_build_path_fails_the_build_with_the_file_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes
) -> None:
    """The project's build records where it was built (the copy in the work directory)."""
    app = make_smallapp(tmp_path / "app")
    backend = app.parent / "project" / "tinybackend.py"
    backend.write_text(
        backend.read_text()
        + f"\n\n_real_tree = _tree_files\n\ndef _tree_files():\n    out = _real_tree()\n"
        f"    out[{name!r}] = ({content!r} % os.getcwd().encode(), 0o644)\n    return out\n"
    )
    code = main(["build", str(app), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert_clean_failure(code, err, "still contain the build path", name.split("/")[-1])
    assert not (tmp_path / "out").exists()


def test_bytecode_shipped_in_the_projects_wheel_is_dropped_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wheel's own __pycache__ (built elsewhere, maybe stale) never ships: venvrpm compiles."""
    app = make_smallapp(tmp_path / "app")
    backend = app.parent / "project" / "tinybackend.py"
    backend.write_text(
        backend.read_text()
        + "\n\n_real_tree = _tree_files\n\ndef _tree_files():\n    out = _real_tree()\n"
        "    out['smallapp/__pycache__/stale.cpython-311.pyc'] = (b'\\0' * 16, 0o644)\n"
        "    return out\n"
    )
    code = main(["build", str(app), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Skip installing smallapp/__pycache__/stale.cpython-311.pyc" in err
    (rpm,) = (tmp_path / "out").glob("*.rpm")
    listed = subprocess.run(["rpm", "-qpl", str(rpm)], capture_output=True, text=True).stdout
    assert "stale.cpython-311.pyc" not in listed
