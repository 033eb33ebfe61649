"""``venvrpm audit``: which shipped distributions carry a known vulnerability, and what fixes it.

What is audited comes from one of three places, each read without installing or running
anything of the app: a manifest's lock (every line: see :func:`from_lock`), an RPM file's
``bundled(python3dist(NAME)) = VERSION`` Provides (``rpm -qp``), or those of every RPM
installed on a host (``rpm -qa``, optionally ``--root DIR``). Matching is venvrpm.osv's; this
module groups, applies ignores, judges the database's age and makes the report. The CLI shows it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from packaging.utils import canonicalize_name
from packaging.version import Version

from venvrpm import osv
from venvrpm.errors import EXIT_BUILD_FAILED, EXIT_OK, ToolMissingError, UsageError
from venvrpm.lockfile import Lock
from venvrpm.manifest import AuditIgnore as Ignore
from venvrpm.nativelibs import NativeLibrary, from_paths
from venvrpm.runner import Runner

DEFAULT_MAX_AGE_DAYS = 30.0
"""A database whose newest record is older than this is called stale in the report."""
RPM_HINT = "Debian/Ubuntu: apt-get install rpm    Fedora/RHEL: dnf install rpm"
# rpm's query: one line per Provides, the package's NEVRA repeated on each ([%{=TAG}])
_QUERY = "[%{=NEVRA}\\t%{PROVIDENEVRS}\\n]"
# and one line per file: a separate query, so that a file name with a line break in it cannot
# pass for a Provides
_FILES_QUERY = "[%{=NEVRA}\\t%{FILENAMES}\\n]"
_BUNDLED = re.compile(r"bundled\(python3dist\(([^()\s]+)\)\) = (\S+)")
TargetKind = Literal["manifest", "rpm", "installed"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Shipped:
    """One distribution version under audit, and where it ships."""

    name: str
    version: str
    """PEP 440 (an RPM Provides' ``N:`` epoch is written back as ``N!``)."""
    where: str
    """The RPM (``name-version-release.arch``) or the lock line that carries it."""
    marker: str | None = None
    """The lock line's environment marker: it may not apply to the target."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    """One vulnerability of one distribution version, with everything that ships it."""

    name: str
    version: str
    where: tuple[str, ...]
    vulnerability: osv.Vulnerability
    ignored_by: Ignore | None = None
    """The ignore that hides it (a finding shown under "ignored", not counted)."""
    expired: Ignore | None = None
    """An ignore that named it but expired: it no longer hides it."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Report:
    """What ``venvrpm audit`` found."""

    target: str
    kind: TargetKind
    database: osv.Database
    age_days: float | None
    max_age_days: float
    shipped: tuple[Shipped, ...]
    native: tuple[tuple[str, NativeLibrary], ...]
    """(package, library): shared libraries bundled in wheels, which no PyPI advisory covers."""
    findings: tuple[Finding, ...]
    """Every finding, the ignored ones too (:attr:`Finding.ignored_by`)."""
    notes: tuple[str, ...] = ()

    @property
    def stale(self) -> bool:
        """The newest record is older than the threshold: newer advisories are not known."""
        return self.age_days is None or self.age_days > self.max_age_days

    @property
    def open(self) -> tuple[Finding, ...]:
        """The findings not hidden by an ignore."""
        return tuple(f for f in self.findings if f.ignored_by is None)

    @property
    def exit_code(self) -> int:
        """0 when nothing is open, 1 otherwise."""
        return EXIT_BUILD_FAILED if self.open else EXIT_OK

    def to_json(self) -> dict[str, object]:
        """The ``--json`` document (venvrpm/schema/audit.schema.json)."""
        db = self.database
        return {
            "ok": not self.open,
            "exit_code": self.exit_code,
            "target": {"kind": self.kind, "name": self.target},
            "database": {
                "path": str(db.path), "kind": db.kind, "sha256": db.sha256,
                "records": db.records, "withdrawn": db.withdrawn,
                "newest_modified": None if db.newest is None else _utc(db.newest),
                "age_days": None if self.age_days is None else round(self.age_days, 1),
                "max_age_days": self.max_age_days, "stale": self.stale,
            },
            "audited": [
                {"name": s.name, "version": s.version, "where": s.where, "marker": s.marker}
                for s in self.shipped
            ],
            "findings": [_finding_json(f) for f in self.findings if f.ignored_by is None],
            "ignored": [_finding_json(f) for f in self.findings if f.ignored_by is not None],
            "native_libraries": [
                {"path": n.path, "name": n.name, "version": n.version, "where": where}
                for where, n in self.native
            ],
            "notes": list(self.notes),
        }  # fmt: skip


def _finding_json(finding: Finding) -> dict[str, object]:
    v = finding.vulnerability
    document: dict[str, object] = {
        "name": finding.name, "version": finding.version, "where": list(finding.where),
        "id": v.id, "aliases": list(v.aliases), "summary": v.summary, "fixed_in": v.fixed_in,
        "modified": _utc(v.modified),
    }  # fmt: skip
    for key, ignore in (("ignored_by", finding.ignored_by), ("expired_ignore", finding.expired)):
        if ignore is not None:
            document[key] = {"id": ignore.id, "reason": ignore.reason,
                             "expires": ignore.expires.isoformat()}  # fmt: skip
    return document


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- what is audited ------------------------------------------------------------------------


def from_lock(lock: Lock, label: str) -> tuple[Shipped, ...]:
    """Every line of *lock*, markers or not.

    Deliberately without the target's markers: evaluating them needs the target interpreter
    probed (a container, a chroot), and an audit runs where the app is not built, offline.
    A line for another interpreter is audited too, its marker shown: at worst a finding the
    target does not ship, never one missed.
    """
    return tuple(
        Shipped(name=r.name, version=r.version, where=f"{label} line {r.line}", marker=r.marker)
        for r in lock.requirements
    )


def parse_provides(output: str) -> tuple[Shipped, ...]:
    """The bundled distributions in rpm's answer to :func:`query_argv` (``NEVRA<TAB>provide``
    lines), names normalised (PEP 503); every other Provides is skipped."""
    found = []
    for line in output.splitlines():
        package, _, provide = line.partition("\t")
        match = _BUNDLED.fullmatch(provide)
        if match and package:
            found.append(
                Shipped(
                    name=canonicalize_name(match.group(1)),
                    version=pep440(match.group(2)),
                    where=package,
                )
            )
    return tuple(sorted(set(found), key=lambda s: (s.where, s.name)))


def pep440(evr: str) -> str:
    """An RPM version of a Provides as PEP 440 writes it: rpm's ``N:`` epoch is PEP 440's
    ``N!`` (venvrpm.pydists writes the Provides the other way round)."""
    epoch, colon, rest = evr.partition(":")
    return f"{epoch}!{rest}" if colon and epoch.isdigit() else evr


def query_argv(
    rpm: str,
    *,
    package: Path | None = None,
    root: Path | None = None,
    dbpath: str | None = None,
    files: bool = False,
) -> list[str]:
    """The rpm command listing every Provides (or with *files*, every file) of *package* (a
    file), or of every installed package (in *root*, its database at *dbpath* inside it)."""
    argv = [rpm]
    if root is not None:
        argv += ["--root", str(root)]
    if dbpath is not None:
        argv += ["--dbpath", dbpath]
    query = _FILES_QUERY if files else _QUERY
    if package is not None:
        return [*argv, "-qp", "--queryformat", query, str(package)]
    return [*argv, "-qa", "--queryformat", query]


DBPATHS = ("/usr/lib/sysimage/rpm", "/var/lib/rpm")
"""Where a system keeps its RPM database: rpm >= 4.17 (Fedora 36+, RHEL 10), then before."""


def root_dbpath(root: Path) -> str | None:
    """The RPM database of the system at *root*, as that system's rpm finds it.

    The host's rpm would look at its own ``%_dbpath`` under the root, which is not the
    target's when they differ (Debian's rpm: ``~/.rpmdb``; an EL9 root under a Fedora host).
    """
    for dbpath in DBPATHS:
        if (root / dbpath.lstrip("/")).is_dir():
            return dbpath
    return None


def parse_files(output: str) -> tuple[tuple[str, NativeLibrary], ...]:
    """(package, library) for the shared libraries of ``*.libs`` directories in rpm's answer
    to the files query (``NEVRA<TAB>path`` lines)."""
    by_package: dict[str, list[str]] = {}
    for line in output.splitlines():
        package, _, path = line.partition("\t")
        if package and path:
            by_package.setdefault(package, []).append(path)
    return tuple((package, library) for package, paths in sorted(by_package.items())
                 for library in from_paths(paths))  # fmt: skip


def from_rpm(
    runner: Runner, *, package: Path | None = None, root: Path | None = None
) -> tuple[tuple[Shipped, ...], tuple[tuple[str, NativeLibrary], ...]]:
    """The bundled distributions and native libraries of the RPM file *package*, or of every
    installed RPM (in *root*)."""
    rpm = runner.which("rpm")
    if rpm is None:
        raise ToolMissingError("rpm is not installed", RPM_HINT)
    if package is not None:
        from venvrpm import inspect

        inspect.check_file(package)
        package = package.resolve()  # never mistaken for an option
    if root is not None and not root.is_dir():
        raise UsageError(
            f"--root {root} is not a directory", "give the root of the system whose RPMs to audit"
        )
    dbpath = None if root is None else root_dbpath(root)
    answers = []
    for files in (False, True):
        argv = query_argv(rpm, package=package, root=root, dbpath=dbpath, files=files)
        result = runner.run(argv, what="reading the Provides and files", check=False)
        if result.returncode != 0:
            where = str(package) if package is not None else f"the RPM database of {root or '/'}"
            raise UsageError(
                f"rpm cannot read {where}",
                "check the path (an .rpm file, or --root with var/lib/rpm or usr/lib/sysimage/rpm)",
                details=[result.tail(5)] if result.tail(5) else (),
            )
        answers.append(result.stdout)
    return parse_provides(answers[0]), parse_files(answers[1])


# --- ignores ----------------------------------------------------------------------------------


def parse_ignores(raw: object, source: str) -> tuple[Ignore, ...]:
    """The ``ignore`` list (of an ignore file or the manifest's ``audit``): each entry an ``id``,
    a ``reason`` and an ``expires`` date (YYYY-MM-DD); every problem named with its index."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise UsageError(f"{source}: ignore is not a list", IGNORE_HINT)
    problems: list[str] = []
    found = []
    for n, entry in enumerate(raw):
        if not isinstance(entry, dict):
            problems.append(f"ignore[{n}]: not a mapping with id, reason, expires")
            continue
        unknown = sorted(set(entry) - {"id", "reason", "expires"})
        if unknown:
            problems.append(f"ignore[{n}]: unknown key {', '.join(map(str, unknown))}")
        values = {k: entry.get(k) for k in ("id", "reason", "expires")}
        for key in ("id", "reason"):
            if not isinstance(values[key], str) or not str(values[key]).strip():
                problems.append(f"ignore[{n}].{key}: missing or not a non-empty string")
        expires = values["expires"]
        if isinstance(expires, str):
            try:
                expires = date.fromisoformat(expires)
            except ValueError:
                expires = None
        if not isinstance(expires, date) or isinstance(expires, datetime):
            problems.append(f"ignore[{n}].expires: missing or not a date (YYYY-MM-DD)")
            continue
        if not problems:
            found.append(Ignore(id=str(values["id"]).strip(), reason=str(values["reason"]),
                                expires=expires))  # fmt: skip
    if problems:
        raise UsageError(
            f"{source}: the audit ignores are not usable", IGNORE_HINT, details=problems
        )
    return tuple(found)


IGNORE_HINT = (
    "each ignore is {id: PYSEC-..., reason: why it does not apply, expires: YYYY-MM-DD}; "
    "an id may be any of the advisory's ids or aliases"
)


def read_ignore_file(path: Path) -> tuple[Ignore, ...]:
    """The ignores of a YAML file holding ``ignore: [...]`` (as the manifest's ``audit``)."""
    import yaml

    from venvrpm import files

    try:
        raw = yaml.safe_load(files.read_regular(path, 1 << 20).decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read the ignore file {path}: {exc}", IGNORE_HINT) from None
    if not isinstance(raw, dict) or set(raw) - {"ignore"}:
        raise UsageError(f"{path}: an ignore file is a mapping with one key, ignore", IGNORE_HINT)
    return parse_ignores(raw.get("ignore"), str(path))


# --- the report -----------------------------------------------------------------------------


def audit(
    database: osv.Database,
    shipped: Sequence[Shipped],
    *,
    target: str,
    kind: TargetKind,
    ignores: Iterable[Ignore] = (),
    native: Sequence[tuple[str, NativeLibrary]] = (),
    today: date,
    now: datetime,
    max_age_days: float = DEFAULT_MAX_AGE_DAYS,
) -> Report:
    """Match *shipped* against *database*: one finding per vulnerability of a distribution
    version, listing every place that ships that version."""
    places: dict[tuple[str, str], list[str]] = {}
    for one in shipped:
        places.setdefault((one.name, one.version), []).append(one.where)
    by_id: dict[str, Ignore] = {i.id: i for i in ignores}
    findings: list[Finding] = []
    notes: list[str] = []
    for (name, version), where in sorted(places.items()):
        for vulnerability in osv.vulnerabilities(database, name, version):
            notes.extend(vulnerability.notes)
            named = [by_id[i] for i in (vulnerability.id, *vulnerability.aliases) if i in by_id]
            live = next((i for i in named if i.expires >= today), None)
            dead = next((i for i in named if i.expires < today), None)
            findings.append(Finding(
                name=name, version=version, where=tuple(sorted(set(where))),
                vulnerability=vulnerability, ignored_by=live,
                expired=dead if live is None else None,
            ))  # fmt: skip
    for ignore in by_id.values():
        if ignore.expires < today and not any(f.expired is ignore for f in findings):
            notes.append(
                f"the ignore of {ignore.id} expired on {ignore.expires} (nothing it names is found)"
            )
    age = None if database.newest is None else (now - database.newest).total_seconds() / 86400
    return Report(
        target=target, kind=kind, database=database, age_days=age, max_age_days=max_age_days,
        shipped=tuple(shipped), native=tuple(native), findings=tuple(findings),
        notes=tuple(dict.fromkeys(notes)),
    )  # fmt: skip


def fixes(report: Report) -> dict[str, str | None]:
    """For each distribution with an open finding: the lowest version fixing all of them
    (venvrpm.osv.fix_version), None when one knows no fix."""
    grouped: dict[tuple[str, str], list[osv.Vulnerability]] = {}
    for finding in report.open:
        grouped.setdefault((finding.name, finding.version), []).append(finding.vulnerability)
    wanted: dict[str, str | None] = {}
    for (name, version), found in sorted(grouped.items()):
        fix = osv.fix_version(report.database, name, found, version)
        if name in wanted:  # several versions of one name (a fleet): the highest fix
            before = wanted[name]
            fix = None if before is None or fix is None else max(fix, before, key=Version)
        wanted[name] = fix
    return wanted


@dataclass(frozen=True, kw_only=True, slots=True)
class Fix:
    """What ``--fix`` did to a manifest's lock."""

    upgraded: tuple[tuple[str, str, str], ...]
    """(name, from, to): each re-locked to the lowest version that fixes its findings."""
    unfixable: tuple[str, ...]
    """Names with a finding no release fixes (yet): left as they are."""
    release: str | None
    """The release to ship the fixed lock under (the manifest's, raised); None when the
    manifest.s release does not start with a number."""

    def to_json(self) -> dict[str, object]:
        """The ``fix`` member of the ``--json`` document."""
        return {
            "upgraded": [{"name": n, "from": a, "to": b} for n, a, b in self.upgraded],
            "unfixable": list(self.unfixable), "release": self.release,
        }  # fmt: skip


def upgrade_requests(wanted: dict[str, str | None]) -> list[str]:
    """``NAME==VERSION`` for each fixable name: ``venvrpm lock``'s ``--upgrade-package``, which
    pip-compile reads as "this exact version" -- the lowest fixing release, where a bare name
    or ``>=`` would take the newest."""
    return [f"{name}=={version}" for name, version in sorted(wanted.items()) if version]


def next_release(release: str) -> str | None:
    """*release* with its leading number raised by one (``1`` -> ``2``, ``3.el9`` -> ``4.el9``;
    ``rc1`` -> None): an update must be newer than what is installed, for rpm and dnf."""
    match = re.fullmatch(r"(\d+)(.*)", release)
    if match is None:
        return None
    return f"{int(match.group(1)) + 1}{match.group(2)}"
