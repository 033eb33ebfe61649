"""lock: pip-compile's output is read back only if it is the regular file of this user."""

from __future__ import annotations

import os
import types
from pathlib import Path

import pytest

from venvrpm import lock
from venvrpm.errors import LockError


def test_pip_compiles_output_replaced_by_a_link_is_not_read(tmp_path: Path) -> None:
    """pip-compile writes its output by name, beside the lock, in a directory others may
    write: a link put there is not read through (venvrpm, root, read it as the new lock)."""
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret\n")
    scratch = tmp_path / ".requirements.lock.1.abcd1234.venvrpm-tmp"
    scratch.symlink_to(secret)
    manifest = types.SimpleNamespace(base_dir=tmp_path)
    with pytest.raises(LockError, match="is not the file it wrote"):
        lock._compiled(manifest, scratch)  # type: ignore[arg-type]
    scratch.unlink()
    scratch.write_text("a==1.0\n")
    assert lock._compiled(manifest, scratch) == "a==1.0\n"  # type: ignore[arg-type]


def test_pip_compiles_output_hard_linked_or_too_large_is_not_read(tmp_path: Path) -> None:
    """A hard link to one of this user's files (two links), another user's file, or a file
    over the bound: refused."""
    manifest = types.SimpleNamespace(base_dir=tmp_path)
    scratch = tmp_path / ".requirements.lock.1.abcd1234.venvrpm-tmp"
    (tmp_path / "other").write_text("a==1.0\n")
    os.link(tmp_path / "other", scratch)
    with pytest.raises(LockError, match="is not the file it wrote"):
        lock._compiled(manifest, scratch)  # type: ignore[arg-type]
    scratch.unlink()
    scratch.write_text("a==1.0\n")
    os.chown(scratch, os.geteuid() + 1, -1)
    with pytest.raises(LockError, match="is not the file it wrote"):
        lock._compiled(manifest, scratch)  # type: ignore[arg-type]
    scratch.unlink()
    scratch.touch()
    os.truncate(scratch, lock.MAX_LOCK_BYTES + 1)
    with pytest.raises(LockError, match="is not the file it wrote"):
        lock._compiled(manifest, scratch)  # type: ignore[arg-type]
