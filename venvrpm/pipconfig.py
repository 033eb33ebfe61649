"""What of the host's pip configuration a container or root may see, and the files it names.

pip inside a container or root reads the host's configuration files when they are mounted
there, and ``PIP_*`` variables passed by name. A setting that names a host file (a constraints
file, a CA bundle, a client certificate, a find-links directory) only works when that file is
mounted too: a configuration is forwarded with every file it names, or not at all, with a
warning (docs/containers.md). The configuration is the operator's, so its symlinks are followed
(RHEL's CA bundle is one, under /etc/ssl/certs, another): each path is resolved once and what it
resolves to, a regular file (or a directory for find-links), is mounted read-only at the
configured path. Refused: devices, relative paths, system directories (``find-links = /`` would
show the host's root to the build), the host's secrets, a local find-links or index holding
anything but distributions and index pages (a home directory's keys), and ``client-cert``
always (its private key would be readable by the build's code, which could ship it). Nothing is
copied into the work directory, so none reaches the RPM.
"""

from __future__ import annotations

import configparser
import fnmatch
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from venvrpm.basesystem import BASE_SYSTEM
from venvrpm.redact import redact

SITE_CONFIGS = (Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf"))
"""The system-wide files pip reads (its user file is the target's own HOME, left empty)."""

# pip's options (cli/cmdoptions.py and the commands' own) whose values are paths, by the
# name a config file or PIP_* variable gives them; short names are pip's aliases.
_READ_FILES = {"constraint", "c", "requirement", "r", "build-constraint", "cert"}
"""Files pip reads: forwarded read-only."""
_CLIENT_CERT = (
    "sets client-cert, a certificate with its private key, which the build's code (setup.py, "
    "build backends) could read and ship in the RPM: it is never forwarded. Fill a wheelhouse "
    "on the host (pip download --require-hashes -r requirements.lock -d wheels/) or use an "
    "index that needs no client certificate from build containers"
)
_DISTRIBUTION_FILES = (
    ".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".html", ".htm", ".whl.metadata",
)  # fmt: skip
"""What a local find-links or index directory may hold: distributions and index pages (and
PEP 658 metadata). Anything else (a key, a dotfile) would be shown to the build's code."""
_READ_LOCATIONS = {"find-links", "f", "index-url", "i", "extra-index-url"}
"""URLs or local files and directories pip reads: local ones forwarded read-only."""
_NOT_FORWARDED = {
    "report", "src", "target", "t", "prefix", "root", "dest", "d", "wheel-dir", "w", "path",
    "python", "editable", "e", "build", "build-dir",
}  # fmt: skip
"""Paths pip writes to or runs (outputs, install locations, an interpreter): never forwarded;
a configuration that sets one stays on the host."""
_IGNORED = {
    "cache-dir": "venvrpm gives pip a cache of its own (PIP_CACHE_DIR)",
    "log": "pip writes that log inside the build environment, not on the host",
    "log-file": "pip writes that log inside the build environment, not on the host",
    "local-log": "pip writes that log inside the build environment, not on the host",
}
"""Paths pip writes that do not stop a configuration from being forwarded: why, for -v."""

# What a host path must not be (matched against the resolved path and each of its parents,
# pathlib's glob), nor a forwarded directory hold: the build would read it with root's rights.
_SECRETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    next(group for group in BASE_SYSTEM if group[0] == "the system's accounts"),
    ("the host's secret keys", (
        "/etc/ssh", "/etc/krb5.keytab", "/etc/ssl/private", "/etc/pki/*/private",
        "/etc/security/opasswd", "/var/lib/sss", "/root", "/etc/sudoers", "/etc/sudoers.d",
    )),
    ("the running system's state", ("/proc", "/sys", "/dev", "/run")),
)  # fmt: skip
_SYSTEM_PARENTS = frozenset(map(PurePosixPath, ("/", "/usr", "/usr/local", "/var", "/etc")))
"""A directory directly in one of these (or ``/`` itself) is a system directory: mounted at its
path it would hide the target's own, and show the build far more than pip needs."""


