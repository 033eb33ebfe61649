"""``targets:``: one RPM per target from one manifest; its parsing, the per-target manifest,
selection with --target, and what build/lock/check do with several targets (the recording tier:
nothing here runs rpmbuild or a root)."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest

from venvrpm import manifest, targets
from venvrpm.cli import main
from venvrpm.errors import ManifestError, UsageError, VenvrpmError

HEAD = """\
name: app
version: "1.0"
summary: an app
license: MIT
python: /usr/bin/python3
requirements: {requirements}
"""


def _write(tmp_path: Path, body: str, requirements: str = "requirements.txt") -> Path:
    (tmp_path / "bookworm").mkdir(exist_ok=True)
    (tmp_path / "trixie").mkdir(exist_ok=True)
    path = tmp_path / "app.yaml"
    path.write_text(HEAD.format(requirements=requirements) + body, encoding="utf-8")
    return path


TWO = """\
targets:
  - name: bookworm
    rootfs: bookworm
    python: /usr/bin/python3.11
    dist: .deb12
  - name: trixie
    rootfs: trixie
    dist: .deb13
    requirements: locks/trixie.txt
"""


def test_targets_become_frozen_dataclasses(tmp_path: Path) -> None:
    m = manifest.load(_write(tmp_path, TWO))
    first, second = m.targets
    assert first.name == "bookworm" and first.dist == ".deb12" and first.arch is None
    assert first.build.kind == "rootfs" and first.build.rootfs == tmp_path / "bookworm"
    assert first.python == PurePosixPath("/usr/bin/python3.11")
    # the lock's default name: the target's name before the suffix
    assert first.requirements == tmp_path / "requirements.bookworm.txt"
    assert second.python == PurePosixPath("/usr/bin/python3")  # the top-level one
    assert second.requirements == tmp_path / "locks" / "trixie.txt"


def test_a_targets_manifest_is_its_rpm(tmp_path: Path) -> None:
    m = manifest.load(_write(tmp_path, TWO))
    derived = manifest.for_target(m, m.targets[0])
    assert derived.release == "1.deb12" and derived.target == "bookworm"
    assert derived.python == PurePosixPath("/usr/bin/python3.11")
    assert derived.build.kind == "rootfs" and derived.targets == ()
    assert derived.requirements == tmp_path / "requirements.bookworm.txt"


def test_the_pylock_default_name_is_a_pep751_name(tmp_path: Path) -> None:
    m = manifest.load(_write(tmp_path, TWO, requirements="pylock.toml"))
    assert m.targets[0].requirements.name == "pylock.bookworm.toml"


def test_a_target_locks_its_own_main_lock_only(tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("attrs\n")
    body = TWO + "lock:\n  inputs: [requirements.in]\n"
    m = manifest.load(_write(tmp_path, body))
    derived = manifest.for_target(m, m.targets[1])
    (main_lock,) = derived.locks
    assert main_lock.name == "main" and main_lock.output == tmp_path / "locks" / "trixie.txt"


def test_version_from_reads_each_targets_lock(tmp_path: Path) -> None:
    (tmp_path / "requirements.bookworm.txt").write_text("app==1.2.0 --hash=sha256:" + "a" * 64)
    body = TWO.replace("requirements: locks/trixie.txt", "requirements: requirements.bookworm.txt")
    path = _write(tmp_path, body)
    path.write_text(path.read_text().replace('version: "1.0"', "version: {from: app}"))
    m = manifest.load(path)
    assert [manifest.for_target(m, t).version for t in m.targets] == ["1.2.0", "1.2.0"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (TWO.replace("name: trixie", "name: bookworm"),
         "targets[1].name: 'bookworm' is already the name of targets[0]"),
        (TWO.replace(".deb13", ".deb12"),
         "targets[1].dist: '.deb12' is already the dist of targets[0] for the same arch"),
        (TWO.replace("    rootfs: trixie\n", ""),
         "targets[1]: give exactly one of rootfs and container"),
        (TWO.replace("    rootfs: trixie\n", "    rootfs: trixie\n    container: img\n"),
         "targets[1]: give exactly one of rootfs and container"),
        (TWO + "build:\n  rootfs: bookworm\n",
         "targets: build.rootfs and targets both say where the build runs"),
        (TWO.replace(".deb13", "deb13"), "targets[1].dist: 'deb13' is not allowed here"),
        (TWO.replace("name: trixie", "name: Trixie"), "targets[1].name: 'Trixie' is not allowed"),
        (TWO.replace("    rootfs: trixie\n", "    rootfs: missing\n"),
         "targets[1].rootfs: 'missing' is not a directory"),
    ],
)  # fmt: skip
def test_bad_targets_are_refused(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(ManifestError) as info:
        manifest.load(_write(tmp_path, body))
    assert any(expected in str(p) for p in info.value.problems), info.value.problems


def test_a_derived_lock_name_may_not_be_a_link_leading_out(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.txt").write_text("")
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.bookworm.txt").symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(ManifestError) as info:
        manifest.load(_write(project, TWO))
    assert any("targets[0].requirements: 'requirements.bookworm.txt' is a symlink leading "
               "outside" in str(p) for p in info.value.problems), info.value.problems  # fmt: skip


def test_same_dist_for_two_arches_is_two_file_names(tmp_path: Path) -> None:
    body = TWO.replace(".deb13", ".deb12\n    arch: aarch64")
    assert len(manifest.load(_write(tmp_path, body)).targets) == 2


def test_selection(tmp_path: Path) -> None:
    m = manifest.load(_write(tmp_path, TWO))
    assert [t.target for t in targets.selected(m, [], "x86_64")] == ["bookworm", "trixie"]
    assert [t.target for t in targets.selected(m, ["trixie"], "x86_64")] == ["trixie"]
    with pytest.raises(UsageError, match="no target called el9"):
        targets.selected(m, ["el9"], "x86_64")


def test_a_manifest_without_targets_is_its_own_only_target(tmp_path: Path) -> None:
    m = manifest.load(_write(tmp_path, ""))
    assert targets.selected(m, [], "x86_64") == [m]
    with pytest.raises(UsageError, match="has no targets"):
        targets.selected(m, ["el9"], "x86_64")


def test_a_foreign_arch_needs_emulation_and_a_root(tmp_path: Path) -> None:
    m = manifest.load(_write(tmp_path, TWO.replace(".deb13", ".deb13\n    arch: aarch64")))
    with pytest.raises(VenvrpmError, match="target trixie is for aarch64, and this host "
                       r"\(x86_64\) cannot run aarch64 programs") as info:  # fmt: skip
        targets.selected(m, [], "x86_64")
    assert "update-binfmts --enable qemu-aarch64" in (info.value.hint or "")
    assert [t.target for t in targets.selected(m, ["bookworm"], "x86_64")] == ["bookworm"]
    chosen = targets.selected(m, [], "x86_64", lambda arch: arch == "aarch64")
    assert [(t.target, t.arch) for t in chosen] == [("bookworm", None), ("trixie", "aarch64")]
    # on an arm64 host (platform.machine()'s spelling) both build natively
    assert len(targets.selected(m, [], "arm64")) == 2
    image = manifest.load(_write(tmp_path, TWO.replace("    rootfs: trixie\n", "    container: "
                                                       "img\n    arch: aarch64\n")))  # fmt: skip
    with pytest.raises(VenvrpmError, match="builds in a rootfs only so far"):
        targets.selected(image, [], "x86_64", lambda arch: True)


def test_emulation_is_an_enabled_binfmt_handler(tmp_path: Path) -> None:
    assert not targets.emulation_enabled("aarch64", tmp_path)
    (tmp_path / "qemu-aarch64").write_text("disabled\ninterpreter /usr/libexec/qemu\n")
    assert not targets.emulation_enabled("aarch64", tmp_path)
    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /usr/libexec/qemu\n")
    assert targets.emulation_enabled("aarch64", tmp_path)


def test_an_aarch64_target_is_packed_for_aarch64(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(targets, "emulation_enabled", lambda arch: True)
    path = _write(tmp_path, TWO.replace(".deb13", ".deb13\n    arch: aarch64"))
    lock = "attrs==24.2.0 --hash=sha256:" + "a" * 64 + "\n"
    (tmp_path / "requirements.bookworm.txt").write_text(lock)
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / "trixie.txt").write_text(lock)
    assert main(["build", str(path), "--dry-run", "-q", "-o", str(tmp_path / "out")]) == 0
    plans = {t["name"]: t["plan"] for t in json.loads(capsys.readouterr().out)["targets"]}
    assert "--target" not in plans["bookworm"]["commands"]["rpmbuild"]
    argv = plans["trixie"]["commands"]["rpmbuild"]
    assert argv[argv.index("--target") + 1] == "aarch64"


def test_dry_run_plans_every_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, TWO)
    lock = "attrs==24.2.0 --hash=sha256:" + "a" * 64 + "\n"
    (tmp_path / "requirements.bookworm.txt").write_text(lock)
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / "trixie.txt").write_text(lock)
    assert main(["build", str(path), "--dry-run", "-q", "-o", str(tmp_path / "out")]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in document["targets"]] == ["bookworm", "trixie"]


def test_check_names_the_target_whose_lock_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, TWO)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "2 of 2 targets failed: bookworm, trixie" in err
    assert "requirements.bookworm.txt" in err


def test_a_targets_source_rpm_kit_is_a_manifest_of_that_target_alone(tmp_path: Path) -> None:
    """--srpm of a target: the kit's manifest (rebuilt by `venvrpm stage` on a farm) has the
    target's interpreter and release, and no targets (which would point at this host's roots)."""
    import yaml

    from venvrpm import srpm
    from venvrpm.fetch import sha256_of
    from venvrpm.runner import HostRunner

    (tmp_path / "wheels").mkdir()
    wheel = tmp_path / "wheels" / "a-1-py3-none-any.whl"
    wheel.write_bytes(b"wheel a")
    (tmp_path / "requirements.bookworm.txt").write_text(f"a==1 --hash={sha256_of(wheel)}\n")
    path = _write(tmp_path, TWO + "wheelhouse: wheels\n")
    m = manifest.load(path)
    made = srpm.kit(manifest.for_target(m, m.targets[0]), tmp_path / "out", HostRunner(1))
    data = yaml.safe_load((made.root / "app.yaml").read_text())
    assert "targets" not in data
    assert (data["python"], data["release"]) == ("/usr/bin/python3.11", "1.deb12")
    kit = manifest.load(made.root / "app.yaml")
    assert kit.release == "1.deb12" and kit.targets == ()
