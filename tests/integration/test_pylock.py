"""PEP 751 locks end to end: the test app locked by real ``pip lock`` builds from its wheelhouse,
installs without --nodeps into the test root, runs, and ships what the same app locked with
pip-compile (``venvrpm lock``) ships; of a lock for several platforms only the target's file is
needed, fetched or installed; a tampered file is refused by name."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
from packaging.version import Version

from tests.integration.test_build_install import payload_of, query
from tests.support import target
from tests.support.apps import make_smallapp, sha256
from venvrpm.cli import main

pytestmark = pytest.mark.integration

DEPENDENCIES = "tinydep\nawkward-data\ntinynative\nsdistonly\n"
"""The test project's dependencies: what pip-compile locks for it (``venvrpm lock``)."""
X86_WHEEL = "tinynative-1.0-py3-none-linux_x86_64.whl"


def pip_lock(root: Path, *, project: bool = True) -> Path:
    """The app under *root* locked by real ``pip lock`` (pip >= 25.1 writes PEP 751) from its
    wheelhouse alone; the manifest's ``requirements:`` made the lock's ``pylock.toml``.

    *project*: lock the project as one does (``pip lock ./project``: the lock lists the app
    itself, as a directory, which venvrpm skips), else its dependencies (``-r``); without
    ``project:`` in the manifest, always the dependencies."""
    version = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    assert Version(version) >= Version("25.1"), f"pip {version} cannot write pylock.toml"
    manifest = root / "app.yaml"
    (root / "requirements.in").write_text(DEPENDENCIES)
    what = ["./project"] if project and "\nproject: project\n" in manifest.read_text() else (
        ["-r", "requirements.in"])  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "lock", "--no-index", "--find-links", "wheels",
         "--disable-pip-version-check", *what, "-o", "pylock.toml"],
        cwd=root, check=True, capture_output=True,
    )  # fmt: skip
    (root / "requirements.lock").unlink()
    manifest.write_text(
        manifest.read_text().replace("requirements: requirements.lock", "requirements: pylock.toml")
    )
    return manifest


def build(manifest: Path) -> Path:
    dist = manifest.parent / "dist"
    assert main(["build", str(manifest), "-o", str(dist), "-q"]) == 0
    (rpm,) = dist.glob("*.rpm")
    return rpm


def bundled(rpm: Path) -> list[str]:
    return sorted(p for p in query(rpm, "--provides") if p.startswith("bundled("))


def sbom_components(rpm: Path, dest: Path) -> list[dict[str, object]]:
    document = payload_of(rpm, dest) / "usr/share/doc/smallapp/sbom.cdx.json"
    components = json.loads(document.read_text())["components"]
    return sorted(components, key=lambda c: str(c["name"]))


def test_an_app_locked_by_pip_lock_installs_runs_and_ships_what_pip_compile_locks(
    tmp_path: Path,
) -> None:
    compiled = make_smallapp(tmp_path / "compiled")
    # the same app, files and all (an sdist made again would differ in its bytes)
    pylocked = pip_lock(Path(shutil.copytree(compiled.parent, tmp_path / "pylocked")))
    (compiled.parent / "requirements.lock").unlink()
    assert main(["lock", str(compiled)]) == 0  # pip-compile, offline from the wheelhouse
    lock = tomllib.loads((pylocked.parent / "pylock.toml").read_text())
    assert lock["created-by"] == "pip"
    assert sorted(p["name"] for p in lock["packages"]) == sorted(
        [*DEPENDENCIES.split(), "smallapp"]
    )
    assert {"name": "smallapp", "directory": {"path": "project"}} in lock["packages"]

    rpm = build(pylocked)
    root = target.fresh_root(tmp_path / "root")
    install = target.rpm(root, "-i", str(rpm), check=False)  # no --nodeps
    assert install.returncode == 0, install.stderr
    run = target.chroot(root, "/usr/bin/smallapp")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["sdistonly"] == "built from sdist"
    assert json.loads(run.stdout)["native"] == 42

    reference = build(compiled)
    assert bundled(rpm) == bundled(reference)
    assert len(bundled(rpm)) == 5, "the four dependencies and the app"
    assert sbom_components(rpm, tmp_path / "a") == sbom_components(reference, tmp_path / "b")


