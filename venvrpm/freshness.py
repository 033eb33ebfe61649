"""Whether a lock is up to date with what it was made from, told offline (``lock --check``).

Each lock starts with a record of what it was made from (the interpreter, a sha256 per input,
paths relative to the manifest): :func:`record` makes it, :func:`check` compares it with the
inputs as they are now, and the lock's pins with the direct requirements. Pure but for reading
the inputs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from venvrpm import lockfile, project
from venvrpm.errors import LockError
from venvrpm.files import sha256_hex
from venvrpm.manifest import LockTarget, Manifest
from venvrpm.plan import Interpreter

RECORD_PREFIX = "# venvrpm-lock: "


_PROJECT_FILES = ("pyproject.toml", "setup.cfg", "setup.py")


_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)[=\s]+(\S+)")


@dataclass(frozen=True, slots=True)
class Staleness:
    """Why a lock no longer matches its inputs; empty reasons mean it is fresh."""

    target: LockTarget
    reasons: tuple[str, ...]


def inputs_of(manifest: Manifest, target: LockTarget) -> list[Path]:
    """Every file a lock is computed from, in a stable order (nested -r/-c files included)."""
    files = list(_with_includes(target.inputs))
    if target.name == "main" and manifest.project is not None:
        files += [manifest.project / n for n in _PROJECT_FILES if (manifest.project / n).is_file()]
    if target.constraint is not None:
        files.append(target.constraint)
    return files


def _with_includes(inputs: Sequence[Path], constraints: bool = True) -> list[Path]:
    found: list[Path] = []
    pending = list(inputs)
    while pending:
        path = pending.pop(0)
        if path in found:
            continue
        found.append(path)
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _INCLUDE.match(line.strip())
            if match and (constraints or match.group(1) in ("-r", "--requirement")):
                pending.append((path.parent / match.group(2)).resolve())
    return found


def record(manifest: Manifest, target: LockTarget, interpreter: Interpreter) -> dict[str, object]:
    """What a lock is made from: its header line, and what ``--check`` compares."""
    return {
        "python": f"{interpreter.path} {interpreter.version}",
        "inputs": {
            shown(manifest, path): sha256_hex(path) if path.is_file() else None
            for path in inputs_of(manifest, target)
        },
    }


def record_line(made_from: dict[str, object]) -> str:
    """The lock's header line that holds *made_from* (:func:`read_record` reads it back)."""
    return f"{RECORD_PREFIX}{json.dumps(made_from, sort_keys=True)}\n"


def build_record(manifest: Manifest, interpreter: Interpreter) -> dict[str, object]:
    """What a build lock is made from: the main lock (whose record covers the project)."""
    return {
        "python": f"{interpreter.path} {interpreter.version}",
        "inputs": {shown(manifest, manifest.requirements): sha256_hex(manifest.requirements)},
    }


def check(
    manifest: Manifest, target: LockTarget, interpreter: Interpreter, markers: Mapping[str, str]
) -> Staleness:
    """Compare a lock with its inputs without touching the network."""
    name = shown(manifest, target.output)
    if not target.output.is_file():
        return Staleness(target, (f"{name} does not exist",))
    # Unreadable, or a line outside the lock grammar: refused (exit 2), fresh or not.
    locked, text = lockfile.read_with_text(
        target.output, project=manifest.project if target.name == "main" else None
    )
    recorded = read_record(text)
    if recorded is None:
        return Staleness(target, (f"{name} was not made by `venvrpm lock` (no input record)",))
    reasons: list[str] = []
    now = record(manifest, target, interpreter)
    if _interpreter_key(recorded.get("python")) != _interpreter_key(now["python"]):
        reasons.append(
            f"{name} was made for {recorded.get('python')}; the manifest's interpreter is {now['python']}"
        )
    old_inputs = recorded.get("inputs", {})
    new_inputs = now["inputs"]
    assert isinstance(new_inputs, dict) and isinstance(old_inputs, dict)
    for path, digest in new_inputs.items():
        if path not in old_inputs:
            reasons.append(f"{path} is a new input, not in {name}")
        elif digest is None:
            reasons.append(f"{path} is missing")
        elif old_inputs[path] != digest:
            reasons.append(f"{path} changed since {name} was made")
    reasons += [f"{path} is no longer an input" for path in old_inputs if path not in new_inputs]
    if target.name == "main":
        reasons += check_build(manifest, interpreter)
    pins = {r.name: r.version for r in locked.requirements}
    for source, req in _direct_requirements(manifest, target):
        if req.marker is not None and not req.marker.evaluate(dict(markers)):
            continue
        key = canonicalize_name(req.name)
        if key not in pins:
            reasons.append(f"{req} (from {source}) is missing from {name}")
        elif req.specifier and not req.specifier.contains(pins[key], prereleases=True):
            reasons.append(f"{req} (from {source}) is not satisfied by {name} ({key}=={pins[key]})")
    return Staleness(target, tuple(reasons))


def check_build(manifest: Manifest, interpreter: Interpreter) -> list[str]:
    """Why the build lock is missing or stale (offline: sdists are known from a wheelhouse)."""
    from venvrpm import buildreqs

    path = buildreqs.lock_path(manifest.requirements)
    name = shown(manifest, path)
    if not path.is_file():
        try:
            who = buildreqs.needs(
                project.read(manifest.project),
                manifest.read_lock(),
                manifest.wheelhouse,
            )
        except LockError:
            return []  # the main lock's own problems are reported already
        return [f"{name} does not exist; {n.what} needs build requirements" for n in who]
    # outside the grammar: refused (exit 2), as build refuses it
    _, text = lockfile.read_with_text(path)
    recorded = read_record(text)
    if recorded is None:
        return [f"{name} was not made by `venvrpm lock` (no input record)"]
    if recorded.get("inputs") != build_record(manifest, interpreter)["inputs"]:
        return [f"{shown(manifest, manifest.requirements)} changed since {name} was made"]
    return []


def _direct_requirements(manifest: Manifest, target: LockTarget) -> list[tuple[str, Requirement]]:
    found: list[tuple[str, Requirement]] = []
    for path in _with_includes(target.inputs, constraints=False):
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            line = re.sub(r"(^|\s)#.*$", "", line).strip()
            if not line or line.startswith("-"):
                continue
            try:
                found.append((shown(manifest, path), Requirement(line)))
            except InvalidRequirement:
                continue
    if target.name == "main" and manifest.project is not None:
        pyproject = manifest.project / "pyproject.toml"
        metadata = project.read(manifest.project)
        if metadata is not None:
            for dep in metadata.dependencies:
                try:
                    found.append((shown(manifest, pyproject), Requirement(dep)))
                except InvalidRequirement:
                    continue
    return found


def read_record(text: str) -> dict[str, object] | None:
    """The record in a lock's first lines (:func:`record_line`); None: not made by venvrpm."""
    for line in text.splitlines()[:5]:
        if line.startswith(RECORD_PREFIX):
            try:
                loaded = json.loads(line[len(RECORD_PREFIX) :])
            except ValueError:
                return None
            return loaded if isinstance(loaded, dict) else None
    return None


def _interpreter_key(value: object) -> tuple[str, str]:
    """Path and minor version: a patch update of the interpreter does not stale a lock."""
    path, _, version = str(value).partition(" ")
    return path, ".".join(version.split(".")[:2])


def shown(manifest: Manifest, path: Path) -> str:
    """*path* relative to the manifest, so a moved tree keeps its lock record."""
    return Path(os.path.relpath(path, manifest.base_dir)).as_posix()
