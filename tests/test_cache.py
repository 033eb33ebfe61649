"""The environment cache: entries are whole or absent, checked on the way out, bounded."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from pathlib import Path

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


def test_an_entry_restores_exactly_what_was_stored(tmp_path: Path) -> None:
    venv = _tree(tmp_path)
    cache = Cache(tmp_path / "cache")
    assert cache.store("k1", venv, {"app": "demo"})
    dest = tmp_path / "stage" / "opt" / "app"
    assert cache.restore("k1", dest)
    assert _snapshot(dest) == _snapshot(venv)
    (entry,) = cache.entries()
    assert (entry.key, entry.app, entry.files) == ("k1", "demo", len(_snapshot(venv)))


def test_a_miss_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    assert not Cache(tmp_path / "cache").restore("absent", dest)
    assert not dest.exists()


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "add a file", "remove a file",
                                    "retarget a link", "garble the record"])  # fmt: skip
def test_a_damaged_entry_is_detected_removed_and_leaves_nothing(
    tmp_path: Path, damage: str
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
    assert not cache.restore("k1", dest)
    assert not dest.exists()
    assert not (tmp_path / "cache" / "envs" / "k1").exists()
    assert cache.entries() == []


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
