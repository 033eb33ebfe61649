"""Entry points: read from wheels without running them, checked by ``check`` and the build."""

from __future__ import annotations

import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.support import tinybackend
from tests.support.apps import sha256
from venvrpm import entrypoints, lockfile, manifest
from venvrpm.cli import main
from venvrpm.errors import PayloadError


def _tool_wheel(directory: Path, version: str = "1.0", **scripts: str) -> Path:
    return tinybackend.write_wheel(
        directory, "Tool_X", version, {"tool_x/__init__.py": "def main(): pass\n"},
        entry_points=scripts or {"toolx": "tool_x:main"},
    )  # fmt: skip


def test_a_wheel_declares_console_gui_and_plain_scripts(tmp_path: Path) -> None:
    wheel = tinybackend.write_wheel(
        tmp_path, "Tool_X", "1.0", {"tool_x/__init__.py": ""},
        entry_points={"toolx": "tool_x:main", "ToolX-Admin": "tool_x:admin"},
        scripts={"plain-script": "#!python\nprint(1)\n"},
    )  # fmt: skip
    with zipfile.ZipFile(wheel, "a") as archive:  # gui_scripts land in bin/ too
        text = archive.read("tool_x-1.0.dist-info/entry_points.txt").decode()
    facts = entrypoints.read_wheel(wheel)
    assert facts.name == "tool-x"
    assert facts.scripts == ("ToolX-Admin", "plain-script", "toolx")
    assert "[console_scripts]" in text
    assert "Name: Tool_X" in facts.metadata


def test_gui_scripts_count(tmp_path: Path) -> None:
    wheel = _tool_wheel(tmp_path)
    rewritten = tmp_path / "out" / wheel.name
    rewritten.parent.mkdir()
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(rewritten, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("entry_points.txt"):
                data += b"[gui_scripts]\ntoolx-gui = tool_x:gui\n"
            dst.writestr(item, data)
    assert entrypoints.wheel_scripts(rewritten) == ("toolx", "toolx-gui")


def test_an_oversized_or_broken_wheel_is_refused_cleanly(tmp_path: Path) -> None:
    big = tmp_path / "big-1.0-py3-none-any.whl"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big-1.0.dist-info/METADATA", "Name: big\n")
        archive.writestr("big-1.0.dist-info/entry_points.txt", "#" * (2 << 20))
    with pytest.raises(PayloadError, match="more than metadata ever is"):
        entrypoints.read_wheel(big)
    broken = tmp_path / "broken-1.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    with pytest.raises(PayloadError, match=r"cannot read the wheel broken-1\.0"):
        entrypoints.read_wheel(broken)


def _app(tmp_path: Path, entry_points: str, *, sdist: bool = False) -> Path:
    """A manifest locking tool-x (and maybe an sdist) with a filled wheelhouse."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    dists = {"tool-x": _tool_wheel(wheels)}
    if sdist:
        dists["sdistonly"] = tinybackend.write_sdist(wheels, "sdistonly", "2.0", {
            "src/sdistonly/__init__.py": ""})  # fmt: skip
    lock = "".join(
        f"{name}=={'2.0' if name == 'sdistonly' else '1.0'} --hash=sha256:{sha256(path)}\n"
        for name, path in dists.items()
    )
    (tmp_path / "requirements.txt").write_text(lock)
    app = tmp_path / "app.yaml"
    app.write_text(
        textwrap.dedent(f"""\
        name: tool-x
        version: {{from: tool-x}}
        summary: s
        license: MIT
        python: /usr/bin/python3
        requirements: requirements.txt
        wheelhouse: wheels
        entry_points: {entry_points}
        """)
    )
    return app


def test_check_finds_an_entry_point_no_locked_wheel_declares(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _app(tmp_path, "[toolx, tolx]")
    verdict = entrypoints.check_lock(
        manifest.load(app), lockfile.read(tmp_path / "requirements.txt")
    )
    assert verdict.missing == ("tolx",) and verdict.available == ("toolx",)
    assert main(["check", str(app)]) == 2
    err = capsys.readouterr().err
    assert "entry point(s) no locked distribution declares: tolx" in err
    assert "declared: toolx" in err


def test_check_passes_declared_entry_points_and_the_locked_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _app(tmp_path, "[toolx]")
    assert main(["check", str(app)]) == 0
    err = capsys.readouterr().err
    assert "entry points declared; version 1.0" in err


def test_check_says_when_an_sdist_leaves_entry_points_unchecked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _app(tmp_path, "[toolx, from-the-sdist]", sdist=True)
    assert main(["check", str(app)]) == 0
    err = capsys.readouterr().err
    assert "entry points not checked: commands known only once built: sdistonly (an sdist)" in err


def test_without_a_wheelhouse_entry_points_are_not_checked(tmp_path: Path) -> None:
    app = _app(tmp_path, "[nothing-declares-this]")
    app.write_text(app.read_text().replace("wheelhouse: wheels\n", ""))
    verdict = entrypoints.check_lock(
        manifest.load(app), lockfile.read(tmp_path / "requirements.txt")
    )
    assert verdict.unchecked == "no wheelhouse to read the locked wheels from"
    assert verdict.missing == ()


def test_the_build_check_names_what_bin_holds(tmp_path: Path) -> None:
    app = _app(tmp_path, "[toolx, linked]")
    bindir = tmp_path / "venv" / "bin"
    bindir.mkdir(parents=True)
    (bindir / "toolx").write_text("#!/bin/sh\n")
    (bindir / "linked").symlink_to("/usr/bin/python3")  # a link is never a console script
    with pytest.raises(PayloadError, match=r"not found in /opt/tool-x/bin: linked") as caught:
        entrypoints.check_installed(manifest.load(app), tmp_path / "venv")
    assert caught.value.hint is not None and "available: toolx" in caught.value.hint
