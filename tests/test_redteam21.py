"""Red team of issue 21 (a build *takes* its environment's cache entry and puts it back after
rpmbuild; a new entry is linked in only then): entries lost or left half made on the way, each
shown by a failing test first. The cache is untrusted (docs/security.md); what is put back is
checked again by every later take."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_cache import _snapshot, _tree
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
