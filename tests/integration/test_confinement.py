"""Package code that runs during a container or rootfs build cannot reach the build host.

The project's own build backend (it runs in the target, as a locked sdist's would) is the
attacker here: it plants symbolic links to host paths where venvrpm's host steps write, and it
writes through ``/proc/<pid>/root``. After the build, the host paths are as they were.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import target
from tests.support.apps import make_smallapp
from venvrpm.cli import main

pytestmark = pytest.mark.integration

# Appended to the project's in-tree backend: it runs at import, in the target, with the
# project copy (<workdir>/src) as its working directory.
_PLANT = """
import os as _os
_work = _os.path.dirname(_os.getcwd())
_os.makedirs(_os.path.join(_work, "rpmbuild", "SPECS"), exist_ok=True)
_os.symlink({host_file!r}, _os.path.join(_work, "rpmbuild", "SPECS", "smallapp.spec"))
_doc = _os.path.join(_work, "stage", "usr", "share", "doc")
_os.makedirs(_doc, exist_ok=True)
_os.symlink({host_dir!r}, _os.path.join(_doc, "smallapp"))
"""

# venvrpm wrote its list of modules to compile to <work>/compile-list, through any link there
_PLANT_COMPILE_LIST = """
import os as _os
_work = _os.path.dirname(_os.getcwd())
_os.symlink({host_file!r}, _os.path.join(_work, "compile-list"))
"""

# the build helper's result rewritten (at exit, after the helper wrote it) to name a host file
_FORGE_RESULT = """
import atexit as _atexit, os as _os
def _forge():
    _result = _os.path.join(_os.path.dirname(_os.getcwd()), "built", "result.json")
    with open(_result, "w") as _fh:
        _fh.write('{{"wheel": "{host_file}"}}')
_atexit.register(_forge)
"""

_THROUGH_PROC = """
import os as _os
for _pid in ["1", "self", *sorted(p for p in _os.listdir("/proc") if p.isdigit())]:
    for _path in ({host_file!r},):
        try:
            with open("/proc/" + _pid + "/root" + _path, "w") as _fh:
                _fh.write("written from the build\\n")
        except OSError:
            pass
"""


def _hostile_app(tmp_path: Path, kind: str, code: str) -> tuple[Path, Path, Path]:
    where = target.image() if kind == "container" else str(target.fresh_root(tmp_path / "root"))
    app = make_smallapp(tmp_path / "app", extra_manifest=f"build:\n  {kind}: {where}\n")
    host_file = tmp_path / "host-file"
    host_file.write_text("the host's own\n")
    host_dir = tmp_path / "host-dir"
    host_dir.mkdir()
    backend = app.parent / "project" / "tinybackend.py"
    with backend.open("a") as fh:
        fh.write(code.format(host_file=str(host_file), host_dir=str(host_dir)))
    return app, host_file, host_dir


@pytest.mark.parametrize("kind", ["container", "rootfs"])
def test_links_planted_by_a_build_backend_are_not_written_through(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, host_file, host_dir = _hostile_app(tmp_path, kind, _PLANT)
    code = main(["build", str(app), "-o", str(tmp_path / "dist")])
    err = capsys.readouterr().err
    assert host_file.read_text() == "the host's own\n"
    assert list(host_dir.iterdir()) == []
    assert "Traceback" not in err
    # the stage's link out is refused: no RPM ships it
    assert code == 1, err
    assert "/usr/share/doc/smallapp" in err
    assert not list((tmp_path / "dist").glob("*.rpm"))


@pytest.mark.parametrize("kind", ["container", "rootfs"])
def test_the_compile_list_and_the_build_result_are_never_read_or_written_through_links(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the red team: venvrpm, root on the host, overwrote the host file a backend
    linked ``compile-list`` to; and opened a host file as the project's wheel when a backend
    rewrote ``built/result.json`` to name it."""
    app, host_file, _ = _hostile_app(tmp_path, kind, _PLANT_COMPILE_LIST)
    code = main(["build", str(app), "-o", str(tmp_path / "dist")])
    err = capsys.readouterr().err
    assert host_file.read_text() == "the host's own\n"
    assert code == 0, err
    assert "Traceback" not in err

    capsys.readouterr()
    forged = tmp_path / "forged"
    forged.mkdir()
    app, host_file, _ = _hostile_app(forged, kind, _FORGE_RESULT)
    code = main(["build", str(app), "-o", str(forged / "dist")])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "result.json names no wheel" in err
    assert "Traceback" not in err
    assert not list((forged / "dist").glob("*.rpm"))


@pytest.mark.skipif(os.geteuid() != 0, reason="build.rootfs needs root")
def test_a_rootfs_build_cannot_write_through_proc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, host_file, _ = _hostile_app(tmp_path, "rootfs", _THROUGH_PROC)
    code = main(["build", str(app), "-o", str(tmp_path / "dist")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert host_file.read_text() == "the host's own\n"
