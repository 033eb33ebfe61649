"""Stage checks: the code that runs at interpreter start is named; strays in the stage fail."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from tests.support import limits
from venvrpm import manifest, payload, pydists, scriptlets, stagecheck
from venvrpm.errors import EXIT_BUILD_FAILED, PayloadError

DATA = Path(__file__).parent / "data" / "manifests"

# (content of a .pth file, the tokens of the lines site executes)
PTH_CASES = [
    (b"import sys; print('a')\n", ["a"]),
    (b"import\tsys; print('b')\n", ["b"]),
    (b" import sys; print('c')\n", []),  # leading blank: a path line
    (b"#import sys; print('d')\n", []),
    (b"importlib\n", []),
    (b"/some/where\n\n../rel\n", []),
    (b"path\r\nimport sys; print('e')\r\n", ["e"]),  # CRLF
    (b"path\rimport sys; print('f')", ["f"]),  # old Mac line ends, no final newline
    # form feed and \x1c end a line for Python >= 3.13's site only: named for every target
    (b"path\x0cimport sys; print('g')\n", ["g"]),
    (b"path\x1cimport sys; print('h')\n", ["h"]),
    (b"import sys; print('i')\n/x\nimport sys; print('j')\n", ["i", "j"]),
]


@pytest.mark.parametrize(("content", "tokens"), PTH_CASES)
def test_the_classifier_finds_the_lines_site_executes(
    tmp_path: Path, content: bytes, tokens: list[str]
) -> None:
    found = stagecheck.executed_lines(content)
    assert [line.rsplit("'", 2)[1] for line in found] == tokens
    # and that is what site.py itself does with the file
    (tmp_path / "x.pth").write_bytes(content)
    ran = subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"import site; site.addsitedir({str(tmp_path)!r})"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    only_3_13 = {"g", "h"} if sys.version_info < (3, 13) else set()
    assert ran.stdout.split() == [t for t in tokens if t not in only_3_13]


def test_a_byte_order_mark_does_not_hide_an_import_line() -> None:
    """Python >= 3.13 reads .pth files as utf-8-sig: the line runs there."""
    assert stagecheck.executed_lines(b"\xef\xbb\xbfimport os\n") == ["import os"]


@pytest.mark.parametrize("separator", ["\x0c", "\x1c", "\x85", "\u2028"])
def test_a_line_hidden_behind_a_separator_python_3_13_splits_at_is_named(separator: str) -> None:
    """Python >= 3.13 splits .pth text with str.splitlines(): ``#x<FF>import os`` runs there."""
    content = f"#x{separator}import os; os.system('id')\n".encode()
    assert stagecheck.executed_lines(content) == ["import os; os.system('id')"]


def _venv(tmp_path: Path) -> tuple[Path, Path]:
    venv = tmp_path / "stage" / "opt" / "app"
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (venv / "lib64").symlink_to("lib")  # as venv makes it: listed once, not twice
    return venv, site


def test_executable_pth_and_sitecustomize_are_named(tmp_path: Path) -> None:
    venv, site = _venv(tmp_path)
    (site / "evil.pth").write_text("import os; os.system('id')\nimport sys\n")
    (site / "paths.pth").write_text("/opt/app/extra\n# import os\n")
    (site / "pkg").mkdir()
    (site / "pkg" / "nested.pth").write_text("import os\n")  # site reads only the top
    (site / "sitecustomize.py").write_text("print('hi')\n")
    (site / "distutils-precedence.pth").write_text(
        "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') "
        "== 'local'; enabled and __import__('_distutils_hack').add_shim(); \n"
    )
    (site / "linked.pth").symlink_to("/etc/some.pth")  # never followed here
    found = stagecheck.startup_code(venv, PurePosixPath("/opt/app"))
    where = "/opt/app/lib/python3.11/site-packages"
    assert found == [
        f"{where}/distutils-precedence.pth runs code at every start of the interpreter on the "
        "target: \"import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, "
        "'local') == 'local'; e...\"",
        f"{where}/evil.pth runs code at every start of the interpreter on the target: "
        "\"import os; os.system('id')\" (and 1 more)",
        f"{where}/linked.pth is a symbolic link that site reads at every start of the "
        "interpreter on the target",
        f"{where}/sitecustomize.py is imported at every start of the interpreter on the target",
    ]


