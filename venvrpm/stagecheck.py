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

import contextlib
import os
import re
import stat
from pathlib import Path, PurePosixPath

from venvrpm import files, pydists, scriptlets
from venvrpm._fenced import virtualenv_api
from venvrpm.errors import PayloadError, at_most
from venvrpm.manifest import Manifest
from venvrpm.paths import BINDIR

# site.addpackage() exec()s exactly the lines that start so (no leading blanks allowed).
_EXECUTED = (b"import ", b"import\t")
# universal newlines: how site.py's text-mode read splits a .pth file into lines
_LINES = re.compile(rb"\r\n|\r|\n")
# site imports these from sys.path at every start (usercustomize where user site is enabled)
_STARTUP_MODULES = ("sitecustomize", "usercustomize")
STARTUP_FILE_LIMIT = 16 * 1024 * 1024
"""``.pth`` files and the hook module larger than this are not read (a few lines each; code run
during the build can make one a sparse terabyte): a ``.pth`` over it is named instead."""


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
    for site_dir in files.site_packages(venv_dir):
        site = str(site_dir)
        shown = prefix / site_dir.relative_to(venv_dir).as_posix()
        with os.scandir(site) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        for entry in entries:
            if entry.name.endswith(".pth") and entry.is_file(follow_symlinks=False):
                try:
                    content = files.read_regular(entry.path, STARTUP_FILE_LIMIT)
                except OSError as exc:  # over the limit, or replaced since it was listed
                    why = exc.strerror or str(exc)
                    warnings.append(f"{_shown(shown / entry.name)} cannot be read ({why}); "
                                    "site reads it at every start of the interpreter on the "
                                    "target")  # fmt: skip
                    continue
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


def _virtualenvs_own(site: str, name: str, content: bytes) -> bool:
    if (name, content.rstrip(b"\n")) != virtualenv_api.STARTUP_PTH:
        return False
    template = virtualenv_api.startup_module()
    if template is None:
        return False
    try:
        # no link followed, bounded: a locked wheel or a backend may have put anything there
        module = files.read_regular(os.path.join(site, "_virtualenv.py"), STARTUP_FILE_LIMIT)
    except OSError:
        return False
    # older releases wrote the scripts directory in (relative to site-packages)
    script_dir = repr(os.path.relpath(os.path.join(site, "../../../bin"), site)).encode()
    return module in (template, template.replace(virtualenv_api.SCRIPT_DIR_PLACEHOLDER, script_dir))


def allowed(manifest: Manifest) -> set[PurePosixPath]:
    """The paths outside the prefix the staged tree may hold (their parents aside): the
    manifest's ``files`` and ``dirs``, and what venvrpm generates (entry point links, the list
    of bundled distributions, the SBOM, the services' preset, the sysusers.d file)."""
    paths = {f.dest for f in manifest.files} | {d.path for d in manifest.dirs}
    paths |= {BINDIR / ep for ep in manifest.entry_points}
    paths |= {link.dest for link in manifest.links}
    paths |= {pydists.doc_path(manifest.name), pydists.sbom_path(manifest.name)}
    paths |= {path for path, _ in scriptlets.generated(manifest)}
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
    raise PayloadError(
        f"{len(found)} staged path(s) outside {manifest.prefix} are neither in the manifest's "
        "files or dirs nor generated by venvrpm",
        "something that ran during the build wrote them (a build backend or an installer): "
        "find out what; a file the package should ship outside the prefix goes in `files`",
        details=at_most(found),
    )


