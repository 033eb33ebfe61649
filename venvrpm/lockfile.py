"""Reading hash-locked requirements files (``pip-compile --generate-hashes`` format). Pure.

The grammar is an allowlist. A lock line is one requirement, ``name[extras]==version ; marker``,
followed by ``--hash=alg:hex`` options (``--hash alg:hex`` too, as pip reads it), possibly over
backslash-continued lines; comments and blank lines are ignored. Nothing else: pip and uv read
many more options from a requirements file (``-r`` and ``-c`` include files, ``-e`` installs a
working copy, ``-i``/``-f``/``--trusted-host`` reach other sources, and optparse accepts
``-rfile`` and any unique prefix such as ``--requireme``), so every line or token starting with
``-`` that is not a requirement's ``--hash`` is refused, as are URLs and local paths.

Two kinds of line other tools write are accepted and *not used* (:class:`Ignored`): a source
option on a line of its own (``--index-url URL``, ``--extra-index-url``, ``--find-links``,
``--trusted-host``, ``--no-index``, as pip-compile, uv and Poetry copy them from their
configuration), and the project itself (``-e .`` or ``.`` from ``uv export``) when the path is
the manifest's ``project:`` directory. That is safe only because no installer reads the user's
file: venvrpm hands pip and uv the lock as parsed (:func:`normalized`), and takes distributions
from the wheelhouse or pip's configuration, and builds the project itself.

Lines are split, joined and stripped of comments the way pip does it
(``pip._internal.req.req_file.preprocess``), so the lines checked here are the lines pip sees.
Checking first also names every offending line, and refuses locks pip would accept (``>=``
with a hash is legal to pip and still not a lock).
"""

from __future__ import annotations

import codecs
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from venvrpm.errors import LockFileError
from venvrpm.redact import redact

if TYPE_CHECKING:
    from packaging.pylock import Pylock

# pip's COMMENT_RE: a comment starts at a '#' at the start of the line or after whitespace.
_COMMENT = re.compile(r"(^|\s+)#.*$")
# pip's ENV_VAR_RE: ${NAME} is replaced by the environment's value when pip reads the file.
_ENV_VAR = re.compile(r"\$\{[A-Z0-9_]+\}")
# Hex digits per algorithm pip accepts in --hash (pip-compile only writes sha256).
_HASH_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_HASH_VALUE = re.compile(r"^(sha256|sha384|sha512):([0-9a-fA-F]+)$")
# pip's is_archive_file: a requirement spelled like one is read as a path, not a name.
_ARCHIVES = (".zip", ".whl", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz", ".tar.lz",
             ".tar.lzma", ".tar.gz", ".tgz", ".tar")  # fmt: skip
# Why a family of options is refused, beyond "not a lock line". Long options are matched by
# prefix as optparse does (``--requireme`` is ``--requirement``).
_INCLUDES = ("-r", "-c", "-e", "--requirement", "--constraint", "--editable")
_SOURCES = ("-i", "-f", "--index-url", "--extra-index-url", "--find-links", "--trusted-host",
            "--no-index")  # fmt: skip
_SOURCE_WHY = (
    "; on a line of its own and spelled out (`--index-url URL`, `-i URL`, "
    "`--extra-index-url URL`, `--find-links URL`, `-f URL`, `--trusted-host HOST`, "
    "`--no-index`) it is accepted and ignored, as pip-compile, uv and Poetry write it"
)
# Source options accepted on a line of their own, spelled in full (``--index-url URL``,
# ``--index-url=URL``, ``-i URL``): what pip-compile, uv and Poetry write. Glued short forms
# (``-iURL``) and prefixes stay refused: no tool writes them.
_SOURCE_VALUES = {"-i": "--index-url", "-f": "--find-links", "--index-url": "--index-url",
                  "--extra-index-url": "--extra-index-url", "--find-links": "--find-links",
                  "--trusted-host": "--trusted-host"}  # fmt: skip
_EDITABLE = ("-e", "--editable")
_NOT_ALLOWED = "is not allowed in a lock: every requirement must be listed here, pinned and hashed"
_INCLUDE_WHY = "; it would pull in requirements never checked here, or install a working copy"
_LOCAL_PATH = "is a local path; lock it to a version from an index or wheelhouse"
_PROJECT_ONLY = (
    " (only the manifest's project directory may be named, relative to the lock's directory: "
    "venvrpm builds it and skips the line; uv export --no-emit-project leaves it out)"
)

