"""Checks of the staged tree before it is listed: the code that runs at every interpreter
start, and the paths the RPM may carry at all.

Locked distributions are installed as the lock says, and their files ship; but a ``.pth`` line
that starts with ``import`` (or a ``sitecustomize`` module) runs in every interpreter started
on the target, whatever the program. Such files are named in a build warning. Anything staged
outside the prefix that neither the manifest names nor venvrpm generates was written by code
that ran during the build (a build backend, an installer): it fails the build, named, instead
of shipping.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path, PurePosixPath

from venvrpm import bundled, scriptlets
from venvrpm.errors import PayloadError
from venvrpm.manifest import Manifest
from venvrpm.paths import BINDIR

MAX_SHOWN = 20
# site.addpackage() exec()s exactly the lines that start so (no leading blanks allowed).
_EXECUTED = (b"import ", b"import\t")
# universal newlines: how site.py's text-mode read splits a .pth file into lines
_LINES = re.compile(rb"\r\n|\r|\n")
# site imports these from sys.path at every start (usercustomize where user site is enabled)
_STARTUP_MODULES = ("sitecustomize", "usercustomize")
# What virtualenv < 20.31 writes into venvs for Python < 3.10 (a guard against distutils config)
_VIRTUALENV_PTH = b"import _virtualenv"


def executed_lines(content: bytes) -> list[str]:
    """The lines of a ``.pth`` file that ``site`` executes, decoded for showing.

    A leading UTF-8 byte order mark is ignored (Python >= 3.13 decodes with utf-8-sig, so
    ``\\ufeffimport x`` runs there). Comment, blank and path lines are not executed.
    """
    content = content.removeprefix(b"\xef\xbb\xbf")
    # Python >= 3.13 splits the decoded text with str.splitlines(), which also breaks at form
    # feed, \x1c-\x1e, NEL, U+2028/9: a line hidden after one of those runs there
    text = content.decode("utf-8", "surrogateescape")
    split = [line.encode("utf-8", "surrogateescape") for line in text.splitlines()]
    lines = dict.fromkeys([*_LINES.split(content), *split])
    return [
        line.decode("utf-8", "backslashreplace") for line in lines if line.startswith(_EXECUTED)
    ]


def startup_code(venv_dir: Path, prefix: PurePosixPath) -> list[str]:
    """One warning per file in the venv's site-packages that runs code at interpreter start.

    Only the top of each site-packages directory counts: site processes ``.pth`` files there,
    not below. The ``_virtualenv.pth`` that venvrpm's virtualenv writes (only for targets older
    than Python 3.10, with older virtualenv releases) is exempt when it and the module it
    imports are byte for byte virtualenv's own.
    """
    warnings: list[str] = []
    for site in _site_packages(venv_dir):
        shown = prefix / Path(site).relative_to(venv_dir).as_posix()
        with os.scandir(site) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        for entry in entries:
            if entry.name.endswith(".pth") and entry.is_file(follow_symlinks=False):
                with open(entry.path, "rb") as fh:
                    content = fh.read()
                lines = executed_lines(content)
                if not lines or _virtualenvs_own(site, entry.name, content):
                    continue
                more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
                warnings.append(
                    f"{_shown(shown / entry.name)} runs code at every start of the interpreter "
                    f"on the target: {_clip(lines[0])}{more}"
                )
            elif entry.name.endswith(".pth") and entry.is_symlink():
                # not followed (it may lead anywhere on the build host); site follows it
                warnings.append(
                    f"{_shown(shown / entry.name)} is a symbolic link that site reads at every "
                    "start of the interpreter on the target"
                )
            elif entry.name.partition(".")[0] in _STARTUP_MODULES:
                warnings.append(
                    f"{_shown(shown / entry.name)} is imported at every start of the "
                    "interpreter on the target"
                )
    return warnings


def _site_packages(venv_dir: Path) -> list[str]:
    """``lib*/python*/site-packages``, each once: lib64 is often a symlink to lib."""
    found = []
    for lib in sorted(venv_dir.glob("lib*")):
        if lib.is_symlink() or not lib.is_dir():
            continue
        for python in sorted(lib.glob("python*")):
            site = python / "site-packages"
            if not python.is_symlink() and site.is_dir() and not site.is_symlink():
                found.append(str(site))
    return found


def _virtualenvs_own(site: str, name: str, content: bytes) -> bool:
    if name != "_virtualenv.pth" or content.rstrip(b"\n") != _VIRTUALENV_PTH:
        return False
    template = _virtualenv_template()
    if template is None:
        return False
    try:
        with open(os.path.join(site, "_virtualenv.py"), "rb") as fh:
            module = fh.read()
    except OSError:
        return False
    # older releases wrote the scripts directory in (relative to site-packages)
    script_dir = repr(os.path.relpath(os.path.join(site, "../../../bin"), site)).encode()
    return module in (template, template.replace(b'"__SCRIPT_DIR__"', script_dir))


def _virtualenv_template() -> bytes | None:
    """virtualenv's ``_virtualenv.py``: the toolbox copies venvrpm's own virtualenv verbatim."""
    spec = importlib.util.find_spec("virtualenv")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0], "create", "via_global_ref", "_virtualenv.py")
    try:
        return path.read_bytes()
    except OSError:
        return None


def allowed(manifest: Manifest) -> set[PurePosixPath]:
    """The paths outside the prefix the staged tree may hold (their parents aside): the
    manifest's ``files`` and ``dirs``, and what venvrpm generates (entry point links, the list
    of bundled distributions, the SBOM, the services' preset)."""
    paths = {f.dest for f in manifest.files} | {d.path for d in manifest.dirs}
    paths |= {BINDIR / ep for ep in manifest.entry_points}
    paths |= {bundled.doc_path(manifest.name), bundled.sbom_path(manifest.name)}
    preset = scriptlets.preset(manifest)
    if preset is not None:
        paths.add(preset[0])
    return paths


