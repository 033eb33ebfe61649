"""Building inside the target's environment: a container image or a root directory.

The image is made from the debootstrap'd bookworm root with `podman import`; builds run with
the container's network off, from the test wheelhouse.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import build_app
from tests.support import target
from tests.support.apps import make_smallapp
from tests.support.recording import RecordingRunner
from venvrpm import backends, manifest
from venvrpm.cli import main
from venvrpm.runner import ContainerRunner, HostRunner, Mount, RootfsRunner

pytestmark = pytest.mark.integration


def containers(pid: int | None = None) -> dict[str, str]:
    """The containers (name: command) of the venvrpm with process id *pid* (default: this test
    process, which runs in-process builds). venvrpm names them ``venvrpm-<pid>-<n>``, so other
    test workers' containers are not counted."""
    listed = subprocess.run(
        ["podman", "ps", "-a", "--no-trunc", "--format", "{{.Names}}\t{{.Command}}"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    prefix = f"venvrpm-{os.getpid() if pid is None else pid}-"
    return {
        name: command
        for name, _, command in (line.partition("\t") for line in listed)
        if name.startswith(prefix)
    }


def image_id(name: str) -> str:
    return subprocess.run(
        ["podman", "image", "inspect", "--format", "{{.Id}}", name],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def install_and_run(rpm: Path, tmp_path: Path) -> dict[str, object]:
    root = target.fresh_root(tmp_path / "target-root")
    install = target.rpm(root, "-i", str(rpm), check=False)
    assert install.returncode == 0, install.stderr
    run = target.chroot(root, "/usr/bin/smallapp")
    assert run.returncode == 0, run.stderr
    verify = target.rpm(root, "-V", "smallapp", check=False)
    assert (verify.returncode, verify.stdout) == (0, "")
    report: dict[str, object] = json.loads(run.stdout)
    return report


def test_container_build_offline_installs_and_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = target.image()
    before = image_id(image)
    app = make_smallapp(
        tmp_path / "app", extra_manifest=f"build:\n  container: {image}\n  engine: podman\n"
    )
    code = main(["build", str(app), "-o", str(tmp_path / "dist"), "--keep-workdir"])
    err = capsys.readouterr().err
    assert code == 0, err
    (rpm,) = (tmp_path / "dist").glob("*.rpm")
    report = install_and_run(rpm, tmp_path)
    assert report["native"] == 42 and report["prefix"] == "/opt/smallapp"
    # the image is untouched and no container is left
    assert image_id(image) == before
    assert containers() == {}
    # files the containers wrote into the work directory belong to us, not to odd uids
    workdir = Path(err.split("work directory kept: ")[1].split()[0])
    stage = workdir / "work" / "stage"  # the kept workspace: work/ (mounted) and host/
    owners = {p.lstat().st_uid for p in stage.rglob("*")}
    assert owners == {os.getuid()}


def test_container_network_is_off_with_a_wheelhouse(tmp_path: Path) -> None:
    image = target.image()
    host = RecordingRunner(HostRunner(1))
    runner = ContainerRunner(
        host,
        source_date_epoch=1,
        engine="podman",
        image=image,
        mounts=[Mount(tmp_path, True)],
        network=False,
        home=tmp_path,
    )
    interfaces = runner.run(["ls", "/sys/class/net"], what="listing interfaces").stdout.split()
    assert interfaces == ["lo"]
    assert "--network" in host.calls[0].argv and "none" in host.calls[0].argv
    # and the mount is read-only inside
    denied = runner.run(["touch", str(tmp_path / "x")], what="writing", check=False)
    assert denied.returncode != 0 and not (tmp_path / "x").exists()


def test_rootfs_build_installs_and_runs_and_leaves_the_root_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = target.fresh_root(tmp_path / "build-root")
    before = target.snapshot(root)
    mounted = target.mounts_under(root)  # the root's own overlay (tests/support/target.py)
    app = make_smallapp(tmp_path / "app", extra_manifest=f"build:\n  rootfs: {root}\n")
    code = main(["build", str(app), "-o", str(tmp_path / "dist")])
    assert code == 0, capsys.readouterr().err
    (rpm,) = (tmp_path / "dist").glob("*.rpm")
    assert install_and_run(rpm, tmp_path)["native"] == 42
    assert target.snapshot(root) == before
    assert target.mounts_under(root) == mounted, "the build left a mount in the root"


@pytest.mark.parametrize("kind", ["container", "rootfs"])
def test_interpreter_missing_in_the_target_is_a_clear_error(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = target.image() if kind == "container" else str(target.template_root())
    app = make_smallapp(tmp_path / "app", extra_manifest=f"build:\n  {kind}: {where}\n")
    app.write_text(app.read_text().replace("/usr/bin/python3.11", "/usr/bin/python3.12"))
    assert main(["build", str(app), "-o", str(tmp_path / "dist")]) == 1
    err = capsys.readouterr().err
    assert "interpreter not found in the " in err and "/usr/bin/python3.12" in err
    assert "interpreters there: /usr/bin/python3, /usr/bin/python3.11" in err
    assert "Traceback" not in err
    assert not (tmp_path / "dist").exists()
    assert containers() == {}


def test_a_host_built_rpm_is_refused_by_a_target_with_another_interpreter(tmp_path: Path) -> None:
    """The problem is real: an RPM for Python 3.11 must not install where 3.11 is absent."""
    built = build_app(tmp_path / "app")
    root = target.fresh_root(tmp_path / "root")
    target.reseed(root, r"python3\.11|python\(abi\) = 3\.11")
    install = target.rpm(root, "-i", str(built.rpm), check=False)
    assert install.returncode != 0
    assert "python(abi) = 3.11 is needed by smallapp" in install.stderr
    assert "/usr/bin/python3.11 is needed by smallapp" in install.stderr


@pytest.mark.parametrize(
    ("sig", "group", "code", "word"),
    [(signal.SIGINT, True, 130, "interrupted"), (signal.SIGTERM, False, 143, "terminated")],
)
def test_interrupted_container_build_leaves_no_container_and_no_output(
    tmp_path: Path, sig: signal.Signals, group: bool, code: int, word: str
) -> None:
    """Ctrl-C (SIGINT to the whole group) and a cancelled CI job (SIGTERM to venvrpm only)."""
    image = target.image()
    app = make_smallapp(tmp_path / "app", extra_manifest=f"build:\n  container: {image}\n")
    dist = tmp_path / "dist"
    proc = subprocess.Popen(
        [sys.executable, "-m", "venvrpm", "build", str(app), "-o", str(dist)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        # as from a terminal: a CI job started in the background inherits SIGINT ignored, and
        # Python then never turns Ctrl-C into KeyboardInterrupt
        preexec_fn=_sigint_default,
    )  # fmt: skip

    # Each command is a short-lived container: wait for the longest one, pip installing the
    # lock, so the signal lands while it runs (not after the build's last container is gone).
    def installing() -> bool:
        return any(" install " in c and "--no-deps" in c for c in containers(proc.pid).values())

    deadline = time.monotonic() + 180  # podman can be slow on a loaded machine
    while not installing() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if not installing():
        proc.kill()
        pytest.fail(
            "no container was seen running pip install; the build said: "
            + proc.communicate()[1][-2000:]
        )
    if group:
        os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground group
    else:
        os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert word in err and "Traceback" not in err
    deadline = time.monotonic() + 30
    while containers(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert containers(proc.pid) == {}
    assert not dist.exists() or list(dist.iterdir()) == []
    assert list(Path(os.environ["TMPDIR"]).iterdir()) == []


def _sigint_default() -> None:  # runs in the child, before exec
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_pip_configuration_and_ca_reach_the_target_when_online(tmp_path: Path) -> None:
    """Corporate proxies: pip's config and CA bundle are mounted read-only; nothing else."""
    ca = tmp_path / "corp-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    app = make_smallapp(tmp_path / "app", extra_manifest="build:\n  container: some/image\n")
    app.write_text(app.read_text().replace("wheelhouse: wheels/\n", ""))
    m = manifest.load(app)
    workdir = tmp_path / "work"
    found = backends.mounts(
        m, workdir, {"PIP_CERT": str(ca), "PIP_INDEX_URL": "https://mirror.invalid"}
    )
    shown = {(str(x.path), x.read_only) for x in found}
    assert (str(workdir), False) in shown
    assert (str(ca), True) in shown
    assert (str(m.requirements), True) in shown
    offline = make_smallapp(tmp_path / "offline")
    found = backends.mounts(manifest.load(offline), workdir, {"PIP_CERT": str(ca)})
    assert str(ca) not in {str(x.path) for x in found}, "offline builds see no CA or pip config"


def test_doctor_reports_tools_engines_and_interpreters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "rpmbuild" in out and "RPM version 4." in out
    assert "podman" in out and "answers (info)" in out
    assert "interpreter /usr/bin/python3.11" in out
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if " missing " in line or " broken " in line:
            assert "->" in lines[i + 1], f"no hint for: {line}"


def test_sigkill_during_a_container_build_leaves_no_container(tmp_path: Path) -> None:
    """venvrpm killed outright: its children get SIGTERM from the kernel (PR_SET_PDEATHSIG),
    so the engine stops and removes the container; the next build cleans up after it."""
    image = target.image()
    app = make_smallapp(tmp_path / "app", extra_manifest=f"build:\n  container: {image}\n")
    # the project's build takes a minute inside its container: long enough to tell "removed
    # because venvrpm died" from "removed because its command finished"
    backend = app.parent / "project" / "tinybackend.py"
    original = backend.read_text()
    backend.write_text(original.replace(
        "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n",
        "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n"
        "    import pathlib, time\n    pathlib.Path('SLOW').touch()\n    time.sleep(60)\n",
    ))  # fmt: skip
    dist = tmp_path / "dist"
    proc = subprocess.Popen(
        [sys.executable, "-m", "venvrpm", "build", str(app), "-o", str(dist)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    slow = []
    while not slow and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        slow = list(Path(os.environ["TMPDIR"]).rglob("SLOW"))
    assert slow and containers(proc.pid), "the slow project build was not reached in a container"
    proc.kill()
    proc.communicate()  # and its pipes closed
    deadline = time.monotonic() + 20
    while containers(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert containers(proc.pid) == {}, "the container outlived venvrpm"
    backend.write_text(original)
    assert not dist.exists() or [p for p in dist.iterdir() if not p.name.startswith(".")] == []
    again = subprocess.run(
        [sys.executable, "-m", "venvrpm", "build", str(app), "-o", str(dist), "-q"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in dist.iterdir()) == ["smallapp-1.0.0-1.x86_64.rpm"]
    assert [p for p in Path(os.environ["TMPDIR"]).iterdir() if p.name.startswith("venvrpm-")] == []


def test_a_resolved_file_is_seen_at_its_configured_path(tmp_path: Path) -> None:
    # pip.conf's `cert = /etc/ssl/certs/x.pem`, a symlink: the file it resolves to is mounted
    # at the configured path (pipconfig.py), in a container and in a root
    real = tmp_path / "real" / "bundle.pem"
    real.parent.mkdir()
    real.write_text("resolved bundle\n")
    configured = tmp_path / "certs" / "ca.pem"
    configured.parent.mkdir()
    configured.symlink_to(real)
    mounts = [Mount(configured, True, real)]
    container = ContainerRunner(HostRunner(1), source_date_epoch=1, engine="podman",
                                image=target.image(), mounts=mounts, network=False,
                                home=tmp_path)  # fmt: skip
    seen = container.run(["cat", str(configured)], what="reading the bundle")
    assert seen.stdout == "resolved bundle\n"
    root = target.fresh_root(tmp_path / "root")
    before = target.snapshot(root)
    rootfs = RootfsRunner(HostRunner(1), source_date_epoch=1, root=root, mounts=mounts,
                          host_python=sys.executable, home=tmp_path)  # fmt: skip
    seen = rootfs.run(["/bin/cat", str(configured)], what="reading the bundle")
    assert seen.stdout == "resolved bundle\n"
    assert target.snapshot(root) == before