def add_foreign_wheels(lock_path: Path, elsewhere: Path) -> None:
    """Wheels of tinynative for aarch64 and macOS beside the lock's x86_64 one, as a lock for
    several platforms holds them; their files exist only at their URLs in *elsewhere*."""
    text = lock_path.read_text()
    entries = ""
    elsewhere.mkdir(exist_ok=True)
    for platform in ("manylinux_2_17_aarch64", "macosx_11_0_arm64"):
        name = f"tinynative-1.0-py3-none-{platform}.whl"
        (elsewhere / name).write_bytes(f"a wheel for {platform}".encode())
        entries += (
            f'\n[[packages.wheels]]\nname = "{name}"\nurl = "{(elsewhere / name).as_uri()}"\n\n'
            f'[packages.wheels.hashes]\nsha256 = "{sha256(elsewhere / name)}"\n'
        )
    marker = f'name = "{X86_WHEEL}"'
    head, tail = text.split(marker, 1)
    start = head.rindex("[[packages.wheels]]")
    lock_path.write_text(head[:start] + entries.lstrip("\n") + "\n" + head[start:] + marker + tail)


def serve_elsewhere(manifest: Path, index: Path) -> Path:
    """Move the app's wheelhouse to *index*, and the URLs of its pylock.toml with it: its
    files are then only where the lock says. The wheelhouse's path (empty now)."""
    served = manifest.parent / "wheels"
    lock_path = manifest.parent / "pylock.toml"
    shutil.move(served, index)
    lock_path.write_text(lock_path.read_text().replace(served.as_uri(), index.as_uri()))
    return served


def test_of_a_lock_for_several_platforms_only_the_targets_wheel_is_needed(tmp_path: Path) -> None:
    manifest = pip_lock(make_smallapp(tmp_path / "app").parent)
    lock_path = manifest.parent / "pylock.toml"
    add_foreign_wheels(lock_path, tmp_path / "elsewhere")
    tinynative = next(
        p for p in tomllib.loads(lock_path.read_text())["packages"] if p["name"] == "tinynative"
    )
    assert [w["name"] for w in tinynative["wheels"]][-1] == X86_WHEEL
    assert len(tinynative["wheels"]) == 3

    # fetch into an empty wheelhouse: exactly the chosen files, from the URLs the lock names
    served = serve_elsewhere(manifest, tmp_path / "index")
    assert main(["fetch", str(manifest)]) == 0
    assert sorted(p.name for p in served.iterdir()) == sorted(
        p.name
        for p in (tmp_path / "index").iterdir()
        if p.name.startswith(("tinydep-", "awkward_data-", "tinynative-", "sdistonly-"))
    )
    assert not [p for p in served.iterdir() if "aarch64" in p.name or "macosx" in p.name]

    dist = tmp_path / "dist"
    assert main(["build", str(manifest), "-o", str(dist), "--keep-workdir"]) == 0
    (rpm,) = dist.glob("*.rpm")
    sbom = {c["name"]: c for c in sbom_components(rpm, tmp_path / "payload")}
    assert sbom["tinynative"]["hashes"] == [
        {"alg": "SHA-256", "content": sha256(served / X86_WHEEL)}
    ]
    # what pip was given: of tinynative, the x86_64 wheel's hash alone
    (given,) = Path(tempfile.gettempdir()).glob("venvrpm-*/work/locked-requirements.txt")
    line = next(x for x in given.read_text().splitlines() if x.startswith("tinynative"))
    assert line == f"tinynative==1.0 --hash=sha256:{sha256(served / X86_WHEEL)}"
    shutil.rmtree(given.parent.parent)


def test_a_tampered_file_in_the_wheelhouse_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = pip_lock(make_smallapp(tmp_path / "app").parent)
    wheel = manifest.parent / "wheels" / "tinydep-1.0-py3-none-any.whl"
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    capsys.readouterr()
    code = main(["build", str(manifest), "-o", str(tmp_path / "dist")])
    assert code != 0
    err = capsys.readouterr().err
    assert "cannot serve pylock.toml" in err
    assert "hash mismatch for tinydep-1.0-py3-none-any.whl" in err
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())


def test_online_the_chosen_files_come_from_the_urls_the_lock_names(tmp_path: Path) -> None:
    """No wheelhouse: each chosen file is installed from the URL the lock gives it (no index
    has these distributions), hash-checked; the other platforms' URLs are never read."""
    manifest = pip_lock(make_smallapp(tmp_path / "app").parent)
    lock_path = manifest.parent / "pylock.toml"
    add_foreign_wheels(lock_path, tmp_path / "elsewhere")
    serve_elsewhere(manifest, tmp_path / "index")
    manifest.write_text(manifest.read_text().replace("wheelhouse: wheels/\n", ""))
    for foreign in (tmp_path / "elsewhere").iterdir():
        foreign.unlink()  # their URLs lead nowhere: read, they would fail the build
    rpm = build(manifest)
    sbom = {c["name"]: c for c in sbom_components(rpm, tmp_path / "payload")}
    assert sbom["tinynative"]["hashes"] == [
        {"alg": "SHA-256", "content": sha256(tmp_path / "index" / X86_WHEEL)}
    ]


