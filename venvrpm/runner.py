"""The one place venvrpm runs programs.

argv lists only (never a shell), a scrubbed environment with ``SOURCE_DATE_EPOCH`` set, output
captured, and on failure a CommandError that carries the command and the end of its output.
With an output sink (``-v``, or a live display on a terminal) each line is also handed over as
it comes, while still being captured.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal, Protocol

from venvrpm.errors import CommandError, ToolMissingError

TAIL_LINES = 25

# What survives the scrub. Locale and TZ are pinned so tools' output and timestamps don't vary
# with the user's shell; HOME stays so pip can use its cache; the container engines' own
# settings stay so podman/docker find their configuration and daemon.
_KEPT = ("PATH", "HOME", "TMPDIR", "USER", "LOGNAME", "TERM", "XDG_RUNTIME_DIR",
         "CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF", "CONTAINER_HOST", "DOCKER_HOST",
         "DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "GNUPGHOME")  # fmt: skip
_ENGINE_OWN = ("HOME", "PATH")
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
# Where the wrapper's own tools are looked up: not the user's PATH.
_TOOLS_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
# The environment a command starts from inside a container or chroot (no host PATH or HOME).
_TARGET_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class Result:
    """What a finished command printed."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last lines of stdout then stderr, for error messages."""
        text = "\n".join(part.rstrip() for part in (self.stdout, self.stderr) if part.strip())
        return "\n".join(text.splitlines()[-lines:])


Stream = Literal["stdout", "stderr"]


class OutputSink(Protocol):
    """Receives a command's output line by line, as it comes, from a reader thread.

    Calls are serialised: a sink need not be thread-safe. *captured* is false for commands
    whose output is shown and not kept (``capture=False``: test runs).
    """

    def __call__(self, stream: Stream, line: str, *, captured: bool) -> None: ...


class Runner(Protocol):
    """Runs commands on the build host (other backends implement the same interface)."""

    def run(
        self,
        argv: Sequence[str],
        *,
        what: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        check: bool = True,
        hint: str | None = None,
        capture: bool = True,
    ) -> Result:
        """Run *argv*; *what* names the step in messages. Raise CommandError when *check* and it fails.

        With *capture* false the command's output goes to our stderr as it comes (test runs).
        """
        ...

    def which(self, program: str) -> str | None:
        """The absolute path of *program* on this runner's PATH, or None."""
        ...


