"""Remove every trace of the staging root from a virtualenv built at ``<stage><prefix>``.

The venv is built at its final path under a staging root, so only what carries the staging root
needs rewriting: there is no per-template regex editing of ``activate*`` (which breaks whenever
virtualenv changes its templates). The checklist, in order:

1. drop build-host debris (virtualenv's ``CACHEDIR.TAG``, which makes backup tools skip the
   application; uv's ``.lock`` and its timestamped ``uv_cache.json``) and ``pyvenv.cfg``'s
   ``command =`` line (it names the build host's python);
2. drop ``direct_url.json`` that points into the work directory (a local project's
   ``file://`` URL means nothing on the target);
3. in every text file, cut the staging root out of each path (shebangs, pip's ``/bin/sh``
   ``'''exec'`` launcher collapsed back to a plain shebang, ``activate*``, ``*.pth``, ...);
   rewrite symlinks that point into the stage; delete ``.pyc`` carrying it (they are recompiled
   for the final path afterwards); refuse binaries that carry it;
4. bring every ``RECORD`` back in line with the files (hashes, sizes, removed rows);
5. after bytecode compilation, :func:`scan` every file and link: the staging root must be gone.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from venvrpm import progress
from venvrpm.errors import RelocationError, at_most
from venvrpm.files import walk

_CHUNK = 1 << 20
_ELF_MAGIC = b"\x7fELF"
# Linux's limit on a shebang line (BINPRM_BUF_SIZE) minus the newline.
_MAX_SHEBANG = 127
# distlib's (pip's) launcher for interpreters whose path is too long or has spaces.
_LONG_SHEBANG = re.compile(
    rb"\A#!/bin/sh\n'''exec' (\"?)(?P<exe>[^\n]+?)\1 \"\$0\" \"\$@\"\n' '''\n"
)
# Build-host debris at the venv's root: virtualenv's CACHEDIR.TAG (backup tools would skip the
# application), uv's empty .lock.
_DEBRIS = ("CACHEDIR.TAG", ".lock")
# uv's notes to itself in each .dist-info: build-time timestamps (never reproducible).
_INSTALLER_DEBRIS = ("uv_cache.json", "uv_build.json")


@dataclass(frozen=True, slots=True)
class Relocation:
    """What :func:`relocate` changed."""

    rewritten: tuple[Path, ...]
    removed: tuple[Path, ...]
    relinked: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """A file or symlink that still carries a forbidden path."""

    path: Path
    where: str
    """``content at byte N`` or ``symlink target``."""


Snapshot = dict[str, tuple[int, int, int]]
"""Path -> (inode, size, mtime) of every file and link under a tree."""


def snapshot(root: Path) -> Snapshot:
    """What is under *root* now, so later steps can tell the files written since."""
    return {entry.path: _identity(entry) for entry in _leaves(root)}


def changed_since(root: Path, before: Snapshot) -> list[Path]:
    """Files and links under *root* that are new or written since *before*."""
    return [Path(e.path) for e in _leaves(root) if before.get(e.path) != _identity(e)]


def _identity(entry: os.DirEntry[str]) -> tuple[int, int, int]:
    st = entry.stat(follow_symlinks=False)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def relocate(
    stage: Path,
    venv_dir: Path,
    workdir: Path,
    paths: Iterable[Path] | None = None,
    report: progress.Report = progress.quiet,
) -> Relocation:
    """Rewrite the tree under *stage* so no path under *stage* (or *workdir*) remains.

    *venv_dir* is ``<stage><prefix>``. Raise RelocationError for files that cannot be fixed.
    With *paths*, only those files are looked at (``changed_since`` the environment was
    relocated, or restored already relocated): reading numpy + pandas again cost ~1 s. (The
    final scan reads them all.) *report* hears how many files there are and how many are done.
    """
    needle = os.fsencode(stage)
    removed: list[Path] = []
    for name in _DEBRIS:
        if (venv_dir / name).is_file():
            (venv_dir / name).unlink()
            removed.append(venv_dir / name)
    for name in _INSTALLER_DEBRIS:
        for path in sorted(venv_dir.glob(f"lib*/python*/site-packages/*.dist-info/{name}")):
            path.unlink()
            removed.append(path)
    _drop_command_line(venv_dir / "pyvenv.cfg")
    removed.extend(_drop_direct_urls(venv_dir, workdir))

    rewritten: list[Path] = []
    relinked: list[Path] = []
    refused: list[str] = []
    names = [e.path for e in _leaves(stage)] if paths is None else [str(p) for p in paths]
    progress.total(report, len(names), "files relocated")
    ticker = progress.Ticker(report, 1000)
    for name in names:
        ticker.tick()
        try:
            mode = os.lstat(name).st_mode
        except FileNotFoundError:  # debris listed in *paths*, dropped above
            continue
        if stat.S_ISLNK(mode):
            target = os.readlink(name)
            if os.fsencode(target).startswith(needle):
                os.unlink(name)
                os.symlink(target[len(os.fsdecode(needle)) :], name)
                relinked.append(Path(name))
            continue
        if not stat.S_ISREG(mode) or _find(name, needle) < 0:
            continue
        path = Path(name)
        data = path.read_bytes()
        if data.startswith(_ELF_MAGIC):
            refused.append(f"{path}: ELF binary with the staging path compiled in")
        elif path.suffix == ".pyc":
            path.unlink()
            removed.append(path)
        else:
            fixed = rewrite_text(data, needle)
            if fixed is None:
                refused.append(f"{path}: binary data file carries the staging path")
            else:
                path.write_bytes(fixed)
                rewritten.append(path)
    ticker.flush()
    if refused:
        raise RelocationError(
            "the staging path is compiled into files that cannot be rewritten safely",
            "build such distributions as wheels without absolute build paths, or report them",
            details=refused,
        )
    _fix_records(venv_dir, needle, set(rewritten), set(removed))
    return Relocation(tuple(rewritten), tuple(removed), tuple(relinked))


def rewrite_text(data: bytes, needle: bytes) -> bytes | None:
    """Cut *needle* (the staging root) out of text *data*; None when *data* is not text."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    match = _LONG_SHEBANG.match(data)
    if match and match["exe"].startswith(needle):
        exe = match["exe"][len(needle) :]
        if len(exe) + 2 <= _MAX_SHEBANG and b" " not in exe:
            data = b"#!" + exe + b"\n" + data[match.end() :]
    return data.replace(needle, b"")


