"""venvrpm's own pure-Python tools (virtualenv, pip, pip-tools), made importable by the target.

The target interpreter -- on the host, in a container or in a chroot -- runs virtualenv and pip
itself, so the venv is made exactly as that interpreter makes it. It imports them from a
directory in the work directory (copied: a container or chroot sees only what is mounted),
or, for locking on the host, from symlinks into venvrpm's environment.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from collections.abc import Sequence
from pathlib import Path

# virtualenv and what it imports; its seed wheels (pip) ride along inside the package.
VIRTUALENV = ("virtualenv", "distlib", "filelock", "packaging", "platformdirs", "python-discovery")
# pip-tools and what it imports at run time (tomli and typing_extensions under Python 3.10,
# when venvrpm's environment has them).
PIP_TOOLS = ("pip-tools", "pip", "click", "build", "pyproject_hooks", "packaging", "setuptools",
             "wheel", "tomli", "typing_extensions")  # fmt: skip


def export(dest: Path, distributions: Sequence[str], *, copy: bool) -> Path:
    """Make *distributions* (code and metadata) importable from *dest*; return *dest*."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in distributions:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        base = Path(str(dist.locate_file("")))
        tops = {
            f.parts[0]
            for f in dist.files or ()
            if f.parts[0] != ".."
            and not f.parts[0].endswith((".data", ".egg-info"))
            and f.parts[0] != "__pycache__"
            and f.suffix != ".pth"
        }
        for top in sorted(tops):
            source, target = base / top, dest / top
            if not source.exists() or target.exists():
                continue
            if not copy:
                target.symlink_to(source)
            elif source.is_dir():
                _copytree(source, target)
            else:
                shutil.copy2(source, target)
    return dest


class _Stopped(BaseException):
    """Carries the first OSError of a copy out of shutil.copytree (a BaseException: copytree
    catches only OSError)."""

    def __init__(self, error: OSError) -> None:
        self.error = error


def _copytree(source: Path, target: Path) -> None:
    """shutil.copytree, stopping at the first failed file with its OSError: copytree goes on
    and raises one shutil.Error whose errno is None, so a full disk was not seen as one (and
    every further file was tried on the full disk)."""

    def copy(src: str, dst: str) -> object:
        try:
            return shutil.copy2(src, dst)
        except OSError as exc:
            raise _Stopped(exc) from exc

    try:
        # with the bytecode (mtimes kept by copy2, so it stays valid): every command runs with
        # PYTHONDONTWRITEBYTECODE=1, and compiling virtualenv's 236 modules in memory was most
        # of each run (creating the venv 0.4-0.5 s -> 0.3 s). An interpreter of another version
        # looks for its own cache tag and compiles as before.
        shutil.copytree(source, target, copy_function=copy)
    except _Stopped as stopped:
        raise stopped.error from None
