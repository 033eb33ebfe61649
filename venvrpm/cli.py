"""Command line: ``main(argv) -> int``. The only place that catches errors and picks exit codes."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

# Only what parsing the arguments needs: the rest is imported by the command that uses it, so
# that `venvrpm --version` and a build's first step come at once (docs/performance.md).
from venvrpm import __version__
from venvrpm.errors import (
    EXIT_BUILD_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    SystemRefusal,
    UsageError,
    VenvrpmError,
)

if TYPE_CHECKING:
    from venvrpm import audit, manifest, osv, pipeline
    from venvrpm import bundle as bundle_module
    from venvrpm import cache as cache_module
    from venvrpm.console import Console
    from venvrpm.nativelibs import NativeLibrary
    from venvrpm.runner import HostRunner, Runner

_A = TypeVar("_A", bound="Arguments")


def sign_key(value: str) -> str | None:
    """plan.sign_key, imported when a key is given."""
    from venvrpm.plan import sign_key as checked

    return checked(value)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is a UsageError through main's one door (exit 2, and with
    ``--json`` a document) instead of argparse's own SystemExit. Sub-commands' parsers are of
    this class too (add_subparsers makes them of the parent's type)."""

    def error(self, message: str) -> NoReturn:
        """An unknown option, a missing or invalid argument: argparse's usage line for the
        human on stderr, then the error."""
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}", f"`{self.prog} --help` lists the arguments")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="venvrpm",
        description="Turn a Python application and its locked dependencies into one RPM.",
        epilog="exit codes: 0 success, 1 build failed, 2 usage or manifest error, "
        "70 a bug in venvrpm, 130 interrupted, 143 terminated",
    )
    parser.add_argument("--version", action="version", version=f"venvrpm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    build = sub.add_parser("build", help="build the RPM described by a manifest")
    build.set_defaults(handler=_build, arguments=BuildArgs)
    build.add_argument("manifest", type=Path, help="the app.yaml")
    build.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        default=Path("dist"),
        help="where the RPM goes (default: dist/)",
    )
    build.add_argument(
        "--keep-workdir",
        action="store_true",
        help="keep the work directory (stage, spec, rpmbuild tree) and say where",
    )
    build.add_argument(
        "--dry-run", action="store_true", help="print the plan as JSON; build and run nothing"
    )
    _verbosity(build)
    build.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document describing the result on stdout (venvrpm/schema/result.schema.json)",
    )
    build.add_argument(
        "--offline",
        action="store_true",
        help="never use the network: the wheelhouse must hold everything",
    )
    build.add_argument(
        "--srpm",
        action="store_true",
        help="make a source RPM that rebuilds this RPM offline (mock, Koji, Copr, OBS)",
    )
    build.add_argument(
        "--spec-only",
        action="store_true",
        help="build the payload and write the spec to the output directory, no RPM",
    )
    build.add_argument(
        "--sign",
        metavar="KEYID",
        type=sign_key,  # argparse applies it to the environment's default too
        default=os.environ.get("VENVRPM_SIGN_KEY"),
        help="sign the RPM with this gpg key (default: $VENVRPM_SIGN_KEY)",
    )
    build.add_argument(
        "--no-cache",
        action="store_true",
        help="neither reuse nor store a cached environment (see `venvrpm cache`)",
    )
    _target_option(build)

    lock = sub.add_parser(
        "lock", help="resolve the locks where the build runs, for the target interpreter"
    )
    lock.set_defaults(handler=_lock, arguments=LockArgs)
    lock.add_argument("manifest", type=Path)
    lock.add_argument(
        "--upgrade",
        action="store_true",
        help="re-resolve everything to the newest allowed versions",
    )
    lock.add_argument(
        "--upgrade-package",
        "-P",
        action="append",
        default=[],
        metavar="NAME",
        help="re-resolve only NAME (may be repeated)",
    )
    lock.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if a lock is missing or stale, saying why; changes nothing, no network",
    )
    lock.add_argument("--keep-workdir", action="store_true", help="keep the locking environment")
    lock.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME",
        help="only this lock: main or a lock.environments name (may be repeated)",
    )
    lock.add_argument(
        "--format",
        choices=("requirements", "pylock"),
        default=None,
        help="the main lock's format: hash-locked requirements, or a PEP 751 pylock.toml; must "
        "agree with requirements:'s name (pylock.toml, pylock.NAME.toml); default: by the name",
    )
    _target_option(lock)
    _verbosity(lock)

    bundle = sub.add_parser(
        "bundle", help="build, then make a delivery directory and .tar for air-gapped hosts"
    )
    bundle.set_defaults(handler=_bundle, arguments=BundleArgs)
    bundle.add_argument("manifest", type=Path)
    bundle.add_argument("-o", "--output-dir", type=Path, default=Path("dist"))
    bundle.add_argument(
        "--sign", metavar="KEYID", type=sign_key, default=os.environ.get("VENVRPM_SIGN_KEY")
    )
    bundle.add_argument("--offline", action="store_true", help="never use the network")
    bundle.add_argument("--keep-workdir", action="store_true")
    bundle.add_argument("--no-cache", action="store_true", help="do not use the environment cache")
    _target_option(bundle)
    bundle.add_argument(
        "--audit-db", type=Path, metavar="PATH",
        help="also audit the RPM against this OSV database and ship the report as audit.json",
    )  # fmt: skip
    cache = sub.add_parser(
        "cache",
        help="the cache of built environments: list, prune",
        description="Built environments (locked requirements installed, relocated, compiled) "
        "are cached so a rebuild with an unchanged lock installs only the project. "
        "Location: $VENVRPM_CACHE_DIR, else $XDG_CACHE_HOME/venvrpm, else ~/.cache/venvrpm; "
        "size limit: $VENVRPM_CACHE_MAX_SIZE (default 5G).",
    )
    cache.set_defaults(handler=_cache, arguments=CacheArgs)
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    cache_list = cache_sub.add_parser("list", help="the cached environments, most recent first")
    cache_list.add_argument("--json", action="store_true", help="as one JSON document")
    prune = cache_sub.add_parser(
        "prune", help="remove environments: unused for a while, or beyond a size"
    )
    prune.add_argument(
        "--max-size", metavar="SIZE", help="keep the most recently used up to SIZE (e.g. 2G)"
    )
    prune.add_argument(
        "--older-than", metavar="DAYS", type=float, help="remove those unused for DAYS days"
    )
    prune.add_argument("--all", action="store_true", help="remove every environment")
    _verbosity(bundle)

    stage = sub.add_parser(
        "stage", help="(used inside an SRPM's %%install) build the payload into a root"
    )
    stage.set_defaults(handler=_stage, arguments=StageArgs)
    stage.add_argument("manifest", type=Path)
    stage.add_argument("--root", type=Path, required=True, help="the buildroot")
    stage.add_argument("--file-list", type=Path, required=True, help="where the %%files lines go")

    fetch = sub.add_parser(
        "fetch", help="fill the wheelhouse with what the lock names, for the target interpreter"
    )
    fetch.set_defaults(handler=_fetch, arguments=ManifestArgs)
    fetch.add_argument("manifest", type=Path)
    _target_option(fetch)
    _verbosity(fetch)

    test = sub.add_parser(
        "test", help="run the project's tests in an environment built like the shipped one"
    )
    test.set_defaults(handler=_test, arguments=TestArgs)
    test.add_argument("manifest", type=Path)
    test.add_argument(
        "--keep-workdir", action="store_true", help="keep the test environment and say where"
    )
    _verbosity(test)

    check = sub.add_parser("check", help="validate a manifest and its lock, build nothing")
    check.set_defaults(handler=_check, arguments=ManifestArgs)
    check.add_argument("manifest", type=Path)
    _target_option(check)

    schema = sub.add_parser("schema", help="print the manifest JSON Schema")
    schema.set_defaults(handler=_schema, arguments=SchemaArgs)
    schema.add_argument(
        "--markdown",
        action="store_true",
        help="print the manifest reference as Markdown instead (docs/reference.md)",
    )
    init = sub.add_parser(
        "init",
        help="write app.yaml and requirements.in from the project's pyproject.toml, "
        "or for an application from PyPI (--from-pypi)",
    )
    init.set_defaults(handler=_init, arguments=InitArgs)
    init.add_argument(
        "directory", type=Path, nargs="?", default=Path("."), metavar="DIR",
        help="the project directory, holding pyproject.toml; with --from-pypi, where the "
        "files go (made if missing) (default: .)",
    )  # fmt: skip
    init.add_argument(
        "--from-pypi", metavar="NAME[==VERSION]",
        help="package this distribution from the index, no project of yours: its commands "
        "are read from its wheel (downloaded, not run)",
    )  # fmt: skip
    init.add_argument(
        "--python", metavar="PATH", default=None,
        help="the target's interpreter written into app.yaml (default: /usr/bin/python3)",
    )  # fmt: skip
    init.add_argument(
        "--find-links", metavar="DIR", type=Path, default=None,
        help="with --from-pypi: take the wheel from DIR, not the index (offline)",
    )  # fmt: skip
    init.add_argument(
        "--force",
        action="store_true",
        help="replace existing app.yaml, requirements.in and venvrpm.schema.json",
    )
    doctor = sub.add_parser(
        "doctor", help="report what this host can do and how to install what is missing"
    )
    doctor.set_defaults(handler=_doctor, arguments=DoctorArgs)
    doctor.add_argument(
        "manifest", type=Path, nargs="?", metavar="MANIFEST",
        help="also start its build.container image / chroot into its build.rootfs",
    )  # fmt: skip
    doctor.add_argument("--image", help="start a container of IMAGE with each engine")
    lint = sub.add_parser("lint", help="run rpmlint with venvrpm's configuration on built RPMs")
    lint.set_defaults(handler=_lint, arguments=LintArgs)
    lint.add_argument("rpms", type=Path, nargs="+", metavar="RPM")
    lint.add_argument(
        "--show-filtered",
        action="store_true",
        help="also list the findings about bundled distributions' files (filtered by default)",
    )
    completion = sub.add_parser("completion", help="print a shell completion script (bash, zsh)")
    completion.set_defaults(handler=_completion, arguments=CompletionArgs)
    completion.add_argument("shell", choices=("bash", "zsh"))
    inspect = sub.add_parser(
        "inspect",
        help="report what an RPM holds: metadata, bundled distributions, sizes, dependencies",
    )
    inspect.set_defaults(handler=_inspect, arguments=InspectArgs)
    inspect.add_argument("rpm", type=Path, metavar="RPM")
    inspect.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on stdout (venvrpm/schema/inspect.schema.json)",
    )
    audit = sub.add_parser(
        "audit",
        help="report the known vulnerabilities of what an app's lock, an RPM or this host's "
        "RPMs bundle, from an offline OSV database",
        epilog="exit codes: 0 nothing found, 1 vulnerabilities found, 2 usage error or "
        "unusable database",
    )
    audit.set_defaults(handler=_audit, arguments=AuditArgs)
    audit.add_argument(
        "target", type=Path, nargs="?", metavar="TARGET",
        help="a manifest (app.yaml: its lock is audited) or an .rpm file",
    )  # fmt: skip
    audit.add_argument(
        "--installed", action="store_true",
        help="audit every installed RPM's bundled(python3dist(...)) Provides instead",
    )  # fmt: skip
    audit.add_argument(
        "--root", type=Path, metavar="DIR", help="with --installed: the RPM database of DIR"
    )
    audit.add_argument(
        "--db", type=Path, required=True, metavar="PATH",
        help="the OSV database: a directory of records (PyPA's advisory-database) or "
        "osv.dev's PyPI/all.zip",
    )  # fmt: skip
    audit.add_argument(
        "--max-age", type=float, default=30.0, metavar="DAYS",
        help="warn when the database's newest record is older than DAYS (default: 30)",
    )  # fmt: skip
    audit.add_argument(
        "--ignore-file", type=Path, metavar="FILE",
        help="accepted findings: YAML `ignore: [{id, reason, expires}]`",
    )  # fmt: skip
    audit.add_argument(
        "--fix", action="store_true",
        help="with a manifest: re-lock each vulnerable distribution to the lowest version that "
        "fixes its findings (nothing else moves), audit again, say the release to ship",
    )  # fmt: skip
    audit.add_argument(
        "--json", action="store_true",
        help="print one JSON document on stdout (venvrpm/schema/audit.schema.json)",
    )  # fmt: skip
    _verbosity(audit)  # --fix runs pip-compile: -v shows its output
    return parser