def links_out(stage: Path, manifest: Manifest) -> None:
    """Fail the build before any host step touches *stage* when code that ran in the build
    (a container or root sees the stage read-write) left a way out of it there.

    Refused: the stage itself or a directory on the way to the prefix not a real directory;
    any symbolic link outside the prefix (venvrpm makes its own only after this check); a
    relative link in the prefix that climbs out of the stage. An absolute link in the prefix
    (``bin/python``) names a path on the installed system: host steps never follow links.
    """
    found: list[str] = []
    try:
        top = os.lstat(stage)
    except OSError as exc:
        top = None
        found.append(f"/ ({exc.strerror})")
    if top is not None and not stat.S_ISDIR(top.st_mode):
        found.append("/ is not a directory")
    on_the_way = {manifest.prefix, *manifest.prefix.parents}
    for path in sorted(on_the_way - {PurePosixPath("/")}):
        where = stage / path.relative_to("/")
        if os.path.islink(where) or (os.path.lexists(where) and not where.is_dir()):
            found.append(f"{_shown(path)} is not a directory")

    def visit(directory: str, where: PurePosixPath) -> None:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        for entry in entries:
            path = where / entry.name
            if entry.is_symlink():
                target = os.readlink(entry.path)
                outside = not path.is_relative_to(manifest.prefix)
                relative = not target.startswith("/")
                if outside or (relative and _climbs_out(path.parent, target)):
                    found.append(f"{_shown(path)} -> {_shown(PurePosixPath(target))}")
            elif entry.is_dir(follow_symlinks=False):
                visit(entry.path, path)

    if not found:
        visit(str(stage), PurePosixPath("/"))
    if not found:
        return
    raise PayloadError(
        f"{len(found)} staged path(s) lead out of the stage: symbolic links that code run "
        "during the build left where venvrpm writes",
        "something that ran during the build made them (a build backend or an installer): "
        "find out what; venvrpm never writes through a link it did not make",
        details=at_most(found),
    )


def _climbs_out(directory: PurePosixPath, target: str) -> bool:
    """Whether *target*, relative to *directory* (a path in the stage), leaves the stage."""
    depth = len(directory.parts) - 1
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def write_file(stage: Path, path: PurePosixPath, text: str) -> None:
    """Write *text* at *path* in *stage*, creating its directories, never following a link."""
    fd = create_file(stage, path, exclusive=False, mode=0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def create_file(stage: Path, path: PurePosixPath, *, exclusive: bool, mode: int) -> int:
    """Open a new file at *path* (absolute, as at runtime) in *stage* for writing; return its
    descriptor. Each directory is made or opened with O_NOFOLLOW from the one above, the file
    too: something that ran during the build (a build backend, in a container whose processes
    may still run) cannot turn a write by venvrpm, root on the host, into one outside the stage.
    *exclusive*: an existing file is an error (installer's rule: a wheel never overwrites)."""
    parts = path.relative_to("/").parts
    if not parts or any(part in (".", "..") for part in parts):
        raise PayloadError(f"cannot write {_shown(path)} into the stage: not a plain path")
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(stage, flags)
    except OSError as exc:  # the stage itself swapped for a link (it is in the mounted half)
        raise PayloadError(
            f"cannot write {_shown(path)} into the stage: the stage is not a directory "
            f"({exc.strerror})",
            "something that ran during the build put a link or a file there",
        ) from None
    try:
        for part in parts[:-1]:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            try:
                child = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                raise PayloadError(
                    f"cannot write {_shown(path)} into the stage: {part} is not a directory "
                    f"({exc.strerror})",
                    "something that ran during the build put a link or a file there",
                ) from None
            os.close(fd)
            fd = child
        create = os.O_EXCL if exclusive else os.O_TRUNC
        try:
            return os.open(
                parts[-1], os.O_WRONLY | os.O_CREAT | create | os.O_NOFOLLOW | os.O_CLOEXEC,
                mode, dir_fd=fd,
            )  # fmt: skip
        except OSError as exc:
            raise PayloadError(
                f"cannot write {_shown(path)} into the stage: {exc.strerror}",
                "something that ran during the build put a link or a file there",
            ) from None
    finally:
        os.close(fd)


def _clip(line: str, width: int = 100) -> str:
    line = line.rstrip()
    return repr(line if len(line) <= width else line[: width - 3] + "...")


def _shown(path: PurePosixPath) -> str:
    """A path for a message: control characters and undecodable bytes escaped."""
    text = str(path)
    if text.isprintable():
        return text
    return repr(text).encode("ascii", "backslashreplace").decode("ascii")[1:-1]
