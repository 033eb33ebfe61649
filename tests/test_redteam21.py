"""Red team of issue 21 (a build *takes* its environment's cache entry and puts it back after
rpmbuild; a new entry is linked in only then): entries lost or left half made on the way, each
shown by a failing test first. The cache is untrusted (docs/security.md); what is put back is
checked again by every later take."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_cache import _snapshot, _tree, _unsettled
from venvrpm import cache as cache_module
from venvrpm import stale
from venvrpm.cache import Cache


def test_a_taken_entry_and_a_new_one_survive_a_build_in_another_pid_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI containers sharing a cache as the same user do not see each other's processes: to
    them, the pid in ``tmp/entry-PID-*`` is dead. The taken entry's record (and a new entry's)
    waits there for the whole build, rpmbuild included; another build's store or prune
    removed it as debris, and the entry was lost (silently, at settle)."""
    venv = _tree(tmp_path)
    original = _snapshot(venv)
    cache = Cache(tmp_path / "cache")
    assert cache.store("k1", venv, {})
    assert cache.restore("k1", tmp_path / "stage", take=True)
    pending = cache.stage("k2", venv, {})
    assert pending is not None
    pending.approve()
    monkeypatch.setattr(stale, "_alive", lambda pid: False)  # seen from the other namespace
    other = Cache(tmp_path / "cache")
    assert other.store("k3", venv, {})  # removes a dead build's debris first
    other.prune()
    cache.settle()
    assert sorted(e.key for e in cache.entries()) == ["k1", "k2", "k3"], cache.warnings
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []
    assert cache.restore("k1", tmp_path / "again", take=True)
    assert _snapshot(tmp_path / "again") == original


def test_debris_of_a_dead_build_is_still_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = Cache(tmp_path / "cache")
    assert cache.store("k1", _tree(tmp_path), {})
    assert cache.restore("k1", tmp_path / "stage", take=True)
    (scratch,) = (tmp_path / "cache" / "tmp").iterdir()
    for key, taken in list(cache._taken.items()):  # the build dies: the kernel drops its lock
        os.close(taken.claim)
        cache._taken.pop(key)
    monkeypatch.setattr(stale, "_alive", lambda pid: False)
    Cache(tmp_path / "cache").prune()
    assert not scratch.exists()


