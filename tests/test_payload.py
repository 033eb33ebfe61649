"""Inventory: what the package owns, and names it refuses."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from venvrpm import payload
from venvrpm.errors import PayloadError
from venvrpm.paths import owned_parents


def test_owns_every_directory_but_system_ones(tmp_path: Path) -> None:
    stage = tmp_path / "stage"
    (stage / "opt/company/app/bin").mkdir(parents=True)
    (stage / "opt/company/app/bin/tool").write_text("#!/bin/sh\n")
    (stage / "etc/app").mkdir(parents=True)
    (stage / "etc/app/app.conf").write_text("x")
    (stage / "usr/bin").mkdir(parents=True)
    (stage / "usr/bin/tool").symlink_to("/opt/company/app/bin/tool")
    (stage / "opt/company/app/lib.so").write_bytes(b"\x7fELF" + b"\x00" * 60)
    conf = payload.Attrs(config="noreplace")
    inv = payload.inventory(stage, {PurePosixPath("/etc/app/app.conf"): conf})
    listed = {(str(e.path), e.kind, e.attrs is conf) for e in inv.entries}
    assert listed == {
        ("/etc/app", "dir", False),
        ("/etc/app/app.conf", "file", True),
        ("/opt/company", "dir", False),
        ("/opt/company/app", "dir", False),
        ("/opt/company/app/bin", "dir", False),
        ("/opt/company/app/bin/tool", "file", False),
        ("/opt/company/app/lib.so", "file", False),
        ("/usr/bin/tool", "link", False),
    }
    assert inv.elf_files == (stage / "opt/company/app/lib.so",)


@pytest.mark.parametrize(
    ("name", "problem"),
    [("tab\there", "'\\t'"), ("new\nline", "'\\n'"), ("del\x7f", "'\\x7f'")],
)
def test_names_rpm_cannot_carry_are_refused(tmp_path: Path, name: str, problem: str) -> None:
    stage = tmp_path / "stage"
    (stage / "opt/app").mkdir(parents=True)
    (stage / "opt/app" / name).write_text("x")
    with pytest.raises(PayloadError) as info:
        payload.inventory(stage, {})
    assert problem in info.value.details[0] and "/opt/app/" in info.value.details[0]


def test_non_utf8_names_are_refused(tmp_path: Path) -> None:
    stage = tmp_path / "stage"
    (stage / "opt/app").mkdir(parents=True)
    with open(os.fsencode(stage / "opt/app") + b"/caf\xe9.txt", "w") as fh:
        fh.write("x")
    with pytest.raises(PayloadError, match="cannot be carried") as info:
        payload.inventory(stage, {})
    assert "not valid UTF-8" in info.value.details[0]


def test_owned_parents_stop_at_system_directories() -> None:
    assert owned_parents(PurePosixPath("/etc/app/conf.d/a.conf")) == [
        PurePosixPath("/etc/app"),
        PurePosixPath("/etc/app/conf.d"),
    ]
    assert owned_parents(PurePosixPath("/usr/lib/systemd/system/app.service")) == []


def test_modes_do_not_depend_on_the_builders_umask(tmp_path: Path) -> None:
    stage = tmp_path / "stage"
    (stage / "opt/app/bin").mkdir(parents=True)
    (stage / "etc/app").mkdir(parents=True)
    (stage / "opt/app/bin/tool").write_text("#!/bin/sh\n")
    (stage / "opt/app/data.txt").write_text("x")
    (stage / "etc/app/secret.conf").write_text("x")
    (stage / "opt/app/bin/link").symlink_to("tool")
    for path in (stage / "opt", stage / "opt/app", stage / "opt/app/bin", stage / "etc/app"):
        path.chmod(0o700)
    (stage / "opt/app/bin/tool").chmod(0o700)
    (stage / "opt/app/data.txt").chmod(0o600)
    (stage / "etc/app/secret.conf").chmod(0o640)
    payload.normalise_modes(stage, frozenset({PurePosixPath("/etc/app/secret.conf")}))
    modes = {
        str(p.relative_to(stage)): p.lstat().st_mode & 0o7777
        for p in stage.rglob("*")
        if not p.is_symlink()
    }
    assert modes == {
        "opt": 0o755,
        "opt/app": 0o755,
        "opt/app/bin": 0o755,
        "opt/app/bin/tool": 0o755,
        "opt/app/data.txt": 0o644,
        "etc": 0o755,
        "etc/app": 0o755,
        "etc/app/secret.conf": 0o640,
    }


def test_only_the_packages_own_directories_are_owned(tmp_path: Path) -> None:
    """An allow-list: /etc/pam.d or /etc/pki/... on the way to a file are the system's."""
    from tests.support.apps import make_smallapp
    from venvrpm import manifest

    app = make_smallapp(
        tmp_path / "app", extra_manifest="dirs:\n  - path: /srv/data/smallapp-cache\n"
    )
    m = manifest.load(app)
    owned = payload.ownership(m)
    yes = ["/opt/smallapp", "/opt/smallapp/lib", "/etc/smallapp", "/etc/smallapp/conf.d",
           "/usr/share/doc/smallapp", "/etc/smallapp.d", "/srv/data/smallapp-cache"]  # fmt: skip
    no = ["/etc/pam.d", "/etc/pki/ca-trust/source/anchors", "/etc/security/limits.d", "/opt",
          "/usr/share/doc", "/srv/data", "/etc"]  # fmt: skip
    assert [p for p in yes if not owned(PurePosixPath(p))] == []
    assert [p for p in no if owned(PurePosixPath(p))] == []
    other = manifest.load(make_smallapp(tmp_path / "short", name="app"))
    assert not payload.ownership(other)(PurePosixPath("/etc/apparmor.d"))
    assert payload.ownership(other)(PurePosixPath("/etc/app.d"))