def scan(root: Path, needles: Sequence[bytes]) -> list[Finding]:
    """Every file under *root* whose content or link target contains one of *needles*."""
    findings: list[Finding] = []
    for entry in _leaves(root):
        if entry.is_symlink():
            target = os.fsencode(os.readlink(entry.path))
            if any(n in target for n in needles):
                findings.append(Finding(Path(entry.path), "symlink target"))
        elif entry.is_file(follow_symlinks=False):
            for needle in needles:
                offset = _find(entry.path, needle)
                if offset >= 0:
                    findings.append(Finding(Path(entry.path), f"content at byte {offset}"))
                    break
    return findings


def verify_clean(stage: Path, workdir: Path) -> None:
    """The scan that is never skipped: no build path (*workdir*, and *stage* when it is elsewhere,
    as an SRPM's %{buildroot}) may remain in any file under *stage*, .pyc and .so included."""
    needles = _spellings(workdir)
    if not stage.is_relative_to(workdir):  # an SRPM's %{buildroot}
        needles.append(os.fsencode(stage))
    findings = scan(stage, needles)
    if findings:
        raise RelocationError(
            f"{len(findings)} file(s) still contain the build path {workdir}",
            "such a file would point into a directory that does not exist on the target; "
            "report the distribution that wrote it",
            details=at_most([f"{f.path.relative_to(stage)}: {f.where}" for f in findings]),
        )


def _spellings(workdir: Path) -> list[bytes]:
    """The work directory as any tool may have written it: resolved, and via TMPDIR's symlink."""
    found = {os.fsencode(workdir)}
    tmp = Path(tempfile.gettempdir())
    for via_tmp in (tmp / workdir.name, tmp / workdir.parent.name / workdir.name):
        if via_tmp.exists() and via_tmp.resolve() == workdir:
            found.add(os.fsencode(via_tmp))
    return sorted(found)


def _leaves(root: Path) -> Iterator[os.DirEntry[str]]:
    """Files and symlinks (to directories too) under *root*: what relocation and the scan read."""
    return (entry for entry in walk(str(root)) if not entry.is_dir(follow_symlinks=False))


def _find(path: str, needle: bytes) -> int:
    """Offset of *needle* in the file, read in chunks so huge libraries don't fill memory."""
    overlap = len(needle) - 1
    offset = 0
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            window = tail + chunk
            found = window.find(needle)
            if found >= 0:
                return offset - len(tail) + found
            tail = window[-overlap:] if overlap else b""
            offset += len(chunk)
    return -1


def _drop_command_line(cfg: Path) -> None:
    if not cfg.is_file():
        return
    lines = cfg.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.replace(" ", "").startswith("command=")]
    if kept != lines:
        cfg.write_text("".join(kept), encoding="utf-8")


def _drop_direct_urls(venv_dir: Path, workdir: Path) -> list[Path]:
    removed = []
    for direct_url in sorted(
        venv_dir.glob("lib*/python*/site-packages/*.dist-info/direct_url.json")
    ):
        try:
            url = json.loads(direct_url.read_text(encoding="utf-8")).get("url", "")
        except (ValueError, OSError):
            continue
        parsed = urlparse(url)
        if parsed.scheme == "file" and Path(unquote(parsed.path)).is_relative_to(workdir):
            direct_url.unlink()
            removed.append(direct_url)
    return removed


def record_hash(data: bytes) -> str:
    """A RECORD hash field (PEP 376 / wheel spec): urlsafe base64 sha256 without padding."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def _fix_records(venv_dir: Path, needle: bytes, rewritten: set[Path], removed: set[Path]) -> None:
    stage_prefix = os.fsdecode(needle)
    # as the prefix may appear in a RECORD's text: csv doubles a quote inside a field
    spellings = {stage_prefix, stage_prefix.replace('"', '""')}
    # strings, not Paths: a Path per RECORD row was most of this step for numpy + pandas
    rewritten_names = {str(p) for p in rewritten}
    removed_names = {str(p) for p in removed}
    for record in sorted(venv_dir.glob("lib*/python*/site-packages/*.dist-info/RECORD")):
        text = record.read_text(encoding="utf-8")
        if not rewritten_names and not removed_names and not any(p in text for p in spellings):
            continue  # nothing this record lists can have changed
        base = str(record.parent.parent)
        out: list[list[str]] = []
        for row in csv.reader(io.StringIO(text)):
            if not row:
                continue
            name = row[0]
            if name.startswith(stage_prefix):
                name = name[len(stage_prefix) :]
                row = [name, *row[1:]]
            # RECORD paths are relative to site-packages, or absolute (final paths by now).
            target = os.path.normpath(
                stage_prefix + name if name.startswith("/") else f"{base}/{name}"
            )
            if target in removed_names:
                continue
            if target in rewritten_names and len(row) >= 3:
                with open(target, "rb") as fh:
                    data = fh.read()
                row = [row[0], record_hash(data), str(len(data))]
            out.append(row)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(out)
        if buffer.getvalue() != text:
            record.write_text(buffer.getvalue(), encoding="utf-8")
