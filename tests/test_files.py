"""files.read_regular: never through a link, never more than its limit."""

from __future__ import annotations

import os
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

from tests.support import limits
from venvrpm import files


def test_a_regular_file_is_read_whole_up_to_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)
    assert files.read_regular(path, limit=10) == b"x" * 10
    with pytest.raises(files.TooLargeError) as caught:
        files.read_regular(path, limit=9)
    assert isinstance(caught.value, OSError)  # callers that expect an unreadable file get one
    assert "larger than 9 bytes" in str(caught.value)


def test_a_sparse_terabyte_is_refused_without_reading_it(tmp_path: Path) -> None:
    """Code run during the build can truncate a file venvrpm reads to 1 TB (sparse, instant):
    reading it whole was a MemoryError traceback (found by the red team)."""
    path = limits.sparse_terabyte(tmp_path / "huge")
    with limits.address_space(), pytest.raises(files.TooLargeError):
        files.read_regular(path, limit=1 << 20)


def test_a_file_that_grows_while_read_is_still_bounded(tmp_path: Path) -> None:
    """The size is checked on the descriptor and the read stops at limit + 1 bytes."""
    path = tmp_path / "fifo"
    os.mkfifo(path)
    with pytest.raises(OSError, match="not a regular file"):
        files.read_regular(path, limit=10)
    link = tmp_path / "link"
    (tmp_path / "real").write_bytes(b"x")
    link.symlink_to(tmp_path / "real")
    with pytest.raises(OSError):
        files.read_regular(link, limit=10)


def test_the_limit_is_required() -> None:
    with pytest.raises(TypeError):
        files.read_regular("/etc/hostname")  # type: ignore[call-arg]


def test_two_writers_of_one_target_do_not_collide(tmp_path: Path) -> None:
    """Concurrent builds into one output directory write the same tarball: each writes its own
    scratch file (a fixed ``.NAME.part`` was shared: one writer renamed or truncated the
    other's, which then failed or shipped a torn file)."""
    trees = []
    for n in range(2):
        tree = tmp_path / f"src{n}" / "app"
        tree.mkdir(parents=True)
        for i in range(300):
            (tree / f"f{i}").write_bytes(bytes([n]) * 4096)
        trees.append(tree)
    target = tmp_path / "out" / "app.tar"
    target.parent.mkdir()
    for _ in range(5):
        start = threading.Barrier(2)
        failures: list[BaseException] = []

        def write(tree: Path, start: threading.Barrier, failures: list[BaseException]) -> None:
            start.wait()
            try:
                files.reproducible_tar(tree, target, 0, normalise_modes=True)
            except BaseException as exc:  # reported by the main thread
                failures.append(exc)

        threads = [threading.Thread(target=write, args=(t, start, failures)) for t in trees]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        with tarfile.open(target) as archive:  # whole: one writer's tarball, not a mix
            contents = {archive.extractfile(m).read()[:1] for m in archive if m.isfile()}  # type: ignore[union-attr]
        assert contents in ({b"\0"}, {b"\1"})
        assert sorted(p.name for p in target.parent.iterdir()) == ["app.tar"]  # no scratch left


def test_a_replaced_file_is_whole_or_untouched(tmp_path: Path) -> None:
    target = tmp_path / "out" / "f.txt"
    target.parent.mkdir()
    target.write_text("old")
    with pytest.raises(RuntimeError), files.replacing(target) as scratch:
        scratch.write_text("half")
        raise RuntimeError
    assert target.read_text() == "old" and os.listdir(target.parent) == ["f.txt"]
    files.write_replacing(target, "new")
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o644


def test_what_a_killed_writer_left_is_removed_by_the_next(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    target = tmp_path / "out" / "f.txt"
    target.parent.mkdir()
    debris = target.parent / f".f.txt.{gone.pid}.abcd1234.part"
    debris.write_text("half")
    alive = target.parent / f".f.txt.{os.getpid()}.abcd1234.part"  # a live writer's
    alive.write_text("writing")
    files.write_replacing(target, "whole")
    assert sorted(p.name for p in target.parent.iterdir()) == [alive.name, "f.txt"]


def test_a_tree_renamed_onto_a_failing_scratch_directory_is_not_removed(tmp_path: Path) -> None:
    """A directory scratch is removed through the descriptor of what mkdtemp made, then by
    name only if empty: whoever can write the output directory may put a tree of venvrpm's
    user under the scratch's name while the block runs (removed whole before)."""
    shared = tmp_path / "out"
    (shared / "releases" / "v1").mkdir(parents=True)
    (shared / "releases" / "v1" / "app.rpm").write_bytes(b"the released RPM")
    with pytest.raises(RuntimeError), files.replacing(shared / "b", directory=True) as scratch:
        (scratch / "README.txt").write_text("bundle")
        scratch.rename(shared / "taken")
        (shared / "releases").rename(scratch)
        raise RuntimeError
    assert (scratch / "v1" / "app.rpm").read_bytes() == b"the released RPM"
    assert list((shared / "taken").iterdir()) == []  # ours: emptied


def test_a_refused_scratch_is_a_clean_error_and_the_target_is_untouched(tmp_path: Path) -> None:
    """The scratch renamed away and another file put under its name: nothing is renamed onto
    the target, and the error is an OSError naming the scratch (callers report it as a refused
    write, with the path)."""
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(files.ReplacedError) as caught, files.replacing(target) as scratch:
        scratch.write_text("new")
        scratch.path.rename(tmp_path / "taken")
        scratch.path.write_text("theirs")
    assert isinstance(caught.value, OSError) and caught.value.filename == str(scratch.path)
    assert "replaced by someone who can write the directory" in str(caught.value.strerror)
    assert target.read_text() == "old"
