"""YAML manifest -> JSON Schema validation -> frozen dataclasses.

Raw dictionaries never leave this module. Every problem is reported at once, each with its key
path and YAML line, so a user fixes a manifest in one round instead of one error per run.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import json
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

import jsonschema
import yaml
from packaging.utils import canonicalize_name

from venvrpm import basesystem
from venvrpm.errors import ManifestError, Problem, UsageError, VenvrpmError
from venvrpm.paths import (
    BINDIR,
    SYSTEM_DIRS,
    bad_characters,
    is_normalised_absolute,
    is_within,
    preset_path,
    sysusers_path,
)

if TYPE_CHECKING:
    from venvrpm import lockfile

KeyPath = tuple[str | int, ...]
_ALIAS = "YAML aliases (*name) are not allowed"

# name [op version]; rich (boolean) dependencies are not accepted yet.
_DEPENDENCY = re.compile(
    r"^[A-Za-z0-9_/][A-Za-z0-9_.+/:()-]*"
    r"(\s+(<|<=|=|>=|>)\s+[A-Za-z0-9_.+~^:-]+)?$"
)


ConfigKind = Literal["noreplace", "replace"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ExtraFile:
    """A file from the manifest's ``files`` list."""

    src: Path | None
    """Absolute path of the source on the build host; None for a ghost."""
    dest: PurePosixPath
    """Absolute, normalised path on the target."""
    config: ConfigKind | None = None
    """``%config(noreplace)``, ``%config`` or not config."""
    mode: int | None = None
    """Permission bits, or None for 0644 (0755 for an executable source that is not config)."""
    owner: str | None = None
    group: str | None = None
    doc: bool = False
    ghost: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Link:
    """A ``links`` entry: a symbolic link the package owns, from a system path into the venv."""

    src: PurePosixPath
    """The file in the venv, relative to the prefix (``share/man/man1/http.1``)."""
    dest: PurePosixPath
    """Absolute, normalised path of the link on the target."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OwnedDir:
    """A directory from ``dirs``."""

    path: PurePosixPath
    mode: int | None = None
    owner: str | None = None
    group: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class SystemUser:
    """The ``user`` created in %pre when missing."""

    name: str
    group: str
    home: str = "/"
    shell: str = "/usr/sbin/nologin"
    comment: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Service:
    """A systemd unit from ``services``."""

    unit: str
    enable: Literal["preset", "yes", "no"] = "preset"


@dataclass(frozen=True, kw_only=True, slots=True)
class ChangelogEntry:
    """One ``changelog`` entry."""

    date: datetime.date
    author: str
    version: str | None
    text: str


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditIgnore:
    """One ``audit.ignore`` entry: an accepted finding, its id (or an alias), why, until when."""

    id: str
    reason: str
    expires: datetime.date
    """The last day it hides the finding; after it, the finding is reported again."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Relations:
    """Extra RPM dependency tags."""

    conflicts: tuple[str, ...] = ()
    obsoletes: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    recommends: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class LockTarget:
    """One lock ``venvrpm lock`` makes: ``main`` (the shipped one) or a named environment."""

    name: str
    inputs: tuple[Path, ...]
    """Requirement files; for ``main`` the project's own dependencies are added."""
    output: Path
    constraint: Path | None
    """The main lock, for environments: shared dependencies keep its versions."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ProjectTests:
    """What ``venvrpm test`` runs."""

    command: tuple[str, ...]
    environment: str | None
    """The lock environment that adds the test tools."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildEnvironment:
    """Where the venv is built (the manifest's ``build`` section)."""

    kind: Literal["host", "container", "rootfs"]
    image: str | None = None
    rootfs: Path | None = None
    engine: Literal["auto", "podman", "docker"] = "auto"
    run_args: tuple[str, ...] = ()
    installer: Literal["pip", "uv"] = "pip"
    requires: tuple[str, ...] = ()
    """``build.requires``: system packages (RPM dependencies) or absolute paths the build needs
    where it runs (a compiler, headers, ``pg_config``); the SRPM's BuildRequires."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """One ``targets`` entry: where one of the manifest's RPMs is built, and for what."""

    name: str
    build: BuildEnvironment
    """The top-level ``build`` with the target's rootfs or container as where it runs."""
    python: PurePosixPath
    """The target's interpreter (the top-level ``python`` unless the target names one)."""
    dist: str
    """Appended to the release (``.el9``)."""
    arch: str | None
    """The RPM's architecture as given, or None for this host's."""
    install: str = "target"
    """``install``: ``target`` (the target's interpreter runs virtualenv, pip and the bytecode
    compiler) or ``host`` (venvrpm unpacks the locked wheels on this host: docs/targets.md)."""
    requirements: Path
    """The target's lock: given, or derived from the top-level name (:func:`target_lock`)."""


UNRESOLVED_VERSION = "0"
"""``version`` while ``version: {from: NAME}`` has no lock to read: never built (require_version)."""

# rpm.compression when a manifest gives none (the schema's "default" says it too; a test
# holds them together).
DEFAULT_COMPRESSION: tuple[str, int] = ("zstd", 3)


