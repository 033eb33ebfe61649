"""Every error message venvrpm can print is documented in docs/troubleshooting.md.

The messages are read from the source with ``ast``, not from a list kept by hand, so a new
message without an entry fails here:

- the first argument of every error constructor (``VenvrpmError`` and its subclasses), and
  the message argument of the helpers that become one (``_require_wheelhouse``);
- manifest problems (``Problem(path, line, MESSAGE)`` and ``check.fail(path, MESSAGE)``),
  printed under "N problems in the manifest";
- the ``what=`` of every command run with ``check`` left on: it fails as "WHAT failed".

A plain string must appear whole. An f-string is reduced to its literal parts: its longest
part when that has at least 15 characters, else every part of 3 or more. A message with no
literal part at all is passed through from elsewhere; each such argument is listed in
``PASSED_THROUGH`` with the reason, and a listed one that no longer exists fails too.

Not scanned, by design: exceptions that are not ``VenvrpmError`` (``ValueError``,
``AssertionError``, ``OSError`` raised inside venvrpm). They are internal assertions (the
manifest check makes them unreachable), are caught and turned into notes (``inspect``), or
reach the user as an operating system error, which the page documents as one entry.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "venvrpm"
DOC = ROOT / "docs" / "troubleshooting.md"


def _error_classes() -> set[str]:
    """``VenvrpmError`` and every class of the package derived from it, wherever it is
    defined: everything the CLI prints as ``error: MESSAGE``."""
    bases: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                names = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
                bases.setdefault(node.name, set()).update(names)
    found = {"VenvrpmError"}
    while True:
        more = {name for name, of in bases.items() if of & found} - found
        if not more:
            return found
        found |= more


ERROR_CLASSES = _error_classes()

MESSAGE_ARGUMENT = {
    "_require_wheelhouse": 1,  # cli.py: raises UsageError(message, ...)
    "fail": 1,  # manifest.py: _Checker.fail(path, message) -> Problem
    "Problem": 2,  # errors.py: Problem(path, line, message)
}
"""Callables, besides the error classes, whose argument at this position is a message."""

SHORT = 15
"""An f-string part at least this long identifies its message on its own."""

PASSED_THROUGH = {
    ("cli.py", "failures"): "TargetsFailed(failures, ...): its message is the literal "
    "'N of M targets failed: NAMES' made in its __init__, checked here",
    ("errors.py", "message"): "VenvrpmError and CommandError hand on the caller's message",
    ("cli.py", "message"): "_require_wheelhouse(message): its callers' strings are checked",
    ("cli.py", "f'{self.prog}: {message}'"): "argparse's own usage errors (unrecognized "
    "arguments, a missing or invalid argument): documented as one entry",
    ("errors.py", "f'{doing}: {exc.strerror or exc}{where}'"): "refusal(): what venvrpm was "
    "doing and an OSError's own text (No space left on device): documented as one entry",
    ("console.py", "f'{BUG_LINE}: {type(exc).__name__}: {exc}'"): "a bug's exception, under "
    "BUG_LINE: documented as one entry",
    ("manifest.py", "str(source)"): "ManifestError's first argument is the manifest path; its "
    "message is errors.py's 'N problems in the manifest'",
    ("manifest.py", "message"): "a message built just above from literals checked here",
    ("manifest.py", "str(manifest.source)"): "as str(source): require_version's ManifestError",
    ("manifest.py", "why"): "locked_version's reasons: the literals of its return statements, "
    "documented under version.from",
    ("manifest.py", "_describe(error)"): "a JSON Schema error: the forms _describe makes are "
    "in OTHER_MESSAGES",
    ("manifest.py", "_ALIAS"): "_ALIAS is in OTHER_MESSAGES",
    ("manifest.py", "_ALIAS + many"): "_ALIAS is in OTHER_MESSAGES",
    ("manifest.py", "f'{str(dest)!r} {why}'"): "_dest_refusal's reasons: the literals of its "
    "return statements (overlaps the virtualenv prefix, is a system directory, basesystem's)",
}
"""(file, argument as ``ast.unparse`` writes it) -> why it carries no literal of its own."""

OTHER_MESSAGES = {
    # manifest problems made outside a constructor call
    "manifest.py": [
        "YAML aliases (*name) are not allowed",
        "unknown key",
        "did you mean",
        "known keys:",
        "is not allowed here:",
        "(quote it)",
    ],
    # details of "N lock(s) out of date"
    "freshness.py": [
        "was not made by `venvrpm lock` (no input record)",
        "the manifest's interpreter is",
        "is a new input, not in",
        "changed since",
        "is no longer an input",
        "is missing from",
        "is not satisfied by",
    ],
    # details of "... is not a usable hash-locked requirements file"
    "lockfile.py": [
        "is not allowed in a lock: every requirement must be listed here, pinned and hashed",
        "on a line of its own and spelled out",
        "only the manifest's project directory may be named, relative to the lock's directory",
        "it would pull in requirements never checked here, or install a working copy",
        "--hash without a requirement on its line",
        "is not allowed after a requirement: only --hash=ALG:HEX is",
        "needs a value (--hash=sha256:HEX)",
        "is not a requirement:",
        "comes from a URL; lock it to a version from an index or wheelhouse",
        "is a URL; lock it to a version from an index or wheelhouse",
        "is a local path; lock it to a version from an index or wheelhouse",
        "pip would substitute the environment's value here",
        "pip and uv may not split",
        "a comment ends with a backslash",
        "is not pinned to one version",
        "has no --hash",
        "is pinned twice (first on line",
        "is pinned twice for this",
        "unusable hash",
    ],
    # details of "the wheelhouse DIR cannot serve LOCK" and of fetch failures
    "fetch.py": [
        "is not a file the lock names",
        "is not in the wheelhouse",
        "no file for this interpreter and platform",
        "pip downloaded no file the lock names",
    ],
}
"""Messages shown as problems or details, made where no constructor sees them; each must
still be in its source file (so this list cannot go stale) and in the page."""


@dataclass(frozen=True)
class Message:
    where: str
    source: str
    keys: tuple[str, ...]
    """What must appear in the page; empty when the message has no literal part."""


def _parts(node: ast.expr) -> list[str | None]:
    """Literal parts of a message expression; None for every computed part."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else None
            for v in node.values
        ]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _parts(node.left) + _parts(node.right)
    return [None]


