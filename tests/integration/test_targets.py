"""One manifest, two targets: bookworm's Python 3.11 root and trixie's 3.13 root. One `venvrpm
lock` writes a lock per target (each resolved in its root); one `venvrpm build` makes two RPMs,
each named with its dist tag, and each installs without --nodeps into a root of its own system
and runs there."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_lock import cli, make_app
from tests.support import target
from venvrpm import lockfile

pytestmark = pytest.mark.integration


def two_targets(tmp_path: Path) -> Path:
    app = make_app(tmp_path)
    bookworm = target.fresh_root(tmp_path / "bookworm", "bookworm")
    trixie = target.fresh_root(tmp_path / "trixie", "trixie")
    app.write_text(
        app.read_text()
        + "targets:\n"
        + f"  - name: bookworm\n    rootfs: {bookworm}\n    python: /usr/bin/python3.11\n"
        + "    dist: .deb12\n"
        + f"  - name: trixie\n    rootfs: {trixie}\n    python: /usr/bin/python3.13\n"
        + "    dist: .deb13\n"
    )
    return app


def test_two_targets_lock_build_install_and_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = two_targets(tmp_path)
    root = app.parent
    assert cli("lock", str(app)) == 0, capsys.readouterr().err
    capsys.readouterr()
    for name, version in (("bookworm", "3.11"), ("trixie", "3.13")):
        lock = root / f"requirements.{name}.lock"
        assert f'"python": "/usr/bin/python{version} {version}.' in lock.read_text()
        assert all(r.hashes for r in lockfile.read(lock).requirements)

    assert cli("doctor", str(app)) == 0
    report = capsys.readouterr().out
    assert re.search(r"target trixie \(rootfs .*/trixie\) +ok +chroot works, ran /usr/bin/python3.13",
                     report), report  # fmt: skip

    assert cli("check", str(app)) == 0, capsys.readouterr().err
    assert "app.yaml (trixie): valid" in capsys.readouterr().err

    out = root / "dist"
    assert cli("build", str(app), "-o", str(out), "--json") == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["ok"] is True
    entries = {e["name"]: e for e in document["targets"]}
    assert sorted(entries) == ["bookworm", "trixie"]
    rpms = sorted(p.name for p in out.glob("*.rpm"))
    assert rpms == ["smallapp-1.0.0-1.deb12.x86_64.rpm", "smallapp-1.0.0-1.deb13.x86_64.rpm"]
    assert entries["trixie"]["artifact"]["release"] == "1.deb13"
    for name, version in (("bookworm", "3.11"), ("trixie", "3.13")):
        (rpm,) = out.glob(f"*{entries[name]['artifact']['release']}*.rpm")
        assert entries[name]["artifact"]["path"] == str(rpm)
        requires = subprocess.run(["rpm", "-qpR", str(rpm)], capture_output=True, text=True,
                                  check=True).stdout  # fmt: skip
        assert f"/usr/bin/python{version}" in requires
        # without --nodeps into a root of its own system, and it runs with that Python
        installed = target.fresh_root(tmp_path / f"install-{name}", name)
        done = target.rpm(installed, "-i", str(rpm), check=False)
        assert done.returncode == 0, done.stderr
        run = target.chroot(installed, "/usr/bin/smallapp")
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout)
        assert report["native"] == 42
        assert f"/lib/python{version}/site-packages/" in report["co_filename"]

    # the delivery of both, signed: a repository per target, one SHA256SUMS, an SBOM per RPM
    from tests.integration.test_lifecycle import throwaway_key

    throwaway_key(tmp_path, monkeypatch)
    assert cli("bundle", str(app), "-o", str(root / "bundle"),
               "--sign", "signing@example.invalid") == 0, capsys.readouterr().err  # fmt: skip
    capsys.readouterr()
    top = root / "bundle" / "smallapp-1.0.0-1"
    assert (root / "bundle" / "smallapp-1.0.0-1.tar").is_file()
    for name, dist in (("bookworm", ".deb12"), ("trixie", ".deb13")):
        repo = top / name
        assert (repo / f"smallapp-1.0.0-1{dist}.x86_64.rpm").is_file()
        assert (repo / "repodata" / "repomd.xml").is_file()
        assert json.loads((repo / "sbom.cdx.json").read_text())["bomFormat"] == "CycloneDX"
        dotrepo = (repo / "smallapp.repo").read_text()
        assert f"baseurl=file:///mnt/smallapp-1.0.0-1/{name}" in dotrepo
        # each repository's metadata signed, and dnf told to check it (EL 9 policy)
        assert "\ngpgcheck=1\nrepo_gpgcheck=1\n" in dotrepo
        keyring = tmp_path / f"customer-{name}.gpg"
        subprocess.run(["gpg", "--batch", "--dearmor", "--output", str(keyring),
                        str(top / "RPM-GPG-KEY-smallapp")], check=True, capture_output=True)  # fmt: skip
        repomd = repo / "repodata" / "repomd.xml"
        verified = subprocess.run(["gpgv", "--keyring", str(keyring), f"{repomd}.asc",
                                   str(repomd)], capture_output=True, text=True)  # fmt: skip
        assert verified.returncode == 0, verified.stderr
    verified = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=top, capture_output=True,
                              text=True)  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "bookworm/repodata/repomd.xml: OK" in verified.stdout
    readme = (top / "README.txt").read_text()
    assert "bookworm  1.deb12  /usr/bin/python3.11" in readme
    assert "trixie/smallapp-1.0.0-1.deb13.x86_64.rpm" in readme

    # one target failing: the other's RPM is whole, the failed one absent, and the error says
    # which target
    broken = app.read_text().replace("/usr/bin/python3.13", "/usr/bin/python3.99")
    app.write_text(broken)
    again = root / "again"
    assert cli("build", str(app), "-o", str(again), "--json") == 1
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["error"]["message"] == "1 of 2 targets failed: trixie"
    assert [e["ok"] for e in document["targets"]] == [True, False]
    assert sorted(p.name for p in again.iterdir()) == ["smallapp-1.0.0-1.deb12.x86_64.rpm"]
    # without --json, stdout lists what did build; stderr names the target that did not
    assert cli("build", str(app), "-o", str(root / "third")) == 1
    captured = capsys.readouterr()
    assert captured.out == f"{root / 'third' / 'smallapp-1.0.0-1.deb12.x86_64.rpm'}\n"
    assert "error: 1 of 2 targets failed: trixie" in captured.err
    assert "trixie: " in captured.err and "python3.99" in captured.err


ARM_APP = """\
import json, platform, sys
import markupsafe, markupsafe._speedups