HINT = (
    "regenerate it with `venvrpm lock app.yaml` (or pip-compile --generate-hashes --allow-unsafe "
    "--no-emit-options); a lock holds only NAME==VERSION lines with --hash options"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class LockedRequirement:
    """One pinned, hashed line of a lock."""

    name: str
    """Canonical project name (PEP 503)."""
    version: str
    hashes: tuple[str, ...]
    """``alg:hex``, hex in lower case as pip compares it."""
    marker: str | None
    line: int
    url: str | None = None
    """Where the file comes from, when the lock names it (pylock.toml): installed from there
    online, by name and hash from a wheelhouse."""
    filename: str | None = None
    """The one file the lock selected for the target (pylock.toml), when it names one."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Ignored:
    """A line of the lock that is accepted and not used."""

    line: int
    shown: str
    """What to call it: the option's name (never its value: an index URL may hold a password),
    or the project line as written."""
    project: bool
    """The project itself (``-e .``, a pylock's ``directory`` package: line 0), which venvrpm
    builds; else a source option."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Lock:
    """A validated lock file."""

    path: Path
    requirements: tuple[LockedRequirement, ...]
    skipped: tuple[LockedRequirement, ...] = ()
    """Lines left out by :meth:`for_target`: their marker is false for the target."""
    ignored: tuple[Ignored, ...] = ()
    """Source options and the project's own line: accepted, never handed to an installer."""
    pylock: Pylock | None = field(default=None, compare=False, repr=False)
    """The PEP 751 document (a ``pylock.toml``) until :meth:`for_target` has chosen its files
    for the target; until then each requirement allows every file of its package."""

    def for_target(self, markers: Mapping[str, str], tags: Sequence[str] | None = None) -> Lock:
        """The lock as the target's installer reads it: lines whose marker is false are skipped.

        The one place that decides what a target needs: ``check``'s wheelhouse test, ``fetch``
        and ``build`` all use it, as pip does when it installs the lock (``extra`` is empty).

        A ``pylock.toml`` is selected as PEP 751 says (venvrpm.pylock): with *tags*, the wheel
        tags the target accepts best first, each package keeps the one file that fits best;
        without them, every file of each package the markers keep. The result is a plain lock
        either way (no markers left, ``pylock`` None): selecting it again changes nothing.
        """
        if self.pylock is not None:
            from venvrpm import pylock

            return pylock.for_target(self, markers, tags)
        environment = {**markers, "extra": ""}
        kept: list[LockedRequirement] = []
        skipped: list[LockedRequirement] = []
        problems: list[str] = []
        first: dict[str, int] = {}
        for req in self.requirements:
            try:
                holds = req.marker is None or Marker(req.marker).evaluate(environment)
            except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName) as exc:
                problems.append(f"{self.path.name} line {req.line}: marker {req.marker!r}: {exc}")
                continue
            if not holds:
                skipped.append(req)
                continue
            if req.name in first:
                problems.append(
                    f"{self.path.name} line {req.line}: {req.name} is pinned twice for this "
                    f"interpreter (first on line {first[req.name]})"
                )
            first.setdefault(req.name, req.line)
            kept.append(req)
        if problems:
            raise LockFileError(
                f"{self.path} cannot be installed on this interpreter", HINT, details=problems
            )
        return replace(self, requirements=tuple(kept), skipped=(*self.skipped, *skipped))


def is_pylock(path: Path) -> bool:
    """Whether *path* is named as PEP 751 names a lock: ``pylock.toml``, ``pylock.NAME.toml``."""
    from packaging.pylock import is_valid_pylock_path

    return is_valid_pylock_path(path)


MAX_BYTES = 64 << 20
"""A larger lock is refused unread: it is untrusted input, and a sparse terabyte reads fast."""


def read(path: Path, *, project: Path | None = None) -> Lock:
    """Parse and validate the lock at *path*; raise LockFileError naming every bad line.

    *project*: the manifest's ``project:`` directory, whose own line (``-e .``, or a pylock's
    ``directory`` package) is skipped. A file named as PEP 751 names a lock (:func:`is_pylock`)
    is read as one (venvrpm.pylock); any other as a hash-locked requirements file."""
    return read_with_text(path, project=project)[0]


def read_with_text(path: Path, *, project: Path | None = None) -> tuple[Lock, str]:
    """:func:`read`, and the text the lock was parsed from: one read, so what a caller looks
    at besides (``lock --check``'s input record) is what was checked."""
    if is_pylock(path):
        from venvrpm import pylock

        text = read_text(path, pylock.HINT)
        return pylock.parse(text, path, project=project), text
    text = read_text(path, HINT)
    return parse(text, path, project=project), text


def read_text(path: Path, hint: str) -> str:
    """The text of the lock at *path*, whichever its format: no link followed (a bad line is
    quoted: `-> /etc/shadow` would print it), no FIFO waited on, at most MAX_BYTES; decoded,
    not read as text, so that the checks see a lone CR (text mode would turn it into a line
    break, hiding it). What is checked is what a copy of it holds (the SRPM kit's). *hint*:
    what to do when it cannot be read."""
    from venvrpm import files

    try:
        return files.read_regular(path, MAX_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise LockFileError(
            f"the lock {path} does not exist", "create it with `venvrpm lock app.yaml`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockFileError(f"cannot read the lock {path}: {exc}", hint) from None


_CODING = re.compile(r"coding[:=]\s*([-\w.]+)")


def _declared_encoding(text: str) -> list[tuple[int, str]]:
    """pip decodes a requirements file with the encoding a ``coding:`` comment in its first two
    lines declares (PEP 263): in UTF-7, ``# +AAo--r x`` is a comment here and ``-r x`` to pip.
    Only UTF-8 reads the same for both."""
    found = []
    for number, line in enumerate(text.split("\n")[:2], start=1):
        match = _CODING.search(line)
        if match is None:
            continue
        try:
            same = codecs.lookup(match.group(1)).name == "utf-8"
        except LookupError:
            same = False
        if not same:
            found.append((number, f"declares the encoding {match.group(1)!r}: a lock is UTF-8"))
    return found


def parse(text: str, path: Path, *, project: Path | None = None) -> Lock:
    """Validate lock *text*; *path* names the file in messages, and its directory is where a
    relative path in it starts. *project*: the manifest's ``project:`` directory (absolute)."""
    entries, problems, ignored = _scan(text, path.parent, project)
    problems = sorted([*_declared_encoding(text), *problems])
    if problems:
        count = len(problems)
        raise LockFileError(
            f"{path} is not a usable hash-locked requirements file ({count} bad line{'s' if count > 1 else ''})",
            HINT,
            details=[f"{path.name} line {number}: {problem}" for number, problem in problems],
        )
    return Lock(path=path, requirements=tuple(entries), ignored=tuple(ignored))


def ignored_note(lock: Lock) -> str | None:
    """What the build says once of the lock's lines it does not use, or None."""
    sources = [i for i in lock.ignored if not i.project]
    projects = [i for i in lock.ignored if i.project]
    parts = []
    if sources:
        parts.append(
            ", ".join(f"{i.shown} (line {i.line})" for i in sources)
            + " (venvrpm takes distributions from the wheelhouse, or from pip's configuration)"
        )
    if projects:
        parts.append(
            ", ".join(f"{i.shown!r}" + (f" (line {i.line})" if i.line else "") for i in projects)
            + " (the project itself: venvrpm builds and installs it)"
        )
    return f"{lock.path.name}: ignored " + "; ".join(parts) if parts else None


def salvage(text: str) -> str:
    """The lines of *text* that are in the grammar, one per requirement; nothing else.

    ``venvrpm lock`` starts pip-compile from the old lock to keep its pins, and pip-compile
    reads that file with pip, options included: it must never see an old lock's ``-r`` or
    ``--index-url``.
    """
    entries, _, _ = _scan(text)
    return "".join(requirement_line(r) + "\n" for r in entries)


def requirement_line(req: LockedRequirement, *, online: bool = False) -> str:
    """*req* as one lock line; *online*: from the URL the lock names, when it names one."""
    marker = f" ; {req.marker}" if req.marker else ""
    # `===` when the lock pinned a version PEP 440 cannot parse: `==` would make the line no
    # requirement at all (a PEP 440 one reads the same either way: the hashes pin the file)
    operator = "==" if _is_pep440(req.version) else "==="
    pin = f"{req.name} @ {req.url}" if online and req.url else f"{req.name}{operator}{req.version}"
    return f"{pin}{marker} " + " ".join(f"--hash={h}" for h in req.hashes)


def _is_pep440(version: str) -> bool:
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def normalized(lock: Lock, *, online: bool = False) -> str:
    """*lock* as the installer reads it: its requirements, one line each, and nothing else.

    Written from what :func:`parse` accepted, so nothing the user's file says beyond its pins
    and hashes reaches pip or uv. A pylock.toml only once selected (:meth:`Lock.for_target`):
    its markers are the lock's text, checked by no grammar of pip's (a quoted string holding
    ` --index-url=URL` would be an option on pip's line), and PEP 751's (dependency_groups)."""
    assert lock.pylock is None, "a pylock.toml is written for an installer once selected"
    return "".join(requirement_line(r, online=online) + "\n" for r in lock.requirements)


def _scan(
    text: str, base: Path | None = None, project: Path | None = None
) -> tuple[list[LockedRequirement], list[tuple[int, str]], list[Ignored]]:
    """The good lines, (line number, problem) for every bad one, and the lines not used.

    *base*: where a relative path starts (the lock's directory); *project*: the project's."""
    entries: list[LockedRequirement] = []
    ignored: list[Ignored] = []
    problems = _hazards(text)
    seen: dict[str, int] = {}
    for line_no, line in _logical_lines(text):
        unused = _unused(line, base, project)
        if unused is not None:
            ignored.append(replace(unused, line=line_no))
            continue
        problem, entry = _parse_line(line, project is not None)
        if problem:
            problems.append((line_no, problem))
        if entry is None:
            continue
        entry = replace(entry, line=line_no)
        if entry.name in seen and entry.marker is None:
            problems.append(
                (line_no, f"{entry.name} is pinned twice (first on line {seen[entry.name]})")
            )
            continue
        seen.setdefault(entry.name, line_no)
        entries.append(entry)
    return entries, problems, ignored


def _unused(line: str, base: Path | None, project: Path | None) -> Ignored | None:
    """The line as an :class:`Ignored` when it is a source option on its own or the project's
    own directory; None when the grammar decides (a requirement, or a refusal)."""
    tokens = line.split()
    name, _, glued = tokens[0].partition("=") if tokens[0].startswith("--") else (tokens[0], "", "")
    values = [*([glued] if glued else []), *tokens[1:]]
    if name == "--no-index" and not values and not glued:
        return Ignored(line=0, shown=name, project=False)
    if name in _SOURCE_VALUES and len(values) == 1:
        return Ignored(line=0, shown=_SOURCE_VALUES[name], project=False)
    if project is None or base is None or _ENV_VAR.search(line):
        return None
    path = values[0] if name in _EDITABLE and len(values) == 1 else None
    if not tokens[0].startswith("-") and len(tokens) == 1 and _is_path(tokens[0]):
        path = tokens[0]
    # lexical, as written: a path that reaches the project through a link is not it
    if path is not None and Path(os.path.normpath(base / path)) == project:
        return Ignored(line=0, shown=shorten(line), project=True)
    return None


def _hazards(text: str) -> list[tuple[int, str]]:
    """Text that pip and another reader (uv, an editor, a reviewer) may split differently."""
    found: list[tuple[int, str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        control = next((c for c in line if c != "\t" and is_control(c)), None)
        if control is not None:
            found.append(
                (number, f"control character U+{ord(control):04X}: pip and uv may not split "
                         "this line alike")
            )  # fmt: skip
        elif line.endswith("\\") and _COMMENT.search(line) and not _COMMENT.match(line):
            found.append(
                (number, "a comment ends with a backslash: pip joins the next line into the "
                         "comment, other readers do not")
            )  # fmt: skip
    return found


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """pip's ``join_lines`` then ``ignore_comments``: the lines pip parses, with its numbers."""
    joined: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.endswith("\\") or _COMMENT.match(line):
            if _COMMENT.match(line):
                line = " " + line  # as pip: the comment is dropped below, joined or not
            if pending:
                joined.append((start, "".join([*pending, line])))
                pending = []
            else:
                joined.append((number, line))
        else:
            if not pending:
                start = number
            pending.append(line.strip("\\"))
    if pending:
        joined.append((start, "".join(pending)))
    for number, line in joined:
        line = _COMMENT.sub("", line).strip()
        if line:
            yield number, line


def _parse_line(
    line: str, has_project: bool = False
) -> tuple[str | None, LockedRequirement | None]:
    variable = _ENV_VAR.search(line)
    if variable:
        return f"{variable.group()}: pip would substitute the environment's value here", None
    # pip's break_args_options: the requirement ends at the first token starting with '-'.
    tokens = line.split(" ")
    split = next((i for i, t in enumerate(tokens) if t.startswith("-")), len(tokens))
    spec = " ".join(tokens[:split]).strip()
    options = [t for t in tokens[split:] if t]
    if not spec:
        return _option_line(options[0], has_project), None
    hashes, problem = _hashes(options)
    # pip tells a name from a URL or path by the text before the marker (parse_req_from_line).
    name_part = spec.split(";", 1)[0].strip()
    try:
        req: Requirement | None = Requirement(spec)
    except InvalidRequirement as exc:
        req, invalid = None, str(exc)
    if req is not None and req.url:
        return (
            f"{req.name} comes from a URL; lock it to a version from an index or wheelhouse",
            None,
        )
    if ":" in name_part:
        return (
            f"{shorten(name_part)!r} is a URL; lock it to a version from an index or wheelhouse",
            None,
        )
    if _is_path(name_part):
        return (
            f"{shorten(name_part)!r} {_LOCAL_PATH}{_PROJECT_ONLY if has_project else ''}",
            None,
        )
    if req is None:
        return f"{spec!r} is not a requirement: {invalid}", None
    pins = [s for s in req.specifier if s.operator in ("==", "===") and not s.version.endswith("*")]
    if len(pins) != 1 or len(req.specifier) != 1:
        return (
            f"{req.name} is not pinned to one version ({spec!r}); expected {req.name}==VERSION",
            None,
        )
    if problem:
        return f"{canonicalize_name(req.name)}: {problem}", None
    if not hashes:
        return f"{req.name}=={pins[0].version} has no --hash", None
    marker = str(req.marker) if req.marker else None
    return None, LockedRequirement(
        name=canonicalize_name(req.name),
        version=pins[0].version,
        hashes=hashes,
        marker=marker,
        line=0,
    )


def _hashes(options: list[str]) -> tuple[tuple[str, ...], str | None]:
    """The ``--hash`` values of a requirement's options, or why the options are not only that."""
    found: list[str] = []
    index = 0
    while index < len(options):
        token = options[index]
        if token == "--hash":
            if index + 1 >= len(options) or options[index + 1].startswith("-"):
                return (), "'--hash' needs a value (--hash=sha256:HEX)"
            value = options[index + 1]
            index += 2
        elif token.startswith("--hash="):
            value = token.removeprefix("--hash=")
            index += 1
        else:
            shown = token if token.startswith("--") and "=" in token else _option_name(token)
            return (), (
                f"{shorten(shown)!r} is not allowed after a requirement: only --hash=ALG:HEX is"
            )
        match = _HASH_VALUE.match(value)
        if not match or len(match.group(2)) != _HASH_LENGTHS[match.group(1)]:
            return (), f"unusable hash {shorten(value)!r} (expected sha256:HEX)"
        found.append(f"{match.group(1)}:{match.group(2).lower()}")
    return tuple(found), None


def _option_line(token: str, has_project: bool = False) -> str:
    """Why a line that starts with an option is refused."""
    if token == "--hash" or token.startswith("--hash="):
        return (
            "--hash without a requirement on its line (a missing backslash continuation, "
            "or a blank or comment line inside one?)"
        )
    name = shorten(_option_name(token))
    if _matches(token, _SOURCES):
        return f"{name!r} is not allowed in a lock in this form{_SOURCE_WHY}"
    why = ""
    if _matches(token, _INCLUDES):
        why = _INCLUDE_WHY + (_PROJECT_ONLY if has_project else "")
    return f"{name!r} {_NOT_ALLOWED}{why}"


def _option_name(token: str) -> str:
    """A long option without its ``=value``; a short one as written (``-rextra.txt``)."""
    return token.split("=", 1)[0] if token.startswith("--") else token


def _matches(token: str, options: tuple[str, ...]) -> bool:
    """Whether optparse could read *token* as one of *options* (glued, prefixed)."""
    if token.startswith("--"):
        name = token.split("=", 1)[0]
        return len(name) > 2 and any(o.startswith(name) for o in options if o.startswith("--"))
    return any(token.startswith(o) for o in options if not o.startswith("--"))


def _is_path(name_part: str) -> bool:
    """What pip would install as a file or directory rather than look up by name."""
    lowered = name_part.lower()
    return (
        name_part.startswith((".", "~"))
        or "/" in name_part
        or "\\" in name_part
        or lowered.endswith(_ARCHIVES)
    )


def is_control(char: str) -> bool:
    """A control character or a line or paragraph separator: text pip and other readers may
    split differently (pylock.toml's strings are held to it too)."""
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def shorten(text: str, limit: int = 60) -> str:
    """*text* as a message quotes it: redacted, then cut to *limit* characters."""
    # masked before it is cut: cut before its '@', a URL's user part no longer reads as
    # credentials, and the redaction every printed line passes would let a token's start by
    text = redact(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
