"""``venvrpm lint``: rpmlint with venvrpm's configuration, less what the package cannot fix.

rpmlint checks every file of the payload, and a venv holds thousands written by third-party
wheels: a zero-length ``.lock``, a script without a shebang, a non-executable script. Nobody
packaging the application can fix those files, so a finding about a file of a bundled
distribution (a path some locked distribution's ``RECORD`` lists) is filtered and counted;
findings about the package itself (its tags, changelog, the manifest's files, the project's own
distribution) stay. docs/rpmlint.md says why.

The RPM checked may be one received from elsewhere (docs/security.md): its RECORDs are
untrusted. Only a path inside the venv that holds the RECORD (``<prefix>/lib/pythonX.Y/
site-packages``, a prefix a manifest could name: ``manifest.prefix_refusal``) counts as
bundled, and only findings of the checks in ``BUNDLED_CHECKS`` (how a file is written, not what
it may do on the system) are filtered.

The RECORDs are read from the payload through rpm2cpio by a tiny program run through the
Runner (as ``inspect`` reads the bundled list), bounded in what it decompresses and keeps.
"""

from __future__ import annotations

import json
import posixpath
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name

from venvrpm import manifest
from venvrpm._fenced import rpm_text
from venvrpm.errors import VenvrpmError
from venvrpm.inspect import CPIO_READER, PAYLOAD_LIMIT, parse_bundled_document
from venvrpm.runner import Runner

RECORDS_LIMIT = 64 << 20
"""The most bytes of RECORD files kept from one payload (Zuul's 139 take about 3 MB)."""

_RECORD = r"\./.*/site-packages/[^/]+\.dist-info/RECORD"
_LIST = r"\./usr/share/doc/[^/]+/bundled-distributions\.json"
# a venv's site-packages: the prefix is what its RECORD's paths must stay inside
_VENV_SITE = re.compile(r"(?P<prefix>/.+)/lib(?:64)?/python[0-9.]+/site-packages")

BUNDLED_CHECKS = frozenset({
    "zero-length", "hidden-file-or-dir", "script-without-shebang", "non-executable-script",
    "spurious-executable-perm", "wrong-script-end-of-line-encoding",
    "wrong-file-end-of-line-encoding", "file-not-utf8", "devel-file-in-non-devel-package",
    "python-bytecode-wrong-magic-value", "python-bytecode-inconsistent-mtime",
    "python-bytecode-without-source", "version-control-internal-file", "backup-file-in-package",
    "makefile-junk",
})  # fmt: skip
"""The only checks whose findings about a bundled distribution's file are filtered: how a
wheel's file is written (empty, hidden, a script's shebang, line ends, bytecode), harmless inside
the venv and the wheel author's to fix. Every other check stays, bundled file or not: what a
file may do on the system (setuid, owners, crontabs, links, executable stacks) must not be hidden
by a received RPM's RECORDs, nor may a check rpmlint adds later. ``files-duplicated-waste`` names
no file: it is handled apart (:func:`waste_is_bundled`). Chosen from what real apps' wheels
produce (httpie's RPM: zero-length, hidden-file-or-dir, script-without-shebang,
non-executable-script, devel-file-in-non-devel-package) and their kin."""
FINDINGS_EXIT = frozenset({0, 64, 65})
"""rpmlint's exit status when it ran to the end: no errors, errors, errors that were all
warnings promoted. 66 (the badness threshold), 3 (a package it cannot read) or any other is a
failure whatever was filtered."""

# Reads the cpio (newc) stream rpm2cpio writes and prints, as JSON, the members whose names match
# the pattern: RECORDs are spread through the payload, so it reads to the end, counting every
# decompressed byte against a budget (a bomb is abandoned, not decompressed to its end).
_EXTRACT = (
    CPIO_READER
    + """\
pattern, keep = re.compile(args[0].encode()), int(args[1])
kept, found = 0, {}
for name, size in members():
    if pattern.fullmatch(name) and kept + size <= keep:
        kept += size
        found[name.decode("utf-8", "replace")] = take(size).decode("utf-8", "replace")
        skip(-size % 4)
    else:
        skip(size + -size % 4)
source.wait()
json.dump(found, sys.stdout)
"""
)


@dataclass(frozen=True, slots=True)
class Filtered:
    """rpmlint's output with the findings about bundled distributions' files taken out."""

    output: str
    """What to show: rpmlint's output less those findings, its summary recounted."""
    kept_errors: int
    filtered: tuple[str, ...]
    """The findings taken out, as rpmlint wrote them."""


