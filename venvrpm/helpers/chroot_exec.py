"""Run a command chrooted into a root, with host paths bind-mounted at the same place.

Run as ``unshare --mount --propagation private -- python -I -B -c SOURCE`` by
venvrpm's rootfs backend: the mounts live in a private mount namespace and vanish with it, even
if venvrpm is killed. Mount points this creates inside the root are removed afterwards, so the
root is left as it was. Standard library only.

The command itself runs through ``unshare --pid --fork --mount-proc --root``: PID 1 of its own PID
namespace, chrooted, with that namespace's /proc and a minimal /dev (see docs/security.md for
what isolation this is, and is not).

The spec comes in the environment variable VENVRPM_CHROOT_SPEC (not argv, which any user can
read in /proc): {"root", "binds": [[path, read_only(, host_source)]], "cwd", "argv", "env",
"unshare"}; host_source, when given, is the host file mounted at path.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

# What the command sees in /dev: bound from the host's, read-write (they hold no data).
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
         ("stderr", "/proc/self/fd/2"))  # fmt: skip


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def resolve_in_root(root: str, path: str) -> str:
    """*path* as seen from inside *root*: symlinks followed within the root, never the host's.

    mount(8) would resolve an absolute link like /etc/ssl/certs -> /etc/pki/... against the
    host; inside a RHEL root that must lead to the root's /etc/pki.
    """
    parts = [p for p in path.split("/") if p]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate):
            hops += 1
            if hops > 40:
                raise OSError(f"too many symlinks under {root} for {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        resolved.append(part)
    return "/" + "/".join(resolved)


def main(spec: dict) -> int:  # type: ignore[type-arg]
    root = spec["root"]
    created: list[str] = []

    def mountpoint(path: str, is_dir: bool) -> str:
        inside = os.path.join(root, resolve_in_root(root, path).lstrip("/"))
        missing = []
        parent = os.path.dirname(inside) if not is_dir else inside
        probe = parent
        while not os.path.lexists(probe):
            missing.append(probe)
            probe = os.path.dirname(probe)
        for directory in reversed(missing):
            os.mkdir(directory)
            created.append(directory)
        if not is_dir and not os.path.lexists(inside):
            open(inside, "w").close()
            created.append(inside)
        return inside

    mounted: list[str] = []
    try:
        # /proc is mounted by unshare(1) below, inside the command's own PID namespace: a
        # /proc of this one would show processes whose root is the host's (/proc/1/root).
        mountpoint("/proc", True)
        # a minimal /dev of its own: the host's /dev (disks, /dev/mem) is not shown
        dev = mountpoint("/dev", True)
        mount("-t", "tmpfs", "-o", "mode=0755,nosuid,noexec", "venvrpm-dev", dev)
        mounted.append(dev)
        for node in DEVICES:
            open(os.path.join(dev, node), "w").close()
            mount("--bind", "/dev/" + node, os.path.join(dev, node))
        os.mkdir(os.path.join(dev, "shm"), 0o1777)
        os.chmod(os.path.join(dev, "shm"), 0o1777)
        for name, link in LINKS:
            os.symlink(link, os.path.join(dev, name))
        for path, read_only, *source in spec["binds"]:
            host_path = source[0] if source else path
            target = mountpoint(path, os.path.isdir(host_path))
            mount("--bind", host_path, target)
            if read_only:
                mount("-o", "remount,bind,ro", target)
            mounted.append(target)
        # The command runs as PID 1 of a PID namespace of its own, chrooted, with a /proc of
        # that namespace: it sees no process outside the root, and when it ends, whatever it
        # left running is killed with the namespace.
        unshare = [spec["unshare"], "--pid", "--fork", "--kill-child", "--mount-proc=/proc",
                   "--root=" + root, "--wd=" + spec["cwd"], "--"]  # fmt: skip
        pid = os.fork()
        if pid == 0:
            try:
                os.execve(spec["unshare"], [*unshare, *spec["argv"]], spec["env"])
            except OSError as exc:
                sys.stderr.write(
                    "venvrpm: cannot run {} in {}: {}\n".format(spec["argv"][0], root, exc)
                )
                os._exit(127)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", "-R", "-l", target], check=False)
        for path in reversed(created):
            with contextlib.suppress(OSError):
                os.rmdir(path) if os.path.isdir(path) else os.unlink(path)


if __name__ == "__main__":
    code = main(json.loads(os.environ.pop("VENVRPM_CHROOT_SPEC")))
    sys.exit(code if code >= 0 else 128 - code)
