"""Compile every ``.py`` under a virtualenv for its final path; print a JSON report.

Run by the target interpreter as ``python -I -S -B compile_tree.py VENV_DIR STAGE PROGRESS
[LIST]``; with LIST (a file of NUL-separated paths) only those modules, else every one under
VENV_DIR. PROGRESS is a file it creates and grows by one byte per module looked at: venvrpm
reads its size for the progress display. Not lines on stderr: they would fill the "last lines
of output" that a failure shows.
Standard library only: it runs where venvrpm is not installed. ``-S``: the venv's site-packages
is not imported from, and its ``.pth`` files (the locked distributions' code) never run here.

Each ``co_filename`` is the final path (``/opt/app/...``), not the staging path. Bytecode uses
checked-hash invalidation: rpm restores file mtimes from its header and ``rpmbuild`` may clamp
them, so timestamp-based ``.pyc`` could look stale at run time and Python would rewrite them
under the prefix -- unowned files that break ``rpm -V`` and ``rpm -e``. Hash-checked ``.pyc``
stay valid whatever the mtimes and are reproducible. Bytecode that is already current (same
source hash, same final path) is kept.
"""

import importlib.util
import json
import marshal
import os
import py_compile
import sys

PROGRESS_EVERY = 100
"""Modules between two writes to the progress file."""


def _current(source: str, cfile: str, dfile: str) -> bool:
    """Is *cfile* already what we would write? (A cached environment was compiled before the
    project was installed into it: only the project's modules need compiling again.)"""
    try:
        with open(cfile, "rb") as fh:
            header = fh.read(16)
            body = fh.read()
        with open(source, "rb") as fh:
            data = fh.read()
    except OSError:
        return False
    # PEP 552 header: magic, flags (0b11: checked hash), source hash.
    if header[:4] != importlib.util.MAGIC_NUMBER or int.from_bytes(header[4:8], "little") != 3:
        return False
    if header[8:16] != importlib.util.source_hash(data):
        return False
    try:
        code = marshal.loads(body)
    except (ValueError, EOFError, TypeError):
        return False
    return getattr(code, "co_filename", None) == dfile


def _modules(venv_dir: str):  # type: ignore[no-untyped-def]
    for dirpath, dirnames, filenames in os.walk(venv_dir):
        dirnames.sort()
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield os.path.join(dirpath, name)


def main(venv_dir: str, stage: str, progress: str, listing: str = "") -> int:
    compiled = 0
    kept = 0
    failed = []
    if listing:
        with open(listing, "rb") as fh:  # NUL-separated: names are bytes
            names = fh.read().split(b"\0")
        modules = sorted(os.fsdecode(n) for n in names if n.endswith(b".py"))
    else:
        modules = _modules(venv_dir)
    # O_EXCL|O_NOFOLLOW: venvrpm removed it before; never write through what is there instead
    counted = os.fdopen(
        os.open(progress, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "wb"
    )
    done = 0
    for done, path in enumerate(modules, 1):
        if done % PROGRESS_EVERY == 0:
            counted.write(b"." * PROGRESS_EVERY)
            counted.flush()
        if os.path.islink(path):
            continue
        cfile = importlib.util.cache_from_source(path)
        if _current(path, cfile, path[len(stage) :]):
            kept += 1
            continue
        try:
            py_compile.compile(
                path,
                cfile=cfile,
                dfile=path[len(stage) :],
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
            )
            compiled += 1
        except py_compile.PyCompileError as exc:
            # Templates and Python-2-only files in some distributions: never importable,
            # so Python never tries to write bytecode for them at run time either.
            failed.append([path[len(stage) :], exc.exc_type_name])
    counted.write(b"." * (done % PROGRESS_EVERY))
    counted.close()
    json.dump({"compiled": compiled, "kept": kept, "failed": failed}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