def strays(stage: Path, manifest: Manifest) -> list[str]:
    """Staged paths outside what :func:`allowed` names, the prefix and their parent
    directories: the files and links in a stray directory, or the directory (with a trailing
    slash) when it is empty."""
    exact = allowed(manifest)
    parents = {parent for path in (*exact, manifest.prefix) for parent in path.parents}
    found: list[str] = []

    def visit(directory: str, where: PurePosixPath, stray: bool) -> None:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        if stray and not entries:
            found.append(_shown(where) + "/")
        for entry in entries:
            path = where / entry.name
            if path == manifest.prefix and not stray:
                continue  # the venv: all of it is the application's
            is_dir = entry.is_dir(follow_symlinks=False)
            if is_dir:
                # a manifest dir holds only what the manifest names in it
                visit(entry.path, path, stray or not (path in exact or path in parents))
            elif stray or path not in exact:
                found.append(_shown(path))

    visit(str(stage), PurePosixPath("/"), False)
    return found


def confine(stage: Path, manifest: Manifest) -> None:
    """Fail the build, naming them, when the stage holds paths the RPM must not carry."""
    found = strays(stage, manifest)
    if not found:
        return
    shown = found[:MAX_SHOWN]
    if len(found) > MAX_SHOWN:
        shown.append(f"... and {len(found) - MAX_SHOWN} more")
    raise PayloadError(
        f"{len(found)} staged path(s) outside {manifest.prefix} are neither in the manifest's "
        "files or dirs nor generated by venvrpm",
        "something that ran during the build wrote them (a build backend or an installer): "
        "find out what; a file the package should ship outside the prefix goes in `files`",
        details=shown,
    )


def _clip(line: str, width: int = 100) -> str:
    line = line.rstrip()
    return repr(line if len(line) <= width else line[: width - 3] + "...")


def _shown(path: PurePosixPath) -> str:
    """A path for a message: control characters and undecodable bytes escaped."""
    text = str(path)
    if text.isprintable():
        return text
    return repr(text).encode("ascii", "backslashreplace").decode("ascii")[1:-1]
