"""``venvrpm inspect``: what an RPM holds, read from its header and, for the bundled list, its payload.

The header is read with one ``rpm -qp --queryformat`` whose every value is shell-quoted by rpm
(``:shescape``) and tagged, so summaries, file names and scriptlet bodies with spaces, quotes or
newlines come back whole. Parsing is pure (tested with recorded rpm output); ``inspect_rpm`` alone
runs commands, through a Runner.
"""

from __future__ import annotations

import datetime
import json
import re
import stat
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from venvrpm import nativelibs, pydists
from venvrpm.errors import ToolMissingError, UsageError, VenvrpmError
from venvrpm.files import sha256_hex
from venvrpm.runner import Runner

RPM_MAGIC = b"\xed\xab\xee\xdb"
"""The first four bytes of every RPM (its lead)."""

DOCUMENT_LIMIT = 4 << 20
"""The largest bundled list read from a payload, in bytes (a real one is a few kB)."""

NESTING_LIMIT = 16
"""The deepest nesting of arrays and objects read in a bundled list (a real one has 4)."""

PAYLOAD_LIMIT = 1 << 30
"""The most decompressed payload bytes read to reach the bundled list (1 GiB, about a second).

The list is in ``/usr/share/doc``, after the virtualenv in the payload, so a real package is read
up to there; a larger one gets its bundled list from the Provides, with a note.
"""

CPIO_ENTRY = 110 + 4 + 4
"""A cpio (newc) header, its name's NUL and the padding of name and data, less the name."""

INSTALL_HINT = "Debian/Ubuntu: apt-get install rpm    Fedora/RHEL: dnf install rpm"

HEADER_TAGS = (
    "NAME", "EPOCH", "VERSION", "RELEASE", "ARCH", "SUMMARY", "LICENSE", "URL", "BUILDTIME",
    "BUILDHOST", "LONGSIZE", "PAYLOADCOMPRESSOR", "SOURCERPM",
)  # fmt: skip
SIGNATURE_TAGS = ("RSAHEADER", "DSAHEADER", "SIGPGP", "SIGGPG")
"""rpm v4 signature tags, header-only first (what ``rpmsign --addsign`` writes since rpm 4.16)."""

SCRIPTLETS = (
    ("pretrans", "PRETRANS"), ("pre", "PREIN"), ("post", "POSTIN"), ("preun", "PREUN"),
    ("postun", "POSTUN"), ("posttrans", "POSTTRANS"), ("verifyscript", "VERIFYSCRIPT"),
)  # fmt: skip
"""(spec section name, header tag) in the order rpm runs them; the interpreter is TAG + PROG."""

BundledSource = Literal["payload", "provides"]

# A token of the query's output: bare runs, '...' (shescape), "..." (pgpsig text), \x.
_TOKEN = re.compile(r"""(?:[^\s'"\\]+|'[^']*'|"[^"]*"|\\.)+""", re.S)
_PIECE = re.compile(r"""'([^']*)'|"([^"]*)"|\\(.)|([^'"\\]+)""", re.S)
_KEY_ID = re.compile(r"Key ID ([0-9A-Fa-f]+)")
_SITE_PACKAGES = re.compile(r"/lib(?:64)?/(?:python|pypy)[^/]*/site-packages/([^/]+)")
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_JSON_BRACKET = re.compile(r"[\[\]{}]")
_BUNDLED_PROVIDE = re.compile(r"bundled\(python3dist\((.+)\)\)")