def main():
    print(json.dumps({"machine": platform.machine(), "prefix": sys.prefix,
                      "escaped": str(markupsafe.escape("<a>")),
                      "speedups": markupsafe._speedups.__file__}))
"""


def arm64_wheels(dest: Path) -> list[Path]:
    """A compiled aarch64 wheel from PyPI (MarkupSafe's C speedups link libc), downloaded once
    into the test cache; and a pure wheel with the app's entry point."""
    from tests.support import tinybackend

    cached = target.CACHE / "arm64-wheels"
    if not list(cached.glob("MarkupSafe-*.whl")):
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--no-deps",
             "--platform", "manylinux2014_aarch64", "--python-version", "3.11",
             "--implementation", "cp", "markupsafe==2.1.5", "-d", str(cached)],
            check=True,
        )  # fmt: skip
    dest.mkdir(parents=True)
    (compiled,) = cached.glob("MarkupSafe-*.whl")
    shutil.copy2(compiled, dest / compiled.name)
    pure = tinybackend.write_wheel(dest, "armhello", "1.0", {"armhello/__init__.py": ARM_APP},
                                   entry_points={"armhello": "armhello:main"})  # fmt: skip
    return [dest / compiled.name, pure]


def arm64_app(app: Path, root: Path) -> Path:
    """The app of arm64_wheels, locked, with one aarch64 target building in *root*."""
    from tests.support.apps import sha256

    wheels = arm64_wheels(app / "wheels")
    pins = (("markupsafe==2.1.5", wheels[0]), ("armhello==1.0", wheels[1]))
    (app / "requirements.arm64.txt").write_text(
        "".join(f"{pin} --hash=sha256:{sha256(w)}\n" for pin, w in pins)
    )
    (app / "app.yaml").write_text(
        "name: armhello\nversion: 1.0.0\nsummary: s\nlicense: MIT\n"
        "python: /usr/bin/python3.11\nrequirements: requirements.txt\nwheelhouse: wheels\n"
        "entry_points: [armhello]\n"
        f"targets:\n  - name: arm64\n    rootfs: {root}\n    dist: .deb12\n    arch: aarch64\n"
    )
    return app


