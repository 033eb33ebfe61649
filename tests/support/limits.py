"""A sparse terabyte and a bounded address space: how tests show a reader never reads a file
whole (code run during the build can truncate a file venvrpm reads to 1 TB, instantly)."""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Iterator
from pathlib import Path


def sparse_terabyte(path: Path) -> Path:
    """*path* as a 1 TB file that takes no disk space."""
    path.touch()
    os.truncate(path, 1 << 40)
    return path


@contextlib.contextmanager
def address_space(limit: int = 4 << 30) -> Iterator[None]:
    """Reading a terabyte whole fails with MemoryError inside (4 GiB by default)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
