"""pip's output text: the one place venvrpm reads what pip prints.

Fragile: pip's messages are not an interface; pip rewords them between releases (pip 26 added
``(from -r FILE (line N))`` to its ``Processing`` lines). One pattern per message, used by every
caller (fetch, the venv's install, ``venvrpm init``, pip-compile's failures in lock).

Checked with pip 23.0.1 and pip 26.3: tests/test_fenced.py parses real output of both
(tests/data/pip-output/pip23, pip26: ``pip download``/``install --no-index`` against a tiny
wheelhouse, ``pip index versions``).

When pip changes a message: the samples of the new pip fail those tests. At run time nothing
is guessed: a message that is not recognised gives the generic error, with pip's last lines of
output (CommandError, or the last line as the reason), never a wrong diagnosis.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

STARTED = re.compile(r"^(?:Collecting|Processing) \S")
"""pip's line as it starts on a requirement, one per distribution: ``Collecting x==1`` from an
index over HTTP, ``Processing /path/x.whl`` from a local one (a progress counter's pattern)."""

_NOT_FOUND = re.compile(r"No matching distribution found for (\S+)")
# the lines under "THESE PACKAGES DO NOT MATCH THE HASHES": "    name==version from URL ..."
_HASH_MISMATCH_HEADER = "DO NOT MATCH THE HASHES"
_HASH_MISMATCH = re.compile(r"^\s{4}(\S+?)==(\S+) from (\S+)", re.MULTILINE)
_INVALID_WHEEL = re.compile(r"(\S+\.whl) is invalid")
_DISCARDING = "Discarding "
_INDEX_NEWEST = re.compile(r"^\S+ \(([^)\s]+)\)")
_INDEX_AVAILABLE = re.compile(r"Available versions: (.*)")
# pip-compile's failure: a traceback, exception chains, then the final exception's message
_CHAINING = ("During handling of the above exception", "The above exception was the direct cause")
_EXCEPTION_LINE = re.compile(
    r"^(?:[A-Za-z_][\w]*\.)+[A-Za-z_]\w*: |^[A-Z]\w*(Error|Impossible|NotFound): "
)


@dataclass(frozen=True, slots=True)
class HashMismatch:
    """One distribution whose file pip found with another hash than the requirement's."""

    name: str
    version: str
    url: str
    """Where pip found the file (``file:///...whl`` for a wheelhouse)."""


def not_found(output: str) -> list[str]:
    """The requirements pip found no file for (``name==version`` as pip wrote them)."""
    return _NOT_FOUND.findall(output)


def hash_mismatch(output: str) -> bool:
    """pip refused a file whose hash the requirements do not allow."""
    return _HASH_MISMATCH_HEADER in output


def hash_mismatches(output: str) -> list[HashMismatch]:
    """The distributions pip names under its hash-mismatch message (maybe none it could parse)."""
    if not hash_mismatch(output):
        return []
    return [HashMismatch(n, v, u.rstrip(":")) for n, v, u in _HASH_MISMATCH.findall(output)]


def invalid_wheels(output: str) -> list[str]:
    """The wheel files pip says are invalid (not a zip, no metadata), as pip named them."""
    return _INVALID_WHEEL.findall(output)


def bad_zip(output: str) -> bool:
    """pip died on a file that is not a zip archive (its traceback names BadZipFile)."""
    return "BadZipFile" in output


def backend_unavailable(output: str) -> bool:
    """An sdist's build backend could not be imported (pyproject-hooks' BackendUnavailable)."""
    return "BackendUnavailable" in output


def hashes_refused(output: str) -> bool:
    """pip refused the requirements over hashes in some other way (``--hash`` missing...)."""
    return "hash" in output.lower() and "--hash" in output


def discarded(lines: Sequence[str]) -> list[str]:
    """pip's ``Discarding URL: REASON`` lines (a file it found and refused), stripped."""
    return [line for line in lines if line.startswith(_DISCARDING)]


def discard_reason(line: str) -> str:
    """The reason of a ``Discarding URL: REASON`` line."""
    return line.partition(": ")[2]


@dataclass(frozen=True, slots=True)
class IndexVersions:
    """What ``pip index versions NAME`` printed."""

    newest: str
    available: tuple[str, ...]


def index_versions(stdout: str) -> IndexVersions | None:
    """``NAME (NEWEST)`` then ``Available versions: A, B``; None when pip printed neither."""
    newest = _INDEX_NEWEST.match(stdout.strip())
    if newest is None:
        return None
    available = _INDEX_AVAILABLE.search(stdout)
    known = tuple(v.strip() for v in available.group(1).split(",")) if available else ()
    return IndexVersions(newest.group(1), known)


def resolution_failure(output: str) -> str:
    """pip-compile's (pip's resolver's) own explanation of a failed resolution, without
    traceback noise: the final exception's message, the lines around it, at most 30."""
    lines = [line for line in output.splitlines() if line.strip()]
    kept: list[str] = []
    in_traceback = False
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
            continue
        if in_traceback and line.startswith((" ", "\t")):
            continue
        in_traceback = False
        if line.startswith(_CHAINING) or line.startswith("[RequirementInformation("):
            continue
        if _EXCEPTION_LINE.match(line):
            if i != len(lines) - 1:
                continue  # intermediate exceptions of a chain
            line = _EXCEPTION_LINE.sub("", line)  # the final one: keep its message
        if line not in kept:
            kept.append(line)
    return "\n".join(kept[-30:]) or "(pip-compile printed nothing)"
