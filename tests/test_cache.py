"""The environment cache: entries are whole or absent, checked on the way out, bounded."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from venvrpm import cache as cache_module
from venvrpm.cache import Cache, key_of, parse_size
from venvrpm.cli import main
from venvrpm.errors import UsageError


def _tree(root: Path) -> Path:
    venv = root / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "lib" / "site-packages" / "pkg").mkdir(parents=True)
    (venv / "empty").mkdir()
    (venv / "bin" / "tool").write_text("#!/opt/app/bin/python\nprint('hi')\n")
    (venv / "bin" / "tool").chmod(0o755)
    (venv / "lib" / "site-packages" / "pkg" / "__init__.py").write_bytes(b"x = 1\n" * 1000)
    (venv / "lib" / "site-packages" / "pkg" / "data.bin").write_bytes(bytes(range(256)) * 64)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3.11")
    (venv / "lib64").symlink_to("lib")
    return venv


def _snapshot(root: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            found[rel] = ("dir", path.stat().st_mode & 0o7777)
        else:
            found[rel] = ("file", path.stat().st_mode & 0o7777, path.read_bytes())
    return found


TAKE = pytest.mark.parametrize("take", [False, True], ids=["linked", "taken"])


@TAKE
def test_an_entry_restores_exactly_what_was_stored(tmp_path: Path, take: bool) -> None:
    venv = _tree(tmp_path)
    cache = Cache(tmp_path / "cache")
    assert cache.store("k1", venv, {"app": "demo"})
    dest = tmp_path / "stage" / "opt" / "app"
    assert cache.restore("k1", dest, take=take)
    assert _snapshot(dest) == _snapshot(venv)
    cache.settle()
    (entry,) = cache.entries()
    assert (entry.key, entry.app, entry.files) == ("k1", "demo", len(_snapshot(venv)))
    assert cache.restore("k1", tmp_path / "again", take=take)
    assert _snapshot(tmp_path / "again") == _snapshot(venv)


def _links(root: Path) -> set[int]:
    return {p.lstat().st_nlink for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


def test_a_taken_entry_gives_each_file_one_link_until_the_build_settles(tmp_path: Path) -> None:
    """rpmbuild compares every pair of files that have other links (rpm 4.18's isHardLink):
    restored as hard links, a 21,600-file environment cost it 1.8 s. Taken, the files have
    one link each during the build; other builds miss the entry meanwhile."""
    venv = _tree(tmp_path)
    original = _snapshot(venv)
    cache = Cache(tmp_path / "cache")
    assert cache.store("k1", venv, {})
    shutil.rmtree(venv)  # the storing build's work directory is gone
    dest = tmp_path / "stage" / "opt" / "app"
    assert cache.restore("k1", dest, take=True)
    assert _links(dest) == {1}
    assert cache.entries() == []
    assert not Cache(tmp_path / "cache").restore("k1", tmp_path / "other", take=True)
    assert cache.unsettled()
    cache.settle()
    assert not cache.unsettled()
    assert [e.key for e in cache.entries()] == ["k1"]
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []
    assert cache.restore("k1", tmp_path / "again", take=True)
    assert _snapshot(tmp_path / "again") == original


def test_a_new_entry_is_linked_in_only_when_the_build_settles(tmp_path: Path) -> None:
    venv = _tree(tmp_path)
    original = _snapshot(venv)
    cache = Cache(tmp_path / "cache")
    pending = cache.stage("k1", venv, {})
    assert pending is not None
    pending.approve()
    assert _links(venv) == {1}, "rpmbuild runs before the entry is linked in"
    assert cache.entries() == []
    cache.settle()
    assert [e.key for e in cache.entries()] == ["k1"]
    assert cache.restore("k1", tmp_path / "dest", take=True)
    assert _snapshot(tmp_path / "dest") == original


def _unsettled(tmp_path: Path, how: str) -> tuple[Cache, Path]:
    """A cache whose entry ``k1`` (of :func:`_tree`) awaits :meth:`Cache.settle`, *how*: "new"
    (recorded and approved, not yet linked in) or "taken" (restored into ``stage/`` with
    *take*); and the tree the build works in."""
    venv = _tree(tmp_path)
    cache = Cache(tmp_path / "cache")
    if how == "new":
        pending = cache.stage("k1", venv, {})
        assert pending is not None
        pending.approve()
        return cache, venv
    assert cache.store("k1", venv, {})
    tree = tmp_path / "stage"
    assert cache.restore("k1", tree, take=True)
    return cache, tree


@pytest.mark.parametrize("change", ["written in place", "replaced", "removed"])
@pytest.mark.parametrize("how", ["new", "taken"])
def test_a_file_changed_before_the_build_settles_is_never_cached(
    tmp_path: Path, change: str, how: str
) -> None:
    cache, tree = _unsettled(tmp_path, how)
    data = tree / "lib" / "site-packages" / "pkg" / "data.bin"
    time.sleep(0.01)
    if change == "written in place":
        with data.open("r+b") as fh:
            fh.write(b"project wrote here")
    elif change == "replaced":
        data.with_name("new").write_bytes(data.read_bytes())
        os.replace(data.with_name("new"), data)
    else:
        data.unlink()
    cache.settle()
    assert cache.entries() == []
    assert any("lib/site-packages/pkg/data.bin" in w for w in cache.warnings), cache.warnings
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []


def test_a_taken_entry_blamed_for_a_failed_check_is_not_put_back(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    cache.store("k1", _tree(tmp_path), {})
    assert cache.restore("k1", tmp_path / "stage", take=True)
    assert cache.remove("k1")  # environment.Locked.blame
    cache.settle()
    assert cache.entries() == []
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []


def test_a_miss_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    assert not Cache(tmp_path / "cache").restore("absent", dest)
    assert not dest.exists()


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "add a file", "remove a file",
                                    "retarget a link", "garble the record"])  # fmt: skip
@TAKE
def test_a_damaged_entry_is_detected_removed_and_leaves_nothing(
    tmp_path: Path, damage: str, take: bool
) -> None:
    venv = _tree(tmp_path)
    cache = Cache(tmp_path / "cache")
    cache.store("k1", venv, {})
    tree = tmp_path / "cache" / "envs" / "k1" / "tree"
    data = tree / "lib" / "site-packages" / "pkg" / "data.bin"
    if damage == "flip a byte":
        raw = bytearray(data.read_bytes())
        raw[100] ^= 1
        data.write_bytes(bytes(raw))
    elif damage == "truncate":
        data.write_bytes(data.read_bytes()[:10])
    elif damage == "add a file":
        (tree / "bin" / "intruder").write_text("x")
    elif damage == "remove a file":
        data.unlink()
    elif damage == "retarget a link":
        (tree / "bin" / "python").unlink()
        (tree / "bin" / "python").symlink_to("/tmp/evil")
    else:
        (tmp_path / "cache" / "envs" / "k1" / "entry.json").write_text("{not json")
    dest = tmp_path / "dest"
    assert not cache.restore("k1", dest, take=take)
    assert not dest.exists()
    assert not (tmp_path / "cache" / "envs" / "k1").exists()
    assert cache.entries() == []
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []


def test_a_partial_entry_is_invisible_and_cleared_once_its_writer_is_gone(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    # what a build killed while storing leaves: its scratch directory under tmp/
    dead = tmp_path / "cache" / "tmp" / "entry-999999999-abcdefgh"
    (dead / "tree").mkdir(parents=True)
    assert cache.entries() == []
    assert not cache.restore("k1", tmp_path / "dest")
    cache.store("k2", _tree(tmp_path), {})
    assert not dead.exists()


def test_two_builds_storing_the_same_key_leave_one_entry(tmp_path: Path) -> None:
    venv = _tree(tmp_path)
    cache = Cache(tmp_path / "cache")
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.store("k1", venv, {})))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1
    assert [e.key for e in cache.entries()] == ["k1"]
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []
    assert cache.restore("k1", tmp_path / "dest")


def test_prune_keeps_the_most_recently_used_within_the_limit(tmp_path: Path) -> None:
    venv = _tree(tmp_path)
    cache = Cache(tmp_path / "cache")
    for number, key in enumerate(("old", "mid", "new")):
        cache.store(key, venv, {})
        stamp = time.time() - 1000 + number * 100
        os.utime(tmp_path / "cache" / "envs" / key / "entry.json", (stamp, stamp))
    size = cache.entries()[0].size
    removed = cache.prune(limit=2 * size)
    assert [e.key for e in removed] == ["old"]
    assert [e.key for e in cache.entries()] == ["new", "mid"]
    removed = cache.prune(older_than=850)
    assert [e.key for e in removed] == ["mid"]
    assert cache.prune(limit=0) and cache.entries() == []


def test_restoring_marks_an_entry_used(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    venv = _tree(tmp_path)
    for key in ("a", "b"):
        cache.store(key, venv, {})
        os.utime(tmp_path / "cache" / "envs" / key / "entry.json", (1, 1))
    cache.restore("a", tmp_path / "dest")
    assert [e.key for e in cache.entries()] == ["a", "b"]


def test_an_entry_in_use_is_not_pruned(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    cache.store("busy", _tree(tmp_path), {})
    lock = tmp_path / "cache" / "locks" / "busy"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_SH)  # what restore() holds while copying
        assert cache.prune(limit=0) == []
    assert [e.key for e in cache.prune(limit=0)] == ["busy"]


def test_storing_prunes_nothing_under_the_limit_but_keys_differ_by_input() -> None:
    base = {"lock": "a", "interpreter": ["/usr/bin/python3.11", "3.11.2"], "backend": ["host"]}
    assert key_of(base) == key_of(dict(reversed(list(base.items()))))
    for change in ({"lock": "b"}, {"backend": ["container", "img", "sha256:1"]},
                   {"interpreter": ["/usr/bin/python3.11", "3.11.4"]}):  # fmt: skip
        assert key_of({**base, **change}) != key_of(base)


@pytest.mark.parametrize(
    ("text", "size"), [("1000", 1000), ("64k", 65536), ("500M", 500 * 1024**2),
                       ("2G", 2 * 1024**3), ("1.5GiB", int(1.5 * 1024**3)), ("3gb", 3 * 1024**3)],
)  # fmt: skip
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1G", "G"])
def test_bad_sizes_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_size(text)


def test_where_the_cache_lives() -> None:
    assert cache_module.default_dir({"VENVRPM_CACHE_DIR": "/c", "HOME": "/h"}) == Path("/c")
    assert cache_module.default_dir({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/x/venvrpm")
    assert cache_module.default_dir({"HOME": "/h"}) == Path("/h/.cache/venvrpm")
    assert cache_module.max_bytes({}) == cache_module.DEFAULT_MAX_BYTES
    assert cache_module.max_bytes({"VENVRPM_CACHE_MAX_SIZE": "1G"}) == 1024**3


def test_cache_list_and_prune_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Cache(Path(os.environ["VENVRPM_CACHE_DIR"])).store("k" * 64, _tree(tmp_path), {"app": "demo"})
    assert main(["cache", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(e["key"], e["app"]) for e in listed["entries"]] == [("k" * 64, "demo")]
    assert main(["cache", "list"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main(["cache", "prune"]) == 2
    assert "--max-size" in capsys.readouterr().err
    assert main(["cache", "prune", "--max-size", "lots"]) == 2
    assert main(["cache", "prune", "--older-than", "30"]) == 0
    assert len(Cache(Path(os.environ["VENVRPM_CACHE_DIR"])).entries()) == 1
    assert main(["cache", "prune", "--all"]) == 0
    assert Cache(Path(os.environ["VENVRPM_CACHE_DIR"])).entries() == []


def test_an_unusable_cache_never_fails_a_build_it_says_why(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cache = Cache(blocker / "cache")  # not a directory: every write fails
    assert not cache.store("k1", _tree(tmp_path), {})
    assert not cache.restore("k1", tmp_path / "dest")
    assert cache.prune(limit=0) == []
    assert cache.warnings and "not usable" in cache.warnings[0]
    assert "--no-cache" in cache.warnings[0]


def test_the_cache_is_tagged_so_project_copies_and_backups_skip_it(tmp_path: Path) -> None:
    from venvrpm.venvbuild import copy_project

    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text("")
    cache = Cache(project / "ci-cache" / "venvrpm")
    cache.store("k1", _tree(tmp_path), {})
    assert (
        (project / "ci-cache" / "venvrpm" / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )
    copy_project(project, tmp_path / "copy")
    assert (tmp_path / "copy" / "src" / "app.py").exists()
    assert (tmp_path / "copy" / "ci-cache").exists()
    assert not (tmp_path / "copy" / "ci-cache" / "venvrpm").exists()


def test_a_build_writing_into_a_cached_file_in_place_drops_the_entry(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    cache.store("k1", _tree(tmp_path), {})
    cache.confirm()  # the storing build left its files alone
    assert [e.key for e in cache.entries()] == ["k1"]

    dest = tmp_path / "stage"
    assert cache.restore("k1", dest)
    # replacing a file (a new inode, as compiling and relocating do) is fine
    tool = dest / "bin" / "tool"
    replacement = tool.with_name("tool.new")
    replacement.write_text("#!/opt/app/bin/python\n")
    os.replace(replacement, tool)
    cache.confirm()
    assert [e.key for e in cache.entries()] == ["k1"]
    assert cache.restore("k1", tmp_path / "again")  # and the entry is still whole

    dest3 = tmp_path / "third"
    assert cache.restore("k1", dest3)
    time.sleep(0.01)
    with (dest3 / "lib" / "site-packages" / "pkg" / "data.bin").open("r+b") as fh:
        fh.write(b"overwritten in place")
    cache.confirm()
    assert cache.entries() == []
    assert any("in place" in w for w in cache.warnings)


# The cache is untrusted input (docs/security.md, "The environment cache"): whoever can write it
# must not gain root through a build that reads it.


def _record(cache_root: Path, key: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((cache_root / "envs" / key / "entry.json").read_text())
    return loaded


@TAKE
def test_a_planted_symlink_with_a_setuid_mode_changes_nothing_outside_the_cache(
    tmp_path: Path, take: bool
) -> None:
    cache = Cache(tmp_path / "cache")
    cache.store("k1", _tree(tmp_path), {})
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    victim.chmod(0o644)
    planted = tmp_path / "cache" / "envs" / "k1" / "tree" / "bin" / "tool"
    planted.unlink()
    planted.symlink_to(victim)
    record = _record(tmp_path / "cache", "k1")
    for row in record["files"]:
        if row[0] == "bin/tool":  # setuid, and the size the symlink itself has
            row[2], row[3] = 0o4755, len(str(victim))
    (tmp_path / "cache" / "envs" / "k1" / "entry.json").write_text(json.dumps(record))
    dest = tmp_path / "dest"
    assert not cache.restore("k1", dest, take=take)
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644, "the chmod landed outside the cache"
    assert victim.stat().st_nlink == 1
    assert not dest.exists()
    assert any("failed verification" in w for w in cache.warnings)


@TAKE
def test_an_entry_whose_files_and_record_were_edited_together_is_rebuilt_not_shipped(
    tmp_path: Path, take: bool
) -> None:
    cache = Cache(tmp_path / "cache")
    cache.store("k1", _tree(tmp_path), {})
    edited = b"import os; os.system('id > /tmp/pwned')\n"
    entry = tmp_path / "cache" / "envs" / "k1"
    (entry / "tree" / "lib" / "site-packages" / "pkg" / "__init__.py").write_bytes(edited)
    record = _record(tmp_path / "cache", "k1")
    for row in record["files"]:
        if row[0] == "lib/site-packages/pkg/__init__.py":
            row[3], row[4] = len(edited), hashlib.sha256(edited).hexdigest()
    (entry / "entry.json").write_text(json.dumps(record))
    dest = tmp_path / "dest"
    assert not cache.restore("k1", dest, take=take), "the edited entry was shipped"
    assert not dest.exists()
    assert not entry.exists(), "a tampered entry is removed, so the build stores a good one"
    (warning,) = cache.warnings
    assert "cache entry k1" in warning and "failed verification; rebuilt" in warning


@TAKE
def test_an_entry_moved_to_another_key_is_not_restored_under_it(tmp_path: Path, take: bool) -> None:
    cache = Cache(tmp_path / "cache")
    cache.store("other-lock", _tree(tmp_path), {})
    (tmp_path / "cache" / "envs").joinpath("other-lock").rename(tmp_path / "cache" / "envs" / "k1")
    assert not cache.restore("k1", tmp_path / "dest", take=take)
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize("where", ["root group-writable", "root foreign", "envs foreign",
                                   "entry foreign", "tree dir world-writable",
                                   "parent world-writable"])  # fmt: skip
def test_a_cache_others_can_write_is_not_used_one_warning_says_how_to_fix_it(
    tmp_path: Path, where: str
) -> None:
    root = tmp_path / "parent" / "cache"
    Cache(root).store("k1", _tree(tmp_path), {})
    culprit = {"root group-writable": root, "root foreign": root, "envs foreign": root / "envs",
               "entry foreign": root / "envs" / "k1",
               "tree dir world-writable": root / "envs" / "k1" / "tree" / "lib",
               "parent world-writable": root.parent}[where]  # fmt: skip
    if "foreign" in where:
        os.chown(culprit, 4242, 4242)
    else:
        culprit.chmod(0o777 if "world" in where else 0o775)
    before = _snapshot(tmp_path / "parent")
    cache = Cache(root)
    assert not cache.restore("k1", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    if where.startswith(("entry", "tree")):
        # the cache is sound, this entry is not: dropped, and the build stores a good one
        (warning,) = cache.warnings
        assert "cache entry k1" in warning and "failed verification" in warning
        assert not (root / "envs" / "k1").exists()
        return
    assert not cache.store("k2", _tree(tmp_path / "other"), {})
    assert cache.prune(limit=0) == []
    assert _snapshot(tmp_path / "parent") == before, "an untrusted cache was written to"
    (warning,) = cache.warnings
    assert str(culprit) in warning
    assert "VENVRPM_CACHE_DIR" in warning and ("go-w" in warning or "chown" in warning)


@pytest.mark.parametrize("planted", ["CACHEDIR.TAG", "locks/k1", "locks/k2"])
def test_markers_and_locks_are_never_written_through_symlinks(tmp_path: Path, planted: str) -> None:
    root = tmp_path / "cache"
    Cache(root).store("k1", _tree(tmp_path), {})
    (root / "CACHEDIR.TAG").unlink()
    link = root / planted
    link.parent.mkdir(exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    existing, dangling = tmp_path / "existing", tmp_path / "dangling"
    existing.write_text("keep\n")
    link.symlink_to(dangling if planted != "locks/k1" else existing)
    cache = Cache(root)
    cache.restore("k1", tmp_path / "dest")
    cache.store("k2", _tree(tmp_path / "other"), {})
    cache.prune(limit=0)
    assert not dangling.exists(), "a marker or lock was created through a symlink"
    assert existing.read_text() == "keep\n"


def test_an_unreadable_record_is_a_warning_and_a_rebuild(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    cache.store("k1", _tree(tmp_path), {})
    record = tmp_path / "cache" / "envs" / "k1" / "entry.json"
    record.unlink()
    record.symlink_to(tmp_path / "elsewhere.json")
    assert not cache.restore("k1", tmp_path / "dest")
    assert [w for w in cache.warnings if "failed verification" in w]


def test_the_record_key_lives_outside_the_cache_private_and_reused(tmp_path: Path) -> None:
    key_file = Path(os.environ["XDG_CONFIG_HOME"]) / "venvrpm" / "cache.key"
    cache = Cache(tmp_path / "cache")
    cache.store("k1", _tree(tmp_path), {})
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not list((tmp_path / "cache").rglob("*.key"))
    assert Cache(tmp_path / "cache").restore("k1", tmp_path / "dest")
    # a new key (another host, a CI job without the shared secret): entries are not trusted
    key_file.unlink()
    fresh = Cache(tmp_path / "cache")
    assert not fresh.restore("k1", tmp_path / "dest2")
    assert any("another key" in w for w in fresh.warnings)


def test_a_key_file_others_can_read_or_replace_disables_the_cache(tmp_path: Path) -> None:
    key_file = Path(os.environ["XDG_CONFIG_HOME"]) / "venvrpm" / "cache.key"
    Cache(tmp_path / "cache").store("k1", _tree(tmp_path), {})
    key_file.chmod(0o644)
    cache = Cache(tmp_path / "cache")
    assert not cache.restore("k1", tmp_path / "dest")
    (warning,) = cache.warnings
    assert str(key_file) in warning


def test_a_shared_secret_keys_the_records_instead_of_the_key_file(tmp_path: Path) -> None:
    env = {"VENVRPM_CACHE_DIR": str(tmp_path / "cache"), "VENVRPM_CACHE_SECRET": "s3cret"}
    cache_module.from_environment(env).store("k1", _tree(tmp_path), {})
    assert not (Path(os.environ["XDG_CONFIG_HOME"]) / "venvrpm" / "cache.key").exists()
    assert cache_module.from_environment(env).restore("k1", tmp_path / "dest")
    other = cache_module.from_environment({**env, "VENVRPM_CACHE_SECRET": "another"})
    assert not other.restore("k1", tmp_path / "dest2")


def test_cache_list_says_why_an_untrusted_cache_shows_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(os.environ["VENVRPM_CACHE_DIR"])
    Cache(root).store("k" * 64, _tree(tmp_path), {"app": "demo"})
    root.chmod(0o777)
    assert main(["cache", "list"]) == 0
    err = capsys.readouterr().err
    assert "is not used" in err and "go-w" in err
    assert main(["cache", "prune", "--all"]) == 0
    root.chmod(0o755)
    assert [e.app for e in Cache(root).entries()] == ["demo"], "an untrusted cache was pruned"


def test_prune_options_become_limits() -> None:
    """`venvrpm cache prune`'s options as Cache.prune's: bytes and seconds; none is an error."""
    assert cache_module.prune_limits(everything=True, max_size=None, older_than_days=None) == (
        0,
        None,
    )
    assert cache_module.prune_limits(everything=False, max_size="2M", older_than_days=1.5) == (
        2 * 1024**2, 1.5 * 86400,
    )  # fmt: skip
    with pytest.raises(UsageError, match="prune what"):
        cache_module.prune_limits(everything=False, max_size=None, older_than_days=None)
