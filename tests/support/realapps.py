"""Real applications from PyPI for the real-app tier (tests/integration/test_realapps.py; oldweb,
an older web stack, is audited in tests/integration/test_audit_integration.py).

Each app is a directory under ``tests/data/realapps/<app>/``: a manifest with no local project
(``wheelhouse: wheels/``), its ``requirements.in``, and the hash-locked ``requirements.lock``
(plus ``requirements-build.lock`` when an sdist needs build requirements) written once by
``venvrpm lock`` and committed. The wheelhouse is not committed: it is fetched from PyPI with
``venvrpm fetch`` once into ``$VENVRPM_TEST_CACHE/realapps/<app>-<hash of the locks>/`` and
reused by every later run (flock-protected, like the target root); the builds then run offline
from a copy of it, with the network cut.

Refreshing a lock: see docs/development.md ("The real-app tier").
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.target import CACHE

DATA = Path(__file__).parents[1] / "data" / "realapps"
LOCKS = ("requirements.lock", "requirements-build.lock")


def app_dir(app: str) -> Path:
    """The committed manifest and locks of *app*."""
    return DATA / app


def lock_key(app: str) -> str:
    """What the wheelhouse depends on: the locks' bytes (a re-lock fetches anew)."""
    digest = hashlib.sha256()
    for name in LOCKS:
        path = app_dir(app) / name
        digest.update(f"{name}\0".encode())
        digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()[:12]


def cached_wheelhouse(app: str) -> Path:
    """The wheelhouse of *app*, fetched from the index on first use; concurrent runs wait."""
    base = CACHE / "realapps" / f"{app}-{lock_key(app)}"
    wheels = base / "wheels"
    base.parent.mkdir(parents=True, exist_ok=True)
    with open(base.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (base / "complete").is_file():
            return wheels
        shutil.rmtree(base, ignore_errors=True)
        partial = base / "partial"
        partial.mkdir(parents=True)
        for name in ("app.yaml", "requirements.in", *LOCKS):
            if (app_dir(app) / name).is_file():
                shutil.copy(app_dir(app) / name, partial / name)
        # the host's pip configuration (index, proxy, CA bundle) reaches the index
        env = {k: v for k, v in os.environ.items() if k not in ("VENVRPM_CACHE_DIR", "TMPDIR")}
        fetched = subprocess.run(
            [sys.executable, "-m", "venvrpm", "fetch", str(partial / "app.yaml")],
            capture_output=True,
            text=True,
            env=env,
        )
        if fetched.returncode != 0:
            shutil.rmtree(base, ignore_errors=True)
            raise RuntimeError(f"venvrpm fetch of {app} failed:\n{fetched.stderr}")
        (partial / "wheels").rename(wheels)
        shutil.rmtree(partial)
        (base / "complete").write_text("ok\n")
    return wheels


def prepare(app: str, dest: Path) -> Path:
    """A private copy of *app* at *dest* with its wheelhouse; returns the manifest."""
    wheels = cached_wheelhouse(app)
    shutil.copytree(app_dir(app), dest)
    subprocess.run(["cp", "-a", "--reflink=auto", str(wheels), str(dest / "wheels")], check=True)
    return dest / "app.yaml"


def build_offline(
    manifest: Path, dist: Path, env: dict[str, str], *options: str
) -> subprocess.CompletedProcess[str]:
    """``venvrpm build --offline`` with the network cut (``unshare -n``): nothing may reach out."""
    return subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "venvrpm", "build", str(manifest), "--offline",
         "-o", str(dist), *options],
        capture_output=True,
        text=True,
        env=env,
    )  # fmt: skip