def _virtualenv_module() -> bytes:
    spec = importlib.util.find_spec("virtualenv")
    assert spec is not None and spec.submodule_search_locations
    root = Path(spec.submodule_search_locations[0])
    return (root / "create" / "via_global_ref" / "_virtualenv.py").read_bytes()


def test_only_virtualenvs_own_import_hook_is_exempt(tmp_path: Path) -> None:
    venv, site = _venv(tmp_path)
    (site / "_virtualenv.pth").write_bytes(b"import _virtualenv")
    (site / "_virtualenv.py").write_bytes(_virtualenv_module())
    assert stagecheck.startup_code(venv, PurePosixPath("/opt/app")) == []
    # a wheel that replaced the module the hook imports
    (site / "_virtualenv.py").write_bytes(_virtualenv_module() + b"\nimport os\n")
    (found,) = stagecheck.startup_code(venv, PurePosixPath("/opt/app"))
    assert found.startswith("/opt/app/lib/python3.11/site-packages/_virtualenv.pth runs code")
    # or one that added to the hook
    (site / "_virtualenv.py").write_bytes(_virtualenv_module())
    (site / "_virtualenv.pth").write_bytes(b"import _virtualenv\nimport os\n")
    assert len(stagecheck.startup_code(venv, PurePosixPath("/opt/app"))) == 1