def test_the_source_rpms_kit_keeps_the_pylocks_name_and_its_files(tmp_path: Path) -> None:
    """The farm's build reads the kit's lock by its name: a pylock.toml stays one."""
    import yaml

    from venvrpm import manifest as manifest_module
    from venvrpm import srpm
    from venvrpm.runner import HostRunner

    made = pip_lock(make_smallapp(tmp_path / "app").parent, project=False)
    (made.parent / "wheels" / "stray-1.0-py3-none-any.whl").write_bytes(b"no lock names it")
    kit = srpm.kit(manifest_module.load(made), tmp_path / "out", HostRunner(1))
    data = yaml.safe_load((kit.root / "app.yaml").read_text())
    assert data["requirements"] == "pylock.toml"
    assert (kit.root / "pylock.toml").read_bytes() == (made.parent / "pylock.toml").read_bytes()
    assert kit.wheels == 4
    assert manifest_module.load(kit.root / "app.yaml").requirements == kit.root / "pylock.toml"


@pytest.mark.parametrize(
    "build_section",
    ["build:\n  container: {image}\n  engine: podman\n", "build:\n  rootfs: {root}\n",
     "build:\n  installer: uv\n"],
    ids=["container", "rootfs", "uv"],
)  # fmt: skip
def test_a_pylock_builds_where_the_target_is_and_with_uv(
    tmp_path: Path, build_section: str
) -> None:
    """The target's tags are asked where its interpreter runs (in the image, in the root), of
    the pip that installs there; uv installs the chosen files as pip does."""
    section = build_section.format(
        image=target.image() if "container" in build_section else "",
        root=target.fresh_root(tmp_path / "build-root") if "rootfs" in build_section else "",
    )
    manifest = pip_lock(make_smallapp(tmp_path / "app", extra_manifest=section).parent)
    add_foreign_wheels(manifest.parent / "pylock.toml", tmp_path / "elsewhere")
    rpm = build(manifest)
    root = target.fresh_root(tmp_path / "root")
    assert target.rpm(root, "-i", str(rpm), check=False).returncode == 0
    run = target.chroot(root, "/usr/bin/smallapp")
    assert run.returncode == 0 and json.loads(run.stdout)["native"] == 42, run.stderr


def test_a_source_rpm_of_a_pylock_listing_the_project_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lock's path to the project would lead elsewhere in the kit: said, not shipped."""
    made = pip_lock(make_smallapp(tmp_path / "app").parent)
    capsys.readouterr()
    assert main(["build", str(made), "--srpm", "-o", str(tmp_path / "srpm")]) == 2
    err = capsys.readouterr().err
    assert "--srpm cannot ship pylock.toml: it lists the project itself" in err
    assert "smallapp (directory project)" in err


def test_a_pylock_written_by_uv_builds_and_runs(tmp_path: Path) -> None:
    """`uv pip compile --format pylock.toml` (uv from PyPI, the test extra's) for the target's
    interpreter, from the wheelhouse alone: inline tables, as uv writes them."""
    manifest = make_smallapp(tmp_path / "app")
    root = manifest.parent
    subprocess.run(
        [sys.executable, "-m", "uv", "pip", "compile", "--quiet", "--format", "pylock.toml",
         "--no-index", "--find-links", "wheels", "--python", "/usr/bin/python3.11", "--no-cache",
         "project/pyproject.toml", "-o", "pylock.toml"],
        cwd=root, check=True, capture_output=True,
    )  # fmt: skip
    assert tomllib.loads((root / "pylock.toml").read_text())["created-by"] == "uv"
    (root / "requirements.lock").unlink()
    manifest.write_text(
        manifest.read_text().replace("requirements: requirements.lock", "requirements: pylock.toml")
    )
    rpm = build(manifest)
    root_fs = target.fresh_root(tmp_path / "root")
    assert target.rpm(root_fs, "-i", str(rpm), check=False).returncode == 0
    run = target.chroot(root_fs, "/usr/bin/smallapp")
    assert run.returncode == 0 and json.loads(run.stdout)["sdistonly"] == "built from sdist"