def test_a_take_interrupted_while_checking_puts_the_entry_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C or SIGTERM (a cancelled CI job) while a 20,000-file entry was checked in the
    build's work directory (seconds): the tree went with the work directory and the record
    stayed as debris; the entry was lost. Put back unchecked, it is checked again when taken."""
    venv = _tree(tmp_path)
    original = _snapshot(venv)
    cache = Cache(tmp_path / "cache")
    assert cache.store("k1", venv, {})
    real = cache_module._check_moved_file
    calls = []

    def interrupted(*args: object) -> tuple[int, int, int]:
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(cache_module, "_check_moved_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.restore("k1", tmp_path / "stage", take=True)
    monkeypatch.setattr(cache_module, "_check_moved_file", real)
    assert not (tmp_path / "stage").exists()
    assert not cache.unsettled()
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []
    again = Cache(tmp_path / "cache")
    assert again.restore("k1", tmp_path / "again", take=True), again.warnings
    assert _snapshot(tmp_path / "again") == original


# --- uv's hard links -----------------------------------------------------------------------------


def _wheel(wheels: Path) -> str:
    """A one-module wheel in *wheels*; its locked line."""
    import base64
    import hashlib
    import zipfile

    files = {
        "demo/__init__.py": b"x = 1\n",
        "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        "demo-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    path = wheels / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{name},sha256={digest.decode()},{len(data)}")
        wheel.writestr("demo-1.0.dist-info/RECORD", "\n".join(record) + "\nRECORD,,\n")
    return f"demo==1.0 --hash=sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}\n"


def test_a_distribution_in_both_locks_is_staged_with_one_link_by_uv(tmp_path: Path) -> None:
    """uv links the build requirements and the lock from one archive in its cache: a
    distribution in both (packaging, setuptools...) was one inode in the build environment (also
    stored in the environment cache) and in the stage. Removing uv's cache after the install
    left it linked: rpmbuild compares every pair of such files, and an in-place write to one
    changed the other cache entry too."""
    import shutil
    import subprocess
    import sys

    from tests.support.locktools import uv
    from tests.test_plan import _uv_plan
    from venvrpm import venvbuild

    plan = _uv_plan(tmp_path)
    line = _wheel(tmp_path / "app" / "wheels")
    plan.workdir.mkdir(parents=True, exist_ok=True)
    Path(plan.workdir / "locked-build-requirements.txt").write_text(line)
    Path(plan.locked_requirements).write_text(line)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(plan.venv_dir)], check=True)
    for argv in (plan.build_env, plan.install_lock):
        assert argv is not None
        subprocess.run([uv(), *argv[1:]], check=True, capture_output=True)
    shutil.rmtree(venvbuild.uv_cache(plan.workdir))  # as install_lock does
    (staged,) = plan.venv_dir.glob("lib/python*/site-packages/demo/__init__.py")
    assert staged.stat().st_nlink == 1
    assert (plan.workdir / "build-env" / "demo" / "__init__.py").is_file()


def test_a_file_written_while_it_was_checked_is_not_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A taken file's (inode, size, mtime), which settle compares, was read *after* hashing
    it: a write in between was what settle then accepted, and a file that differs from its
    record went back into the cache (only the next take found it)."""
    cache = Cache(tmp_path / "cache")
    assert cache.store("k1", _tree(tmp_path), {})
    real = cache_module._sha256_fd

    def written_after_reading(fd: int) -> str:
        digest = real(fd)
        os.utime(fd, ns=(0, 10**18))  # the file changes once read
        return digest

    monkeypatch.setattr(cache_module, "_sha256_fd", written_after_reading)
    assert cache.restore("k1", tmp_path / "stage", take=True)
    monkeypatch.setattr(cache_module, "_sha256_fd", real)
    cache.settle()
    assert cache.entries() == []
    assert any("the build changed" in w for w in cache.warnings), cache.warnings


# --- what the build may do to a taken tree (held: no fix needed) ---------------------------------


@pytest.mark.parametrize("how", ["new", "taken"])
@pytest.mark.parametrize("plant", ["hard link to a same-size file", "directory made a symlink"])
def test_a_file_from_outside_is_never_put_into_the_cache(
    tmp_path: Path, how: str, plant: str
) -> None:
    """Build code (the project's backend, root in a container that sees the work directory)
    puts a file from elsewhere where a staged one was, of the same size and mtime, or
    redirects its directory: settle links by path, and only a file that is still the very
    inode it checked goes in."""
    cache, tree = _unsettled(tmp_path, how)
    data = tree / "lib" / "site-packages" / "pkg" / "data.bin"
    secret = tmp_path / "shadow"
    secret.write_bytes(b"s" * data.stat().st_size)
    os.utime(secret, ns=(data.stat().st_atime_ns, data.stat().st_mtime_ns))
    if plant == "hard link to a same-size file":
        data.unlink()
        os.link(secret, data)
    else:
        elsewhere = tmp_path / "elsewhere"
        pkg = data.parent
        pkg.rename(tmp_path / "moved")
        elsewhere.mkdir()
        for name in os.listdir(tmp_path / "moved"):
            (elsewhere / name).write_bytes(secret.read_bytes())
            os.utime(elsewhere / name, ns=(0, (tmp_path / "moved" / name).stat().st_mtime_ns))
        pkg.symlink_to(elsewhere)
    cache.settle()
    assert cache.entries() == []
    assert secret.stat().st_nlink == (2 if plant.startswith("hard") else 1)
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []
