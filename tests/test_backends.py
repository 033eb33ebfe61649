"""Backend command lines (pure) and the manifest's build section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.apps import make_smallapp
from venvrpm import manifest
from venvrpm.errors import ManifestError
from venvrpm.runner import ContainerRunner, HostRunner, Mount, RootfsRunner


def test_container_command_line(tmp_path: Path) -> None:
    runner = ContainerRunner(
        HostRunner(1), source_date_epoch=1, engine="/usr/bin/podman", image="img:1",
        mounts=[Mount(tmp_path / "work", False), Mount(tmp_path / "wheels", True)],
        network=False, home=tmp_path / "work" / "home", run_args=("--ulimit", "nofile=1024:1024"),
    )  # fmt: skip
    cmd = runner.command(["/usr/bin/python3.11", "-c", "pass"], name="venvrpm-1-1", cwd=None,
                         env={"A": "1"}, stdin=False)  # fmt: skip
    assert cmd[:6] == ["/usr/bin/podman", "run", "--rm", "--init", "--name", "venvrpm-1-1"]
    assert cmd[cmd.index("--entrypoint") + 1] == "/usr/bin/python3.11"
    assert cmd[cmd.index("--network") + 1] == "none"
    assert f"{tmp_path / 'work'}:{tmp_path / 'work'}" in cmd
    assert f"{tmp_path / 'wheels'}:{tmp_path / 'wheels'}:ro" in cmd
    assert "A" in cmd and "A=1" not in cmd, "values never on the command line"
    assert "--ulimit" in cmd
    assert cmd[-3:] == ["img:1", "-c", "pass"]
    online = ContainerRunner(HostRunner(1), source_date_epoch=1, engine="docker", image="i",
                             mounts=[], network=True, home=tmp_path)  # fmt: skip
    assert "--network" not in online.command(["x"], name="n", cwd=None, env={}, stdin=False)


def test_rootfs_command_line_runs_the_helper_in_a_private_mount_namespace(tmp_path: Path) -> None:
    runner = RootfsRunner(HostRunner(1), source_date_epoch=1, root=tmp_path / "root",
                          mounts=[Mount(tmp_path / "work", False)], host_python="/usr/bin/python3",
                          home=tmp_path / "home")  # fmt: skip
    cmd = runner.command(["/usr/bin/python3.11", "-V"], cwd=tmp_path, env={"HOME": "/h"})
    assert cmd[:5] == ["unshare", "--mount", "--propagation", "private", "--"]
    spec = json.loads(cmd[-1])
    assert spec == {
        "root": str(tmp_path / "root"), "binds": [[str(tmp_path / "work"), False]],
        "cwd": str(tmp_path), "argv": ["/usr/bin/python3.11", "-V"], "env": {"HOME": "/h"},
        "unshare": runner.unshare,
    }  # fmt: skip
    # the command gets its own PID namespace and /proc (helpers/chroot_exec.py)
    assert runner.unshare.endswith("unshare")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        ("build:\n  container: a\n  rootfs: /srv\n", "give either build.container or build.rootfs"),
        ("build:\n  rootfs: no-such-root\n", "build.rootfs: 'no-such-root' is not a directory"),
        ("build:\n  engine: podman\n", "engine and run_args only apply with build.container"),
        (
            "build:\n  container: a\n  engine: lxc\n",
            "build.engine: 'lxc' is not allowed here: Container engine",
        ),
        ("build:\n  rootfs: /\n", "the root of this host is not a build root"),
    ],
)
def test_build_section_errors(tmp_path: Path, build: str, message: str) -> None:
    app = make_smallapp(tmp_path / "app", extra_manifest=build)
    with pytest.raises(ManifestError) as info:
        manifest.load(app)
    assert any(message in str(p) for p in info.value.problems), info.value.problems


def test_build_section_is_read(tmp_path: Path) -> None:
    app = make_smallapp(
        tmp_path / "app",
        extra_manifest="build:\n  container: reg/el9:1\n  run_args: [--ulimit, nofile=1024:1024]\n",
    )
    build = manifest.load(app).build
    assert (build.kind, build.image, build.engine, build.run_args) == (
        "container", "reg/el9:1", "auto", ("--ulimit", "nofile=1024:1024"),
    )  # fmt: skip


def test_paths_in_a_root_follow_the_roots_own_symlinks(tmp_path: Path) -> None:
    """A RHEL root's /etc/ssl/certs -> /etc/pki/tls/certs must lead into the root, not the host."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "chroot_exec", Path(__file__).parents[1] / "venvrpm" / "helpers" / "chroot_exec.py"
    )
    assert spec and spec.loader
    helper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helper)
    root = tmp_path / "root"
    (root / "etc/pki/tls/certs").mkdir(parents=True)
    (root / "etc/ssl").mkdir(parents=True)
    (root / "etc/ssl/certs").symlink_to("/etc/pki/tls/certs")
    (root / "usr/lib").mkdir(parents=True)
    (root / "lib").symlink_to("usr/lib")
    assert (
        helper.resolve_in_root(str(root), "/etc/ssl/certs/ca-bundle.crt")
        == "/etc/pki/tls/certs/ca-bundle.crt"
    )
    assert helper.resolve_in_root(str(root), "/lib/x") == "/usr/lib/x"
    assert helper.resolve_in_root(str(root), "/tmp/venvrpm-1/stage") == "/tmp/venvrpm-1/stage"


def test_a_symlinked_pip_file_is_mounted_resolved_at_its_configured_path(tmp_path: Path) -> None:
    from venvrpm import backends

    bundle = tmp_path / "pki" / "tls-ca-bundle.pem"
    bundle.parent.mkdir()
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "certs").symlink_to(bundle.parent)
    cert = tmp_path / "certs" / "tls-ca-bundle.pem"
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\ncert = {cert}\n")
    loaded = manifest.load(make_smallapp(tmp_path / "app"))
    notes: list[str] = []
    found = backends.mounts(loaded, tmp_path / "work", {"PIP_CONFIG_FILE": str(config)},
                            host_env={}, note=notes.append, fetching=True)  # fmt: skip
    (mount,) = [m for m in found if m.path == cert]
    assert mount.source == bundle and mount.read_only
    container = ContainerRunner(HostRunner(1), source_date_epoch=1, engine="podman", image="i",
                                mounts=found, network=True, home=tmp_path)  # fmt: skip
    cmd = container.command(["x"], name="n", cwd=None, env={}, stdin=False)
    assert f"{bundle}:{cert}:ro" in cmd
    rootfs = RootfsRunner(HostRunner(1), source_date_epoch=1, root=tmp_path / "root",
                          mounts=found, host_python="/usr/bin/python3", home=tmp_path)  # fmt: skip
    spec = json.loads(rootfs.command(["x"], cwd=None, env={})[-1])
    assert [str(cert), True, str(bundle)] in spec["binds"]


# stderr of `docker run` as users reported it (the command named as venvrpm would run it):
# docker's CLI exits 127 for any start error containing "no such file or directory"
_DOCKER_MISSING = (  # gyptazy/ProxLB#170 (runc 1.1)
    "docker: Error response from daemon: failed to create task for container: failed to create "
    "shim task: OCI runtime create failed: runc create failed: unable to start container "
    'process: error during container init: exec: "/usr/bin/python3.11": stat '
    "/usr/bin/python3.11: no such file or directory: unknown\n\n"
    "Run 'docker run --help' for more information\n"
)
_DOCKER_MISSING_OLD = (  # t0mer/Redalert#1 (docker 19.03)
    "docker: Error response from daemon: OCI runtime create failed: container_linux.go:346: "
    'starting container process caused "exec: \\"/usr/bin/python3.11\\": stat '
    '/usr/bin/python3.11: no such file or directory": unknown.\n'
)
_DOCKER_CGROUP = (  # docker/for-linux#903
    "docker: Error response from daemon: OCI runtime create failed: container_linux.go:345: "
    'starting container process caused "process_linux.go:281: applying cgroup configuration '
    'for process caused \\"mkdir /sys/fs/cgroup/cpuset: no such file or directory\\"": '
    "unknown.\n"
)
_DOCKER_SHIM = (  # runc missing its libseccomp (klren0312/daliy_knowledge#777)
    "docker: Error response from daemon: failed to create shim task: OCI runtime create "
    "failed: unable to retrieve OCI runtime error (open /run/containerd/io.containerd.runtime."
    "v2.task/moby/0e4c/log.json: no such file or directory): runc did not terminate "
    "successfully: exit status 127: unknown.\n"
)
_PODMAN_MISSING = (
    "Error: crun: executable file `/usr/bin/python3.11` not found in $PATH: No such file or "
    "directory: OCI runtime attempted to invoke a command that was not found\n"
)


@pytest.mark.parametrize(
    ("engine", "returncode", "stderr", "engine_failed"),
    [
        ("/usr/bin/docker", 127, _DOCKER_MISSING, False),
        ("/usr/bin/docker", 127, _DOCKER_MISSING_OLD, False),
        ("/usr/bin/docker", 127, _DOCKER_CGROUP, True),
        ("/usr/bin/docker", 127, _DOCKER_SHIM, True),
        ("/usr/bin/docker", 127, _DOCKER_MISSING.replace("python3.11", "python3.9"), True),
        ("/usr/bin/docker", 127, "sh: 1: frobnicate: not found\n", False),  # the command's own
        ("/usr/bin/podman", 127, _PODMAN_MISSING, False),
        ("/usr/bin/docker", 127, _PODMAN_MISSING, False),  # podman-docker
        (
            "/usr/bin/podman",
            126,
            "Error: crun: setrlimit `RLIMIT_NPROC`: Operation not permitted: OCI permission denied\n",
            True,
        ),
        ("/usr/bin/docker", 125, "docker: Error response from daemon: No such image: x.\n", True),
        ("/usr/bin/podman", 1, "", False),
    ],
)
def test_engine_failure_tells_a_start_failure_from_a_missing_interpreter(
    engine: str, returncode: int, stderr: str, engine_failed: bool
) -> None:
    from venvrpm import backends
    from venvrpm.runner import Result

    argv = (engine, "run", "--rm", "--init", "--name", "venvrpm-1-1", "--entrypoint",
            "/usr/bin/python3.11", "img:1", "-I", "-S", "-c", "")  # fmt: skip
    failure = backends.engine_failure(Result(argv, returncode, "", stderr))
    assert (failure is not None) is engine_failed, failure
    if engine_failed:
        assert stderr.strip().splitlines()[-1][:40] in failure
