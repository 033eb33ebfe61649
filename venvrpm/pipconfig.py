"""What of the host's pip configuration a container or root may see, and the files it names.

pip inside a container or root reads the host's configuration files when they are mounted
there, and ``PIP_*`` variables passed by name. A setting that names a host file (a constraints
file, a CA bundle, a client certificate, a find-links directory) only works when that file is
mounted too: a configuration is forwarded with every file it names, or not at all, with a
warning (docs/containers.md). The files are host files venvrpm mounts as root: a symlink (one
venvrpm did not create), a device or a relative path is refused. They are mounted read-only
beside the build, never copied into the work directory, so none reaches the RPM.
"""

from __future__ import annotations

import configparser
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from venvrpm.redact import redact

SITE_CONFIGS = (Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf"))
"""The system-wide files pip reads (its user file is the target's own HOME, left empty)."""

# pip's options (cli/cmdoptions.py and the commands' own) whose values are paths, by the
# name a config file or PIP_* variable gives them; short names are pip's aliases.
_READ_FILES = {"constraint", "c", "requirement", "r", "build-constraint", "cert", "client-cert"}
"""Files pip reads: forwarded read-only."""
_READ_LOCATIONS = {"find-links", "f", "index-url", "i", "extra-index-url"}
"""URLs or local files and directories pip reads: local ones forwarded read-only."""
_NOT_FORWARDED = {
    "log", "log-file", "local-log", "report", "cache-dir", "src", "target", "t", "prefix",
    "root", "dest", "d", "wheel-dir", "w", "path", "python", "editable", "e", "build",
    "build-dir",
}  # fmt: skip
"""Paths pip writes to or runs (outputs, install locations, an interpreter): never forwarded;
a configuration that sets one stays on the host."""


@dataclass(frozen=True, slots=True)
class Forwarding:
    """What to mount read-only for pip in the target, and what to leave out."""

    files: tuple[Path, ...]
    """Configuration files and the files and directories they name, sorted."""
    dropped_env: tuple[str, ...]
    """``PIP_*`` variables naming a file that cannot be forwarded: not passed to the target."""
    warnings: tuple[str, ...]


def _option(name: str) -> str:
    """pip's spelling of an option name from a config key or a PIP_* variable."""
    return name.lower().replace("_", "-").lstrip("-")


def _paths(option: str, value: str) -> tuple[list[str], str | None]:
    """The local paths *value* of *option* names, or why it cannot be forwarded."""
    if option in _NOT_FORWARDED:
        return [], f"sets {option}, a path pip writes to or runs (not forwarded)"
    if option not in _READ_FILES | _READ_LOCATIONS:
        return [], None
    paths = []
    for token in value.split():
        if option in _READ_LOCATIONS:
            parts = urlsplit(token)
            if parts.scheme == "file":
                token = unquote(parts.path)
            elif parts.scheme:
                continue  # an index or page on the network: nothing to forward
        if not token.startswith("/"):
            return [], f"{option} = {token} is relative (pip reads it from its working directory)"
        paths.append(token)
    return paths, None


def _refusal(path: str, *, directory_ok: bool) -> str | None:
    """Why the host file *path* must not be mounted, or None."""
    normal = os.path.normpath(path)
    try:
        info = os.lstat(normal)
    except FileNotFoundError:
        return f"{path} not found"
    except OSError as exc:
        return f"{path} unreadable ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symlink"
    if os.path.realpath(normal) != normal:
        return f"{path} is under a symlinked directory"
    if stat.S_ISREG(info.st_mode) or (directory_ok and stat.S_ISDIR(info.st_mode)):
        return None
    return f"{path} is not a regular file"


def _references(settings: Iterable[tuple[str, str]]) -> tuple[list[Path], list[str]]:
    """The files *settings* (option, value) name, and what is wrong with them."""
    files: list[Path] = []
    problems: list[str] = []
    for name, value in settings:
        option = _option(name)
        paths, problem = _paths(option, value)
        if problem:
            problems.append(problem)
        for path in paths:
            refused = _refusal(path, directory_ok=option in _READ_LOCATIONS)
            if refused:
                problems.append(refused)
            else:
                files.append(Path(os.path.normpath(path)))
    return files, problems


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
    files: set[Path] = set()
    warnings: list[str] = []
    dropped: list[str] = []
    candidates = [p for p in configs if p.exists() or p.is_symlink()]
    named = pip_env.get("PIP_CONFIG_FILE", "")
    if named and named != os.devnull:
        candidates.append(Path(named))
    for config in candidates:
        refused = _refusal(str(config), directory_ok=False)
        settings, problem = ([], refused) if refused else _read_config(config)
        found, problems = _references(settings)
        problems = [problem] if problem else problems
        if problems:
            # pip inside ignores a configuration file it cannot see: forward none of it (and
            # do not name it, a root could hold another file at that path)
            if str(config) == named:
                dropped.append("PIP_CONFIG_FILE")
            warnings.append(
                f"pip configuration {config} not forwarded to the build environment: "
                + "; ".join(redact(p) for p in problems)
            )
            continue
        files.add(Path(os.path.normpath(config)))
        files.update(found)
    for key in sorted(pip_env):
        if not key.startswith("PIP_") or key == "PIP_CONFIG_FILE":
            continue
        found, problems = _references([(key[4:], pip_env[key])])
        if problems:
            dropped.append(key)
            warnings.append(f"{key} not passed to the build environment: " + "; ".join(problems))
            continue
        files.update(found)
    return Forwarding(tuple(sorted(files)), tuple(dropped), tuple(redact(w) for w in warnings))