# rpm2cpio's output is binary, which a Runner (text in, text out) cannot carry, so a tiny Python
# program run through the Runner reads it and prints only the member asked for. It walks the cpio
# (newc) headers itself rather than running cpio, which reads the whole payload whatever it
# extracts: it stops at the member, and counts every byte so that a payload larger than the budget
# (8 GB of zeros compress to a few hundred kB) is abandoned, never decompressed to its end.
CPIO_READER = """\
import json, re, subprocess, sys
rpm2cpio, package, *args = sys.argv[1:]
budget = int(args.pop())
source = subprocess.Popen([rpm2cpio, package], stdout=subprocess.PIPE)
stream, used = source.stdout, 0
def stop(code, message):
    source.kill()
    source.wait()
    sys.stderr.write(message + "\\n")
    sys.exit(code)
def take(size):
    global used
    if used + size > budget:
        stop(3, f"the payload is larger than the {budget} bytes venvrpm reads of it")
    data = stream.read(size)
    used += len(data)
    if len(data) < size:
        code = source.wait()
        stop(1, f"the payload ends early (rpm2cpio exited with {code})")
    return data
def skip(size):
    while size > 0:
        size -= len(take(min(size, 1 << 20)))
def members():
    while True:
        head = take(110)
        if head[:6] not in (b"070701", b"070702"):
            stop(1, "the payload is not a cpio (newc) archive venvrpm can read")
        if head[6:].strip(b"0123456789abcdefABCDEF"):  # int() would take "-", "_" or spaces
            stop(1, "a cpio header of the payload is damaged")
        size, namesize = int(head[54:62], 16), int(head[94:102], 16)
        name = take(namesize).rstrip(b"\\0")
        skip(-(110 + namesize) % 4)
        if name == b"TRAILER!!!":
            return
        yield name, size  # the caller takes or skips size bytes and the padding
"""
"""The walk over a cpio (newc) stream from rpm2cpio, with the budget (its last argument): the
start of the programs that read members of someone else's payload (here and venvrpm.lint)."""

_EXTRACT = (
    CPIO_READER
    + """\
member, limit = args[0].encode(), int(args[1])
for name, size in members():
    if name == member:
        if size > limit:
            stop(3, f"it is larger than {limit} bytes")
        data = take(size)
        source.kill()
        source.wait()
        sys.stdout.buffer.write(data)
        sys.exit(0)
    skip(size + -size % 4)
stop(4, "it is missing from the payload")
"""
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Dependency:
    """One Requires or Provides entry."""

    name: str
    op: str
    """``""``, ``=``, ``<``, ``>``, ``<=`` or ``>=``."""
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.version}" if self.op else self.name