def bundled_paths(
    rpm: Path, runner: Runner, python: str = sys.executable
) -> tuple[frozenset[str], str | None]:
    """(the payload paths the locked distributions' RECORDs list, None) or (empty, why not).

    The project's own distribution (``origin: project`` in the bundled list) is not bundled:
    its files are the package's own.
    """
    rpm2cpio = runner.which("rpm2cpio")
    if rpm2cpio is None:
        return frozenset(), "rpm2cpio is not installed"
    argv = [python, "-I", "-c", _EXTRACT, rpm2cpio, str(rpm.resolve()), f"(?:{_RECORD}|{_LIST})",
            str(RECORDS_LIMIT), str(PAYLOAD_LIMIT)]  # fmt: skip
    result = runner.run(argv, what=f"reading the RECORDs of {rpm.name}", check=False)
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        return frozenset(), "; ".join(lines[-2:]) or f"exit status {result.returncode}"
    try:
        members = json.loads(result.stdout)
    except ValueError:
        return frozenset(), "the payload's RECORDs could not be read"
    if not isinstance(members, dict):
        return frozenset(), "the payload's RECORDs could not be read"
    own = _project_names(v for k, v in members.items() if re.fullmatch(_LIST, k))
    records = {
        member: text
        for member, text in members.items()
        if re.fullmatch(_RECORD, member)
        and isinstance(text, str)
        # the project's own distribution: its files are the package's own
        and canonicalize_name(posixpath.basename(posixpath.dirname(member)).split("-", 1)[0])
        not in own
    }
    return record_paths(records), None


def _venv_prefix(site: str) -> str | None:
    """The prefix of the venv whose site-packages is *site*, if a manifest could name it."""
    found = _VENV_SITE.fullmatch(site)
    if found is None or posixpath.normpath(site) != site:
        return None
    prefix = PurePosixPath(found.group("prefix"))
    # the manifest's own rule: a directory of the app's own, not the base system's
    if manifest.prefix_refusal(prefix) is not None:
        return None
    return str(prefix)


def record_paths(records: Mapping[str, str]) -> frozenset[str]:
    """The payload paths the RECORDs (payload member -> text) list inside their own venv.

    A path outside the prefix of the venv holding the RECORD (``../../../../usr/bin/x``, an
    absolute path) or a RECORD outside a venv is not bundled: a finding about it stays."""
    paths: set[str] = set()
    for member, text in records.items():
        info = posixpath.dirname(member[1:])  # "./opt/x/.../a-1.0.dist-info/RECORD"
        site = posixpath.dirname(info)
        prefix = _venv_prefix(site)
        if prefix is None:
            continue
        for line in text.splitlines():
            listed = _first_field(line)
            if not listed:
                continue
            path = posixpath.normpath(posixpath.join(site, listed))
            if path.startswith(prefix + "/"):
                paths.add(path)
    return frozenset(paths)


def _project_names(documents: Iterable[object]) -> set[str]:
    # someone else's RPM: read as inspect reads it, bounded in size and nesting
    names: set[str] = set()
    for text in documents:
        try:
            _, distributions = parse_bundled_document(str(text))
        except ValueError:
            continue
        names.update(canonicalize_name(d.name) for d in distributions if d.origin == "project")
    return names


def _first_field(line: str) -> str:
    """The path of a RECORD row (csv: quoted when it holds a comma or a quote)."""
    import csv

    try:
        row = next(csv.reader([line]), [])
    except csv.Error:
        return ""
    return row[0] if row else ""


def about(rest: str, paths: frozenset[str]) -> bool:
    """Whether a finding's text starts with one of *paths* (file names may hold spaces)."""
    words = rest.split(" ")
    return any(" ".join(words[:n]) in paths for n in range(1, len(words) + 1))


HEADER_FILES = "[%{FILEDIGESTS}\t%{FILESIZES}\t%{FILEMODES:perms}\t%{FILENAMES}\n]"
"""``rpm -qp --qf`` for each file's digest, size, mode and path, from the header alone."""


def waste_is_bundled(listing: str, paths: frozenset[str]) -> bool:
    """Whether every duplicated regular file of *listing* (``HEADER_FILES`` lines) is a file of
    a bundled distribution: then ``files-duplicated-waste`` is the wheels' (licence texts and
    vendored copies in several of them), which the package cannot fix."""
    groups: dict[tuple[str, str], list[str]] = {}
    for line in listing.splitlines():
        fields = line.split("\t", 3)
        if len(fields) != 4 or not fields[0] or not fields[2].startswith("-") or fields[1] == "0":
            continue
        groups.setdefault((fields[0], fields[1]), []).append(fields[3])
    duplicated = [name for names in groups.values() if len(names) > 1 for name in names]
    return bool(duplicated) and all(name in paths for name in duplicated)


