"""An offline OSV vulnerability database: read it, index it by package, match versions. Pure but
for reading the database's files.

Two forms, the two an operator can copy into an air-gapped site: a directory of OSV records,
JSON or YAML, at any depth (PyPA's ``advisory-database`` holds ``vulns/<package>/<ID>.yaml``), and
osv.dev's per-ecosystem zip (``PyPI/all.zip``, one JSON record per member).

The database is untrusted input, like a lock: files are read without following a link, each
record and the whole database have a size limit, a record's lists have a budget (YAML aliases
can make a small file a large walk), and a record that is not OSV is an error (exit 2) naming
the record and the key. Scalars of YAML are read as strings (yaml's BaseLoader): ``1.10`` is a
version, not the float 1.1, and ``modified`` is parsed here, not by yaml.

Matching follows the OSV schema (https://ossf.github.io/osv-schema/): the ``ECOSYSTEM`` ranges'
``introduced`` / ``fixed`` / ``last_affected`` events compared with ``packaging.version``, and the
explicit ``versions``. ``GIT`` and ``SEMVER`` ranges are ignored (PyPI's versions are PEP 440),
``withdrawn`` records are not used, names are compared normalised (PEP 503). Versions are parsed
only for the packages asked about: the index is by name, so an audit parses what it needs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from venvrpm import files
from venvrpm.errors import EXIT_USAGE, VenvrpmError

RECORD_LIMIT = 1 << 20
"""The largest record read, in bytes (PyPA's largest is about 60 kB)."""
DATABASE_LIMIT = 1 << 30
"""The most record bytes read from one database (osv.dev's PyPI zip holds about 100 MB)."""
RECORDS_LIMIT = 200_000
"""The most records in one database (PyPI has about 15,000)."""
ITEMS_LIMIT = 100_000
"""The most list items (affected, ranges, events, versions, aliases) walked in one record."""
ECOSYSTEM = "PyPI"
_SUFFIXES = (".json", ".yaml", ".yml")
_EVENTS = ("introduced", "fixed", "last_affected", "limit")
HINT = (
    "use an OSV export as published: a copy of PyPA's advisory-database (its vulns/ directory) "
    "or osv.dev's PyPI/all.zip; remove or replace the record named above"
)


class DatabaseError(VenvrpmError):
    """The vulnerability database cannot be read, or a record in it is not OSV."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True, kw_only=True, slots=True)
class Affected:
    """One ``affected[]`` entry of a record for a PyPI package, as written (strings)."""

    name: str
    """The package's normalised name (PEP 503)."""
    ranges: tuple[tuple[tuple[str, str], ...], ...]
    """Each ECOSYSTEM range's events as (kind, version) in the record's order."""
    versions: tuple[str, ...]
    """The explicit list of affected versions."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Advisory:
    """One OSV record."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    """``summary``, else the first line of ``details``, else empty."""
    modified: datetime
    withdrawn: bool
    affected: tuple[Affected, ...]
    source: str
    """Where it was read: the file below the database directory, or the zip member."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Database:
    """A loaded database, indexed by package name."""

    path: Path
    kind: Literal["directory", "zip"]
    sha256: str
    """Of the zip; of a directory, of its sorted ``path NUL sha256`` lines (a tree digest)."""
    newest: datetime | None
    """The newest ``modified`` of its records: how fresh the database is."""
    records: int
    withdrawn: int
    index: Mapping[str, tuple[tuple[Advisory, Affected], ...]] = field(repr=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class Vulnerability:
    """One vulnerability of one distribution version: the records that name it, grouped by
    their ids and aliases (PYSEC, GHSA and CVE ids of the same flaw are one finding)."""

    id: str
    """The id shown first: the smallest id of the records found."""
    aliases: tuple[str, ...]
    """Every other id of the records and their aliases, sorted."""
    summary: str
    fixed_in: str | None
    """The lowest version above the audited one that every record calls fixed; None when a
    record knows no fix."""
    modified: datetime
    notes: tuple[str, ...] = ()
    """What could not be read exactly (a version that is not PEP 440), and how it was read."""


# --- reading --------------------------------------------------------------------------------


def load(path: Path) -> Database:
    """The database at *path*: a directory of records or osv.dev's zip."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise DatabaseError(
            f"the vulnerability database {path} cannot be read: {exc.strerror or exc}",
            "give --db the directory of OSV records or osv.dev's PyPI/all.zip",
        ) from None
    if stat.S_ISDIR(info.st_mode):
        kind: Literal["directory", "zip"] = "directory"
        lines: list[bytes] = []
        texts = _directory(path, lines)
    elif stat.S_ISREG(info.st_mode) and zipfile.is_zipfile(path):
        kind = "zip"
        texts = _zip(path)
    else:
        raise DatabaseError(
            f"the vulnerability database {path} is neither a directory nor a zip",
            "give --db the directory of OSV records or osv.dev's PyPI/all.zip",
        )
    index: dict[str, list[tuple[Advisory, Affected]]] = {}
    newest: datetime | None = None
    records = withdrawn = 0
    for source, data in texts:
        advisory = parse_record(source, data)
        records += 1
        newest = advisory.modified if newest is None else max(newest, advisory.modified)
        if advisory.withdrawn:
            withdrawn += 1
            continue
        for affected in advisory.affected:
            index.setdefault(affected.name, []).append((advisory, affected))
    if records == 0:
        raise DatabaseError(
            f"the vulnerability database {path} holds no OSV records",
            "a directory needs *.json or *.yaml records (at any depth), a zip *.json members",
        )
    if kind == "directory":
        digest = hashlib.sha256(b"".join(sorted(lines))).hexdigest()
    else:
        digest = files.sha256_hex(path)
    return Database(
        path=path, kind=kind, sha256=digest, newest=newest,
        records=records, withdrawn=withdrawn,
        index={name: tuple(found) for name, found in index.items()},
    )  # fmt: skip


class _Budget:
    """Bytes and records read so far from one database, against the limits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bytes = 0
        self.records = 0

    def take(self, source: str, size: int) -> None:
        self.bytes += size
        self.records += 1
        if self.records > RECORDS_LIMIT:
            raise DatabaseError(
                f"{self.path} holds more than {RECORDS_LIMIT} records", HINT, details=[source]
            )
        if self.bytes > DATABASE_LIMIT:
            raise DatabaseError(
                f"{self.path} holds more than {DATABASE_LIMIT} bytes of records", HINT,
                details=[source],
            )  # fmt: skip


def _directory(root: Path, lines: list[bytes]) -> Iterator[tuple[str, bytes]]:
    """(source, bytes) of every record file below *root*; each one's ``path NUL sha256`` line
    is added to *lines* (the tree digest)."""
    budget = _Budget(root)
    for entry in _walk(root):
        source = os.path.relpath(entry.path, root)
        if entry.is_symlink():
            # one skipped would hide its records: refused, whatever it names
            raise DatabaseError(
                f"{source} in the vulnerability database is a symbolic link", HINT,
                details=["links are not followed: copy the records in instead"],
            )  # fmt: skip
        if entry.is_dir(follow_symlinks=False) or not entry.name.endswith(_SUFFIXES):
            continue
        try:
            data = files.read_regular(entry.path, RECORD_LIMIT)
        except files.TooLargeError:
            raise DatabaseError(
                f"{source} in the vulnerability database is larger than {RECORD_LIMIT} bytes",
                HINT,
            ) from None
        except OSError as exc:
            raise DatabaseError(
                f"{source} in the vulnerability database cannot be read: {exc.strerror or exc}",
                HINT,
            ) from None
        budget.take(source, len(data))
        lines.append(
            source.encode("utf-8", "surrogateescape") + b"\0"
            + hashlib.sha256(data).hexdigest().encode() + b"\n"
        )  # fmt: skip
        yield source, data


def _walk(root: Path) -> Iterator[os.DirEntry[str]]:
    """files.walk, its failures said as the database's: a directory that cannot be listed,
    or nested deeper than Python recurses."""
    walking = files.walk(str(root))
    while True:
        try:
            entry = next(walking)
        except StopIteration:
            return
        except RecursionError:
            raise DatabaseError(f"the vulnerability database {root} is nested too deeply",
                                HINT) from None  # fmt: skip
        except OSError as exc:
            raise DatabaseError(
                f"the vulnerability database {root} cannot be read: {exc.strerror or exc}"
                + (f" ({exc.filename})" if exc.filename else ""), HINT,
            ) from None  # fmt: skip
        yield entry


def _zip(path: Path) -> Iterator[tuple[str, bytes]]:
    """(member, bytes) of every JSON member of the zip at *path*, none beyond the limits
    (a member's declared size may lie: at most RECORD_LIMIT + 1 bytes are inflated)."""
    budget = _Budget(path)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DatabaseError(f"the vulnerability database {path} is not a readable zip: {exc}",
                            HINT) from None  # fmt: skip
    with archive:
        members = archive.infolist()
        if len(members) > RECORDS_LIMIT:
            raise DatabaseError(f"{path} holds more than {RECORDS_LIMIT} members", HINT)
        for member in members:
            if member.is_dir() or not member.filename.endswith(".json"):
                continue
            if member.file_size > RECORD_LIMIT:
                raise DatabaseError(
                    f"{member.filename} in {path.name} is larger than {RECORD_LIMIT} bytes", HINT
                )
            try:
                with archive.open(member) as stream:
                    data = stream.read(RECORD_LIMIT + 1)
            except (OSError, zipfile.BadZipFile, EOFError, ValueError) as exc:
                raise DatabaseError(
                    f"{member.filename} in {path.name} cannot be read: {exc}", HINT
                ) from None
            if len(data) > RECORD_LIMIT:
                raise DatabaseError(
                    f"{member.filename} in {path.name} is larger than {RECORD_LIMIT} bytes", HINT
                )
            budget.take(member.filename, len(data))
            yield member.filename, data


def parse_record(source: str, data: bytes) -> Advisory:
    """The record *data* read from *source* (JSON, or YAML by its name), validated."""
    try:
        text = data.decode("utf-8")
        raw = json.loads(text) if source.endswith(".json") else _plain(_compose(text), [0])
    except (UnicodeDecodeError, ValueError, yaml.YAMLError, RecursionError) as exc:
        raise DatabaseError(
            f"{source} in the vulnerability database is not a readable OSV record",
            HINT, details=[_short(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)],
        ) from None  # fmt: skip
    return _Record(source).advisory(raw)


_YAML: type[yaml.BaseLoader] = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_UNUSED = frozenset({"references", "credits", "severity", "related", "database_specific",
                     "ecosystem_specific"})  # fmt: skip
"""Keys whose values an audit never reads: not built (they are most of a record's nodes)."""


def _compose(text: str) -> yaml.Node | None:
    return yaml.compose(text, Loader=_YAML)  # libyaml refuses nesting deeper than 1,000


def _plain(node: yaml.Node | None, seen: list[int]) -> object:
    """*node* as Python values, every scalar a string (yaml's BaseLoader, without its
    per-node machinery: twice as fast over a database). An alias is its anchor's node again:
    *seen* counts every node walked, so aliases cannot make a small file a long walk."""
    seen[0] += 1
    if seen[0] > ITEMS_LIMIT * 4:
        raise ValueError(f"more than {ITEMS_LIMIT * 4} YAML nodes in one record")
    if node is None:
        return None
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, seen) for item in node.value]
    mapping: dict[str, object] = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            raise ValueError("a mapping key that is not a string")
        if key.value not in _UNUSED:
            mapping[str(key.value)] = _plain(value, seen)
    return mapping