@dataclass(frozen=True, slots=True)
class Forwarding:
    """What to mount read-only for pip in the target, and what to leave out."""

    files: tuple[tuple[Path, Path], ...]
    """Configuration files and the files and directories they name, sorted: (the path pip reads
    in the target, as configured; the host file or directory it resolves to, mounted there)."""
    dropped_env: tuple[str, ...]
    """``PIP_*`` variables naming a file that cannot be forwarded: not passed to the target."""
    warnings: tuple[str, ...]
    notes: tuple[str, ...] = ()
    """Settings left out of a forwarded configuration and why (``cache-dir``, ``log``), for -v."""


def _option(name: str) -> str:
    """pip's spelling of an option name from a config key or a PIP_* variable."""
    return name.lower().replace("_", "-").lstrip("-")


def _paths(option: str, value: str) -> tuple[list[str], str | None, str | None]:
    """The local paths *value* of *option* names, why it cannot be forwarded, and a note."""
    if option in _IGNORED:
        return [], None, f"{option} = {value} ignored: {_IGNORED[option]}"
    if option in _NOT_FORWARDED:
        return [], f"sets {option}, a path pip writes to or runs (not forwarded)", None
    if option == "client-cert":
        return [], _CLIENT_CERT, None
    if option not in _READ_FILES | _READ_LOCATIONS:
        return [], None, None
    paths = []
    for token in value.split():
        if option in _READ_LOCATIONS:
            parts = urlsplit(token)
            if parts.scheme == "file":
                token = unquote(parts.path) or "/"
            elif parts.scheme:
                continue  # an index or page on the network: nothing to forward
        if not token.startswith("/"):
            return (
                [],
                f"{option} = {token} is relative (pip reads it from its working directory)",
                None,
            )
        paths.append(token)
    return paths, None, None


def _secret(path: PurePosixPath, *, directory: bool) -> str | None:
    """What of the host's secrets *path* (resolved) is, lies in or, a directory, holds."""
    for what, patterns in _SECRETS:
        for pattern in patterns:
            if any(candidate.match(pattern) for candidate in (path, *path.parents)):
                return what
            # a directory above what the pattern names would show it
            parts = PurePosixPath(pattern).parts
            holds = len(path.parts) < len(parts) and all(
                map(fnmatch.fnmatchcase, path.parts, parts)
            )
            if directory and holds:
                return what
    return None


def _resolve(path: str, *, directory_ok: bool) -> tuple[Path | None, str | None]:
    """(the host file or directory *path* resolves to, None) or (None, why it is refused).

    Resolved once, here: the mount takes the result, not the link (which could change)."""
    normal = os.path.normpath(path)
    try:
        resolved = os.path.realpath(normal, strict=True)
        info = os.stat(resolved)
    except FileNotFoundError:
        return None, f"{path} not found"
    except OSError as exc:
        return None, f"{path} unreadable ({exc.strerror or exc})"
    shown = path if resolved == normal else f"{path} ({resolved})"
    is_dir = stat.S_ISDIR(info.st_mode)
    if not (stat.S_ISREG(info.st_mode) or (directory_ok and is_dir)):
        return None, f"{shown} is not a regular file"
    for candidate in {PurePosixPath(normal), PurePosixPath(resolved)}:
        if is_dir and (candidate == candidate.parent or candidate.parent in _SYSTEM_PARENTS):
            return None, f"{candidate} is a system directory"
        secret = _secret(candidate, directory=is_dir)
        if secret is not None:
            return None, f"{shown} is or holds {secret}"
    return Path(resolved), None