@dataclass(frozen=True, slots=True, kw_only=True)
class FileEntry:
    """One path of the payload, as the header lists it."""

    path: str
    size: int
    mode: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Scriptlet:
    """A scriptlet: its spec section name (``post``), interpreter and whole body."""

    name: str
    interpreter: str | None
    body: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """What ``rpm -qp`` tells about a package, parsed."""

    name: str
    epoch: int | None
    version: str
    release: str
    arch: str
    summary: str
    license: str
    url: str | None
    build_time: int | None
    build_host: str | None
    size: int
    """Installed size in bytes (rpm's LONGSIZE)."""
    payload_compressor: str | None
    source_rpm: str | None
    """The source RPM this was built from; None for a source RPM itself."""
    signatures: tuple[str, ...]
    """rpm's description of each signature (``RSA/SHA512, <date>, Key ID <id>``)."""
    files: tuple[FileEntry, ...]
    requires: tuple[Dependency, ...]
    provides: tuple[Dependency, ...]
    scriptlets: tuple[Scriptlet, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BundledDistribution:
    """A Python distribution bundled in the package."""

    name: str
    version: str
    origin: str | None
    """``lock``, ``project`` or ``venv`` from the shipped list; None when read from a Provides."""
    hashes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageSize:
    """Bytes and regular files under one top-level name of site-packages (or ``other``)."""

    name: str
    size: int
    files: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Inspection:
    """The report ``venvrpm inspect`` prints."""

    path: Path
    file_size: int
    sha256: str
    header: Header
    built_by_venvrpm: bool
    """The package ships venvrpm's bundled list (pydists.doc_path)."""
    bundled: tuple[BundledDistribution, ...]
    bundled_source: BundledSource | None
    interpreter: str | None
    """The interpreter the shipped list names."""
    sizes: tuple[PackageSize, ...]
    """Per top-level name under site-packages, largest first."""
    other: PackageSize
    """Every other regular file."""
    notes: tuple[str, ...]

    @property
    def build_time_utc(self) -> str | None:
        """The build time as ``YYYY-MM-DD HH:MM:SS UTC``."""
        return format_time(self.header.build_time)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The signing key ids, without repeats; empty when unsigned."""
        return key_ids(self.header.signatures)

    def to_json(self) -> dict[str, object]:
        """The ``--json`` document (venvrpm/schema/inspect.schema.json)."""
        h = self.header
        ids = self.key_ids
        return {
            "ok": True,
            "exit_code": 0,
            "path": str(self.path),
            "file_size": self.file_size,
            "sha256": self.sha256,
            "built_by_venvrpm": self.built_by_venvrpm,
            "metadata": {
                "name": h.name,
                "epoch": h.epoch,
                "version": h.version,
                "release": h.release,
                "arch": h.arch,
                "summary": h.summary,
                "license": h.license,
                "url": h.url,
                "build_time": h.build_time,
                "build_time_utc": self.build_time_utc,
                "build_host": h.build_host,
                "installed_size": h.size,
                "files": len(h.files),
                "payload_compressor": h.payload_compressor,
                "source_rpm": h.source_rpm,
            },
            "signature": (
                {"key_id": ids[0], "key_ids": list(ids), "descriptions": list(h.signatures)}
                if h.signatures
                else None
            ),
            "bundled": {
                "source": self.bundled_source,
                "interpreter": self.interpreter,
                "distributions": [
                    {
                        "name": d.name,
                        "version": d.version,
                        "origin": d.origin,
                        "hashes": list(d.hashes),
                    }
                    for d in self.bundled
                ],
            },
            "size_by_package": {
                "site_packages": [
                    {"name": s.name, "size": s.size, "files": s.files} for s in self.sizes
                ],
                "other": {"size": self.other.size, "files": self.other.files},
            },
            "requires": [_dependency_json(d) for d in h.requires],
            "provides": [_dependency_json(d) for d in h.provides],
            "scriptlets": [
                {"name": s.name, "interpreter": s.interpreter, "body": s.body} for s in h.scriptlets
            ],
            "notes": list(self.notes),
        }


def _dependency_json(dep: Dependency) -> dict[str, str]:
    return {"name": dep.name, "op": dep.op, "version": dep.version}


def _value(tag: str, formatter: str = "shescape") -> str:
    """``=<value>`` when the header has *tag*, else ``!`` (an empty string is still a value)."""
    return "%|" + tag + "?{=%{" + tag + ":" + formatter + "}}:{!}|"


def query_format() -> str:
    """The --queryformat: ``@section`` markers, then ``=value`` or ``!`` (absent) tokens."""
    parts = ["@header " + " ".join(_value(t) for t in HEADER_TAGS) + "\n"]
    # pgpsig text cannot be shell-quoted by rpm; it is double-quoted here (it has no quotes)
    signatures = ("%|" + t + '?{="%{' + t + ':pgpsig}"}:{!}|' for t in SIGNATURE_TAGS)
    parts.append("@signatures " + " ".join(signatures) + "\n")
    parts.append("@files\n[=%{LONGFILESIZES} =%{FILEMODES} =%{FILENAMES:shescape}\n]")
    for kind in ("REQUIRE", "PROVIDE"):
        parts.append(
            f"@{kind.lower()}s\n"
            f"[=%{{{kind}NAME:shescape}} =%{{{kind}FLAGS}} =%{{{kind}VERSION:shescape}}\n]"
        )
    for name, tag in SCRIPTLETS:
        parts.append(f"@scriptlet:{name} {_value(tag)} [=%{{{tag}PROG:shescape}} ]\n")
    return "".join(parts)


def query_argv(rpm: str, package: Path) -> list[str]:
    """The rpm command that reads *package*'s header."""
    return [rpm, "-qp", "--queryformat", query_format(), str(package)]


def tokens(output: str) -> dict[str, list[str | None]]:
    """Split the query's output into its sections; None stands for an absent tag."""
    sections: dict[str, list[str | None]] = {}
    current: list[str | None] | None = None
    for match in _TOKEN.finditer(output):
        raw = match.group()
        if raw.startswith("@"):
            current = sections.setdefault(raw[1:], [])
        elif current is not None and raw == "!":
            current.append(None)
        elif current is not None and raw.startswith("="):
            current.append("".join(_pieces(raw[1:])))
        else:
            raise VenvrpmError(
                "rpm's answer to the query cannot be read",
                "this is a bug in venvrpm: please report it with the rpm version",
                details=[f"unexpected token: {raw[:80]!r}"],
            )
    return sections


def _pieces(raw: str) -> Iterable[str]:
    if raw.isdigit() or (raw.count("'") == 2 and raw[0] == raw[-1] == "'"):
        yield raw.strip("'")  # the common case (a number, one quoted run), twice as fast
        return
    for match in _PIECE.finditer(raw):
        yield next((g for g in match.groups() if g is not None), "")


def parse_query(output: str) -> Header:
    """The Header in the output of ``query_argv``'s command."""
    sections = tokens(output)
    values = dict(zip(HEADER_TAGS, _section(sections, "header", len(HEADER_TAGS)), strict=True))
    files = tuple(
        FileEntry(path=path or "", size=_int(size) or 0, mode=(_int(mode) or 0) & 0xFFFF)
        for size, mode, path in _triples(sections.get("files", []))
    )
    scriptlets = []
    for name, _ in SCRIPTLETS:
        body, *prog = sections.get(f"scriptlet:{name}", [None])
        if body is None and not prog:
            continue
        interpreter = " ".join(p for p in prog if p) or None
        scriptlets.append(Scriptlet(name=name, interpreter=interpreter, body=body or ""))
    return Header(
        name=values["NAME"] or "",
        epoch=_int(values["EPOCH"]),
        version=values["VERSION"] or "",
        release=values["RELEASE"] or "",
        arch=values["ARCH"] or "",
        summary=values["SUMMARY"] or "",
        license=values["LICENSE"] or "",
        url=values["URL"],
        build_time=_int(values["BUILDTIME"]),
        build_host=values["BUILDHOST"],
        size=_int(values["LONGSIZE"]) or 0,
        payload_compressor=values["PAYLOADCOMPRESSOR"],
        source_rpm=values["SOURCERPM"],
        signatures=tuple(
            s for s in _section(sections, "signatures", len(SIGNATURE_TAGS)) if s is not None
        ),
        files=files,
        requires=_dependencies(sections.get("requires", [])),
        provides=_dependencies(sections.get("provides", [])),
        scriptlets=tuple(scriptlets),
    )


def _section(sections: Mapping[str, list[str | None]], name: str, count: int) -> list[str | None]:
    found = sections.get(name, [])
    if len(found) != count:
        raise VenvrpmError(
            f"rpm's answer has {len(found)} values in its {name} section instead of {count}",
            "this is a bug in venvrpm: please report it with the rpm version",
        )
    return found


def _triples(values: Sequence[str | None]) -> Iterable[tuple[str | None, str | None, str | None]]:
    return zip(values[0::3], values[1::3], values[2::3], strict=True)


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.lstrip("-").isdigit() else None


# rpmsenseFlags: RPMSENSE_LESS, RPMSENSE_GREATER, RPMSENSE_EQUAL
_LESS, _GREATER, _EQUAL = 2, 4, 8


def _dependencies(values: Sequence[str | None]) -> tuple[Dependency, ...]:
    found = []
    for name, flags_text, version in _triples(values):
        flags = _int(flags_text) or 0
        op = ("<" if flags & _LESS else "") + (">" if flags & _GREATER else "")
        op += "=" if flags & _EQUAL else ""
        found.append(Dependency(name=name or "", op=op if version else "", version=version or ""))
    return tuple(found)


def key_ids(signatures: Iterable[str]) -> tuple[str, ...]:
    """The key ids in rpm's signature descriptions, lower case, in order, without repeats."""
    ids: dict[str, None] = {}
    for text in signatures:
        match = _KEY_ID.search(text)
        ids[match.group(1).lower() if match else text] = None
    return tuple(ids)


def format_time(epoch: int | None) -> str | None:
    """*epoch* as ``YYYY-MM-DD HH:MM:SS UTC``."""
    if epoch is None:
        return None
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def package_sizes(files: Iterable[FileEntry]) -> tuple[tuple[PackageSize, ...], PackageSize]:
    """Regular files summed per top-level name under any site-packages, largest first; the rest."""
    totals: dict[str, list[int]] = {}
    other = [0, 0]
    for entry in files:
        if not stat.S_ISREG(entry.mode):
            continue  # directories and symlinks take no payload bytes worth counting
        match = _SITE_PACKAGES.search(entry.path)
        bucket = totals.setdefault(match.group(1), [0, 0]) if match else other
        bucket[0] += entry.size
        bucket[1] += 1
    ordered = sorted(totals.items(), key=lambda item: (-item[1][0], item[0]))
    return (
        tuple(PackageSize(name=n, size=s, files=c) for n, (s, c) in ordered),
        PackageSize(name="other", size=other[0], files=other[1]),
    )


def parse_bundled_document(text: str) -> tuple[str | None, tuple[BundledDistribution, ...]]:
    """The interpreter and distributions of a shipped bundled list (pydists.document).

    Raises ValueError saying what is wrong with it. The text comes from someone else's RPM: its
    size is bounded by DOCUMENT_LIMIT and its nesting here, before json (whose recursion a few
    thousand ``[`` exhaust) sees it.
    """
    if len(text) > DOCUMENT_LIMIT:
        raise ValueError(f"it is larger than {DOCUMENT_LIMIT} bytes")
    depth = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub('""', text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > NESTING_LIMIT:
            raise ValueError(f"it is nested more than {NESTING_LIMIT} levels deep")
    try:
        data = json.loads(text)
    except RecursionError:  # unreachable after the count above; kept as the last fence
        raise ValueError(f"it is nested more than {NESTING_LIMIT} levels deep") from None
    if not isinstance(data, dict) or not isinstance(data.get("distributions"), list):
        raise ValueError("no distributions list")
    interpreter = data.get("interpreter")
    found = []
    for n, item in enumerate(data["distributions"]):
        if not isinstance(item, dict):
            raise ValueError(f"distributions[{n}] is not an object")
        name, version = item.get("name"), item.get("version")
        origin, hashes = item.get("origin"), item.get("hashes", [])
        if not isinstance(name, str) or not isinstance(version, str):
            raise ValueError(f"distributions[{n}] has no name or version")
        if origin is not None and not isinstance(origin, str):
            raise ValueError(f"distributions[{n}].origin is not a string")
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            raise ValueError(f"distributions[{n}].hashes is not a list of strings")
        found.append(
            BundledDistribution(name=name, version=version, origin=origin, hashes=tuple(hashes))
        )
    return (interpreter if isinstance(interpreter, str) else None), tuple(found)


def bundled_from_provides(provides: Iterable[Dependency]) -> tuple[BundledDistribution, ...]:
    """The ``bundled(python3dist(NAME)) = VERSION`` Provides, as distributions."""
    found = []
    for dep in provides:
        match = _BUNDLED_PROVIDE.fullmatch(dep.name)
        if match:
            version = dep.version if dep.op == "=" else ""
            found.append(
                BundledDistribution(name=match.group(1), version=version, origin=None, hashes=())
            )
    return tuple(sorted(found, key=lambda d: d.name))


def report(
    path: Path,
    header: Header,
    *,
    file_size: int,
    sha256: str,
    document: str | None,
    payload_problem: str | None = None,
) -> Inspection:
    """The Inspection of a package whose *header* was read, with its shipped list's text if any.

    *payload_problem* says why the list could not be read from a package that lists it.
    """
    doc = str(pydists.doc_path(header.name))
    built = any(f.path == doc for f in header.files)
    provided = bundled_from_provides(header.provides)
    notes: list[str] = []
    interpreter: str | None = None
    shipped: tuple[BundledDistribution, ...] | None = None
    if document is not None:
        try:
            interpreter, shipped = parse_bundled_document(document)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            notes.append(f"{doc} cannot be read ({exc}); the bundled list is from the Provides")
    elif payload_problem:
        notes.append(f"{doc} could not be read from the payload: {payload_problem}; "
                     "the bundled list is from the Provides")  # fmt: skip
    if header.source_rpm is None:
        notes.append("a source RPM: the bundled list and the sizes are those of its sources; "
                     "inspect the binary RPM it builds")  # fmt: skip
    elif not built:
        notes.append(
            f"not built by venvrpm: it ships no {doc}; "
            + ("the bundled list is from its bundled(python3dist(...)) Provides" if provided
               else "it declares no bundled(python3dist(...)) Provides either")
        )  # fmt: skip
    if shipped is not None:
        listed = {(d.name, d.version) for d in shipped}
        declared = {(d.name, d.version) for d in provided}
        if listed != declared:
            only_list = ", ".join(f"{n} {v}" for n, v in sorted(listed - declared)) or "-"
            only_provides = ", ".join(f"{n} {v}" for n, v in sorted(declared - listed)) or "-"
            notes.append(
                "the shipped list and the Provides disagree: "
                f"only in the list: {only_list}; only in the Provides: {only_provides}"
            )
    notes += nativelibs.own_openssl(nativelibs.from_paths(f.path for f in header.files))
    ids = key_ids(header.signatures)
    if len(ids) > 1:
        notes.append(f"signed with {len(ids)} different keys: {', '.join(ids)}")
    chosen = shipped if shipped is not None else provided
    source: BundledSource | None = (
        "payload" if shipped is not None else ("provides" if provided else None)
    )
    sizes, other = package_sizes(header.files)
    return Inspection(
        path=path, file_size=file_size, sha256=sha256, header=header, built_by_venvrpm=built,
        bundled=chosen, bundled_source=source, interpreter=interpreter, sizes=sizes,
        other=other, notes=tuple(notes),
    )  # fmt: skip


def check_file(path: Path) -> None:
    """A UsageError unless *path* is a readable file that starts like an RPM."""
    if not path.exists():
        raise UsageError(f"{path} does not exist", "give the path of an .rpm file")
    if not path.is_file():
        raise UsageError(f"{path} is not a file", "give the path of an .rpm file")
    try:
        with path.open("rb") as stream:
            start = stream.read(len(RPM_MAGIC))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if start != RPM_MAGIC:
        raise UsageError(
            f"{path} is not an RPM (it does not start with the RPM lead)",
            "give the path of an .rpm file, e.g. dist/NAME-VERSION-RELEASE.ARCH.rpm "
            "as `venvrpm build` prints it",
        )


def payload_budget(header: Header) -> int:
    """The most payload bytes worth reading: what the header's files can take, at most PAYLOAD_LIMIT.

    The header bounds an honest payload; the limit bounds one whose header is honest about a
    huge file (or one whose payload does not match its header).
    """
    listed = sum(f.size + CPIO_ENTRY + len(f.path.encode()) + 1 for f in header.files)
    return min(listed + 2 * CPIO_ENTRY + 16, PAYLOAD_LIMIT)  # + the TRAILER!!! entry


def inspect_rpm(path: Path, runner: Runner, python: str = sys.executable) -> Inspection:
    """Read *path*'s header with rpm, and the shipped bundled list from its payload.

    A file that is not an RPM, or that rpm cannot read, is a UsageError (exit 2).
    *python* reads the payload rpm2cpio writes, up to the list and no further than payload_budget.
    """
    check_file(path)
    rpm = runner.which("rpm")
    if rpm is None:
        raise ToolMissingError("rpm is not installed", INSTALL_HINT)
    absolute = path.resolve()  # never mistaken for an option or a URL
    queried = runner.run(query_argv(rpm, absolute), what=f"reading {path}", check=False)
    if queried.returncode != 0:
        raise UsageError(
            f"{path} is not a readable RPM",
            "the file is damaged or truncated: download or build it again",
            details=[queried.tail(5)] if queried.tail(5) else (),
        )
    try:
        header = parse_query(queried.stdout)
    except ValueError as exc:  # rpm answered with arrays of different lengths: a crafted header
        raise UsageError(
            f"{path} has a header venvrpm cannot read",
            "the RPM was made by hand or damaged: do not install it",
            details=[str(exc)],
        ) from None
    doc = pydists.doc_path(header.name)
    document: str | None = None
    problem: str | None = None
    listed = [f for f in header.files if f.path == str(doc)]
    if listed and listed[0].size > DOCUMENT_LIMIT:
        problem = f"its header gives it {listed[0].size} bytes, more than {DOCUMENT_LIMIT}"
    elif listed:
        document, problem = _read_member(runner, python, absolute, doc, payload_budget(header))
    return report(
        path, header, file_size=path.stat().st_size, sha256=sha256_hex(path),
        document=document, payload_problem=problem,
    )  # fmt: skip


def _read_member(
    runner: Runner, python: str, package: Path, member: PurePosixPath, budget: int
) -> tuple[str | None, str | None]:
    """(the text of *member* of the payload, None) or (None, why it could not be read)."""
    rpm2cpio = runner.which("rpm2cpio")
    if rpm2cpio is None:
        return None, "rpm2cpio not installed"
    argv = [python, "-I", "-c", _EXTRACT, rpm2cpio, str(package), f".{member}",
            str(DOCUMENT_LIMIT), str(budget)]  # fmt: skip
    result = runner.run(argv, what=f"reading {member} from the payload", check=False)
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    said = "; ".join(lines[-3:]) or f"exit status {result.returncode}"
    if result.returncode in (3, 4):  # over a limit, or not there: said plainly by _EXTRACT
        return None, said
    if result.returncode != 0:
        return None, f"{said} (is the payload damaged or truncated?)"
    return result.stdout, None
