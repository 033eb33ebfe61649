"""helpers/compile_tree.py: bytecode for the final path, on every core, byte for byte the same
as one process compiles."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from venvrpm import venvbuild

HELPER = venvbuild.helper_source("compile_tree.py")


def _tree(root: Path) -> Path:
    """A venv-like tree under *root*/stage: real code (a few stdlib packages: classes, closures,
    f-strings, constants shared between modules), many small modules, one that cannot compile."""
    venv = root / "stage" / "opt" / "app"
    lib = Path(sysconfig.get_paths()["stdlib"])
    for name in ("json", "email", "asyncio", "importlib"):
        shutil.copytree(lib / name, venv / "lib" / name,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for i in range(120):
        (venv / "gen" / f"m{i // 40}").mkdir(parents=True, exist_ok=True)
        (venv / "gen" / f"m{i // 40}" / f"f{i}.py").write_text(f"VALUE = {i}\nNAME = 'f{i}'\n")
    (venv / "gen" / "py2only.py").write_text("print 'hello'\n")
    return venv


def _compile(root: Path, jobs: int) -> tuple[dict[str, object], dict[str, str]]:
    venv = _tree(root)
    stage = root / "stage"
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", HELPER, str(venv), str(stage),
         str(root / "progress"), "", str(jobs)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    pycs = {}
    for dirpath, _, filenames in os.walk(venv):
        for name in filenames:
            if name.endswith(".pyc"):
                path = Path(dirpath, name)
                pycs[str(path.relative_to(stage))] = hashlib.sha256(path.read_bytes()).hexdigest()
    modules = sum(1 for _ in venv.rglob("*.py"))
    assert (root / "progress").stat().st_size == modules, "one byte per module, every process"
    return json.loads(done.stdout), pycs


def test_parallel_bytecode_is_byte_identical_to_serial(tmp_path: Path) -> None:
    serial, serial_pycs = _compile(tmp_path / "serial", 1)
    parallel, parallel_pycs = _compile(tmp_path / "parallel", 4)
    assert serial["jobs"] == 1 and parallel["jobs"] == 4
    assert len(serial_pycs) > 200
    assert parallel_pycs == serial_pycs
    assert serial["failed"] == parallel["failed"] == [["/opt/app/gen/py2only.py", "SyntaxError"]]
    assert serial["compiled"] == parallel["compiled"] == len(serial_pycs)


def test_a_second_run_keeps_current_bytecode_in_every_process(tmp_path: Path) -> None:
    first, _ = _compile(tmp_path, 4)
    (tmp_path / "progress").unlink()
    venv = tmp_path / "stage" / "opt" / "app"
    again = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", HELPER, str(venv), str(tmp_path / "stage"),
         str(tmp_path / "progress"), "", "4"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    report = json.loads(again.stdout)
    assert report["compiled"] == 0 and report["kept"] == first["compiled"]


def test_a_failing_process_fails_the_helper(tmp_path: Path) -> None:
    venv = _tree(tmp_path)
    # a __pycache__ that is a file: py_compile cannot write there (not a PyCompileError)
    (venv / "gen" / "m0" / "__pycache__").write_text("not a directory")
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", HELPER, str(venv), str(tmp_path / "stage"),
         str(tmp_path / "progress"), "", "3"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode != 0 and done.stdout == ""
    assert "a bytecode compiler process failed" in done.stderr


def test_few_modules_are_compiled_without_forking(tmp_path: Path) -> None:
    venv = tmp_path / "stage" / "opt" / "app"
    venv.mkdir(parents=True)
    (venv / "one.py").write_text("X = 1\n")
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", HELPER, str(venv), str(tmp_path / "stage"),
         str(tmp_path / "progress")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert json.loads(done.stdout) == {"compiled": 1, "kept": 0, "failed": [], "jobs": 1}
