"""Command line: ``main(argv) -> int``. The only place that catches errors and picks exit codes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from venvrpm import __version__, manifest, pipeline
from venvrpm.console import Console
from venvrpm.errors import EXIT_OK, EXIT_USAGE, UsageError, VenvrpmError
from venvrpm.runner import HostRunner


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="venvrpm",
        description="Turn a Python application and its locked dependencies into one RPM.",
        epilog="exit codes: 0 success, 1 build failed, 2 usage or manifest error",
    )
    parser.add_argument("--version", action="version", version=f"venvrpm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    build = sub.add_parser("build", help="build the RPM described by a manifest")
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
        "--dry-run", action="store_true", help="print the build plan as JSON and build nothing"
    )
    build.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")

    check = sub.add_parser("check", help="validate a manifest and its lock, build nothing")
    check.add_argument("manifest", type=Path)

    sub.add_parser("schema", help="print the manifest JSON Schema")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run venvrpm; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    console = Console(quiet=getattr(args, "quiet", False))
    try:
        if args.command == "schema":
            sys.stdout.write(manifest.schema_text())
            return EXIT_OK
        if args.command == "check":
            return _check(args, console)
        return _build(args, console)
    except VenvrpmError as exc:
        console.error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        console.error(VenvrpmError("interrupted; nothing was written to the output directory"))
        return 130


def _check(args: argparse.Namespace, console: Console) -> int:
    from venvrpm import lockfile

    loaded = manifest.load(args.manifest)
    lock = lockfile.read(loaded.requirements)
    console.done(f"{args.manifest}: valid; {len(lock.requirements)} locked requirements")
    return EXIT_OK


def _build(args: argparse.Namespace, console: Console) -> int:
    loaded = manifest.load(args.manifest)
    output_dir = args.output_dir.resolve()
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"output path {output_dir} exists and is not a directory")
    epoch = pipeline.default_source_date_epoch(os.environ)
    runner = HostRunner(epoch)
    with pipeline.workspace(keep=args.keep_workdir) as workdir:
        console.report("step", f"probing {loaded.python} and the build tools")
        plan = pipeline.prepare(
            loaded,
            runner,
            workdir=workdir,
            output_dir=output_dir,
            source_date_epoch=epoch,
            host_env=os.environ,
        )
        if args.dry_run:
            sys.stdout.write(json.dumps(plan.describe(), indent=2) + "\n")
            return EXIT_OK
        result = pipeline.build(plan, runner, console.report)
        if args.keep_workdir:
            console.report("info", f"work directory kept: {workdir}")
    console.done(f"{result.rpm} ({result.files} files, {len(result.requires)} requires)")
    sys.stdout.write(f"{result.rpm}\n")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