def filter_output(
    output: str, paths: frozenset[str], bundled_waste: frozenset[str] = frozenset()
) -> Filtered:
    """rpmlint's *output* without the findings about *paths*, its summary line recounted; and
    without ``files-duplicated-waste`` of the packages (``NAME.ARCH``) in *bundled_waste*."""
    kept: list[str] = []
    filtered: list[str] = []
    errors = warnings = 0
    for line in output.splitlines(keepends=True):
        found = rpm_text.FINDING.match(line.rstrip("\n"))
        if found is None:
            kept.append(line)
            continue
        check = found.group("check")
        if (check in BUNDLED_CHECKS and about(found.group("rest") or "", paths)) or (
            check == "files-duplicated-waste" and found.group("package") in bundled_waste
        ):
            filtered.append(line.rstrip("\n"))
            continue
        errors += found.group("level") == "E"
        warnings += found.group("level") == "W"
        kept.append(line)
    text = "".join(
        rpm_text.SUMMARY.sub(f"{errors} errors, {warnings} warnings", line) if rpm_text.SUMMARY.search(line)
        else line
        for line in kept
    )  # fmt: skip
    return Filtered(text, errors, tuple(filtered))


def failed(returncode: int, kept_errors: int) -> bool:
    """Whether ``venvrpm lint`` fails: errors left after filtering, or rpmlint itself failed."""
    return kept_errors > 0 or returncode not in FINDINGS_EXIT


@dataclass(frozen=True, slots=True)
class Linted:
    """What ``venvrpm lint`` found: rpmlint's report filtered, and venvrpm's notes on it."""

    output: str
    """rpmlint's stdout, less the filtered findings, its summary recounted."""
    stderr: str
    """rpmlint's own stderr, as it printed it."""
    notes: tuple[str, ...]
    """venvrpm's notes: what was filtered, what could not be read."""
    failed: bool
    """Errors are left after filtering, or rpmlint itself failed."""


def run(rpms: Iterable[Path], runner: Runner, *, show_filtered: bool = False) -> Linted:
    """rpmlint with venvrpm's configuration on *rpms*, less the findings about third-party
    wheels' files (no finding the package can fix; docs/rpmlint.md)."""
    from importlib import resources

    rpms = list(rpms)
    rpmlint = runner.which("rpmlint")
    if rpmlint is None:
        raise VenvrpmError(
            "rpmlint is not installed", "apt-get install rpmlint  |  dnf install rpmlint"
        )
    paths: set[str] = set()
    unread = []
    bundled_waste: set[str] = set()
    for rpm in rpms:
        found, why = bundled_paths(rpm, runner)
        paths |= found
        if why is not None:
            unread.append(f"{rpm}: {why}")
        listing = runner.run(["rpm", "-qp", "--qf", "%{NAME}.%{ARCH}\n" + HEADER_FILES,
                              str(rpm)], what=f"listing the files of {rpm.name}", check=False)  # fmt: skip
        package, _, files = listing.stdout.partition("\n")
        if listing.returncode == 0 and waste_is_bundled(files, found):
            bundled_waste.add(package)
    with resources.as_file(resources.files("venvrpm").joinpath("rpmlint.toml")) as config:
        result = runner.run(
            [rpmlint, "-c", str(config), *map(str, rpms)], what="rpmlint", check=False
        )
    filtered = filter_output(result.stdout, frozenset(paths), frozenset(bundled_waste))
    notes = [f"cannot tell bundled distributions' files, nothing filtered: {u}" for u in unread]
    if filtered.filtered:
        notes.append(
            f"{len(filtered.filtered)} findings about files of bundled distributions filtered "
            "(third-party wheels' files, listed in their RECORD: the package cannot fix them; "
            "docs/rpmlint.md)" + ("" if show_filtered else "; --show-filtered lists them")
        )
    if show_filtered:
        notes += [f"filtered: {line}" for line in filtered.filtered]
    # rpmlint's exit status counts the filtered errors too: only what is left decides, unless
    # rpmlint itself failed (badness threshold, unreadable package, crash)
    return Linted(filtered.output, result.stderr, tuple(notes),
                  failed(result.returncode, filtered.kept_errors))  # fmt: skip