def test_an_aarch64_target_builds_under_emulation_installs_and_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = target.fresh_root(tmp_path / "arm64", "bookworm-arm64")
    app = arm64_app(tmp_path / "app", root)
    assert cli("doctor", str(app / "app.yaml")) == 0
    report = capsys.readouterr().out
    assert re.search(r"target arm64 arch +ok +aarch64 on a x86_64 host: qemu-aarch64 emulation",
                     report), report  # fmt: skip
    assert re.search(r"target arm64 \(rootfs .*\) +ok +chroot works", report), report
    out = tmp_path / "dist"
    assert cli("build", str(app / "app.yaml"), "-o", str(out), "--offline") == 0, (
        capsys.readouterr().err
    )
    (rpm,) = out.glob("*.rpm")
    assert rpm.name == "armhello-1.0.0-1.deb12.aarch64.rpm"
    arch = subprocess.run(["rpm", "-qp", "--qf", "%{ARCH}", str(rpm)], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert arch == "aarch64"
    requires = subprocess.run(["rpm", "-qpR", str(rpm)], capture_output=True, text=True,
                              check=True).stdout.splitlines()  # fmt: skip
    # the speedups' libc, as an aarch64 file needs it: aarch64's first glibc symbol version
    # is 2.17 (x86_64's 2.2.5), with the 64-bit marker
    assert "libc.so.6(GLIBC_2.17)(64bit)" in requires, requires
    assert not [r for r in requires if "x86-64" in r or "GLIBC_2.2.5" in r], requires
    installs_and_runs_on_arm64(tmp_path, rpm)


def installs_and_runs_on_arm64(tmp_path: Path, rpm: Path) -> None:
    """*rpm* (armhello) into an arm64 root without --nodeps (--ignorearch: this rpm is
    x86_64's), then run there, emulated."""
    installed = target.fresh_root(tmp_path / "arm64-install", "bookworm-arm64")
    done = target.rpm(installed, "-i", "--ignorearch", str(rpm), check=False)
    assert done.returncode == 0, done.stderr
    run = target.chroot(installed, "/usr/bin/armhello")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["machine"] == "aarch64" and report["escaped"] == "&lt;a&gt;"
    assert report["speedups"].endswith(".so") and report["prefix"] == "/opt/armhello"


def test_the_hello_example_builds_for_aarch64_installs_and_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bundled example (docs/examples/hello: a setuptools project and click, from the index)
    as an aarch64 target: the project's backend, pip and the bytecode compiler run emulated."""
    root = target.fresh_root(tmp_path / "arm64", "bookworm-arm64")
    app = tmp_path / "hello"
    shutil.copytree(Path(__file__).parents[2] / "docs" / "examples" / "hello", app)
    manifest = app / "app.yaml"
    manifest.write_text(
        manifest.read_text() + f"targets:\n  - name: arm64\n    rootfs: {root}\n    dist: .deb12\n"
        "    arch: aarch64\n    requirements: requirements.lock\n"
    )
    out = tmp_path / "dist"
    assert cli("build", str(manifest), "-o", str(out)) == 0, capsys.readouterr().err
    (rpm,) = out.glob("*.rpm")
    assert rpm.name == "hello-1.0.0-1.deb12.aarch64.rpm"
    installed = target.fresh_root(tmp_path / "arm64-install", "bookworm-arm64")
    done = target.rpm(installed, "-i", "--ignorearch", str(rpm), check=False)
    assert done.returncode == 0, done.stderr
    run = target.chroot(installed, "/usr/bin/hello", "--name", "arm")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("Hello, arm! (python 3.11") and "/opt/hello" in run.stdout
    machine = target.chroot(installed, "/opt/hello/bin/python", "-c",
                            "import platform; print(platform.machine())")  # fmt: skip
    assert machine.stdout.strip() == "aarch64", machine.stderr


def rpm_files(rpm: Path) -> dict[str, str]:
    """Path -> mode, digest and link target of each file of *rpm*, as its header lists them."""
    listed = subprocess.run(
        ["rpm", "-qp", "--qf", "[%{FILENAMES}\t%{FILEMODES:octal} %{FILEDIGESTS} %{FILELINKTOS}\n]",
         str(rpm)], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(line.split("\t", 1) for line in listed.splitlines())


def test_install_host_makes_the_emulated_payload_without_emulating_the_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``install: host``: the same aarch64 app built both ways. The payloads are the same file
    for file, bytecode, venv and native library included, but for what says who installed:
    the console script's launcher text (pypa/installer's, not pip's), INSTALLER (venvrpm, not
    pip) and the RECORD lines of those files."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    root = target.fresh_root(tmp_path / "arm64", "bookworm-arm64")
    app = arm64_app(tmp_path / "app", root)
    (app / "host.yaml").write_text((app / "app.yaml").read_text() + "    install: host\n")
    payloads = {}
    for manifest in ("app.yaml", "host.yaml"):
        out = tmp_path / manifest
        assert cli("build", str(app / manifest), "-o", str(out), "--offline", "--no-cache",
                   "-v") == 0, capsys.readouterr().err  # fmt: skip
        log = capsys.readouterr().err
        (rpm,) = out.glob("*.rpm")
        assert rpm.name == "armhello-1.0.0-1.deb12.aarch64.rpm"
        payloads[manifest] = rpm_files(rpm)
        requires = subprocess.run(["rpm", "-qpR", str(rpm)], capture_output=True, text=True,
                                  check=True).stdout  # fmt: skip
        assert "libc.so.6(GLIBC_2.17)(64bit)" in requires, requires
        hosted = "unpacking 2 locked wheels on this host" in log
        assert hosted == (manifest == "host.yaml"), log
    emulated, host = payloads["app.yaml"], payloads["host.yaml"]
    assert sorted(emulated) == sorted(host)
    site = "/opt/armhello/lib/python3.11/site-packages"
    assert sorted(p for p in host if host[p] != emulated[p]) == [
        "/opt/armhello/bin/armhello",
        f"{site}/MarkupSafe-2.1.5.dist-info/INSTALLER",
        f"{site}/MarkupSafe-2.1.5.dist-info/RECORD",
        f"{site}/armhello-1.0.dist-info/INSTALLER",
        f"{site}/armhello-1.0.dist-info/RECORD",
    ]
    assert (
        host[f"{site}/markupsafe/__pycache__/__init__.cpython-311.pyc"]
        == (emulated[f"{site}/markupsafe/__pycache__/__init__.cpython-311.pyc"])
    )
    # with the environment cache: stored once, restored by the next build, the same payload
    for again in ("cached-1", "cached-2"):
        assert cli("build", str(app / "host.yaml"), "-o", str(tmp_path / again),
                   "--offline", "-v") == 0  # fmt: skip
        log = capsys.readouterr().err
        (rpm,) = (tmp_path / again).glob("*.rpm")
        assert rpm_files(rpm) == host
    assert "reusing the cached environment" in log, log
    installs_and_runs_on_arm64(
        tmp_path, tmp_path / "host.yaml" / "armhello-1.0.0-1.deb12.aarch64.rpm"
    )


def test_install_host_refuses_an_sdist_before_building(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = target.fresh_root(tmp_path / "arm64", "bookworm-arm64")
    app = arm64_app(tmp_path / "app", root)
    (app / "app.yaml").write_text((app / "app.yaml").read_text() + "    install: host\n")
    lock = app / "requirements.arm64.txt"
    sdist = app / "wheels" / "sdistonly-1.0.tar.gz"
    sdist.write_bytes(b"not built here")
    digest = subprocess.run(["sha256sum", str(sdist)], capture_output=True, text=True,
                            check=True).stdout.split()[0]  # fmt: skip
    lock.write_text(lock.read_text() + f"sdistonly==1.0 --hash=sha256:{digest}\n")
    out = tmp_path / "out"
    assert cli("build", str(app / "app.yaml"), "-o", str(out), "--offline", "--no-cache") == 1
    err = capsys.readouterr().err
    assert (
        "install: host needs a wheel for the target of every locked distribution; 1 have "
        "none in the wheelhouse" in err
    ), err
    assert not out.exists() or not list(out.iterdir())