def test_stale_debris_is_removed_only_when_its_process_is_gone(tmp_path: Path) -> None:
    from venvrpm import stale

    # a pid above pid_max cannot belong to any process (a recently reaped one may be reused)
    gone = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    alive = os.getpid()
    (tmp_path / f"venvrpm-{gone}-abcd1234").mkdir()
    (tmp_path / f"venvrpm-{alive}-abcd1234").mkdir()
    (tmp_path / "venvrpm-2024-notes").mkdir()  # a user's directory: never touched
    (tmp_path / f".app.rpm.{gone}.x1y2z3_4.part").write_text("half")
    stale.remove(tmp_path, "venvrpm-")
    stale.remove(tmp_path, ".app.rpm.", ".part")
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "tmp")
    assert left == sorted([f"venvrpm-{alive}-abcd1234", "venvrpm-2024-notes"])


@pytest.mark.parametrize("planted", ["directory", "file above"])
def test_something_planted_where_a_link_goes_is_a_clean_error(tmp_path: Path, planted: str) -> None:
    """A build backend put a directory at a links dest (or a file where its parent goes):
    a PayloadError naming it, not 'File exists' blamed on the disk."""
    import shutil

    from venvrpm import manifest

    data = Path(__file__).parent / "data" / "manifests"
    shutil.copytree(data, tmp_path / "app")
    path = tmp_path / "app" / "good.yaml"
    path.write_text(path.read_text() + "links:\n  - {src: share/man/man1/x.1, "
                    "dest: /usr/share/man/man1/x.1}\n")  # fmt: skip
    loaded = manifest.load(path)
    stage = tmp_path / "stage"
    venv = stage / loaded.prefix.relative_to("/")
    (venv / "share/man/man1").mkdir(parents=True)
    (venv / "share/man/man1/x.1").write_text(".TH X 1\n")
    if planted == "directory":
        (stage / "usr/share/man/man1/x.1").mkdir(parents=True)
    else:
        (stage / "usr/share").mkdir(parents=True)
        (stage / "usr/share/man").write_text("planted\n")
    with pytest.raises(PayloadError, match=r"links: cannot make /usr/share/man/man1/x\.1"):
        payload._stage_links(loaded, stage, venv)