class _Record:
    """Validation of one record, with the work budget of its lists."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items = 0

    def fail(self, key: str, problem: str) -> DatabaseError:
        where = f"{key}: " if key else ""
        return DatabaseError(
            f"{self.source} in the vulnerability database is not an OSV record",
            HINT, details=[f"{where}{problem}"],
        )  # fmt: skip

    def items_of(self, raw: object, key: str) -> list[object]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise self.fail(key, "not a list")
        self.items += len(raw)
        if self.items > ITEMS_LIMIT:
            raise self.fail(key, f"more than {ITEMS_LIMIT} list items in one record")
        return raw

    def text(self, raw: object, key: str, *, required: bool = False) -> str:
        if raw is None and not required:
            return ""
        if not isinstance(raw, str) or not raw.strip():
            if raw is None:
                raise self.fail(key, "missing")
            raise self.fail(key, "not a non-empty string")
        return raw

    def mapping(self, raw: object, key: str) -> Mapping[str, object]:
        if not isinstance(raw, dict):
            raise self.fail(key, "not a mapping")
        return raw

    def advisory(self, raw: object) -> Advisory:
        record = self.mapping(raw, "")
        ident = self.text(record.get("id"), "id", required=True)
        modified = _time(self.text(record.get("modified"), "modified", required=True))
        if modified is None:
            raise self.fail("modified", "not an RFC 3339 time")
        aliases = tuple(
            self.text(a, f"aliases[{n}]", required=True)
            for n, a in enumerate(self.items_of(record.get("aliases"), "aliases"))
        )
        summary = self.text(record.get("summary"), "summary").strip()
        if not summary:
            details = self.text(record.get("details"), "details").strip()
            summary = details.splitlines()[0] if details else ""
        withdrawn = record.get("withdrawn")
        affected = []
        for n, item in enumerate(self.items_of(record.get("affected"), "affected")):
            found = self.affected(self.mapping(item, f"affected[{n}]"), f"affected[{n}]")
            if found is not None:
                affected.append(found)
        return Advisory(
            id=ident, aliases=aliases, summary=summary, modified=modified,
            withdrawn=withdrawn is not None and withdrawn != "", affected=tuple(affected),
            source=self.source,
        )  # fmt: skip

    def affected(self, item: Mapping[str, object], key: str) -> Affected | None:
        package = self.mapping(item.get("package"), f"{key}.package")
        ecosystem = self.text(package.get("ecosystem"), f"{key}.package.ecosystem", required=True)
        name = self.text(package.get("name"), f"{key}.package.name", required=True)
        ranges = []
        for n, raw in enumerate(self.items_of(item.get("ranges"), f"{key}.ranges")):
            where = f"{key}.ranges[{n}]"
            one = self.mapping(raw, where)
            kind = self.text(one.get("type"), f"{where}.type", required=True)
            events = []
            for m, event in enumerate(self.items_of(one.get("events"), f"{where}.events")):
                pairs = list(self.mapping(event, f"{where}.events[{m}]").items())
                if len(pairs) != 1 or pairs[0][0] not in _EVENTS:
                    raise self.fail(f"{where}.events[{m}]", "not one of " + ", ".join(_EVENTS))
                events.append((pairs[0][0], self.text(pairs[0][1], f"{where}.events[{m}]",
                                                      required=True)))  # fmt: skip
            if kind == "ECOSYSTEM":
                ranges.append(tuple(events))
        listed = self.items_of(item.get("versions"), f"{key}.versions")
        if not all(isinstance(v, str) and v.strip() for v in listed):  # the long lists: fast
            for n, v in enumerate(listed):  # path first, the culprit named when it fails
                self.text(v, f"{key}.versions[{n}]", required=True)
        versions = tuple(v for v in listed if isinstance(v, str))
        if ecosystem != ECOSYSTEM:
            return None
        return Affected(name=canonicalize_name(name), ranges=tuple(ranges), versions=versions)


def _time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- matching -------------------------------------------------------------------------------


def vulnerabilities(database: Database, name: str, version: str) -> tuple[Vulnerability, ...]:
    """The vulnerabilities of *name* at *version*, one per group of records sharing an id or
    alias, sorted by id. A *version* that is not PEP 440 matches only explicit lists."""
    try:
        parsed: Version | None = Version(version)
    except InvalidVersion:
        parsed = None
    hits: list[_Hit] = []
    for advisory, affected in database.index.get(canonicalize_name(name), ()):
        notes: list[str] = []
        hit, fixed = _affects(affected, version, parsed, notes, advisory.id)
        if hit:
            hits.append((advisory, fixed, notes))
    return tuple(sorted((_merge(group) for group in _groups(hits)), key=lambda v: v.id))


_Hit = tuple[Advisory, "str | None", list[str]]
"""A record that affects the version: the record, its fix for it, notes on how it was read."""


def _affects(
    affected: Affected, version: str, parsed: Version | None, notes: list[str], ident: str
) -> tuple[bool, str | None]:
    """(whether *version* is affected, the lowest version above it out of every range of
    the entry that covers it; None when one of them, or the explicit list alone, knows no
    fix)."""
    hit = False
    fixes: list[Version] = []
    unfixed = False
    for raw in affected.versions:
        if raw == version or (parsed is not None and _equal(raw, parsed)):
            hit = True
    if parsed is not None:
        for events in affected.ranges:
            inside, fix = _in_range(events, parsed, notes, ident)
            if inside:
                hit = True
                if fix is None:
                    unfixed = True
                else:
                    fixes.append(fix)
    if unfixed or not fixes:
        return hit, None
    # ranges that overlap: the version is fixed only above all of their fixes
    return hit, str(max(fixes))


def _equal(raw: str, version: Version) -> bool:
    try:
        return _version(raw) == version
    except InvalidVersion:
        return False


_ZERO = Version("0")


@functools.lru_cache(maxsize=65536)
def _version(text: str) -> Version:
    """``Version(text)``, remembered: the same few thousand strings recur across records and
    the names of one audit (raises InvalidVersion, which lru_cache does not remember)."""
    return Version(text)


def _in_range(
    events: Sequence[tuple[str, str]], version: Version, notes: list[str], ident: str
) -> tuple[bool, Version | None]:
    """Whether *version* is inside the range, and the first ``fixed`` above it.

    OSV's evaluation: the events sorted by version, each at or below *version* (below, for
    ``last_affected``) sets or clears "affected"; the range's ``fixed`` events above it are its
    possible fixes, the first after the introduction that covers it is the one. A version that
    is not PEP 440 cannot be placed: an ``introduced`` is read as "0" and a ``fixed`` or
    ``last_affected`` is dropped -- the range reads wider, never narrower (said in a note).
    """
    placed: list[tuple[Version | None, int, str]] = []
    for kind, raw in events:
        if kind == "limit":
            continue
        if kind == "introduced" and raw == "0":
            placed.append((None, 0, kind))
            continue
        try:
            point = _version(raw)
        except InvalidVersion:
            read = 'read as "0"' if kind == "introduced" else "ignored"
            notes.append(f"{ident}: {kind} {raw!r} is not a PEP 440 version, {read}")
            if kind == "introduced":
                placed.append((None, 0, kind))
            continue
        placed.append((point, 0 if kind == "introduced" else 1, kind))
    # "0" first; at one version an introduction before what closes it
    placed.sort(key=lambda p: (p[0] is not None, p[0] or _ZERO, p[1]))
    inside = False
    fix: Version | None = None
    for at, _, kind in placed:
        if at is None or at < version or (at == version and kind != "last_affected"):
            # an event at or below the version: it opens or closes the range there
            inside = kind == "introduced"
        else:
            # the first event above: the range's fix for this version, if it is one
            if inside and kind == "fixed":
                fix = at
            break
    return inside, fix if inside else None


def _groups(hits: list[_Hit]) -> list[list[_Hit]]:
    """*hits* joined where their ids and aliases meet (union of overlapping id sets)."""
    groups: list[tuple[set[str], list[_Hit]]] = []
    for hit in hits:
        ids = {hit[0].id, *hit[0].aliases}
        joined = [g for g in groups if g[0] & ids]
        for g in joined:
            ids |= g[0]
            groups.remove(g)
        groups.append((ids, [h for g in joined for h in g[1]] + [hit]))
    return [members for _, members in groups]


def _merge(group: list[_Hit]) -> Vulnerability:
    own = sorted(a.id for a, *_ in group)
    every = {i for a, *_ in group for i in (a.id, *a.aliases)}
    fixes = [Version(f) for _, f, _ in group if f is not None]
    unfixed = any(f is None for _, f, _ in group)
    summary = next((a.summary for a, *_ in sorted(group, key=lambda h: h[0].id) if a.summary), "")
    return Vulnerability(
        id=own[0], aliases=tuple(sorted(every - {own[0]})), summary=summary,
        fixed_in=None if unfixed or not fixes else str(max(fixes)),
        modified=max(a.modified for a, *_ in group),
        notes=tuple(n for *_, notes in group for n in notes),
    )  # fmt: skip


def fix_version(
    database: Database, name: str, found: Sequence[Vulnerability], version: str
) -> str | None:
    """The lowest version of *name* that fixes every one of *found* (vulnerabilities of
    *version*) and is itself affected by none in *database*; None when a finding knows no fix.

    The highest of their ``fixed_in`` first; when that version is affected too (a flaw
    introduced later), that flaw's fix, and so on: each step goes up, so it ends.
    """
    if not found or any(v.fixed_in is None for v in found):
        return None
    candidate = max(Version(v.fixed_in) for v in found if v.fixed_in is not None)
    while True:
        again = vulnerabilities(database, name, str(candidate))
        if not again:
            return str(candidate)
        if any(v.fixed_in is None for v in again):
            return None
        higher = max(Version(v.fixed_in) for v in again if v.fixed_in is not None)
        if higher <= candidate:
            return None
        candidate = higher
