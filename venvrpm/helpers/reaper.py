"""Run one command so that it, and every process it starts, dies with venvrpm.

Run by venvrpm's own interpreter as ``python -I -S reaper.py PROGRAM ARGV0 ARGS...`` where a
PID namespace cannot be made (root without CAP_SYS_ADMIN, a user without user namespaces).
Before exec, venvrpm made this process a child subreaper and set its parent-death signal to
SIGTERM (both survive exec): every descendant the command orphans (compileall's pool workers,
a daemon that left its session) is re-parented here, not to init, so all of them can be found.

- The command ends: whatever it left running is killed (SIGKILL) and reaped, as when the init
  of a PID namespace ends; then exit with the command's status (killed by signal N: die of N).
- SIGTERM (venvrpm died, or stops the command): the command and every descendant are killed
  with SIGKILL; then die of SIGTERM. venvrpm never SIGKILLs this process: that would orphan them.
- SIGINT, SIGQUIT, SIGHUP: a terminal sends them to the whole process group, the command
  included (it stays in our group); the command decides, and its status is ours.

Standard library only, and no ctypes (its import would double the cost of each command).
"""

import contextlib
import os
import signal
import sys


def _descendants() -> list[int]:
    """Every process below this one, from each process's parent in /proc/PID/stat."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        fields = stat.rpartition(b")")[2].split()
        children.setdefault(int(fields[1]), []).append(int(name))
    found: list[int] = []
    todo = [os.getpid()]
    while todo:
        for pid in children.get(todo.pop(), ()):
            found.append(pid)
            todo.append(pid)
    return found


def _kill_all() -> None:
    """SIGKILL every descendant and reap them, until none is left.

    Each round kills everything it finds before it waits, so a process forked meanwhile is
    found in the next round (its killed parent's orphans come here).
    """
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                for pid in _descendants():
                    with contextlib.suppress(OSError):  # gone meanwhile
                        os.kill(pid, signal.SIGKILL)
                os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _die_like(status: int) -> None:
    """Exit as the command did: its exit code, or killed by its signal (no core of ours)."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        signal.signal(number, signal.SIG_DFL)
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except (ImportError, OSError, ValueError):
            pass
        os.kill(os.getpid(), number)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def _terminated(number: int, frame: object) -> None:
    _kill_all()
    _die_like(number)  # status of a process killed by *number*


def main() -> None:
    """Start the command, reap what it orphans, and end like it."""
    program, argv = sys.argv[1], sys.argv[2:]
    signal.signal(signal.SIGTERM, _terminated)
    for number in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        # a handler, not SIG_IGN: exec resets it, so the command gets the default; a signal
        # ignored when we started stays ignored for the command, as it would without us
        if signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, lambda number, frame: None)
    try:
        # SIGPIPE and SIGXFSZ: Python ignores them; subprocess restores them for commands
        command = os.posix_spawn(
            program, argv, os.environ, setsigdef=(signal.SIGPIPE, signal.SIGXFSZ)
        )
    except OSError as exc:
        print(f"{program}: {exc.strerror}", file=sys.stderr)
        os._exit(127)
    while True:
        pid, status = os.waitpid(-1, 0)  # orphans adopted meanwhile are reaped too
        if pid == command:
            break
    _kill_all()
    _die_like(status)


if __name__ == "__main__":
    main()