def _staged(tmp_path: Path) -> tuple[manifest.Manifest, Path]:
    """The stage of service.yaml as assemble() leaves it: venv, extras, generated files."""
    m = manifest.load(DATA / "service.yaml")
    stage = tmp_path / "stage"
    venv = stage / m.prefix.relative_to("/")
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "smallapp").write_text("#!/opt/smallapp/bin/python\n")
    (venv / "anything" / "at" / "all").mkdir(parents=True)
    payload.stage_extras(m, stage, venv)
    made = [path for path, _ in scriptlets.generated(m)]
    assert len(made) == 2, "service.yaml has a preset and a sysusers.d file"
    for generated in (pydists.doc_path(m.name), pydists.sbom_path(m.name), *made):
        path = stage / generated.relative_to("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    return m, stage


def test_the_prefix_the_manifest_and_generated_files_are_allowed(tmp_path: Path) -> None:
    m, stage = _staged(tmp_path)
    assert stagecheck.strays(stage, m) == []
    stagecheck.confine(stage, m)


def test_anything_else_fails_the_build_naming_each_path(tmp_path: Path) -> None:
    m, stage = _staged(tmp_path)
    (stage / "etc" / "cron.d").mkdir()
    (stage / "etc" / "cron.d" / "evil").write_text("* * * * * root id\n")
    (stage / "usr" / "bin" / "sudo").symlink_to("/opt/smallapp/bin/smallapp")
    (stage / "usr" / "lib" / "systemd" / "system" / "evil.service").write_text("[Unit]\n")
    (stage / "var" / "lib" / "smallapp" / "planted").write_text("x")  # in a manifest dir
    (stage / "etc" / "smallapp" / "other.conf").write_text("x")
    (stage / "srv" / "empty").mkdir(parents=True)
    (stage / "etc" / "ld.so.preload").write_text("/opt/smallapp/evil.so\n")
    assert stagecheck.strays(stage, m) == [
        "/etc/cron.d/evil",
        "/etc/ld.so.preload",
        "/etc/smallapp/other.conf",
        "/srv/empty/",
        "/usr/bin/sudo",
        "/usr/lib/systemd/system/evil.service",
        "/var/lib/smallapp/planted",
    ]
    with pytest.raises(PayloadError) as info:
        stagecheck.confine(stage, m)
    assert info.value.exit_code == EXIT_BUILD_FAILED
    assert "7 staged path(s) outside /opt/smallapp" in info.value.message
    assert info.value.hint and "files" in info.value.hint
    assert "/etc/cron.d/evil" in info.value.details


def test_a_link_where_a_parent_directory_belongs_is_a_stray(tmp_path: Path) -> None:
    """/usr/share/doc/smallapp as a symlink would lead rpm's writes elsewhere."""
    m, stage = _staged(tmp_path)
    docs = stage / "usr" / "share" / "doc" / "smallapp"
    moved = tmp_path / "elsewhere"
    docs.rename(moved)
    docs.symlink_to(moved)
    assert stagecheck.strays(stage, m) == ["/usr/share/doc/smallapp"]


def test_strays_are_shown_escaped_and_at_most_twenty(tmp_path: Path) -> None:
    m, stage = _staged(tmp_path)
    (stage / "tmp").mkdir()
    for i in range(25):
        (stage / "tmp" / f"f{i:02}").write_text("")
    (stage / "tmp" / "new\nline").write_text("")
    with pytest.raises(PayloadError) as info:
        stagecheck.confine(stage, m)
    assert info.value.details[0] == "/tmp/f00"
    assert info.value.details[-1] == "... and 6 more"
    assert "/tmp/new\\nline" in stagecheck.strays(stage, m)


def test_links_leading_out_of_the_stage_are_refused_before_host_steps(tmp_path: Path) -> None:
    loaded = manifest.load(DATA / "service.yaml")
    stage = tmp_path / "stage"
    venv = stage / "opt" / "smallapp"
    (venv / "bin").mkdir(parents=True)
    (venv / "lib").mkdir()
    stagecheck.links_out(stage, loaded)  # the stage as the build leaves it, before the host
    (venv / "bin" / "python").symlink_to("/usr/bin/python3.11")  # a path on the target
    (venv / "bin" / "here").symlink_to("../lib")
    stagecheck.links_out(stage, loaded)
    (venv / "bin" / "out").symlink_to("../../../../etc")
    with pytest.raises(PayloadError) as caught:
        stagecheck.links_out(stage, loaded)
    assert caught.value.details == ("/opt/smallapp/bin/out -> ../../../../etc",)
    (venv / "bin" / "out").unlink()
    doc = stage / "usr" / "share" / "doc"
    doc.mkdir(parents=True)
    (doc / "smallapp").symlink_to(tmp_path)
    with pytest.raises(PayloadError) as caught:
        stagecheck.links_out(stage, loaded)
    assert caught.value.details == (f"/usr/share/doc/smallapp -> {tmp_path}",)


def test_host_writes_into_the_stage_never_follow_a_link(tmp_path: Path) -> None:
    stage = tmp_path / "stage"
    (stage / "usr" / "share" / "doc").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (stage / "usr" / "share" / "doc" / "app").symlink_to(outside)
    with pytest.raises(PayloadError, match="app is not a directory"):
        stagecheck.write_file(stage, PurePosixPath("/usr/share/doc/app/x.json"), "{}")
    (stage / "usr" / "share" / "doc" / "app").unlink()
    (stage / "usr" / "share" / "doc" / "app").mkdir()
    (stage / "usr" / "share" / "doc" / "app" / "x.json").symlink_to(outside / "x.json")
    with pytest.raises(PayloadError):
        stagecheck.write_file(stage, PurePosixPath("/usr/share/doc/app/x.json"), "{}")
    assert list(outside.iterdir()) == []
    stagecheck.write_file(stage, PurePosixPath("/usr/share/doc/new/y.json"), "{}")
    assert (stage / "usr" / "share" / "doc" / "new" / "y.json").read_text() == "{}"


def test_a_pth_or_hook_module_larger_than_the_limit_is_named_not_read(tmp_path: Path) -> None:
    """A sparse 1 TB ``.pth`` (code run during the build can make one) was read whole; so was
    ``_virtualenv.py``, through a link too."""
    venv, site = _venv(tmp_path)
    limits.sparse_terabyte(site / "huge.pth")
    (site / "_virtualenv.pth").write_bytes(b"import _virtualenv")
    (site / "_virtualenv.py").symlink_to("/dev/zero")
    with limits.address_space():  # a failure, not a full memory
        found = stagecheck.startup_code(venv, PurePosixPath("/opt/app"))
    where = "/opt/app/lib/python3.11/site-packages"
    assert found[0].startswith(f"{where}/_virtualenv.pth runs code")
    assert found[1].startswith(f"{where}/huge.pth cannot be read (larger than"), found
    assert len(found) == 2


def test_a_stage_swapped_for_a_link_is_written_into_by_nothing(tmp_path: Path) -> None:
    """The stage lies in the half of the work directory a container build mounts: a link put
    in its place is a clean refusal, not a traceback, and nothing lands where it points."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "stage").symlink_to(elsewhere)
    with pytest.raises(PayloadError):
        stagecheck.write_file(tmp_path / "stage", PurePosixPath("/opt/app/x"), "x")
    assert list(elsewhere.iterdir()) == []
