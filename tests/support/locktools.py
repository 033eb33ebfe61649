"""Other tools that write hash-locked requirements files, real ones, for the tests that build
from their output: uv (venvrpm's test extra), pip-compile (venvrpm's own pip-tools), Poetry
with poetry-plugin-export and pdm (each a venv of its own, cached).

Poetry and pdm are not in the test extra: it brings ~40 distributions into every test environment, and
pins some that venvrpm depends on itself (virtualenv, packaging), so the tests would run
venvrpm against versions Poetry chose rather than the ones its users get. It is installed from
the index (the host's pip configuration) once into the test cache, keyed by its pins.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.support.target import CACHE

POETRY = ("poetry==2.5.1", "poetry-plugin-export==1.10.1")
# hishel 2 dropped what pdm 2.29.4 imports (SyncSqliteStorage): the newest pdm and hishel
# together fail in `pdm lock` (seen 2026-12-02)
PDM = ("pdm==2.29.4", "hishel[httpx2]>=1.4,<2")


def uv() -> str:
    """The uv binary of venvrpm's test extra."""
    import uv as uv_package

    return uv_package.find_uv_bin()


def poetry() -> Path:
    """The ``poetry`` of a venv holding :data:`POETRY`."""
    return _tool("poetry", POETRY)


def pdm() -> Path:
    """The ``pdm`` of a venv holding :data:`PDM`."""
    return _tool("pdm", PDM)


def _tool(name: str, pins: tuple[str, ...]) -> Path:
    """*name*'s program in a venv holding *pins*; made on first use, concurrent runs wait."""
    key = hashlib.sha256(" ".join((sys.version, *pins)).encode()).hexdigest()[:12]
    base = CACHE / f"{name}-{key}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (base / "complete").is_file():
            return base / "venv" / "bin" / name
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir()
        subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True)
        # the host's pip configuration (index, proxy, CA bundle) reaches the index
        env = {k: v for k, v in os.environ.items() if k not in ("TMPDIR",)}
        installed = subprocess.run(
            [str(base / "venv" / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
             *pins],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        if installed.returncode != 0:
            shutil.rmtree(base, ignore_errors=True)
            raise RuntimeError(f"installing {pins} failed:\n{installed.stderr}")
        (base / "complete").write_text("ok\n")
    return base / "venv" / "bin" / name


def poetry_environment(home: Path) -> Mapping[str, str]:
    """Poetry's settings, cache and keyring kept out of the developer's: all under *home*."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "POETRY_CONFIG_DIR": str(home / "config"),
        "POETRY_CACHE_DIR": str(home / "cache"),
        "POETRY_DATA_DIR": str(home / "data"),
        "POETRY_VIRTUALENVS_CREATE": "false",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }


def run(argv: list[str], cwd: Path, env: Mapping[str, str]) -> str:
    """Run a locking tool; its output, or a failure with what it said."""
    done = subprocess.run(argv, cwd=cwd, env=dict(env), capture_output=True, text=True)
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def pdm_environment(home: Path) -> Mapping[str, str]:
    """pdm's settings and cache under *home*; it locks for the target's interpreter and makes
    no virtualenv in the project (which venvrpm would copy as the project's source)."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "PDM_CONFIG_FILE": str(home / "config.toml"),
        "PDM_CACHE_DIR": str(home / "cache"),
        "PDM_PYTHON": "/usr/bin/python3.11",
        "PDM_USE_VENV": "0",
        "PDM_CHECK_UPDATE": "0",
    }