def _keys(parts: list[str | None]) -> tuple[str, ...]:
    if parts and all(p is not None for p in parts):
        return ("".join(p for p in parts if p is not None).strip(),)
    fragments = [p.strip() for p in parts if p is not None and p.strip()]
    if not fragments:
        return ()
    longest = max(fragments, key=len)
    if len(longest) >= SHORT:
        return (longest,)
    return tuple(f for f in fragments if len(f) >= 3)


def _callee(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _checked(node: ast.Call) -> bool:
    """Whether a ``run(...)`` call raises on failure (``check`` is True unless given False)."""
    for keyword in node.keywords:
        if keyword.arg == "check":
            return not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False)
    return True


def _in_error_class(tree: ast.Module) -> set[int]:
    """ids of ``super().__init__(...)`` calls inside the error classes of errors.py."""
    found = set()
    for cls in ast.walk(tree):
        if isinstance(cls, ast.ClassDef) and cls.name in ERROR_CLASSES:
            for node in ast.walk(cls):
                if (
                    isinstance(node, ast.Call)
                    and _callee(node) == "__init__"
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Call)
                    and _callee(node.func.value) == "super"
                ):
                    found.add(id(node))
    return found


def messages() -> list[Message]:
    """Every message of the package, with where it is made."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        name = str(path.relative_to(PACKAGE))
        supers = _in_error_class(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            callee = _callee(node)
            argument: ast.expr | None = None
            if callee in ERROR_CLASSES or id(node) in supers:
                argument = node.args[0] if node.args else None
            elif callee in MESSAGE_ARGUMENT and len(node.args) > MESSAGE_ARGUMENT[callee]:
                argument = node.args[MESSAGE_ARGUMENT[callee]]
            elif callee == "run" and _checked(node):
                what = next((k.value for k in node.keywords if k.arg == "what"), None)
                # a bare name is a runner handing on its caller's `what`, checked at the caller
                if what is not None and not isinstance(what, ast.Name):
                    argument = what
            if argument is None:
                continue
            out.append(
                Message(
                    where=f"venvrpm/{name}:{node.lineno}",
                    source=f"{name}|{ast.unparse(argument)}",
                    keys=_keys(_parts(argument)),
                )
            )
    return out


def test_the_scan_finds_the_messages() -> None:
    found = messages()
    keys = {k for m in found for k in m.keys}
    # a few known ones from different kinds of call, so a broken scan cannot pass quietly
    assert "rpmbuild is not installed" in keys
    assert "in the manifest" in keys  # errors.py: ManifestError's super().__init__
    assert "key given twice" in keys  # Problem(...)
    assert "give either build.container or build.rootfs, not both" in keys  # check.fail
    assert "installing the project" in keys  # run(..., what=...)
    assert "--offline needs a wheelhouse" in keys  # _require_wheelhouse
    assert len(found) > 100


def test_every_message_is_in_troubleshooting() -> None:
    page = DOC.read_text(encoding="utf-8")
    missing = [f"{m.where}: {key!r}" for m in messages() for key in m.keys if key not in page]
    assert not missing, (
        "document these messages in docs/troubleshooting.md (message, cause, fix):\n"
        + "\n".join(missing)
    )


def test_messages_without_a_literal_are_accounted_for() -> None:
    found = {tuple(m.source.split("|", 1)): m.where for m in messages() if not m.keys}
    unexplained = sorted(f"{where}: {src!r}" for (f, src), where in found.items()
                         if (f, src) not in PASSED_THROUGH)  # fmt: skip
    assert not unexplained, (
        "these messages have no literal text to look for in the page; give them some, or "
        "add them to PASSED_THROUGH with the reason:\n" + "\n".join(unexplained)
    )
    stale = sorted(set(PASSED_THROUGH) - set(found))
    assert not stale, f"PASSED_THROUGH lists arguments that no longer exist: {stale}"


def test_other_messages_exist_and_are_documented() -> None:
    page = DOC.read_text(encoding="utf-8")
    stale, missing = [], []
    for name, texts in OTHER_MESSAGES.items():
        source = (PACKAGE / name).read_text(encoding="utf-8")
        stale += [f"{name}: {t!r}" for t in texts if t not in source]
        missing += [f"{name}: {t!r}" for t in texts if t not in page]
    assert not stale, "OTHER_MESSAGES lists text its file no longer has:\n" + "\n".join(stale)
    assert not missing, "document in docs/troubleshooting.md:\n" + "\n".join(missing)