@dataclass(frozen=True, kw_only=True, slots=True)
class Manifest:
    """A validated manifest. Paths on the build host are absolute."""

    source: Path
    name: str
    version: str
    release: str
    summary: str
    license: str
    description: str
    url: str | None
    python: PurePosixPath
    """Interpreter that builds the virtualenv; also the RPM's interpreter Requires."""
    project: Path | None
    requirements: Path
    wheelhouse: Path | None
    prefix: PurePosixPath
    entry_points: tuple[str, ...]
    files: tuple[ExtraFile, ...]
    requires: tuple[str, ...]
    locks: tuple[LockTarget, ...] = ()
    """What ``venvrpm lock`` makes, main first; empty when there is nothing to resolve."""
    lock_resolver: Literal["pip-tools", "uv"] = "pip-tools"
    """``lock.resolver``: pip-compile under the target interpreter, or uv for its version."""
    tests: ProjectTests | None = None
    build: BuildEnvironment = BuildEnvironment(kind="host")
    dirs: tuple[OwnedDir, ...] = ()
    user: SystemUser | None = None
    services: tuple[Service, ...] = ()
    scripts: tuple[tuple[str, str], ...] = ()
    """(scriptlet, shell text) appended after venvrpm's own."""
    relations: Relations = Relations()
    changelog: tuple[ChangelogEntry, ...] = ()
    audit_ignores: tuple[AuditIgnore, ...] = ()
    """``audit.ignore``: what ``venvrpm audit`` of this manifest accepts."""
    vendor: str | None = None
    packager: str | None = None
    group: str | None = None
    compression: tuple[str, int] = DEFAULT_COMPRESSION
    """Payload compression algorithm (zstd, xz, gzip) and level."""
    links: tuple[Link, ...] = ()
    """Links from system paths (man pages, completions) to files in the venv."""
    version_from: str | None = None
    """``version: {from: NAME}``: the canonical name whose locked version is ``version``."""
    version_problem: Problem | None = None
    """Why ``version_from`` could not be resolved (``version`` is then UNRESOLVED_VERSION);
    loading still succeeds so that ``venvrpm lock`` can write the lock it needs."""
    targets: tuple[Target, ...] = ()
    """``targets``: one RPM each (:func:`for_target`); empty for a single-RPM manifest."""
    target: str | None = None
    """The target this manifest was derived for (:func:`for_target`), else None."""
    arch: str | None = None
    """The target's ``arch``: rpmbuild packs for it (``--target``); None for the host's."""
    install: str = "target"
    """The target's ``install`` (:class:`Target`): ``host`` installs the locked wheels without
    running the target's interpreter (venvrpm.hostinstall)."""

    def lock_target(self, name: str) -> LockTarget | None:
        """The lock called *name* (``main`` or an environment)."""
        return next((t for t in self.locks if t.name == name), None)

    def read_lock(self) -> lockfile.Lock:
        """The main lock as every command reads it: the project's own line (``-e .``, a
        pylock's ``directory`` package) skipped, as venvrpm builds the project itself."""
        from venvrpm import lockfile

        return lockfile.read(self.requirements, project=self.project)

    @property
    def base_dir(self) -> Path:
        """The manifest's directory: relative paths resolve against it."""
        return self.source.parent