def target_environment(
    source_date_epoch: int, home: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a command run inside a container or chroot.

    HOME is in the work directory: caches (pip's) never land in the image or the root.
    """
    env = {
        "PATH": _TARGET_PATH,
        "HOME": str(home),
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
    }
    env["SOURCE_DATE_EPOCH"] = str(source_date_epoch)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if extra:
        env.update(extra)
    return env


def _load_libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


# Loaded here, not in the child: dlopen() after fork can hang when another thread (a live
# display's refresh thread, an output reader) held the loader's lock at the fork.
_LIBC = _load_libc() if sys.platform == "linux" else None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, between fork and exec
    """Ask Linux to send SIGTERM to this child if venvrpm dies, even by SIGKILL.

    A killed venvrpm must not leave a podman client (and so a running container), an
    rpmbuild or a chroot helper behind.
    """
    try:
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except AttributeError:
        pass


def _die_with_parent_killed() -> None:  # pragma: no cover - runs in the child, before exec
    """PDEATHSIG SIGKILL, for the namespace wrapper (:func:`contained`): it must die for sure,
    taking its namespace, and everything in it, with it."""
    try:
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except AttributeError:
        pass


def _supervised(parent: int) -> Callable[[], None]:
    """What runs before exec of the supervisor (helpers/reaper.py): it becomes a child
    subreaper and gets SIGTERM, which it catches, when venvrpm dies (both survive exec)."""

    def before_exec() -> None:  # pragma: no cover - runs in the child, before exec
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_CHILD_SUBREAPER, 1)
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)  # venvrpm died before the signal was armed: nobody would send it

    return before_exec


# Container engines manage their own processes: conmon outlives the client by design, and
# killing it with a namespace would leave the engine's state half cleaned up. The client gets
# SIGTERM at venvrpm's death instead, stops its container (--init passes it on) and removes it.
_ENGINES = ("podman", "docker")


@functools.cache
def _wrapper() -> tuple[str, ...]:
    """``unshare --pid --fork --kill-child --`` (as a user, in a user namespace of its own that
    maps only the user's own ids), or () where it does not work here: tried once per process.

    Each command then runs as PID 1 of a PID namespace of its own; the wrapper gets
    PDEATHSIG=SIGKILL, so when venvrpm dies, however, the wrapper dies, its child (the
    namespace's init, by --kill-child) dies, and the kernel kills every process left in the
    namespace: pool workers and daemons that PR_SET_PDEATHSIG (not inherited across fork)
    would miss. Root without CAP_SYS_ADMIN (an unprivileged container, a unit that drops it)
    gets no user namespace: one would take away its power over other users' files.
    """
    unshare = shutil.which("unshare", path=_TOOLS_PATH)
    true = shutil.which("true", path=_TOOLS_PATH)
    if _LIBC is None or unshare is None or true is None:
        return ()
    own = () if os.geteuid() == 0 else ("--user", "--map-current-user")
    wrapper = (unshare, *own, "--pid", "--fork", "--kill-child", "--")
    try:
        probe = subprocess.run(
            [*wrapper, true], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent_killed, check=False,
        )  # fmt: skip
    except OSError:
        return ()
    return wrapper if probe.returncode == 0 else ()


@functools.cache
def _supervisor() -> tuple[str, ...]:
    """The supervisor's command line, before the program and its argv; () if unavailable.

    The helper's path where it is a file (short in ``ps``), else its source (a zipped install).
    -I: neither its directory nor the environment's settings change what it imports.
    """
    if not sys.executable:
        return ()
    from importlib import resources

    helper = resources.files("venvrpm.helpers").joinpath("reaper.py")
    if isinstance(helper, Path) and helper.is_file():
        return (sys.executable, "-I", "-S", str(helper))
    return (sys.executable, "-I", "-S", "-c", helper.read_text("utf-8"))


def contained(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path | None
) -> tuple[tuple[str, ...], Callable[[], None] | None]:
    """The command line that runs *argv* so that it and every process it starts die with
    venvrpm, and the function to run in the child before exec.

    A PID namespace where one can be made (:func:`_wrapper`), else the supervisor
    (helpers/reaper.py, about 20 ms per command). *argv[0]* is looked up here, as exec would:
    a missing program must stay a FileNotFoundError (ToolMissingError), not exit status 127.
    """
    if sys.platform != "linux" or _LIBC is None:
        return tuple(argv), None
    if Path(argv[0]).name in _ENGINES:
        return tuple(argv), _die_with_parent
    wrapper = _wrapper()
    supervisor = () if wrapper else _supervisor()
    if not wrapper and not supervisor:
        return tuple(argv), _die_with_parent
    program = argv[0]
    if "/" not in program:
        found = shutil.which(program, path=env.get("PATH", os.defpath))
        if found is None:
            raise FileNotFoundError(program)
        program = found
    elif cwd is not None:
        program = os.path.join(cwd, program)
    if not os.path.isfile(program):
        raise FileNotFoundError(program)
    if not os.access(program, os.X_OK):
        raise PermissionError(f"permission denied: {program}")
    if wrapper:
        return (*wrapper, program, *argv[1:]), _die_with_parent_killed
    return (*supervisor, program, *argv), _supervised(os.getpid())


class _Popen(subprocess.Popen[str]):
    """A Popen whose kill() asks the supervisor to kill the command and all it started:
    SIGTERM, which it catches. SIGKILL would leave the command's descendants orphaned."""

    def kill(self) -> None:
        supervisor = _supervisor()
        if supervisor and tuple(self.args[: len(supervisor)]) == supervisor:  # type: ignore[index]
            self.terminate()
        else:
            super().kill()


def base_environment(
    source_date_epoch: int, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The scrubbed environment every command starts from."""
    env = {key: os.environ[key] for key in _KEPT if key in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", TZ="UTC")
    env["SOURCE_DATE_EPOCH"] = str(source_date_epoch)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if extra:
        env.update(extra)
    return env


class HostRunner:
    """Runs commands directly on the build host.

    Container and chroot runners run their engine or helper through one of these, so its
    *on_output* sink sees their commands' output too.
    """

    def __init__(
        self,
        source_date_epoch: int,
        on_command: Callable[[Sequence[str]], None] | None = None,
        on_output: OutputSink | None = None,
    ) -> None:
        self.source_date_epoch = source_date_epoch
        self.on_command = on_command
        self.on_output = on_output
        """Where output lines go as they come; None: captured silently, or inherited."""

    def which(self, program: str) -> str | None:
        return shutil.which(program, path=base_environment(self.source_date_epoch)["PATH"])

    def run(
        self,
        argv: Sequence[str],
        *,
        what: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        check: bool = True,
        hint: str | None = None,
        capture: bool = True,
    ) -> Result:
        argv = tuple(str(a) for a in argv)
        if self.on_command:
            self.on_command(argv)
        full_env = base_environment(self.source_date_epoch, env)
        try:
            started, before_exec = contained(argv, full_env, cwd)
            if self.on_output is not None:
                result = _streamed(
                    argv, started, before_exec, cwd, full_env, stdin, self.on_output,
                    captured=capture,
                )  # fmt: skip
            else:
                # subprocess.run, with our kill(): it kills on any exception (Ctrl-C)
                with _Popen(
                    started,
                    cwd=cwd,
                    env=full_env,
                    stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                    stdout=subprocess.PIPE if capture else sys.stderr.fileno(),
                    stderr=subprocess.PIPE if capture else sys.stderr.fileno(),
                    preexec_fn=before_exec,
                    text=True,
                    errors="replace",
                ) as proc:
                    try:
                        out, err = proc.communicate(stdin)
                    except BaseException:
                        proc.kill()
                        raise
                result = Result(argv, proc.returncode, out or "", err or "")
        except FileNotFoundError:
            raise ToolMissingError(
                f"{what}: {argv[0]} is not installed", hint or f"install {Path(argv[0]).name}"
            ) from None
        except PermissionError as exc:
            raise ToolMissingError(f"{what}: cannot run {argv[0]}: {exc}", hint) from None
        if check and result.returncode != 0:
            raise CommandError(
                f"{what} failed", argv, result.returncode, result.tail(), hint, env=full_env
            )
        return result


def _streamed(
    argv: tuple[str, ...],
    started: tuple[str, ...],
    before_exec: Callable[[], None] | None,
    cwd: Path | None,
    env: Mapping[str, str],
    stdin: str | None,
    sink: OutputSink,
    *,
    captured: bool,
) -> Result:
    """Run *argv* handing each line of its output to *sink* as it comes, and capture it.

    One thread per pipe reads it to its end, so a command filling one pipe while we wait on
    the other cannot deadlock. On any exception here (Ctrl-C, SIGTERM) the command is killed,
    as ``subprocess.run`` does.
    """
    lock = threading.Lock()
    parts: dict[Stream, list[str]] = {"stdout": [], "stderr": []}
    failures: list[BaseException] = []

    def pump(stream: Stream, pipe: IO[str]) -> None:
        with pipe:
            for line in pipe:
                parts[stream].append(line)
                if failures:
                    continue  # keep draining: a stalled pipe would block the command
                try:
                    with lock:
                        sink(stream, line.rstrip("\n"), captured=captured)
                except BaseException as exc:  # re-raised in the calling thread
                    failures.append(exc)

    # started from this (the calling) thread: PR_SET_PDEATHSIG fires when the thread that
    # forked the child ends, so a reader thread must not be the one to start it
    proc = _Popen(
        started,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=before_exec,
        text=True,
        errors="replace",
    )
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=pump, args=(name, pipe), daemon=True, name=f"venvrpm-{name}")
        for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr))
    ]
    try:
        for reader in readers:
            reader.start()
        if proc.stdin is not None:
            # it may exit without reading all of it: its exit status says the rest
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(stdin or "")
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        proc.wait()
        for reader in readers:
            reader.join()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if failures:
        raise failures[0]
    if not captured:
        return Result(argv, proc.returncode, "", "")
    return Result(argv, proc.returncode, "".join(parts["stdout"]), "".join(parts["stderr"]))


@dataclass(frozen=True, slots=True)
class Mount:
    """A host path the target sees at the same path (so every path in the plan stays valid)."""

    path: Path
    read_only: bool
    source: Path | None = None
    """The host file mounted at *path* when it is not *path* itself: a symlink of the host's
    pip configuration, resolved once (pipconfig.py)."""


@dataclass(frozen=True, slots=True)
class Runners:
    """Where commands run: ``host`` for rpm, rpmbuild and elfdeps; ``target`` for the interpreter."""

    host: Runner
    target: Runner


class ContainerRunner:
    """Runs each command in a fresh ``podman``/``docker run --rm`` container of *image*.

    Mounts appear at their host paths. The network is off unless *network*; containers are
    named, and removed even when venvrpm is interrupted; the image is never modified.
    """

    def __init__(
        self,
        host: Runner,
        *,
        source_date_epoch: int,
        engine: str,
        image: str,
        mounts: list[Mount],
        network: bool,
        home: Path,
        run_args: tuple[str, ...] = (),
    ) -> None:
        self.host = host
        self.home = home
        self.source_date_epoch = source_date_epoch
        self.engine = engine
        self.image = image
        self.mounts = mounts
        self.network = network
        self.run_args = run_args
        self.count = 0

    def which(self, program: str) -> str | None:
        for directory in _TARGET_PATH.split(":"):
            candidate = f"{directory}/{program}"
            if (
                self.run(
                    ["test", "-x", candidate], what="looking for " + program, check=False
                ).returncode
                == 0
            ):
                return candidate
        return None

    def command(
        self,
        argv: Sequence[str],
        *,
        name: str,
        cwd: Path | None,
        env: Mapping[str, str],
        stdin: bool,
    ) -> list[str]:
        """The engine command line for one containerised command."""
        # --init: a real PID 1 (catatonit, docker-init) that passes SIGTERM on; the command
        # as PID 1 would ignore it, and a killed venvrpm would leave the container running
        cmd = [self.engine, "run", "--rm", "--init", "--name", name,
               "--security-opt", "label=disable", "--entrypoint", argv[0]]  # fmt: skip
        if not self.network:
            cmd += ["--network", "none"]
        if stdin:
            cmd.append("-i")
        if os.geteuid() != 0 and self.engine.endswith("docker"):
            # rootful docker would leave root-owned files in our mounts
            cmd += ["--user", f"{os.getuid()}:{os.getgid()}"]
        for mount in self.mounts:
            source = mount.source or mount.path
            cmd += ["-v", f"{source}:{mount.path}" + (":ro" if mount.read_only else "")]
        # names only: the engine copies the values from its own environment, so secrets
        # (tokens in PIP_INDEX_URL) never appear on a command line, in ps, or in errors
        for key in sorted(env):
            # HOME and PATH must stay the engine's own (rootless podman finds its storage
            # through HOME); they are not secret, so they go on the command line
            cmd += ["-e", f"{key}={env[key]}" if key in _ENGINE_OWN else key]
        cmd += ["-w", str(cwd or "/"), *self.run_args, self.image, *argv[1:]]
        return cmd

    def run(
        self,
        argv: Sequence[str],
        *,
        what: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        check: bool = True,
        hint: str | None = None,
        capture: bool = True,
    ) -> Result:
        self.count += 1
        name = f"venvrpm-{os.getpid()}-{self.count}"
        full_env = target_environment(self.source_date_epoch, self.home, env)
        cmd = self.command(argv, name=name, cwd=cwd, env=full_env, stdin=stdin is not None)
        try:
            passed = {k: v for k, v in full_env.items() if k not in _ENGINE_OWN}
            result = self.host.run(
                cmd, what=what, env=passed, stdin=stdin, check=False, hint=hint, capture=capture
            )
        except BaseException:
            self.host.run(
                [self.engine, "rm", "-f", name], what="removing the container", check=False
            )
            raise
        if check and result.returncode != 0:
            raise CommandError(
                f"{what} failed (in {self.image})", cmd, result.returncode, result.tail(), hint
            )
        return result


class RootfsRunner:
    """Runs each command chrooted into a target root directory, as mock does.

    A private mount namespace (``unshare -m``) holds the bind mounts, so nothing stays mounted
    and the root is left as it was; each command is PID 1 of its own PID namespace with its own
    /proc and a minimal /dev (helpers/chroot_exec.py). Needs root. Not a security boundary like
    a container: see docs/security.md.
    """

    def __init__(
        self,
        host: Runner,
        *,
        source_date_epoch: int,
        root: Path,
        mounts: list[Mount],
        host_python: str,
        home: Path,
    ) -> None:
        self.host = host
        self.home = home
        self.source_date_epoch = source_date_epoch
        self.root = root
        self.mounts = mounts
        self.host_python = host_python
        self.unshare = shutil.which("unshare", path=base_environment(0)["PATH"]) or "unshare"

    def which(self, program: str) -> str | None:
        for directory in _TARGET_PATH.split(":"):
            candidate = Path(directory) / program
            inside = self.root / candidate.relative_to("/")
            if inside.is_file() and os.access(inside, os.X_OK):
                return str(candidate)
        return None

    def command(
        self, argv: Sequence[str], *, cwd: Path | None, env: Mapping[str, str]
    ) -> list[str]:
        """The host command line that runs *argv* in the root."""
        from importlib import resources

        helper = resources.files("venvrpm.helpers").joinpath("chroot_exec.py").read_text("utf-8")
        spec = {
            "root": str(self.root),
            "binds": [
                [str(m.path), m.read_only] + ([str(m.source)] if m.source else [])
                for m in self.mounts
            ],
            "cwd": str(cwd or "/"),
            "argv": list(argv),
            "env": dict(env),
            "unshare": self.unshare,
        }
        return ["unshare", "--mount", "--propagation", "private", "--",
                self.host_python, "-I", "-B", "-c", helper, json.dumps(spec)]  # fmt: skip

    def run(
        self,
        argv: Sequence[str],
        *,
        what: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        check: bool = True,
        hint: str | None = None,
        capture: bool = True,
    ) -> Result:
        full_env = target_environment(self.source_date_epoch, self.home, env)
        cmd = self.command(argv, cwd=cwd, env=full_env)
        # the spec (with the environment) travels in the helper's environment, not its argv
        spec = {"VENVRPM_CHROOT_SPEC": cmd.pop()}
        result = self.host.run(
            cmd, what=what, env=spec, stdin=stdin, check=False, hint=hint, capture=capture
        )
        if check and result.returncode != 0:
            # the command as it ran in the root, whole: `chroot ROOT` plus it reruns it (the
            # helper's own command line carries its source and the environment)
            raise CommandError(
                f"{what} failed (in {self.root})",
                argv,
                result.returncode,
                result.tail(),
                hint,
                env=full_env,
            )
        return result
