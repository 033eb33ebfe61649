"""Reading hash-locked requirements files (``pip-compile --generate-hashes`` format). Pure.

pip enforces ``--require-hashes`` itself, but it stops at the first bad line and says nothing of
the lock's line numbers. Checking first lets us name every offending line and refuse locks pip
would accept (``>=`` with a hash is legal to pip and still not a lock).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from venvrpm.errors import LockError

_HASH = re.compile(r"--hash[=\s]+(\S+)")
# pip-compile only writes sha256; pip accepts these too.
_HASH_ALGORITHMS = ("sha256", "sha384", "sha512")
# Options that would pull in requirements we never validated, or install from a working copy.
_REFUSED_OPTIONS = ("-r", "--requirement", "-c", "--constraint", "-e", "--editable")

HINT = (
    "regenerate it with `venvrpm lock app.yaml` (or pip-compile --generate-hashes --allow-unsafe)"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class LockedRequirement:
    """One pinned, hashed line of a lock."""

    name: str
    """Canonical project name (PEP 503)."""
    version: str
    hashes: tuple[str, ...]
    marker: str | None
    line: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Lock:
    """A validated lock file."""

    path: Path
    requirements: tuple[LockedRequirement, ...]


def read(path: Path) -> Lock:
    """Parse and validate the lock at *path*; raise LockError naming every bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LockError(
            f"the lock {path} does not exist", "create it with `venvrpm lock app.yaml`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockError(f"cannot read the lock {path}: {exc}", HINT) from None
    return parse(text, path)


def parse(text: str, path: Path) -> Lock:
    """Validate lock *text*; *path* only names the file in messages."""
    entries: list[LockedRequirement] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for line_no, line in _logical_lines(text):
        problem, entry = _parse_line(line, line_no)
        if problem:
            problems.append(f"{path.name} line {line_no}: {problem}")
        if entry is None:
            continue
        if entry.name in seen and entry.marker is None:
            problems.append(
                f"{path.name} line {line_no}: {entry.name} is pinned twice (first on line {seen[entry.name]})"
            )
        seen.setdefault(entry.name, line_no)
        entries.append(entry)
    if problems:
        count = len(problems)
        raise LockError(
            f"{path} is not a usable hash-locked requirements file ({count} bad line{'s' if count > 1 else ''})",
            HINT,
            details=problems,
        )
    return Lock(path=path, requirements=tuple(entries))


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations and drop comments, keeping the first physical line number."""
    out: list[tuple[int, str]] = []
    buffer = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buffer:
            start = number
        stripped = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        buffer += stripped
        if buffer.strip():
            out.append((start, buffer.strip()))
        buffer = ""
    if buffer.strip():
        out.append((start, buffer.strip()))
    return out


def _parse_line(line: str, line_no: int) -> tuple[str | None, LockedRequirement | None]:
    if line.startswith("-"):
        option = re.split(r"[=\s]", line, maxsplit=1)[0]
        if option in _REFUSED_OPTIONS:
            return (
                f"{option!r} is not allowed in a lock: every requirement must be listed here, pinned and hashed",
                None,
            )
        return None, None
    hashes = tuple(_HASH.findall(line))
    spec = _HASH.sub("", line).strip()
    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        return f"{spec!r} is not a requirement: {exc}", None
    name = canonicalize_name(req.name)
    if req.url:
        return (
            f"{req.name} comes from a URL; lock it to a version from an index or wheelhouse",
            None,
        )
    pins = [s for s in req.specifier if s.operator in ("==", "===") and not s.version.endswith("*")]
    if len(pins) != 1 or len(req.specifier) != 1:
        return (
            f"{req.name} is not pinned to one version ({spec!r}); expected {req.name}==VERSION",
            None,
        )
    if not hashes:
        return f"{req.name}=={pins[0].version} has no --hash", None
    bad = [h for h in hashes if h.split(":", 1)[0] not in _HASH_ALGORITHMS or ":" not in h]
    if bad:
        return f"{req.name}: unusable hash {bad[0]!r} (expected sha256:HEX)", None
    marker = str(req.marker) if req.marker else None
    return None, LockedRequirement(
        name=name, version=pins[0].version, hashes=hashes, marker=marker, line=line_no
    )
