"""files.read_regular: never through a link, never more than its limit."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

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
    path = tmp_path / "huge"
    path.touch()
    os.truncate(path, 1 << 40)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, hard))
    try:
        with pytest.raises(files.TooLargeError):
            files.read_regular(path, limit=1 << 20)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


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
