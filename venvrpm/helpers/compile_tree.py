"""Compile every ``.py`` under a virtualenv for its final path; print a JSON report.

Run by the target interpreter as ``python -I -S -B compile_tree.py VENV_DIR STAGE PROGRESS
[LIST [JOBS]]``; with LIST (a file of NUL-separated paths) only those modules, else every one
under VENV_DIR. The modules are compiled by a process per core (JOBS, if given: tests). PROGRESS is a file it creates and grows by one byte per module looked at: venvrpm
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
import traceback

PROGRESS_EVERY = 100
"""Modules between two writes to the progress file."""

MODULES_PER_JOB = 50
"""No process is forked for fewer modules than this: a project's few are compiled at once."""


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


def _jobs(modules: int, wanted: str) -> int:
    """How many processes compile: one per core this process may run on (a container's or a
    cgroup's CPU set included), fewer for a short list, *wanted* if given (tests)."""
    if wanted:
        cores = int(wanted)
    else:
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cores = os.cpu_count() or 1
    return max(1, min(cores, modules // MODULES_PER_JOB))


def _shares(modules: list, jobs: int) -> list:  # type: ignore[type-arg]
    """Split (index, path) pairs over *jobs* processes: runs of the sorted list, of about the
    same bytes of source each (compiling costs about the source's size). Runs, not modules
    dealt out by size: each process then writes its own directories' ``__pycache__``, rather
    than every process contending for every directory."""
    sizes = []
    for path in modules:
        try:
            sizes.append(os.lstat(path).st_size)
        except OSError:
            sizes.append(0)
    total = sum(sizes) or 1
    shares = [[] for _ in range(jobs)]  # type: list[list[tuple[int, str]]]
    done = 0
    for index, path in enumerate(modules):  # (not zip(strict=): 3.10+, and this runs on 3.7)
        # the share whose slice of the total bytes this module starts in
        shares[min(jobs - 1, done * jobs // total)].append((index, path))
        done += sizes[index]
    return shares


def _compile(share: list, stage: str, counted) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """Compile the modules of *share*; one byte to *counted* per module looked at."""
    compiled = 0
    kept = 0
    failed = []
    done = 0
    for done, (index, path) in enumerate(share, 1):
        if done % PROGRESS_EVERY == 0:
            os.write(counted, b"." * PROGRESS_EVERY)
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
            failed.append([index, path[len(stage) :], exc.exc_type_name])
    if done % PROGRESS_EVERY:
        os.write(counted, b"." * (done % PROGRESS_EVERY))
    return {"compiled": compiled, "kept": kept, "failed": failed}


def _in_parallel(shares: list, stage: str, counted: int) -> list:  # type: ignore[type-arg]
    """Compile each share in a forked process; their reports, read back through pipes.

    os.fork and pipes, not multiprocessing: its pools need POSIX semaphores (/dev/shm, often
    missing in a chroot or a container) and, started by ``-c``, cannot re-import a main
    module. The bytecode does not depend on which process writes it (a test compares serial
    and parallel output byte for byte)."""
    children = []
    for share in shares:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compile, report, and leave without running any cleanup
            status = 1
            try:
                os.close(read)
                report = json.dumps(_compile(share, stage, counted)).encode()
                while report:
                    report = report[os.write(write, report) :]
                status = 0
            except BaseException:  # shown on stderr; the parent sees exit 1
                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(status)
        os.close(write)
        children.append((pid, read))
    reports = []
    broken = False
    for pid, read in children:
        with os.fdopen(read, "rb") as fh:
            data = fh.read()
        _, status = os.waitpid(pid, 0)
        if status != 0:
            broken = True
        else:
            reports.append(json.loads(data))
    if broken:
        raise SystemExit("a bytecode compiler process failed (see above)")
    return reports


def main(venv_dir: str, stage: str, progress: str, listing: str = "", jobs: str = "") -> int:
    if listing:
        with open(listing, "rb") as fh:  # NUL-separated: names are bytes
            names = fh.read().split(b"\0")
        modules = sorted(os.fsdecode(n) for n in names if n.endswith(b".py"))
    else:
        modules = list(_modules(venv_dir))
    # O_EXCL|O_NOFOLLOW: venvrpm removed it before; never write through what is there instead.
    # O_APPEND: the compiling processes share it.
    counted = os.open(
        progress, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_APPEND, 0o600
    )
    count = _jobs(len(modules), jobs)
    if count == 1:
        reports = [_compile(list(enumerate(modules)), stage, counted)]
    else:
        reports = _in_parallel(_shares(modules, count), stage, counted)
    os.close(counted)
    failed = sorted(f for r in reports for f in r["failed"])
    json.dump(
        {
            "compiled": sum(r["compiled"] for r in reports),
            "kept": sum(r["kept"] for r in reports),
            "failed": [f[1:] for f in failed],  # in the order of the modules, as one process
            "jobs": count,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