@cache
def schema() -> dict[str, Any]:
    """The manifest JSON Schema shipped with the package."""
    text = resources.files("venvrpm").joinpath("schema/manifest.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def schema_text() -> str:
    """The schema as printed by ``venvrpm schema``."""
    return json.dumps(schema(), indent=2) + "\n"


def load(path: Path) -> Manifest:
    """Read, validate and convert the manifest at *path*; raise ManifestError listing everything."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"manifest not found: {path}", "give the path of an app.yaml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read manifest {path}: {exc}") from None
    return parse(text, path.resolve())


def parse(text: str, source: Path) -> Manifest:
    """Validate manifest *text* (read from *source*) and build the Manifest."""
    data, lines = _load_yaml(text, source)
    characters = _character_problems(data, (), lines)
    # One problem per value: a value refused for its characters is not also reported by the
    # schema or the later checks (which would only say the same less clearly).
    refused = {p.path for p in characters}
    problems = _schema_problems(data, lines)
    if problems:
        shown = [p for p in problems if p.path not in refused]
        raise ManifestError(str(source), _sorted(characters + shown))
    manifest, problems = _convert(data, lines, source)
    if characters:
        # and none about a value the manifest does not hold, derived from a refused one
        # (the default prefix /opt/<name> of a refused name)
        written = {_dotted(key_path) for key_path in lines}
        problems = [p for p in problems if p.path not in refused and p.path in written]
    if manifest is None or characters:
        raise ManifestError(str(source), _sorted(characters + problems))
    return manifest


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.path, p.message))


# --- YAML with line numbers -------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe YAML, but dates stay the text the user wrote (the schema checks them)."""


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(node.value)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def _load_yaml(text: str, source: Path) -> tuple[Any, dict[KeyPath, int]]:
    try:
        # the reader checks characters already in the constructor
        loader = _Loader(text)
    except yaml.YAMLError as exc:
        raise ManifestError(str(source), [Problem("", None, f"not valid YAML: {exc}")]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise ManifestError(str(source), [Problem("", 1, "the manifest is empty")])
        lines: dict[KeyPath, int] = {}
        structural: list[Problem] = []
        _index(node, (), lines, structural)
        aliases = [p for p in structural if p.message == _ALIAS]
        if aliases:
            first = aliases[0]
            many = f" ({len(aliases)} in the document)" if len(aliases) > 1 else ""
            structural = [p for p in structural if p.message != _ALIAS]
            structural.insert(0, Problem(first.path, first.line, _ALIAS + many))
        if structural:
            raise ManifestError(str(source), structural)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = f"not valid YAML: {exc.problem or exc.context}"
        raise ManifestError(str(source), [Problem("", line, message)]) from None
    except yaml.YAMLError as exc:
        raise ManifestError(str(source), [Problem("", None, f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if isinstance(data, dict) and isinstance(node, yaml.MappingNode):
        # YAML reads `version: 1.10` as the float 1.1 and `release: 01` as 1: keep what the
        # user wrote for the fields where digits are text.
        for key_node, value_node in node.value:
            if (
                key_node.value in ("version", "release")
                and isinstance(value_node, yaml.ScalarNode)
                and value_node.tag.endswith((":int", ":float"))
            ):
                data[key_node.value] = value_node.value
    return data, lines


def _index(
    node: yaml.Node,
    path: KeyPath,
    lines: dict[KeyPath, int],
    problems: list[Problem],
    seen_nodes: set[int] | None = None,
) -> None:
    """Map key paths to lines; refuse duplicate keys, non-string keys and aliases."""
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:
        # An alias (*name): reused node. Refused, because aliases allow recursive documents
        # and exponential "billion laughs" expansion, and a manifest never needs them.
        problems.append(Problem(_dotted(path), node.start_mark.line + 1, _ALIAS))
        return
    seen_nodes.add(id(node))
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                shown = (
                    key_node.value if isinstance(key_node, yaml.ScalarNode) else "(a collection)"
                )
                problems.append(
                    Problem(_dotted(path), line, f"key {shown!r} is not a plain string")
                )
                continue
            key = key_node.value
            child = (*path, key)
            if key in seen:
                problems.append(Problem(_dotted(child), line, "key given twice"))
            seen.add(key)
            lines[child] = line
            _index(value_node, child, lines, problems, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines, problems, seen_nodes)


def _dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        # a key with a line break or an escape sequence is shown quoted, never raw
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = part if part.isprintable() else repr(part)
        out += f".{text}" if out else text
    return out


def _line(lines: Mapping[KeyPath, int], path: KeyPath) -> int | None:
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return lines[path[:cut]]
    return None


# --- characters ---------------------------------------------------------------------------------

# Characters that end a line for someone: rpm's spec parser and the shell (\n, \r), Python's
# str.splitlines and editors (\v, \f, \x1c-\x1e, NEL, U+2028, U+2029).
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def _is_multi_line(path: KeyPath) -> bool:
    """The only values that may span lines: description, scripts.*, changelog[].text."""
    return (
        path == ("description",)
        or (len(path) == 2 and path[0] == "scripts")
        or (len(path) == 3 and path[0] == "changelog" and path[2] == "text")
    )


def _bad_characters(text: str, multi_line: bool) -> list[str]:
    """Control characters (C0, DEL, C1) and line separators; tab and newline in multi-line text."""
    allowed = "\n\t" if multi_line else ""
    return sorted({
        ch for ch in text
        if ch not in allowed and (unicodedata.category(ch) == "Cc" or ch in _LINE_BREAKS)
    })  # fmt: skip


def _character_problems(value: Any, path: KeyPath, lines: dict[KeyPath, int]) -> list[Problem]:
    """Every string of the document, keys included, that holds characters it may not.

    JSON Schema patterns are matched with re.search, where ``$`` also matches before a final
    newline, so ``^[a-z]+$`` lets "svc\\n" through; and most strings have no pattern at all.
    This pass covers every string whatever the schema says: a single-line value (all but
    description, scripts and changelog text) holds no line break and no control character,
    and multi-line text no control character but newline and tab.
    """
    if isinstance(value, dict):
        problems: list[Problem] = []
        for key, child in value.items():
            if isinstance(key, str) and _bad_characters(key, multi_line=False):
                # the key is shown quoted in the path, never raw
                child_path = (*path, key)
                problems.append(Problem(_dotted(child_path), _line(lines, child_path), "the key "
                                        "holds a line break or a control character: keys are plain words"))  # fmt: skip
            else:
                problems.extend(_character_problems(child, (*path, key), lines))
        return problems
    if isinstance(value, list):
        return [
            p for i, item in enumerate(value) for p in _character_problems(item, (*path, i), lines)
        ]
    if not isinstance(value, str):
        return []
    multi_line = _is_multi_line(path)
    bad = _bad_characters(value, multi_line)
    if not bad:
        return []
    where, line = _dotted(path), _line(lines, path)
    shown = repr(value if len(value) <= 60 else value[:57] + "...")
    listed = ", ".join(repr(ch) for ch in bad)
    if multi_line:
        return [Problem(where, line, f"{shown} holds a control character ({listed}): "
                        "text may hold only newlines and tabs")]  # fmt: skip
    if _LINE_BREAKS.intersection(bad):
        return [Problem(where, line, f"{shown} holds a line break: this value is one line "
                        "(only description, scripts and changelog text span lines)")]  # fmt: skip
    return [Problem(where, line, f"{shown} holds a control character ({listed}): "
                    "a value is printable text")]  # fmt: skip


# --- schema ---------------------------------------------------------------------------------------


def _schema_problems(data: Any, lines: dict[KeyPath, int]) -> list[Problem]:
    validator = jsonschema.Draft202012Validator(schema())
    problems: list[Problem] = []
    for error in validator.iter_errors(data):
        path: KeyPath = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = sorted(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - set(known), key=str):
                problems.append(_unknown_key(path, key, known, lines))
            continue
        problems.append(Problem(_dotted(path), _line(lines, path), _describe(error)))
    problems.sort(key=lambda p: (p.line or 0, p.path, p.message))
    return problems


def _unknown_key(
    path: KeyPath, key: object, known: list[str], lines: dict[KeyPath, int]
) -> Problem:
    child = (*path, str(key))
    message = f"unknown key {str(key)!r}"
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    if close:
        message += f"; did you mean {close[0]!r}?"
    else:
        message += f"; known keys: {', '.join(known)}"
    return Problem(_dotted(child), _line(lines, child), message)


def _describe(error: jsonschema.ValidationError) -> str:
    about = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator in ("pattern", "oneOf", "anyOf", "enum") and about:
        return f"{error.instance!r} is not allowed here: {about}"
    if error.validator == "type":
        expected = error.validator_value
        names = [str(n) for n in (expected if isinstance(expected, list) else [expected])]
        message = (
            f"{error.instance!r} is a {_yaml_type(error.instance)}, expected {' or '.join(names)}"
        )
        if "string" in names and isinstance(error.instance, (int, float)):
            message += " (quote it)"
        return message
    return str(error.message)


def _yaml_type(value: object) -> str:
    return {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "list",
        dict: "mapping",
        type(None): "null",
    }.get(type(value), type(value).__name__)


# --- semantic checks and conversion ----------------------------------------------------------


class _Checker:
    """Collects semantic problems with their lines while the dataclasses are built."""

    def __init__(self, lines: dict[KeyPath, int], base: Path) -> None:
        self.lines = lines
        self.base = base
        self.problems: list[Problem] = []

    def fail(self, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(_dotted(path), _line(self.lines, path), message))

    def host_path(
        self, path: KeyPath, value: str, kind: str, *, inside: bool = False
    ) -> Path | None:
        """*value* resolved against the manifest's directory, or None after a failure.

        With *inside*, the path must stay in that directory, spelled (no absolute path, no
        '..' leading out) and resolved (no symlink leading out): what gets shipped.
        """
        if bad_characters(value):
            self.fail(path, f"{value!r} contains control characters")
            return None
        if inside and not Path(os.path.normpath(self.base / value)).is_relative_to(self.base):
            self.fail(
                path,
                f"{value!r} is outside the manifest's directory {self.base}: "
                "ship only files of the project (copy the file next to the manifest)",
            )
            return None
        try:
            resolved = (self.base / value).resolve()
            is_file, is_dir = resolved.is_file(), resolved.is_dir()
        except (OSError, RuntimeError) as exc:  # name too long, symlink loop, ...
            self.fail(path, f"{value!r} cannot be used: {exc}")
            return None
        literal = Path(os.path.normpath(self.base / value))
        if literal.is_relative_to(self.base) and not resolved.is_relative_to(self.base.resolve()):
            # a symlink inside the project that leads out of it: never ship what it points at
            self.fail(path, f"{value!r} is a symlink leading outside {self.base} (to {resolved})")
            return None
        if kind == "file" and not is_file:
            self.fail(path, f"{value!r} is not a file ({resolved})")
        elif kind == "dir" and not is_dir:
            self.fail(path, f"{value!r} is not a directory ({resolved})")
        else:
            return resolved
        return None

    def target_file(self, path: KeyPath, value: str, *, linked_out: bool = False) -> Path:
        """A file venvrpm writes or reads later (a lock): it need not exist yet. *linked_out*:
        a link in the project may lead out of it (a wheelhouse: its files count by hash)."""
        if bad_characters(value):
            self.fail(path, f"{value!r} contains control characters")
        try:
            resolved = (self.base / value).resolve()
        except (OSError, RuntimeError, ValueError) as exc:
            self.fail(path, f"{value!r} cannot be used: {exc}")
            return self.base / "invalid"
        literal = Path(os.path.normpath(self.base / value))
        if (
            not linked_out
            and literal.is_relative_to(self.base)
            and not resolved.is_relative_to(self.base.resolve())
        ):
            # a link in the project leading out of it: every later read (no link followed) would
            # see the file it leads to, and quote its lines; `venvrpm lock` would write there
            self.fail(path, f"{value!r} is a symlink leading outside {self.base} (to {resolved})")
        return resolved

    def target_path(self, path: KeyPath, value: str) -> PurePosixPath | None:
        bad = bad_characters(value)
        if bad:
            self.fail(path, f"{value!r} contains characters RPM cannot carry: {', '.join(bad)}")
        elif not is_normalised_absolute(value):
            self.fail(
                path, f"{value!r} must be absolute and normalised (no '..', '//' or trailing '/')"
            )
        else:
            return PurePosixPath(value)
        return None


_SYSTEM_DIRECTORY = "is a system directory"


def prefix_refusal(prefix: PurePosixPath) -> str | None:
    """Why *prefix* (absolute, normalised) cannot hold a venv, or None: the one rule for a
    manifest's ``prefix`` and for the venvs ``venvrpm lint`` trusts in a received RPM."""
    if prefix in SYSTEM_DIRS or len(prefix.parts) < 3:
        return _SYSTEM_DIRECTORY
    return basesystem.refusal(prefix, directory=True)


def _convert(
    data: dict[str, Any], lines: dict[KeyPath, int], source: Path
) -> tuple[Manifest | None, list[Problem]]:
    check = _Checker(lines, source.parent)
    name: str = data["name"]
    release = str(data.get("release", 1))

    python = check.target_path(("python",), data["python"])

    prefix_text = data.get("prefix", f"/opt/{name}")
    prefix = check.target_path(("prefix",), prefix_text)
    if prefix is not None and (why := prefix_refusal(prefix)):
        hint = (
            "a directory of the app's own, like" if why == _SYSTEM_DIRECTORY else "a directory like"
        )
        check.fail(("prefix",), f"{prefix_text!r} {why}; use {hint} /opt/{name}")
        prefix = None

    project = None
    if "project" in data:
        project = check.host_path(("project",), data["project"], "dir")
        if project and not (
            (project / "pyproject.toml").is_file() or (project / "setup.py").is_file()
        ):
            check.fail(("project",), f"{data['project']!r} has no pyproject.toml or setup.py")
    # The lock may not exist yet (`venvrpm lock` writes it); building without it says so.
    requirements = check.target_file(("requirements",), data["requirements"])
    version_from = version_problem = None
    if isinstance(data["version"], dict):
        version_from = canonicalize_name(data["version"]["from"])
        version, why = locked_version(version_from, requirements, project)
        if why is not None:
            version_problem = Problem("version.from", _line(lines, ("version", "from")), why)
    else:
        version = str(data["version"])
        if version.startswith(".") or ".." in version:
            check.fail(("version",), f"{version!r} is not a usable RPM version")
    wheelhouse = None
    if "wheelhouse" in data:
        # `venvrpm fetch` fills it, so it may not exist yet; builds say when it is missing.
        wheelhouse = check.target_file(("wheelhouse",), data["wheelhouse"], linked_out=True)

    entry_points = tuple(data.get("entry_points", ()))
    links = {BINDIR / ep for ep in entry_points}
    for i, ep in enumerate(entry_points):
        # a link named python3 or sudo would replace the system's own
        if why := basesystem.refusal(BINDIR / ep, directory=False):
            check.fail(
                ("entry_points", i),
                f"{ep!r} would be {BINDIR / ep}, which {why} (see docs/manifest.md)",
            )
    generated = generated_paths(data["name"])
    files = tuple(_files(check, data.get("files", []), prefix, links, generated))
    dirs = tuple(_dirs(check, data.get("dirs", []), prefix, {f.dest for f in files}))
    venv_links = tuple(
        _links(check, data.get("links", []), prefix, links, files, {d.path for d in dirs},
               generated)
    )  # fmt: skip

    requires = tuple(data.get("requires", ()))
    for i, req in enumerate(requires):
        if not _DEPENDENCY.match(req):
            check.fail(
                ("requires", i), f"{req!r} is not an RPM dependency ('name' or 'name >= version')"
            )

    description = data.get("description", data["summary"])
    _no_directive_lines(check, ("description",), description)
    for section, text in data.get("scripts", {}).items():
        _no_directive_lines(check, ("scripts", section), text)

    build = _build(check, data.get("build", {}), targets="targets" in data)
    targets: tuple[Target, ...] = ()
    if "targets" in data and python is not None:
        targets = _targets(check, data["targets"], data.get("build", {}), build, python,
                           requirements)  # fmt: skip
    user = _user(data.get("user"))
    services = tuple(_services(check, data.get("services", []), files))
    relations = Relations(**{
        key: tuple(_checked_dependencies(check, key, data.get(key, [])))
        for key in ("conflicts", "obsoletes", "provides", "recommends")
    })  # fmt: skip
    changelog = tuple(_changelog(check, data.get("changelog", [])))
    audit_ignores = tuple(_audit_ignores(check, data.get("audit", {}).get("ignore", [])))
    locks = _locks(check, data.get("lock", {}), requirements, project)
    given = data.get("rpm", {}).get("compression")
    compression = DEFAULT_COMPRESSION if given is None else _compression(check, given)
    tests = _tests(check, data.get("test"), locks)

    if check.problems or python is None or prefix is None:
        return None, sorted(check.problems, key=lambda p: (p.line or 0, p.path))
    manifest = Manifest(
        source=source,
        name=name,
        version=version,
        release=release,
        summary=data["summary"],
        license=data["license"],
        description=description,
        url=data.get("url"),
        python=python,
        project=project,
        requirements=requirements,
        wheelhouse=wheelhouse,
        prefix=prefix,
        entry_points=entry_points,
        files=files,
        requires=requires,
        locks=locks,
        lock_resolver=data.get("lock", {}).get("resolver", "pip-tools"),
        tests=tests,
        build=build,
        dirs=dirs,
        user=user,
        services=services,
        scripts=tuple((k, v) for k, v in data.get("scripts", {}).items() if v.strip()),
        relations=relations,
        changelog=changelog,
        audit_ignores=audit_ignores,
        vendor=data.get("vendor"),
        packager=data.get("packager"),
        group=data.get("group"),
        compression=compression,
        links=venv_links,
        version_from=version_from,
        version_problem=version_problem,
        targets=targets,
    )
    return manifest, []


def target_lock(requirements: Path, target: str) -> Path:
    """A target's lock when it names none: the target's name before the suffix, so the locks
    sort together (``requirements.txt`` -> ``requirements.el9.txt``; ``pylock.toml`` ->
    ``pylock.el9.toml``, a PEP 751 name)."""
    return requirements.with_name(f"{requirements.stem}.{target}{requirements.suffix}")


def _targets(
    check: _Checker,
    items: list[dict[str, Any]],
    config: dict[str, Any],
    build: BuildEnvironment,
    python: PurePosixPath,
    requirements: Path,
) -> tuple[Target, ...]:
    """``targets``: each builds in exactly one root or container, with the top-level ``build``
    settings (installer, requires, engine, run_args) otherwise; names and RPM file names unique."""
    if "container" in config or "rootfs" in config:
        given = "build.container" if "container" in config else "build.rootfs"
        check.fail(("targets",), f"{given} and targets both say where the build runs: give "
                   "each target its rootfs or container, and drop it from build")  # fmt: skip
    found: list[Target] = []
    names: dict[str, int] = {}
    rpms: dict[tuple[str, str | None], int] = {}
    for i, item in enumerate(items):
        path: KeyPath = ("targets", i)
        name = item["name"]
        if name in names:
            check.fail((*path, "name"), f"{name!r} is already the name of targets[{names[name]}]")
        names.setdefault(name, i)
        key = (item["dist"], item.get("arch"))
        if key in rpms:
            check.fail((*path, "dist"), f"{item['dist']!r} is already the dist of "
                       f"targets[{rpms[key]}] for the same arch: the two RPMs would have one "
                       "file name")  # fmt: skip
        rpms.setdefault(key, i)
        if ("rootfs" in item) == ("container" in item):
            check.fail(path, "give exactly one of rootfs and container: where this target builds")
            continue
        env = build
        if "container" in item:
            env = dataclasses.replace(build, kind="container", image=item["container"])
        else:
            root = check.host_path((*path, "rootfs"), item["rootfs"], "dir")
            if root is not None and root == Path("/"):
                check.fail((*path, "rootfs"), "the root of this host is not a build root")
            env = dataclasses.replace(build, kind="rootfs", rootfs=root)
        target_python = python
        if "python" in item:
            target_python = check.target_path((*path, "python"), item["python"]) or python
        # the derived name is checked as a given one is (no link leading out of the project)
        given = item.get("requirements") or os.path.relpath(target_lock(requirements, name),
                                                            check.base)  # fmt: skip
        lock = check.target_file((*path, "requirements"), given)
        found.append(Target(name=name, build=env, python=target_python, dist=item["dist"],
                            arch=item.get("arch"), install=item.get("install", "target"),
                            requirements=lock))  # fmt: skip
    return tuple(found)


def for_target(manifest: Manifest, target: Target) -> Manifest:
    """The manifest of one target's RPM: its interpreter, where it builds, its lock, its
    release; the version read from its lock with ``version: {from: NAME}``.

    Only the main lock is the target's: ``lock.environments`` (test tools) stay the top-level
    build's, so a target's manifest has none and no ``test``.
    """
    version, problem = manifest.version, manifest.version_problem
    if manifest.version_from is not None:
        version, why = locked_version(manifest.version_from, target.requirements,
                                      manifest.project)  # fmt: skip
        problem = None if why is None else Problem(
            f"targets.{target.name}", None, why
        )  # fmt: skip
    main = manifest.lock_target("main")
    locks = () if main is None else (dataclasses.replace(main, output=target.requirements),)
    return dataclasses.replace(
        manifest, python=target.python, build=target.build, requirements=target.requirements,
        release=manifest.release + target.dist, version=version, version_problem=problem,
        locks=locks, tests=None, targets=(), target=target.name, arch=target.arch,
        install=target.install,
    )  # fmt: skip


# Levels rpm's compressors accept (zstd's 20-22 need --ultra, which rpm does not pass).
_LEVELS = {"zstd": (1, 19), "xz": (0, 9), "gzip": (1, 9)}


def _compression(check: _Checker, value: str) -> tuple[str, int]:
    algorithm, _, level_text = value.partition(":")
    low, high = _LEVELS.get(algorithm, (0, 0))
    level = int(level_text) if level_text else {"zstd": 3, "xz": 6, "gzip": 9}.get(algorithm, 0)
    if not low <= level <= high:
        check.fail(("rpm", "compression"), f"{algorithm} levels go from {low} to {high}")
    return algorithm, level


def _build(check: _Checker, config: dict[str, Any], *, targets: bool = False) -> BuildEnvironment:
    if "container" in config and "rootfs" in config:
        check.fail(("build",), "give either build.container or build.rootfs, not both")
    run_args = tuple(config.get("run_args", ()))
    _check_run_args(check, run_args)
    engine = config.get("engine", "auto")
    installer = config.get("installer", "pip")
    requires = _build_requires(check, config.get("requires", []))
    if "container" in config:
        return BuildEnvironment(
            kind="container", image=config["container"], engine=engine, run_args=run_args,
            installer=installer, requires=requires,
        )  # fmt: skip
    if "rootfs" in config:
        root = check.host_path(("build", "rootfs"), config["rootfs"], "dir")
        if root is not None and root == Path("/"):
            check.fail(
                ("build", "rootfs"),
                "the root of this host is not a build root; omit build for host builds",
            )
        return BuildEnvironment(kind="rootfs", rootfs=root, installer=installer, requires=requires)
    if (run_args or "engine" in config) and not targets:  # with targets: their containers'
        check.fail(("build",), "engine and run_args only apply with build.container")
    return BuildEnvironment(kind="host", installer=installer, requires=requires)


# One RPM dependency on one line: a name (or an absolute path) and an optional version, single
# spaces only: the value becomes a BuildRequires line, and a newline or a macro (%) would add
# spec text of the manifest's choosing.
_BUILD_REQUIRE = re.compile(
    r"[A-Za-z0-9_/][A-Za-z0-9_.+/:()-]*( (<|<=|=|>=|>) [A-Za-z0-9_.+~^:-]+)?"
)


def _build_requires(check: _Checker, values: list[Any]) -> tuple[str, ...]:
    """``build.requires``, each an RPM dependency (the whole string: no newline, no ``%``)."""
    found: list[str] = []
    for i, value in enumerate(values):
        if not isinstance(value, str):
            continue  # the schema said so
        if not _BUILD_REQUIRE.fullmatch(value):
            check.fail(("build", "requires", i),
                       f"{value!r} is not an RPM dependency: 'name', 'name >= version' (one "
                       "space each side) or an absolute path like /usr/bin/pg_config")  # fmt: skip
        elif value.startswith("/") and {"", ".", ".."} & set(value.split(" ")[0][1:].split("/")):
            check.fail(("build", "requires", i), f"{value!r}: give a normalised absolute path")
        else:
            found.append(value)
    return tuple(found)


_SIZE = r"[0-9]+[bkmgBKMG]?"
RUN_ARGS: dict[str, str] = {
    "--memory": _SIZE,
    "--memory-reservation": _SIZE,
    "--memory-swap": rf"-1|{_SIZE}",
    "--shm-size": _SIZE,
    "--cpus": r"[0-9]+(\.[0-9]+)?",
    "--cpu-shares": r"[0-9]+",
    "--cpuset-cpus": r"[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*",
    "--pids-limit": r"-1|[0-9]+",
    "--ulimit": r"[a-z]+=(-1|[0-9]+)(:(-1|[0-9]+))?",
    # a name the engine's configuration maps to a runtime; a path would run any host binary
    "--runtime": r"runc|crun|runsc|kata|krun|youki",
    "--platform": r"[a-z0-9_]+/[a-z0-9_]+(/[a-z0-9_]+)?",
}
"""``build.run_args`` venvrpm passes to ``podman run`` / ``docker run``, with the pattern of their
values: limits on what the build may use, never a way out of the container."""

# Why the options that come up most are refused (anything else unknown is refused too).
_REFUSED = {
    "--privileged": "it gives the container the host's devices and every capability",
    "-v": "a mount shows the host's files to the build",
    "--volume": "a mount shows the host's files to the build",
    "--mount": "a mount shows the host's files to the build",
    "--tmpfs": "venvrpm decides what the build's filesystem holds",
    "--volumes-from": "a mount shows the host's files to the build",
    "--device": "it gives the container a device of the host",
    "--cap-add": "it gives the container capabilities of the host's root",
    "--security-opt": "it turns off the container's confinement",
    "--entrypoint": "venvrpm decides what runs in the container",
    "--user": "venvrpm decides who runs in the container",
    "-u": "venvrpm decides who runs in the container",
    "--pid": "it shares a namespace of the host",
    "--ipc": "it shares a namespace of the host",
    "--uts": "it shares a namespace of the host",
    "--userns": "it shares a namespace of the host",
    "--cgroupns": "it shares a namespace of the host",
    "--network": "venvrpm decides the network (none with a wheelhouse)",
    "--net": "venvrpm decides the network (none with a wheelhouse)",
    "--env": "venvrpm sets the build's environment itself",
    "-e": "venvrpm sets the build's environment itself",
    "--env-file": "venvrpm sets the build's environment itself",
}


def _check_run_args(check: _Checker, args: tuple[str, ...]) -> None:
    """Each of *args* an option of :data:`RUN_ARGS` with a value of its pattern, as
    ``--opt=value`` or ``--opt value``: what reaches the engine can limit the build, never
    mount the host, widen privileges or replace what runs (venvrpm runs as root)."""
    i = 0
    while i < len(args):
        arg, where = args[i], ("build", "run_args", i)
        name, equals, value = arg.partition("=")
        i += 1
        if name in _REFUSED:
            check.fail(where, f"{arg!r} is refused: {_REFUSED[name]}")
            if not equals and i < len(args) and not args[i].startswith("-"):
                i += 1  # its value: one problem per option
            continue
        if name not in RUN_ARGS:
            if not arg.startswith("-"):
                check.fail(
                    where, f"{arg!r} is not an option (the engine would take it for the image)"
                )
            else:
                check.fail(where, f"{arg!r} is not an option venvrpm passes on; allowed: "
                           f"{', '.join(sorted(RUN_ARGS))}")  # fmt: skip
            continue
        if not equals:
            if i == len(args):
                check.fail(where, f"{arg!r} needs a value")
                continue
            value, i = args[i], i + 1
        if re.fullmatch(RUN_ARGS[name], value) is None:
            check.fail(where, f"{arg!r}: {value!r} is not a value of {name}")


def _locks(
    check: _Checker, config: dict[str, Any], requirements: Path, project: Path | None
) -> tuple[LockTarget, ...]:
    inputs = tuple(
        p
        for i, value in enumerate(config.get("inputs", []))
        if (p := check.host_path(("lock", "inputs", i), value, "file")) is not None
    )
    if not inputs and project is None:
        if config.get("environments"):
            check.fail(("lock",), "environments need a main lock: give lock.inputs or project")
        return ()
    targets = [LockTarget(name="main", inputs=inputs, output=requirements, constraint=None)]
    outputs = {requirements: "requirements"}
    for name, env in sorted(config.get("environments", {}).items()):
        path = ("lock", "environments", name)
        env_inputs = tuple(
            p
            for i, value in enumerate(env["inputs"])
            if (p := check.host_path((*path, "inputs", i), value, "file")) is not None
        )
        output = check.target_file((*path, "output"), env["output"])
        if output in outputs:
            check.fail(
                (*path, "output"), f"{env['output']!r} is already the output of {outputs[output]}"
            )
        outputs[output] = f"lock.environments.{name}"
        targets.append(
            LockTarget(name=name, inputs=env_inputs, output=output, constraint=requirements)
        )
    return tuple(targets)


def _tests(
    check: _Checker, config: dict[str, Any] | None, locks: tuple[LockTarget, ...]
) -> ProjectTests | None:
    if config is None:
        return None
    environments = [t.name for t in locks if t.name != "main"]
    chosen = config.get("environment")
    if chosen is None:
        chosen = (
            "dev"
            if "dev" in environments
            else (environments[0] if len(environments) == 1 else None)
        )
    elif chosen not in environments:
        known = ", ".join(environments) or "none defined under lock.environments"
        check.fail(("test", "environment"), f"{chosen!r} is not a lock environment ({known})")
    return ProjectTests(command=tuple(config["command"]), environment=chosen)


def generated_paths(package: str) -> set[PurePosixPath]:
    """The files venvrpm itself ships outside the prefix for *package*: the bundled list, the
    SBOM, the services' preset (when there are services to preset), the sysusers.d file (when
    there is a user)."""
    doc = PurePosixPath("/usr/share/doc") / package
    return {doc / "bundled-distributions.json", doc / "sbom.cdx.json", preset_path(package),
            sysusers_path(package)}  # fmt: skip


def _files(
    check: _Checker,
    items: list[dict[str, Any]],
    prefix: PurePosixPath | None,
    links: set[PurePosixPath],
    generated: set[PurePosixPath],
) -> Iterator[ExtraFile]:
    seen: dict[PurePosixPath, int] = {}
    for i, item in enumerate(items):
        ghost = bool(item.get("ghost", False))
        src = None
        if "src" in item:
            src = check.host_path(("files", i, "src"), item["src"], "file", inside=True)
            if ghost:
                check.fail(("files", i, "src"), "a ghost is not shipped: give no src")
        elif not ghost:
            check.fail(("files", i), "'src' is a required property (only a ghost has none)")
        dest = check.target_path(("files", i, "dest"), item["dest"])
        mode = int(item["mode"], 8) if "mode" in item else None
        if mode is not None and mode & 0o002:
            check.fail(
                ("files", i, "mode"), f"{item['mode']!r} is world-writable; refusing to ship that"
            )
        if dest is None:
            continue
        if why := _dest_refusal(dest, prefix):
            check.fail(("files", i, "dest"), f"{str(dest)!r} {why}")
        elif made := next((g for g in sorted(generated) if is_within(g, dest)), None):
            check.fail(("files", i, "dest"), f"{str(dest)!r} would replace {made}, which "
                       "venvrpm generates")  # fmt: skip
        elif dest in links:
            check.fail(("files", i, "dest"), f"{str(dest)!r} is also an entry point link")
        elif dest in seen:
            check.fail(
                ("files", i, "dest"), f"{str(dest)!r} is already the dest of files[{seen[dest]}]"
            )
        seen.setdefault(dest, i)
        config = item.get("config", False)
        kind: ConfigKind | None = "noreplace" if config is True else (config or None)
        yield ExtraFile(
            src=src, dest=dest, config=kind, mode=mode, owner=item.get("owner"),
            group=item.get("group"), doc=bool(item.get("doc", False)), ghost=ghost,
        )  # fmt: skip


def _dest_refusal(dest: PurePosixPath, prefix: PurePosixPath | None) -> str | None:
    """Why the package may not ship a file or link at *dest*, or None."""
    if prefix is not None and (is_within(dest, prefix) or is_within(prefix, dest)):
        return f"overlaps the virtualenv prefix {prefix}"
    if dest in SYSTEM_DIRS:
        return "is a system directory"
    if why := basesystem.refusal(dest, directory=False):
        # the rule and its reasons: venvrpm/basesystem.py, docs/manifest.md
        return f"{why} (see docs/manifest.md)"
    return None


def _links(
    check: _Checker,
    items: list[dict[str, Any]],
    prefix: PurePosixPath | None,
    entry_points: set[PurePosixPath],
    files: tuple[ExtraFile, ...],
    dirs: set[PurePosixPath],
    generated: set[PurePosixPath],
) -> Iterator[Link]:
    """``links``: each dest where a ``files`` dest may go, each src a path inside the prefix.

    A dest is a leaf: nothing the package ships (a file, an entry point, another link) may lie
    under it, nor it under them; it may lie in a ``dirs`` directory, but not be one.
    """
    taken = {f.dest for f in files}
    seen: dict[PurePosixPath, int] = {}
    leaves = taken | entry_points
    for i, item in enumerate(items):
        raw = item["src"]
        # relative to the prefix; given absolute, it must lie in the prefix
        absolute = check.target_path(("links", i, "src"), raw if raw.startswith("/") else f"/{raw}")
        src = None
        if absolute is not None and raw.startswith("/"):
            if (prefix is not None and not is_within(absolute, prefix)) or absolute == prefix:
                check.fail(("links", i, "src"), f"{raw!r} is not a path inside the prefix {prefix}")
            elif prefix is not None:
                src = absolute.relative_to(prefix)
        elif absolute is not None:
            src = absolute.relative_to("/")
        dest = check.target_path(("links", i, "dest"), item["dest"])
        if dest is None or src is None:
            continue
        if why := _dest_refusal(dest, prefix):
            check.fail(("links", i, "dest"), f"{str(dest)!r} {why}")
        elif made := next((g for g in sorted(generated)
                           if is_within(g, dest) or is_within(dest, g)), None):  # fmt: skip
            check.fail(("links", i, "dest"), f"{str(dest)!r} would replace {made}, which "
                       "venvrpm generates")  # fmt: skip
        elif dest in entry_points:
            check.fail(("links", i, "dest"), f"{str(dest)!r} is also an entry point link")
        elif dest in taken:
            check.fail(("links", i, "dest"), f"{str(dest)!r} is also the dest of a files entry")
        elif dest in seen:
            check.fail(
                ("links", i, "dest"), f"{str(dest)!r} is already the dest of links[{seen[dest]}]"
            )
        elif dest in dirs:
            check.fail(("links", i, "dest"), f"{str(dest)!r} is also a directory in dirs")
        elif parent := next((p for p in sorted(leaves | set(seen)) if is_within(dest, p)), None):
            check.fail(("links", i, "dest"), f"{str(dest)!r} lies under {parent}, "
                       "which the package ships as a file or link")  # fmt: skip
        elif child := next((p for p in sorted(leaves | set(seen) | dirs) if is_within(p, dest)),
                           None):  # fmt: skip
            check.fail(("links", i, "dest"), f"{str(dest)!r} has {child} under it: a link "
                       "cannot hold what the package ships")  # fmt: skip
        seen.setdefault(dest, i)
        yield Link(src=src, dest=dest)


def _no_directive_lines(check: _Checker, path: KeyPath, text: str) -> None:
    """Refuse text lines rpm would read as spec directives (%if, %include, %post...).

    rpm recognises them after expanding macros and skipping blanks, so no escaping of the
    line can make them data; a line starting with % is refused rather than altered.
    """
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("%"):
            check.fail(path, f"line {number} of the text starts with '%' ({line.strip()[:30]!r}); "
                       "rpm would read it as a spec directive: reword it or indent it with text")  # fmt: skip


def _checked_dependencies(check: _Checker, key: str, values: list[str]) -> Iterator[str]:
    for i, value in enumerate(values):
        if _DEPENDENCY.match(value):
            yield value
        else:
            check.fail(
                (key, i), f"{value!r} is not an RPM dependency ('name' or 'name >= version')"
            )


def _dirs(
    check: _Checker,
    items: list[dict[str, Any]],
    prefix: PurePosixPath | None,
    files: set[PurePosixPath],
) -> Iterator[OwnedDir]:
    for i, item in enumerate(items):
        path = check.target_path(("dirs", i, "path"), item["path"])
        if path is None:
            continue
        if path in SYSTEM_DIRS:
            check.fail(
                ("dirs", i, "path"), f"{str(path)!r} is a system directory; own one below it"
            )
        elif prefix is not None and (is_within(path, prefix) or is_within(prefix, path)):
            check.fail(
                ("dirs", i, "path"), f"{str(path)!r} overlaps the virtualenv prefix {prefix}"
            )
        elif path in files:
            check.fail(("dirs", i, "path"), f"{str(path)!r} is also a file in files")
        elif why := basesystem.refusal(path, directory=True):
            check.fail(("dirs", i, "path"), f"{str(path)!r} {why} (see docs/manifest.md)")
        mode = int(item["mode"], 8) if "mode" in item else None
        if mode is not None and mode & 0o002:
            check.fail(
                ("dirs", i, "mode"), f"{item['mode']!r} is world-writable; refusing to ship that"
            )
        yield OwnedDir(path=path, mode=mode, owner=item.get("owner"), group=item.get("group"))


def _user(config: dict[str, Any] | None) -> SystemUser | None:
    if config is None:
        return None
    return SystemUser(
        name=config["name"], group=config.get("group", config["name"]),
        home=config.get("home", "/"), shell=config.get("shell", "/usr/sbin/nologin"),
        comment=config.get("comment", ""),
    )  # fmt: skip


def _services(
    check: _Checker, items: list[dict[str, Any]], files: tuple[ExtraFile, ...]
) -> Iterator[Service]:
    # system units only: user units (.../systemd/user) are not managed system-wide
    shipped = {
        f.dest.name
        for f in files
        if str(f.dest.parent)
        in ("/usr/lib/systemd/system", "/etc/systemd/system", "/lib/systemd/system")
    }
    for i, item in enumerate(items):
        unit = item["unit"]
        if unit not in shipped:
            check.fail(
                ("services", i, "unit"),
                f"{unit!r} is not shipped: add it to files with dest /usr/lib/systemd/system/{unit}",
            )
        enable = item.get("enable", "preset")
        yield Service(
            unit=unit, enable="preset" if enable == "preset" else ("yes" if enable else "no")
        )


def _changelog(check: _Checker, items: list[dict[str, Any]]) -> Iterator[ChangelogEntry]:
    for i, item in enumerate(items):
        try:
            date = datetime.date.fromisoformat(item["date"])
        except ValueError:
            check.fail(("changelog", i, "date"), f"{item['date']!r} is not a date (YYYY-MM-DD)")
            continue
        yield ChangelogEntry(
            date=date, author=item["author"], version=item.get("version"), text=item["text"]
        )


def _audit_ignores(check: _Checker, items: list[dict[str, Any]]) -> Iterator[AuditIgnore]:
    for i, item in enumerate(items):
        try:
            expires = datetime.date.fromisoformat(item["expires"])
        except ValueError:
            check.fail(("audit", "ignore", i, "expires"),
                       f"{item['expires']!r} is not a date (YYYY-MM-DD)")  # fmt: skip
            continue
        yield AuditIgnore(id=item["id"], reason=item["reason"], expires=expires)


# --- version: {from: NAME} ----------------------------------------------------------------------


def locked_version(
    name: str, lock_path: Path, project: Path | None = None
) -> tuple[str, str | None]:
    """The RPM version of *name* as the lock at *lock_path* pins it, or UNRESOLVED_VERSION and
    why not (no lock yet, an unreadable one, no pin, several)."""
    from venvrpm import lockfile
    from venvrpm.init import rpm_version  # init imports this module

    if not lock_path.is_file():
        why = f"{lock_path.name} does not exist yet: `venvrpm lock` writes it"
        return UNRESOLVED_VERSION, f"the version of {name} is not known; {why}"
    try:
        pins = sorted(
            {
                r.version
                for r in lockfile.read(lock_path, project=project).requirements
                if r.name == name
            }
        )
    except VenvrpmError as exc:
        return UNRESOLVED_VERSION, f"{lock_path.name} cannot be read: {exc.message}"
    if not pins:
        return UNRESOLVED_VERSION, (
            f"{lock_path.name} does not pin {name}: add it to the lock's inputs and re-lock, "
            "or write the version by hand"
        )
    if len(pins) > 1:
        return UNRESOLVED_VERSION, (
            f"{lock_path.name} pins {name} at {' and '.join(pins)} (for different "
            "interpreters): write the version by hand"
        )
    version, _ = rpm_version(pins[0])
    if version is None or len(version) > 64:
        return UNRESOLVED_VERSION, (
            f"{name} {pins[0]} is not usable as an RPM version: write the version by hand"
        )
    return version, None


def require_version(manifest: Manifest) -> None:
    """Raise ManifestError when ``version: {from: NAME}`` could not be read from the lock."""
    if manifest.version_problem is not None:
        raise ManifestError(
            str(manifest.source),
            [manifest.version_problem],
            hint=f"run `venvrpm lock {manifest.source.name}`, or give version as text",
        )


def version_warning(manifest: Manifest) -> str | None:
    """A warning when a hand-written version differs from the version the lock pins for the
    application itself (the distribution called like the manifest's name): the RPM would
    carry one version and run another."""
    if manifest.version_from is not None or not manifest.requirements.is_file():
        return None
    app = canonicalize_name(manifest.name)
    pinned, why = locked_version(app, manifest.requirements, manifest.project)
    if why is not None or pinned == manifest.version:
        return None
    return (
        f"version {manifest.version} differs from {app} {pinned} in "
        f"{manifest.requirements.name}: the RPM would say one version and ship another; "
        f"write `version: {{from: {app}}}` to follow the lock"
    )