def _not_distributions(path: str, resolved: Path, *, tree: bool) -> str | None:
    """Why a local location is more than distributions and index pages, or None.

    The directory is mounted whole: a find-links at a home-like directory would show its
    ``.ssh`` and keys to the build's code. A find-links directory is flat; an index (*tree*)
    has a directory per project. Hidden names are refused at any depth."""
    if resolved.is_file():
        name = resolved.name
        return (
            None
            if name.endswith(_DISTRIBUTION_FILES)
            else f"{path} is not a distribution or index page"
        )
    for parent, dirs, names in os.walk(resolved):
        for name in sorted(dirs) + sorted(names):
            shown = os.path.relpath(os.path.join(parent, name), resolved)
            if name.startswith("."):
                return f"{path} holds {shown}, a hidden file (only distributions and index pages are forwarded)"
            if name in dirs and not tree:
                return f"{path} holds {shown}, a directory (only distributions and index pages are forwarded)"
            if name in names and not name.endswith(_DISTRIBUTION_FILES):
                return f"{path} holds {shown}, not a distribution or index page (only those are forwarded)"
    return None


def _references(
    settings: Iterable[tuple[str, str]],
) -> tuple[list[tuple[Path, Path]], list[str], list[str]]:
    """The files *settings* (option, value) name, as (configured path, host file), what is
    wrong with them, and notes on what is ignored."""
    files: list[tuple[Path, Path]] = []
    problems: list[str] = []
    notes: list[str] = []
    for name, value in settings:
        option = _option(name)
        paths, problem, note = _paths(option, value)
        if problem:
            problems.append(problem)
        if note:
            notes.append(note)
        for path in paths:
            resolved, refused = _resolve(path, directory_ok=option in _READ_LOCATIONS)
            if resolved is not None and option in _READ_LOCATIONS:
                refused = _not_distributions(path, resolved, tree=option not in {"find-links", "f"})
            if refused or resolved is None:
                problems.append(refused or path)
            else:
                files.append((Path(os.path.normpath(path)), resolved))
    return files, problems, notes


def _read_config(path: Path) -> tuple[list[tuple[str, str]], str | None]:
    """Every (option, value) of pip config file *path*, any section; or why it is unreadable."""
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as stream:
            parser.read_file(stream)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        return [], f"unreadable ({type(exc).__name__})"
    return [(k, v) for s in parser.sections() for k, v in parser.items(s)], None


def forwarding(pip_env: Mapping[str, str], configs: tuple[Path, ...] = SITE_CONFIGS) -> Forwarding:
    """What the target needs of pip's host configuration: *configs* (the system-wide files)
    and ``PIP_CONFIG_FILE``, each with the files it names, and the files ``PIP_*`` name."""
    files: set[tuple[Path, Path]] = set()
    warnings: list[str] = []
    notes: list[str] = []
    dropped: list[str] = []
    candidates = [p for p in configs if p.exists() or p.is_symlink()]
    named = pip_env.get("PIP_CONFIG_FILE", "")
    if named and named != os.devnull:
        candidates.append(Path(named))
    for config in candidates:
        resolved, refused = _resolve(str(config), directory_ok=False)
        settings, problem = ([], refused) if resolved is None else _read_config(resolved)
        found, problems, ignored = _references(settings)
        problems = [problem] if problem else problems
        if problems or resolved is None:
            # pip inside ignores a configuration file it cannot see: forward none of it (and
            # do not name it, a root could hold another file at that path)
            if str(config) == named:
                dropped.append("PIP_CONFIG_FILE")
            warnings.append(
                f"pip configuration {config} not forwarded to the build environment: "
                + "; ".join(redact(p) for p in problems)
            )
            continue
        files.add((Path(os.path.normpath(config)), resolved))
        files.update(found)
        notes += [f"pip configuration {config}: {note}" for note in ignored]
    for key in sorted(pip_env):
        if not key.startswith("PIP_") or key == "PIP_CONFIG_FILE":
            continue
        found, problems, ignored = _references([(key[4:], pip_env[key])])
        if problems:
            dropped.append(key)
            warnings.append(f"{key} not passed to the build environment: " + "; ".join(problems))
            continue
        files.update(found)
    return Forwarding(
        tuple(sorted(files)), tuple(dropped), tuple(redact(w) for w in warnings),
        tuple(redact(n) for n in notes),
    )  # fmt: skip
