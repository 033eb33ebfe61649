"""Every process a command starts dies with venvrpm, whoever venvrpm runs as (issue 17, defect 16).

Each test runs HostRunner in a child Python as root, as root without CAP_SYS_ADMIN (an
unprivileged container, a systemd unit that drops capabilities) and as an unprivileged user;
the command starts what ``compileall -j 0`` starts (a process pool) plus a daemon that left its
session, then the child is killed with SIGKILL, and /proc must hold nothing of it afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import survivors

pytestmark = pytest.mark.integration

NOBODY = 65534

# An interpreter anyone may run: tox's environment is root's alone (.tox is 0700), and the
# child imports venvrpm from the checkout (_env), which needs nothing beyond the standard library.
PYTHON = os.path.realpath(sys.executable)

# Who the child runs as: setpriv options, and whether to forbid the namespace wrappers (the
# supervisor alone: what a host without unprivileged user namespaces gets).
AS = {
    "root": ([], False),
    "root-without-cap-sys-admin": (
        ["--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin"], False,
    ),
    "nobody": ([f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"], False),
    "nobody-supervised": ([f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"], True),
}  # fmt: skip

# The command: a process pool as compileall -j 0 has (its workers block on their queue once
# the parent is gone), a grandchild that started a session of its own, and a file it creates.
TREE = r"""
import concurrent.futures, os, pathlib, sys, time
where = pathlib.Path(sys.argv[1])
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(3600)
    os._exit(0)
pool = concurrent.futures.ProcessPoolExecutor(2)
list(pool.map(abs, range(4)))
(where / "made").write_text("x")
(where / "ready").write_text("x")
time.sleep(3600)
"""

CHILD = r"""
import sys
from venvrpm import runner
if sys.argv[1] == "1":
    runner._wrapper = lambda: ()
runner.HostRunner(0).run([sys.executable, "-c", sys.argv[2], sys.argv[3]], what="testing")
"""

STATUS = r"""
import sys
from venvrpm import runner
if sys.argv[1] == "1":
    runner._wrapper = lambda: ()
r = runner.HostRunner(0)
done = r.run(["sh", "-c", "read x; echo out $x; echo err >&2; exit 3"], what="t", stdin="in",
             check=False)
print(repr((done.returncode, done.stdout, done.stderr)))
print(r.run(["sh", "-c", "kill -TERM $$"], what="t", check=False).returncode)
try:
    r.run(["no-such-program-here"], what="t")
except Exception as exc:
    print(type(exc).__name__)
print(bool(runner._wrapper()))
"""


def _child(as_: str, *args: str) -> list[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root to run the child as root and as nobody")
    options, supervised = AS[as_]
    return ["setpriv", *options, PYTHON, "-c", *args[:1], "1" if supervised else "0",
            *args[1:]]  # fmt: skip


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory nobody can write to (pytest's tmp_path is root's alone)."""
    where = Path(tempfile.mkdtemp(prefix="venvrpm-test-death-", dir="/tmp"))
    where.chmod(0o777)
    yield where
    shutil.rmtree(where)


@pytest.mark.parametrize("as_", sorted(AS))
def test_sigkill_leaves_no_descendant(shared: Path, as_: str) -> None:
    where = shared
    child = subprocess.Popen(_child(as_, CHILD, TREE, str(where)), cwd="/", env=_env())
    try:
        deadline = time.monotonic() + 60
        while not (where / "ready").exists():
            assert child.poll() is None, f"the child ended early ({child.returncode})"
            assert time.monotonic() < deadline, "the command never got ready"
            time.sleep(0.05)
        assert len(survivors(str(where), grace=0)) >= 4, "pool workers and daemon not seen"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    left = survivors(str(where))
    for line in left:  # not left behind for the next test, whatever happens here
        with contextlib.suppress(OSError):
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
    assert left == [], "a process started by the killed venvrpm is still running"
    expected = 0 if as_.startswith("root") else NOBODY
    assert (where / "made").stat().st_uid == expected, "files are owned by who venvrpm runs as"


@pytest.mark.parametrize("as_", sorted(AS))
def test_status_output_and_missing_programs_are_as_without_a_wrapper(as_: str) -> None:
    done = subprocess.run(_child(as_, STATUS), capture_output=True, text=True, cwd="/",
                          env=_env(), timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    status, killed, missing, namespaced = done.stdout.splitlines()
    assert (status, missing) == (repr((3, "out in\n", "err\n")), "ToolMissingError")
    # PID 1 of a namespace ignores the signals it sends itself; the supervisor passes them on
    assert killed == ("0" if namespaced == "True" else str(-signal.SIGTERM))
    if as_ in ("root-without-cap-sys-admin", "nobody-supervised"):
        assert namespaced == "False"


def _env() -> dict[str, str]:
    """The child imports venvrpm from this checkout, whoever it runs as."""
    root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": root}