def _target_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="NAME",
        help="only this target of the manifest's targets (repeatable; default: every target)",
    )


def _verbosity(command: argparse.ArgumentParser) -> None:
    """-q and -v, which exclude each other (argparse makes both together a usage error)."""
    group = command.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show the output of every command (pip, rpmbuild, podman) as it comes",
    )


# --- typed arguments: one frozen dataclass per command, made from argparse's Namespace ------


@dataclass(frozen=True, slots=True, kw_only=True)
class Arguments:
    """What every command may have: how much to show, and whether as one JSON document."""

    quiet: bool = False
    verbose: bool = False
    json: bool = False

    @classmethod
    def of(cls: type[_A], namespace: argparse.Namespace) -> _A:
        """The fields of *cls* from *namespace* (a field the command has no option for keeps
        its default)."""
        given = vars(namespace)
        return cls(**{f.name: given[f.name] for f in dataclasses.fields(cls) if f.name in given})


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestArgs(Arguments):
    """A command on a manifest: ``check``, ``fetch``."""

    manifest: Path
    target: list[str] = dataclasses.field(default_factory=list)
    """``--target NAME``: these of the manifest's targets (all when empty)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildArgs(ManifestArgs):
    """``venvrpm build``."""

    output_dir: Path
    keep_workdir: bool
    dry_run: bool
    offline: bool
    srpm: bool
    spec_only: bool
    sign: str | None
    no_cache: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class BundleArgs(ManifestArgs):
    """``venvrpm bundle``."""

    output_dir: Path
    sign: str | None
    offline: bool
    keep_workdir: bool
    no_cache: bool
    audit_db: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LockArgs(ManifestArgs):
    """``venvrpm lock``."""

    upgrade: bool
    upgrade_package: list[str]
    check: bool
    keep_workdir: bool
    env: list[str]
    format: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StageArgs(ManifestArgs):
    """``venvrpm stage`` (inside an SRPM's %install)."""

    root: Path
    file_list: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class TestArgs(ManifestArgs):
    """``venvrpm test``."""

    keep_workdir: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheArgs(Arguments):
    """``venvrpm cache list|prune``."""

    cache_command: Literal["list", "prune"]
    max_size: str | None = None
    older_than: float | None = None
    all: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SchemaArgs(Arguments):
    """``venvrpm schema``."""

    markdown: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class InitArgs(Arguments):
    """``venvrpm init``."""

    directory: Path
    from_pypi: str | None
    python: str | None
    find_links: Path | None
    force: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DoctorArgs(Arguments):
    """``venvrpm doctor``."""

    manifest: Path | None
    image: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LintArgs(Arguments):
    """``venvrpm lint``."""

    rpms: list[Path]
    show_filtered: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class InspectArgs(Arguments):
    """``venvrpm inspect``."""

    rpm: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditArgs(Arguments):
    """``venvrpm audit``."""

    target: Path | None
    installed: bool
    root: Path | None
    db: Path
    max_age: float
    ignore_file: Path | None
    fix: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CompletionArgs(Arguments):
    """``venvrpm completion``."""

    shell: Literal["bash", "zsh"]


# --- the one error door -----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run venvrpm; return the exit code.

    The one place errors become exit codes: a VenvrpmError is its message and hint; Ctrl-C
    and SIGTERM are 130 and 143; anything else is a bug in venvrpm, shown with its traceback
    (EXIT_BUG). With ``--json`` every one of these exits writes its document.
    """
    parser = _parser()
    try:
        namespace = parser.parse_args(argv)
    except UsageError as exc:  # --help and --version still exit 0 through argparse
        return _usage_error(exc, sys.argv[1:] if argv is None else argv)
    if getattr(namespace, "handler", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from venvrpm.console import Console, bug_error  # after --help and --version: rich is slow

    handler: Callable[[Any, Console], int] = namespace.handler
    args: Arguments = namespace.arguments.of(namespace)
    console = Console(quiet=args.quiet, verbose=args.verbose, animate=not args.json)
    # SIGTERM (a cancelled CI job, `timeout`) unwinds like Ctrl-C: containers are removed,
    # the work directory too, and nothing partial is left in the output directory.
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return handler(args, console)
    except VenvrpmError as exc:
        console.error(exc)
        return _failed(args, console, exc, console.current_step)
    except KeyboardInterrupt:
        return _stopped(args, console, "interrupted", EXIT_INTERRUPTED)
    except Terminated:
        return _stopped(args, console, "terminated", EXIT_TERMINATED)
    except Exception as exc:  # anything else is a bug: it keeps its traceback
        step = console.current_step
        console.bug(exc)
        return _failed(args, console, bug_error(exc), step)
    finally:
        console.close()
        signal.signal(signal.SIGTERM, previous)


def _usage_error(error: UsageError, argv: Sequence[str]) -> int:
    """Arguments argparse refused: said, and written as a document when ``--json`` is among
    them (the arguments could not be parsed, so it is looked for as argparse would take it:
    spelled out or abbreviated, before a ``--``)."""
    from venvrpm.console import Console

    words = list(argv)[: list(argv).index("--")] if "--" in argv else list(argv)
    wants_json = any(len(w) > 3 and "--json".startswith(w) for w in words)
    console = Console(animate=False)
    try:
        console.error(error)
        return _failed(Arguments(json=wants_json), console, error, None)
    finally:
        console.close()


def _stopped(args: Arguments, console: Console, what: str, code: int) -> int:
    """Ctrl-C or SIGTERM: said, and with ``--json`` written, as an error with its code."""
    error = VenvrpmError(f"{what}; nothing was written to the output directory")
    error.exit_code = code
    step = console.current_step
    console.error(error)
    return _failed(args, console, error, step)


def _failed(args: Arguments, console: Console, error: VenvrpmError, step: str | None) -> int:
    """*error*'s exit code, its ``--json`` document written (when stdout takes it)."""
    from venvrpm.console import result_document

    if args.json:
        document = result_document(error.exit_code, error=error, step=step)
        if isinstance(error, TargetsFailed):  # what the other targets built
            document["targets"] = error.entries
        try:
            console.write_json(document)
        except SystemRefusal as refusal:  # stdout is full or gone: stderr says so
            console.error(refusal)
    return error.exit_code


class Terminated(BaseException):
    """SIGTERM arrived (a BaseException, so it unwinds through every cleanup like Ctrl-C)."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


# --- one handler per command: arguments in, the library's work, the console's rendering -----


def _schema(args: SchemaArgs, console: Console) -> int:
    from venvrpm import manifest

    if args.markdown:
        from venvrpm import reference

        console.write_out(reference.render(manifest.schema()))
    else:
        console.write_out(manifest.schema_text())
    return EXIT_OK


def _completion(args: CompletionArgs, console: Console) -> int:
    from venvrpm import completion

    console.write_out(completion.script(_parser(), args.shell))
    return EXIT_OK


def _lint(args: LintArgs, console: Console) -> int:
    from venvrpm import lint, sourcedate
    from venvrpm.runner import HostRunner

    runner = HostRunner(sourcedate.default_source_date_epoch(os.environ))
    linted = lint.run(args.rpms, runner, show_filtered=args.show_filtered)
    console.lint(linted)
    return EXIT_BUILD_FAILED if linted.failed else EXIT_OK


def _inspect(args: InspectArgs, console: Console) -> int:
    from venvrpm import inspect, sourcedate
    from venvrpm.runner import HostRunner

    runner = HostRunner(sourcedate.default_source_date_epoch(os.environ))
    found = inspect.inspect_rpm(args.rpm, runner)
    if args.json:
        console.write_json(found.to_json())
    else:
        console.inspection(found)
    return EXIT_OK


def _audit(args: AuditArgs, console: Console) -> int:
    from datetime import UTC, datetime

    from venvrpm import audit, manifest, osv, sourcedate
    from venvrpm.runner import HostRunner

    if args.installed == (args.target is not None):
        raise UsageError(
            "venvrpm audit: give a TARGET (app.yaml or an .rpm) or --installed, not both",
            "venvrpm audit app.yaml --db DB; venvrpm audit --installed [--root DIR] --db DB",
        )
    if args.root is not None and not args.installed:
        raise UsageError(
            "--root is for --installed", "venvrpm audit --installed --root DIR --db DB"
        )
    if args.max_age < 0:
        raise UsageError(f"--max-age {args.max_age}: a number of days, 0 or more")
    if args.fix and (args.installed or _is_rpm(args.target)):
        raise UsageError("--fix re-locks a manifest: give the app.yaml, not an RPM",
                         "venvrpm audit app.yaml --db DB --fix, then build and ship")  # fmt: skip
    ignores = audit.read_ignore_file(args.ignore_file) if args.ignore_file else ()
    runner = HostRunner(sourcedate.default_source_date_epoch(os.environ), on_output=console.sink)
    kind: audit.TargetKind
    loaded: manifest.Manifest | None = None
    native: tuple[tuple[str, NativeLibrary], ...] = ()
    if args.installed:
        kind, name = "installed", f"installed RPMs of {args.root or '/'}"
        shipped, native = audit.from_rpm(runner, root=args.root)
    elif _is_rpm(args.target):
        kind, name = "rpm", str(args.target)
        shipped, native = audit.from_rpm(runner, package=args.target)
    else:
        assert args.target is not None
        loaded = manifest.load(args.target)
        kind, name = "manifest", str(args.target)
        shipped = audit.from_lock(loaded.read_lock(), loaded.requirements.name)
        ignores = (*loaded.audit_ignores, *ignores)
    database = osv.load(args.db)

    def run_audit(shipped: tuple[audit.Shipped, ...]) -> audit.Report:
        now = datetime.now(UTC)
        return audit.audit(database, shipped, target=name, kind=kind, ignores=ignores,
                           native=native, today=now.date(), now=now,
                           max_age_days=args.max_age)  # fmt: skip

    report = run_audit(shipped)
    if report.stale:
        age = "of unknown age" if report.age_days is None else f"{report.age_days:.0f} days old"
        console.report("warning", f"the vulnerability database is {age} (newest record), more "
                       f"than --max-age {args.max_age:g}: newer advisories are not in it")  # fmt: skip
    for finding in report.findings:
        if finding.expired is not None:
            console.report("warning", f"the ignore of {finding.expired.id} expired on "
                           f"{finding.expired.expires}: {finding.vulnerability.id} is reported")  # fmt: skip
    fixed = None
    if args.fix and loaded is not None and report.open:
        if not args.json:
            console.audit(report)
        report, fixed = _audit_fix(loaded, report, runner, console, run_audit)
    if args.json:
        document = report.to_json()
        if fixed is not None:
            document["fix"] = fixed.to_json()
        console.write_json(document)
    else:
        console.audit(report)
        if fixed is not None:
            console.audit_fixed(
                fixed, loaded.name if loaded else "", loaded.version if loaded else ""
            )
    return report.exit_code


def _audit_fix(
    loaded: manifest.Manifest,
    report: audit.Report,
    runner: HostRunner,
    console: Console,
    run_audit: Callable[[tuple[audit.Shipped, ...]], audit.Report],
) -> tuple[audit.Report, audit.Fix]:
    """``--fix``: re-lock the vulnerable names to their lowest fixing versions through
    ``venvrpm lock --upgrade-package NAME==VERSION``, and audit the new lock."""
    from venvrpm import audit, lock

    wanted = audit.fixes(report)
    requests = audit.upgrade_requests(wanted)
    before = {s.name: s.version for s in report.shipped}
    if requests:
        console.report("step", "re-locking " + ", ".join(requests))
        lock.lock_all(loaded, lock.targets(loaded, ()), runner, keep=False, upgrade=False,
                      upgrade_packages=requests, report=console.report)  # fmt: skip
    relocked = audit.from_lock(loaded.read_lock(), loaded.requirements.name)
    after = {s.name: s.version for s in relocked}
    upgraded = tuple((n, before.get(n, "-"), after.get(n, "-")) for n, v in sorted(wanted.items())
                     if v is not None)  # fmt: skip
    fix = audit.Fix(
        upgraded=upgraded,
        unfixable=tuple(n for n, v in sorted(wanted.items()) if v is None),
        release=audit.next_release(loaded.release) if requests else None,
    )
    return run_audit(relocked), fix


def _is_rpm(path: Path | None) -> bool:
    """An .rpm by its name, or a file that starts with the RPM lead."""
    from venvrpm.inspect import RPM_MAGIC

    if path is None:
        return False
    if path.suffix == ".rpm":
        return True
    try:
        with path.open("rb") as stream:
            return stream.read(len(RPM_MAGIC)) == RPM_MAGIC
    except OSError:
        return False


def _open_cache(args: BuildArgs | BundleArgs | CacheArgs) -> cache_module.Cache | None:
    """The environment cache as the environment configures it (None with --no-cache)."""
    from venvrpm import cache as cache_module

    if not isinstance(args, CacheArgs) and args.no_cache:
        return None
    return cache_module.from_environment(os.environ)


def _cache(args: CacheArgs, console: Console) -> int:
    from venvrpm import cache as cache_module
    from venvrpm.console import cache_document, cache_listing, pruned_line

    cache = _open_cache(args)
    assert cache is not None  # `cache` has no --no-cache
    if args.cache_command == "list":
        entries = cache.entries()
        for warning in cache.warnings:  # an untrusted cache is neither listed nor pruned
            console.report("warning", warning)
        if args.json:
            console.write_json(cache_document(cache.root, cache.limit, entries))
            return EXIT_OK
        lines, done = cache_listing(cache.root, cache.limit, entries)
        console.write_out(lines)
        console.done(done)
        return EXIT_OK
    limit, older = cache_module.prune_limits(
        everything=args.all, max_size=args.max_size, older_than_days=args.older_than
    )
    removed = cache.prune(limit=limit, older_than=older)
    for warning in cache.warnings:
        console.report("warning", warning)
    console.done(pruned_line(removed))
    return EXIT_OK


def _doctor(args: DoctorArgs, console: Console) -> int:
    from venvrpm import doctor, manifest, sourcedate
    from venvrpm.console import doctor_report
    from venvrpm.runner import HostRunner

    loaded = manifest.load(args.manifest) if args.manifest else None
    found = doctor.checks(
        HostRunner(sourcedate.default_source_date_epoch(os.environ)), loaded, image=args.image
    )
    console.write_out(doctor_report(found))
    return EXIT_OK if doctor.usable(found) else EXIT_BUILD_FAILED


def _check(args: ManifestArgs, console: Console) -> int:
    from venvrpm import entrypoints, manifest, targets
    from venvrpm.console import checked_line

    loaded = manifest.load(args.manifest)
    chosen = targets.selected(loaded, args.target, platform.machine(), targets.emulation_enabled)
    failures: list[tuple[str, VenvrpmError]] = []
    for each in chosen:
        try:
            checked = entrypoints.check_manifest(each)
        except VenvrpmError as exc:
            if each.target is None:
                raise
            console.report("warning", f"target {each.target}: {exc.message}")
            failures.append((each.target, exc))
            continue
        for warning in checked.warnings:
            console.report("warning", targets.label(each) + warning)
        for note in checked.notes:
            console.notice(targets.label(each) + note)
        if checked.unchecked:
            console.notice(f"{targets.label(each)}entry points not checked: {checked.unchecked} "
                           "(the build checks them)")  # fmt: skip
        shown = args.manifest if each.target is None else f"{args.manifest} ({each.target})"
        console.done(checked_line(shown, checked, each.version))
    if failures:
        raise TargetsFailed(failures, len(chosen), [])
    return EXIT_OK


def _init(args: InitArgs, console: Console) -> int:
    from venvrpm import init, sourcedate
    from venvrpm.runner import HostRunner

    python = init.PYTHON if args.python is None else init.check_python(args.python)
    if args.find_links is not None and args.from_pypi is None:
        raise UsageError("--find-links is for --from-pypi", "venvrpm init --from-pypi NAME "
                         "--find-links DIR")  # fmt: skip
    scaffold = None
    if args.from_pypi is not None:
        runner = HostRunner(
            sourcedate.default_source_date_epoch(os.environ), on_output=console.sink
        )
        console.report("step", f"reading the wheel of {args.from_pypi}")
        scaffold = init.from_pypi(
            args.from_pypi, runner, python=python,
            find_links=None if args.find_links is None else args.find_links.resolve(),
            env=init.network_environment(os.environ),
        )  # fmt: skip
    made = init.scaffold(args.directory, force=args.force, python=python, made=scaffold)
    for warning in made.warnings:
        console.report("warning", warning)
    for path in made.kept:
        console.notice(f"kept {path}; refresh it with `venvrpm schema > {path}`")
    console.done("wrote " + ", ".join(str(p) for p in made.written))
    if made.placeholders:
        keys = ", ".join(made.placeholders)
        console.notice(f"set {keys} in {made.manifest} first (now {init.PLACEHOLDER})")
    console.notice(
        f"next: `venvrpm lock {made.manifest}` (writes the lock), "
        f"then `venvrpm build {made.manifest} -o dist/`"
    )
    return EXIT_OK


def _lock(args: LockArgs, console: Console) -> int:
    from venvrpm import lock, manifest, sourcedate, targets
    from venvrpm.runner import HostRunner

    loaded = manifest.load(args.manifest)
    runner = HostRunner(sourcedate.default_source_date_epoch(os.environ), on_output=console.sink)
    written: list[str] = []
    checked = 0
    done: dict[Path, str] = {}  # a lock two targets share is resolved once, by the first
    for each in targets.selected(
        loaded, args.target, platform.machine(), targets.emulation_enabled
    ):
        if each.requirements in done:
            console.report("info", f"target {each.target}: {each.requirements.name} is "
                           f"target {done[each.requirements]}'s lock too; locked once")  # fmt: skip
            continue
        done[each.requirements] = each.target or ""
        if each.target is not None:
            console.report("step", f"target {each.target}: {each.python} in {_where(each)}")
        chosen = lock.targets(each, args.env)
        lock.require_format(each, args.format)
        if args.check:
            lock.require_up_to_date(each, chosen, runner, args.manifest, report=console.report)
            checked += len(chosen)
            continue
        lock.lock_all(
            each, chosen, runner, keep=args.keep_workdir, upgrade=args.upgrade,
            upgrade_packages=args.upgrade_package, report=console.report,
        )  # fmt: skip
        written += [t.output.name for t in chosen]
    if args.check:
        console.done(f"{checked} lock(s) up to date with their inputs")
    else:
        console.done(", ".join(written) + " written")
    return EXIT_OK


def _require_wheelhouse(loaded: manifest.Manifest, message: str) -> None:
    if loaded.wheelhouse is None:
        raise UsageError(message, "add `wheelhouse: wheels/` and run `venvrpm fetch`")


def _stage(args: StageArgs, console: Console) -> int:
    from venvrpm import manifest, pipeline

    loaded = manifest.load(args.manifest)
    root = args.root.resolve()
    with pipeline.session(loaded, report=console.report, sink=console.sink, keep=False,
                          output_dir=Path("/nonexistent"), stage=root) as (_, runners, plan):  # fmt: skip
        assembled = pipeline.stage(plan, runners, args.file_list.resolve(), console.report)
    console.done(f"{root}: {len(assembled.content.entries)} entries listed in {args.file_list}")
    return EXIT_OK


def _bundle(args: BundleArgs, console: Console) -> int:
    from venvrpm import bundle, manifest, pipeline

    loaded = manifest.load(args.manifest)
    if args.offline:
        _require_wheelhouse(loaded, "--offline needs a wheelhouse")
    output_dir = args.output_dir.resolve()
    database = None
    if args.audit_db is not None:
        from venvrpm import osv

        database = osv.load(args.audit_db)  # a bad database stops before the build
    cache = _open_cache(args)
    if loaded.targets:
        return _bundle_targets(args, console, loaded, output_dir, database, cache)
    with pipeline.session(loaded, report=console.report, sink=console.sink, keep=args.keep_workdir,
                          output_dir=Path("/nonexistent"), cache=cache,
                          sign_key=args.sign) as (workdir, runners, plan):  # fmt: skip
        plan = dataclasses.replace(plan, output_dir=workdir / "out")
        result = pipeline.build(plan, runners, console.report, cache=cache)
        assert result.rpm is not None
        audit_text = None
        if database is not None:
            console.report("step", f"auditing {result.rpm.name} against {args.audit_db}")
            audit_text = _bundle_audit(loaded, result.rpm, database, runners.host, console)
        console.report("step", "assembling the delivery bundle")
        directory, tar = bundle.assemble(
            loaded, result.rpm, result.sbom, output_dir, runners.host,
            source_date_epoch=plan.source_date_epoch, sign_key=args.sign, audit_text=audit_text,
        )  # fmt: skip
    console.done(f"{directory} and {tar.name}")
    console.write_out(f"{tar}\n")
    return EXIT_OK


def _bundle_targets(
    args: BundleArgs,
    console: Console,
    loaded: manifest.Manifest,
    output_dir: Path,
    database: osv.Database | None,
    cache: cache_module.Cache | None,
) -> int:
    """``bundle`` of a manifest with targets: each target built in turn into one scratch
    directory, then one bundle of them all; a failing target fails the bundle (a delivery
    missing a system is not one to ship), and nothing is written to the output directory."""
    from venvrpm import bundle as bundle_module
    from venvrpm import targets
    from venvrpm.runner import HostRunner
    from venvrpm.workspace import workspace

    chosen = targets.selected(loaded, args.target, platform.machine(), targets.emulation_enabled)
    built: list[bundle_module.Built] = []
    epoch = None
    with workspace(keep=args.keep_workdir) as scratch:
        for each in chosen:
            console.report("step", f"target {each.target}: {each.python} in {_where(each)}")
            try:
                made = _bundle_one(args, console, each, scratch / "rpms", database, cache)
            except VenvrpmError as exc:
                failures = [(each.target or "", exc)]  # the rest are not built
                raise TargetsFailed(failures, len(chosen), []) from None
            epoch = made[0] if epoch is None else epoch
            built.append(made[1])
        assert epoch is not None
        console.report("step", f"assembling the delivery bundle of {len(built)} targets")
        host = HostRunner(epoch, on_output=console.sink)
        directory, tar = bundle_module.assemble_targets(
            loaded, built, output_dir, host, source_date_epoch=epoch, sign_key=args.sign
        )
    console.done(f"{directory} and {tar.name}")
    console.write_out(f"{tar}\n")
    return EXIT_OK


def _bundle_one(
    args: BundleArgs,
    console: Console,
    each: manifest.Manifest,
    rpms: Path,
    database: osv.Database | None,
    cache: cache_module.Cache | None,
) -> tuple[int, bundle_module.Built]:
    """One target of a bundle: its RPM (into *rpms*), SBOM and audit; and its epoch."""
    from venvrpm import bundle as bundle_module
    from venvrpm import pipeline

    with pipeline.session(each, report=console.report, sink=console.sink,
                          keep=args.keep_workdir, output_dir=Path("/nonexistent"),
                          cache=cache, sign_key=args.sign) as (_, runners, plan):  # fmt: skip
        plan = dataclasses.replace(plan, output_dir=rpms)
        result = pipeline.build(plan, runners, console.report, cache=cache)
        assert result.rpm is not None
        audit_text = None
        if database is not None:
            console.report("step", f"auditing {result.rpm.name} against {args.audit_db}")
            audit_text = _bundle_audit(each, result.rpm, database, runners.host, console)
    return plan.source_date_epoch, bundle_module.Built(
        manifest=each, rpm=result.rpm, sbom=result.sbom, audit_text=audit_text
    )


def _bundle_audit(
    loaded: manifest.Manifest, rpm: Path, database: osv.Database, runner: Runner, console: Console
) -> str:
    """``venvrpm audit RPM --json`` as the bundle ships it: the manifest's ignores apply; the
    database's age is counted to the start of today (UTC), so one day's bundles are alike."""
    from datetime import UTC, datetime, time

    from venvrpm import audit

    shipped, native = audit.from_rpm(runner, package=rpm)
    today = datetime.now(UTC).date()
    report = audit.audit(database, shipped, target=rpm.name, kind="rpm",
                         ignores=loaded.audit_ignores, native=native, today=today,
                         now=datetime.combine(today, time(), UTC))  # fmt: skip
    if report.open:
        console.report("warning", f"{rpm.name} carries {len(report.open)} known "
                       "vulnerabilities (audit.json in the bundle; `venvrpm audit "
                       "app.yaml --db DB --fix` fixes what can be)")  # fmt: skip
    return json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n"


def _fetch(args: ManifestArgs, console: Console) -> int:
    from venvrpm import fetch, manifest, sourcedate, targets
    from venvrpm.console import fetched_lines
    from venvrpm.runner import HostRunner

    loaded = manifest.load(args.manifest)
    if loaded.wheelhouse is None:
        raise UsageError(
            f"{args.manifest} has no wheelhouse", "add `wheelhouse: wheels/` to the manifest"
        )
    host = HostRunner(
        sourcedate.default_source_date_epoch(os.environ, loaded), on_output=console.sink
    )
    # one wheelhouse for every target: each adds the files its interpreter and tags pick
    for each in targets.selected(
        loaded, args.target, platform.machine(), targets.emulation_enabled
    ):
        if each.target is not None:
            console.report("step", f"target {each.target}: {each.python} in {_where(each)}")
        filled = fetch.fill_wheelhouse(each, host, os.environ, report=console.report)
        skipped, done = fetched_lines(filled)
        if skipped is not None:
            console.report("info", targets.label(each) + skipped)
        console.done(targets.label(each) + done)
    return EXIT_OK


def _test(args: TestArgs, console: Console) -> int:
    from venvrpm import manifest, pipeline, testenv

    loaded = manifest.load(args.manifest)
    locks = tuple(t.output for t in loaded.locks if t.name != "main")
    with pipeline.session(loaded, report=console.report, sink=console.sink, keep=args.keep_workdir,
                          output_dir=Path("/nonexistent"), extra_mounts=locks) as (_, runners, plan):  # fmt: skip
        console.report("step", "building the test environment and running the tests")
        testenv.run_tests(plan, runners.target)
    console.done("tests passed")
    return EXIT_OK


def _build(args: BuildArgs, console: Console) -> int:
    from venvrpm import manifest, targets

    loaded = manifest.load(args.manifest)
    if args.offline:
        _require_wheelhouse(loaded, "--offline needs a wheelhouse")
    output_dir = args.output_dir.resolve()
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"output path {output_dir} exists and is not a directory")
    chosen = targets.selected(loaded, args.target, platform.machine(), targets.emulation_enabled)
    if args.dry_run:
        plans = [_dry_run(each, console, output_dir, args.sign) for each in chosen]
        if not loaded.targets:
            console.write_out(json.dumps(plans[0], indent=2) + "\n")
        else:
            document = {
                "targets": [
                    {"name": m.target, "plan": p} for m, p in zip(chosen, plans, strict=True)
                ]
            }
            console.write_out(json.dumps(document, indent=2) + "\n")
        return EXIT_OK
    if not loaded.targets:
        return _build_single(args, console, loaded, output_dir)
    return _build_targets(args, console, chosen, output_dir)


def _build_single(
    args: BuildArgs, console: Console, loaded: manifest.Manifest, output_dir: Path
) -> int:
    from venvrpm.console import build_fields, built_line, result_document

    made = _build_one(args, console, loaded, output_dir)
    if isinstance(made, Path):  # --srpm
        console.done(f"{made}")
        console.write_out(f"{made}\n")
        return EXIT_OK
    path = made.rpm or made.spec
    # with an RPM, what `rpm -qpl | wc -l` and `rpm -qpR` show: directories count, and
    # rpmbuild's own rpmlib() requires
    console.done(built_line(path, made.files, len(made.requires), rpm=made.rpm is not None))
    if args.json:
        console.write_json(result_document(EXIT_OK, built=build_fields(made, loaded),
                                           steps=console.timings()))  # fmt: skip
    else:
        console.write_out(f"{path}\n")
    return EXIT_OK


def _build_targets(
    args: BuildArgs, console: Console, chosen: list[manifest.Manifest], output_dir: Path
) -> int:
    """Each target in turn (serially: the console shows one build's steps at a time, and the
    caches are shared); a failing target does not stop the others. Every RPM lands whole in
    the output directory (rpmbuild's result is moved there atomically), so a failure leaves
    the others' RPMs complete and the failed one absent."""
    from venvrpm.console import build_fields, result_document

    entries: list[dict[str, object]] = []
    failures: list[tuple[str, VenvrpmError]] = []
    made: list[Path] = []
    for each in chosen:
        assert each.target is not None
        console.report("step", f"target {each.target}: {each.python} in {_where(each)}")
        entry: dict[str, object] = {"name": each.target}
        try:
            result = _build_one(args, console, each, output_dir)
        except (KeyboardInterrupt, Terminated):
            # "nothing was written" is said of this target: the ones before it are whole
            if made:
                console.notice("built before it stopped: " + ", ".join(str(p) for p in made))
            raise
        except VenvrpmError as exc:
            console.report("warning", f"target {each.target} failed: {exc.message}")
            failures.append((each.target, exc))
            entry.update(ok=False, error={"message": exc.message, "hint": exc.hint,
                                          "details": list(exc.details)})  # fmt: skip
            entries.append(entry)
            continue
        if isinstance(result, Path):
            made.append(result)
            entry.update(ok=True, srpm=str(result))
        else:
            made.append(result.rpm or result.spec or output_dir)
            entry.update(ok=True, **build_fields(result, each))
        entries.append(entry)
    if failures:
        if made and not args.json:  # what did build, for a script reading stdout
            console.write_out("".join(f"{p}\n" for p in made))
        raise TargetsFailed(failures, len(chosen), entries)
    console.done(f"{len(made)} targets built: " + ", ".join(p.name for p in made))
    if args.json:
        console.write_json(result_document(EXIT_OK, built={"targets": entries},
                                           steps=console.timings()))  # fmt: skip
    else:
        console.write_out("".join(f"{p}\n" for p in made))
    return EXIT_OK


def _where(loaded: manifest.Manifest) -> str:
    build = loaded.build
    return str(build.rootfs) if build.kind == "rootfs" else (build.image or "this host")


class TargetsFailed(VenvrpmError):
    """Some targets of a multi-target build failed; the others' RPMs are in the output."""

    def __init__(
        self, failures: list[tuple[str, VenvrpmError]], total: int, entries: list[dict[str, object]]
    ) -> None:
        names = ", ".join(name for name, _ in failures)
        first = failures[0][1]
        super().__init__(
            f"{len(failures)} of {total} targets failed: {names}",
            first.hint if len(failures) == 1 else "each target's error is listed above; fix "
            "them, then run again for those with --target NAME",
            details=[f"{name}: {exc.message}" for name, exc in failures],
        )  # fmt: skip
        # a usage or manifest error in any target is still one (exit 2)
        self.exit_code = max(exc.exit_code for _, exc in failures)
        self.entries = entries


def _build_one(
    args: BuildArgs, console: Console, loaded: manifest.Manifest, output_dir: Path
) -> pipeline.BuildResult | Path:
    """One RPM (or with --srpm its source RPM, a Path) of *loaded*."""
    from venvrpm import pipeline

    cache = _open_cache(args)
    with pipeline.session(loaded, report=console.report, sink=console.sink, keep=args.keep_workdir,
                          output_dir=output_dir, cache=cache,
                          sign_key=None if args.srpm or args.spec_only else args.sign) as (workdir, runners, plan):  # fmt: skip
        if args.srpm:
            _require_wheelhouse(loaded, "--srpm needs a wheelhouse: build farms have no network")
            return pipeline.source_rpm(plan, runners, console.report, cache)
        result = pipeline.build(
            plan, runners, console.report, spec_only=args.spec_only, cache=cache
        )  # fmt: skip
        if args.keep_workdir:
            # the whole workspace, as on failure: work/ (what the build sees) and host/
            console.notice(f"work directory kept: {workdir.parent}")
        else:
            # its own step: removing 100,000 staged files takes a while, and was being
            # counted as part of the last step
            console.report("step", "removing the work directory")
    return result


def _dry_run(
    loaded: manifest.Manifest, console: Console, output_dir: Path, sign_key: str | None
) -> dict[str, object]:
    """Print the plan; run nothing of the target (no probe, container or chroot), nor git in
    the manifest's directory (the plan printed has no SOURCE_DATE_EPOCH)."""
    from venvrpm import pipeline, sourcedate
    from venvrpm.workspace import workspace

    epoch = sourcedate.default_source_date_epoch(os.environ)
    with workspace(keep=False) as workdir:
        console.report("step", "planning the build (--dry-run: nothing of the target runs)")
        plan = pipeline.sketch(
            loaded, workdir=workdir, output_dir=output_dir, source_date_epoch=epoch,
            host_env=os.environ, sign_key=sign_key,
        )  # fmt: skip
    return plan.describe()


if __name__ == "__main__":
    sys.exit(main())
