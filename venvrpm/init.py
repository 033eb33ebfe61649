"""``venvrpm init``: a first ``app.yaml`` and ``requirements.in`` from a project's pyproject.toml.

``render`` is pure: parsed pyproject.toml in, file texts and warnings out. ``scaffold`` reads
and writes: it checks every file it would replace before writing any, and writes each one
under a temporary name first, so an error leaves the directory as it was.

The manifest starts with a yaml-language-server modeline pointing at ``venvrpm.schema.json``
next to it (a relative path is resolved from the YAML file), which ``scaffold`` writes from the
installed venvrpm's schema: completion and checking in the editor work at once, without a path
into venvrpm's installation or a URL (docs/editors.md).
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import os
import re
import string
import sys
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from venvrpm import entrypoints, manifest, project
from venvrpm._fenced import pip_text
from venvrpm.errors import UsageError, refused
from venvrpm.files import replacing
from venvrpm.paths import is_normalised_absolute
from venvrpm.runner import Runner

MANIFEST = "app.yaml"
REQUIREMENTS_IN = "requirements.in"
SCHEMA = "venvrpm.schema.json"
LOCK = "requirements.txt"
PYTHON = "/usr/bin/python3"
PLACEHOLDER = "CHANGEME"
"""What stands where pyproject.toml has no usable value; valid for the schema, easy to grep."""

# \Z, not $: "$" also matches before a final newline (a wheel's script "evil\n")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*\Z")
_ENTRY_POINT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]*\Z")
_RPM_VERSION = re.compile(r"^[A-Za-z0-9._+~^]+\Z")
_SUMMARY_MAX = 200
# PEP 753 well-known labels (after normalisation), in the order they are preferred for `url`.
_URL_LABELS = ("homepage", "source", "repository", "sourcecode", "github")
# Trove classifiers that name exactly one SPDX license; "BSD License" and the like do not.
_CLASSIFIER_SPDX = {
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "License :: OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "License :: OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": (
        "AGPL-3.0-or-later"
    ),
    "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)": (
        "GPL-2.0-or-later"
    ),
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)": (
        "GPL-3.0-or-later"
    ),
    "License :: OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": (
        "LGPL-2.0-or-later"
    ),
    "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": (
        "LGPL-3.0-or-later"
    ),
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: OSI Approved :: Zero-Clause BSD (0BSD)": "0BSD",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Scaffold:
    """What ``venvrpm init`` writes, and what the user should look at."""

    app_yaml: str
    requirements_in: str
    warnings: tuple[str, ...]
    """One line each: a value that is a placeholder or a guess."""
    placeholders: tuple[str, ...] = ()
    """Keys of app.yaml that hold PLACEHOLDER: the manifest validates, but they must be set."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Written:
    """The result of ``scaffold``."""

    manifest: Path
    written: tuple[Path, ...]
    kept: tuple[Path, ...]
    """Files left as they were (an existing schema copy, without --force)."""
    warnings: tuple[str, ...]
    placeholders: tuple[str, ...]


def render(pyproject: Mapping[str, Any], python: str = PYTHON) -> Scaffold:
    """The manifest and requirements.in for the parsed *pyproject*; raise UsageError if unusable.

    *python* is the target's interpreter written into the manifest (``init --python``).
    """
    project = pyproject.get("project")
    if not isinstance(project, dict):
        raise UsageError(
            "pyproject.toml has no [project] table",
            "venvrpm init reads the standard [project] metadata (name, version, dependencies, "
            "scripts); without it, write app.yaml by hand (`venvrpm schema --markdown` lists "
            "every key)",
        )
    warnings: list[str] = []
    dynamic = _strings(project, "dynamic")
    name = _name(project, warnings)
    lines = _head(
        "`venvrpm init` from pyproject.toml",
        [f"name: {_scalar(name)}", _version(project, dynamic, warnings)],
        project, python, warnings,
    )  # fmt: skip
    lines += [
        "project: .  # installed without its dependencies: they come from the lock",
        f"requirements: {LOCK}  # the hash-locked lock `venvrpm lock` writes",
        "lock:",
        f"  inputs: [{REQUIREMENTS_IN}]  # locked together with the project's dependencies",
    ]
    entry_points = _entry_points(project, dynamic, warnings)
    if entry_points:
        shown = ", ".join(_scalar(e) for e in entry_points)
        lines.append(f"entry_points: [{shown}]  # /usr/bin/<name> -> the venv's console script")
    return Scaffold(
        app_yaml="\n".join(lines) + "\n",
        requirements_in=_requirements_in(project, dynamic, warnings),
        warnings=tuple(warnings),
        placeholders=tuple(
            line.split(":")[0] for line in lines if f": {PLACEHOLDER}  # TODO" in line
        ),
    )


def read_pyproject(directory: Path) -> dict[str, Any]:
    """Parse ``directory/pyproject.toml``; raise UsageError when it is missing or not TOML."""
    path = directory / "pyproject.toml"
    try:
        return project.load(directory)
    except FileNotFoundError:
        raise UsageError(
            f"no pyproject.toml in {directory}",
            "run venvrpm init in the project's directory, or give it: venvrpm init "
            "path/to/project; for an application from PyPI without a project of yours: "
            "venvrpm init --from-pypi NAME[==VERSION]",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from None


def scaffold(
    directory: Path, *, force: bool = False, python: str = PYTHON, made: Scaffold | None = None
) -> Written:
    """Write app.yaml, requirements.in and the schema copy into *directory*.

    *made* is what to write (``from_pypi``; *directory* is made if need be); by default, what
    the directory's pyproject.toml gives. Without *force*, an existing app.yaml or requirements.in is an error and nothing is
    written; an existing schema copy is kept (it is only what ``venvrpm schema`` prints).
    """
    if made is None:
        made = render(read_pyproject(directory), python)
    else:  # from_pypi: the directory need not exist yet
        with refused("making the project directory", "choose another directory"):
            directory.mkdir(parents=True, exist_ok=True)
    targets = {
        directory / MANIFEST: made.app_yaml,
        directory / REQUIREMENTS_IN: made.requirements_in,
    }
    schema_path = directory / SCHEMA
    kept: tuple[Path, ...] = ()
    if not force:
        existing = [p for p in targets if p.exists() or p.is_symlink()]
        if existing:
            one = len(existing) == 1
            raise UsageError(
                f"{' and '.join(p.name for p in existing)} already exist{'s' if one else ''} "
                f"in {directory}; nothing was written",
                f"`venvrpm init --force` replaces {'it' if one else 'them'}",
                details=[str(p) for p in existing],
            )
        if schema_path.exists():
            kept = (schema_path,)
    if not kept:
        targets[schema_path] = manifest.schema_text()
    _write_all(targets)
    return Written(
        manifest=directory / MANIFEST,
        written=tuple(targets),
        kept=kept,
        warnings=made.warnings,
        placeholders=made.placeholders,
    )


def _write_all(files: Mapping[Path, str]) -> None:
    """Write every file under a temporary name, then rename them all into place.

    A failure while writing (a full disk, a read-only directory) leaves no file changed.
    """
    doing = "writing " + ", ".join(sorted(p.name for p in files))
    with (
        refused(doing, "free space, or choose a directory you can write"),
        contextlib.ExitStack() as stack,
    ):
        # every file written and synced first: a failure before the renames changes none
        for path, text in files.items():
            scratch = stack.enter_context(replacing(path))
            scratch.write_text(text)
            os.fsync(scratch.file.fileno())


# --- fields ---------------------------------------------------------------------------------


def _head(
    made_by: str,
    identity: list[str],
    project: Mapping[str, Any],
    python: str,
    warnings: list[str],
) -> list[str]:
    """The manifest's first lines: who made it, *identity* (name, version), the summary,
    licence and URL from *project* (pyproject's table or a wheel's metadata), the interpreter."""
    lines = [
        f"# yaml-language-server: $schema={SCHEMA}",
        f"# venvrpm manifest, made by {made_by}.",
        "# Every key and its meaning: `venvrpm schema --markdown`.",
        *identity,
        _summary(project, warnings),
        _license(project, warnings),
    ]
    url = _url(project, warnings)
    if url is not None:
        lines.append(f"url: {_scalar(url)}")
    lines.append(
        f"python: {_scalar(python)}  # the target's interpreter; the RPM Requires this exact path"
    )
    return lines


def _scalar(value: str) -> str:
    """*value* as a YAML scalar: plain when that reads back as the same string, else quoted."""
    dumped = yaml.safe_dump({"k": value}, allow_unicode=True, width=1 << 16)
    return dumped.removeprefix("k: ").rstrip("\n")


def _placeholder(key: str, why: str) -> str:
    return f"{key}: {PLACEHOLDER}  # TODO: {why}"


def _string(project: Mapping[str, Any], key: str) -> str | None:
    value = project.get(key)
    if value is not None and not isinstance(value, str):
        raise UsageError(f"pyproject.toml: project.{key} must be a string, not {value!r}")
    return value


def _strings(project: Mapping[str, Any], key: str) -> list[str]:
    value = project.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"pyproject.toml: project.{key} must be a list of strings")
    return value


def _table(project: Mapping[str, Any], key: str) -> dict[str, str]:
    value = project.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise UsageError(f"pyproject.toml: project.{key} must be a table of strings")
    return value


def _name(project: Mapping[str, Any], warnings: list[str]) -> str:
    raw = _string(project, "name")
    if not raw or not raw.strip():
        raise UsageError("pyproject.toml: project.name is missing", "every [project] has a name")
    # PEP 503 normalisation: lower case, runs of -_. as one '-'; always a valid RPM name
    name: str = canonicalize_name(raw.strip())
    if not _NAME.match(name):
        name = re.sub(r"[^a-z0-9._+-]+", "-", name).strip("-._+")
        if not name:
            raise UsageError(f"pyproject.toml: project.name {raw!r} has no usable characters")
        warnings.append(f"project.name {raw!r} is not a valid name; the package is called {name}")
    return name[:128]


def _version(project: Mapping[str, Any], dynamic: Sequence[str], warnings: list[str]) -> str:
    raw = _string(project, "version")
    if raw is None:
        why = "dynamic (the build backend computes it)" if "version" in dynamic else "not set"
        warnings.append(
            f"project.version is {why}: app.yaml has version {PLACEHOLDER}; set the version to ship"
        )
        return _placeholder("version", f"project.version is {why}; set the version to ship")
    version, note = rpm_version(raw.strip())
    if note:
        warnings.append(note)
    if version is None:
        return _placeholder("version", f"{raw!r} is not usable as an RPM version")
    return f"version: {_scalar(version)}"


def rpm_version(text: str) -> tuple[str | None, str | None]:
    """A PEP 440 version as an RPM version that sorts the same, and a note when it differs.

    Pre-releases and dev releases get ``~`` (``1.0rc1`` -> ``1.0~rc1``, ``1.0.dev2`` ->
    ``1.0~~dev2``): rpm sorts ``~`` before anything, so ``1.0~rc1`` upgrades to ``1.0``, which
    ``1.0rc1`` would not. Post-releases keep ``.postN`` (no ``^``: rpm before 4.15 lacks it).
    """
    try:
        parsed = Version(text)
    except InvalidVersion:
        if _RPM_VERSION.match(text) and len(text) <= 64:
            return text, f"project.version {text!r} is not a PEP 440 version; kept as it is"
        return None, f"project.version {text!r} is not usable as an RPM version: set it by hand"
    out = ".".join(str(part) for part in parsed.release)
    if parsed.pre is not None:
        out += f"~{parsed.pre[0]}{parsed.pre[1]}"
    if parsed.post is not None:
        out += f".post{parsed.post}"
    if parsed.dev is not None:
        # alone it sorts before the pre-releases too (1.0.dev1 < 1.0a1): two tildes
        alone = parsed.pre is None and parsed.post is None
        out += f"{'~~' if alone else '~'}dev{parsed.dev}"
    if parsed.local is not None:
        out += f"+{parsed.local}"
    notes = []
    if parsed.epoch:
        notes.append(f"the epoch {parsed.epoch}! is dropped (RPM epochs are not set by venvrpm)")
    if out != text:
        notes.insert(0, f"version {text} is written as {out} so rpm orders it like pip does")
    return out, "; ".join(notes) or None


def _summary(project: Mapping[str, Any], warnings: list[str]) -> str:
    raw = (_string(project, "description") or "").strip()
    if not raw:
        warnings.append(f"no project.description: app.yaml has summary {PLACEHOLDER}")
        return _placeholder("summary", "one line shown by `rpm -qi`")
    summary = raw.splitlines()[0].strip()
    if summary != raw:
        warnings.append("project.description has several lines: the summary is the first")
    if len(summary) > _SUMMARY_MAX:
        summary = summary[: _SUMMARY_MAX - 3].rstrip() + "..."
        warnings.append(f"project.description is longer than {_SUMMARY_MAX} characters: cut")
    # rpmlint: summary-ended-with-dot
    if summary.endswith(".") and not summary.endswith(".."):
        summary = summary[:-1]
    return f"summary: {_scalar(summary)}"


def _spdx(expression: str) -> str | None:
    """The canonical SPDX form of *expression*, or None if it is not one (or cannot be told)."""
    try:
        from packaging.licenses import (
            InvalidLicenseExpression,
            canonicalize_license_expression,
        )
    except ImportError:  # packaging < 24.2: take it as written
        return expression if re.fullmatch(r"[A-Za-z0-9.+ ()-]+", expression) else None
    try:
        return str(canonicalize_license_expression(expression))
    except InvalidLicenseExpression:
        return None


def _license(project: Mapping[str, Any], warnings: list[str]) -> str:
    value = project.get("license")
    text: str | None = None
    if isinstance(value, str):  # PEP 639: an SPDX expression
        text = value.strip()
    elif isinstance(value, dict) and isinstance(value.get("text"), str):
        text = value["text"].strip()
    elif value is not None and not isinstance(value, dict):
        raise UsageError("pyproject.toml: project.license must be a string or a table")
    if text and "\n" not in text:
        spdx = _spdx(text)
        if spdx is not None:
            return f"license: {_scalar(spdx)}"
    classifiers = _strings(project, "classifiers")
    guessed = sorted({_CLASSIFIER_SPDX[c] for c in classifiers if c in _CLASSIFIER_SPDX})
    if guessed:
        spdx = " OR ".join(guessed) if len(guessed) > 1 else guessed[0]
        warnings.append(f"license {spdx} is taken from the trove classifiers: check it")
        return f"license: {_scalar(spdx)}"
    if text and "\n" not in text and len(text) <= 200:
        warnings.append(f"license {text!r} is not an SPDX expression: RPM License wants one")
        return f"license: {_scalar(text)}"
    if value is None:
        why = "pyproject.toml names no license"
    elif isinstance(value, dict) and "file" in value:
        why = f"the license is in {value['file']}"
    else:
        why = "project.license is a license text, not an SPDX expression"
    warnings.append(f"{why}: app.yaml has license {PLACEHOLDER}")
    return _placeholder("license", "an SPDX expression, e.g. MIT or Apache-2.0")


def _url(project: Mapping[str, Any], warnings: list[str]) -> str | None:
    drop = set(string.punctuation + string.whitespace)
    urls = {
        "".join(c for c in label if c not in drop).lower(): url.strip()
        for label, url in _table(project, "urls").items()
    }
    for label in _URL_LABELS:
        url = urls.get(label)
        if url and not any(c.isspace() for c in url):
            return url
        if url:
            warnings.append(f"project.urls: {url!r} contains whitespace; left out")
    return None


def _entry_points(
    project: Mapping[str, Any], dynamic: Sequence[str], warnings: list[str]
) -> list[str]:
    if "scripts" in dynamic:
        warnings.append("project.scripts is dynamic: list the commands under entry_points")
    names = []
    for name in _table(project, "scripts"):
        if _ENTRY_POINT.match(name):
            names.append(name)
        else:
            warnings.append(f"script {name!r} cannot be linked into /usr/bin; left out")
    return names


def _requirements_in(
    project: Mapping[str, Any], dynamic: Sequence[str], warnings: list[str]
) -> str:
    lines = [
        "# Top-level requirements locked by `venvrpm lock` (lock.inputs in app.yaml), together",
        "# with the project's own dependencies. Seeded by `venvrpm init` from pyproject.toml;",
        "# add what the application needs besides them, or tighter pins.",
    ]
    if "dependencies" in dynamic:
        warnings.append(
            "project.dependencies is dynamic: requirements.in starts empty "
            "(`venvrpm lock` still asks the build backend for them)"
        )
    for dependency in _strings(project, "dependencies"):
        try:
            Requirement(dependency)
        except InvalidRequirement as exc:
            raise UsageError(
                f"pyproject.toml: project.dependencies has an invalid requirement {dependency!r}",
                str(exc),
            ) from None
        lines.append(dependency.strip())
    return "\n".join(lines) + "\n"


# --- an application from PyPI: `venvrpm init --from-pypi NAME[==VERSION]` ----------------------

# What the wheel's core metadata is called where render's helpers say pyproject.toml.
_METADATA_WORDS = {
    "no project.description": "the wheel's metadata has no Summary",
    "project.description": "the wheel's Summary",
    "pyproject.toml names no license": "the wheel's metadata names no license",
    "project.license": "the wheel's License",
    "project.urls": "the wheel's Project-URL",
    "project.name": "the wheel's Name",
    "project.version": "the wheel's Version",
}


def network_environment(host_env: Mapping[str, str]) -> dict[str, str]:
    """What pip sees of this host's environment: its settings and proxies, as for ``lock``."""
    from venvrpm.plan import _NETWORK_ENV, _NETWORK_ENV_PREFIXES

    return {
        k: v
        for k, v in host_env.items()
        if k.startswith(_NETWORK_ENV_PREFIXES) or k in _NETWORK_ENV
    }


def check_python(text: str) -> str:
    """``init --python PATH``: an absolute path of an executable file on this host."""
    if not is_normalised_absolute(text):
        raise UsageError(
            f"--python {text!r} is not an absolute path",
            "give the interpreter the RPM runs on, e.g. /usr/bin/python3.11",
        )
    path = Path(text)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise UsageError(
            f"--python {text}: no executable interpreter at that path on this host",
            "give the path of the interpreter the RPM will run on; for a container or rootfs "
            "build whose interpreter the host lacks, set python in app.yaml by hand",
        )
    return text


def parse_from_pypi(text: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME==VERSION`` -> (canonical name, version or None for the newest)."""
    usage = "give one exact version or none (the newest); extras, markers and ranges go into "
    usage += "requirements.in afterwards"
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError(f"--from-pypi {text!r} is not NAME or NAME==VERSION", str(exc)) from None
    specs = list(req.specifier)
    exact = not specs or (
        len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version
    )
    if req.url or req.marker or req.extras or not exact:
        raise UsageError(f"--from-pypi {text!r} is not NAME or NAME==VERSION", usage)
    return canonicalize_name(req.name), specs[0].version if specs else None


def from_pypi(
    requirement: str,
    runner: Runner,
    *,
    python: str = PYTHON,
    find_links: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Scaffold:
    """The manifest and requirements.in of a distribution on the index, with its real commands.

    Its one wheel is downloaded (``pip download --no-deps --only-binary :all:``) into a
    temporary directory and read as a zip file: nothing of the package runs. Without a wheel
    (an sdist only, whose commands are known only once built), the manifest has no
    entry_points and says so.
    """
    name, version = parse_from_pypi(requirement)
    wanted = f"{name}=={version}" if version else name
    sources = ["--no-index", "--find-links", str(find_links)] if find_links is not None else []
    with tempfile.TemporaryDirectory(prefix="venvrpm-init-") as scratch:
        argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                "--no-input", "--disable-pip-version-check", "--progress-bar", "off",
                "--dest", scratch, *sources, *_python_version(python, runner), wanted]  # fmt: skip
        got = runner.run(argv, what=f"downloading the wheel of {wanted}", env=env, check=False)
        wheels = sorted(Path(scratch).glob("*.whl"))
        if got.returncode == 0 and len(wheels) == 1:
            facts = entrypoints.read_wheel(wheels[0])
            if facts.name != name:
                raise UsageError(f"pip downloaded {wheels[0].name} for {wanted}",
                                 "the index serves another distribution under that name")  # fmt: skip
            found = _metadata_project(facts.metadata)
            # the version goes into app.yaml and requirements.in: the file name's, checked
            shown = wheel_version(wheels[0].name, found.get("version"))
            return render_pypi(name, shown, found, facts.scripts, python)
        lines = [line.strip() for line in got.tail(50).splitlines() if line.strip()]
        rejected = pip_text.discarded(lines)
        # pip found no wheel (then the index says whether there is an sdist), or it found one
        # and refused it: pip 23 says "Discarding ...", pip 26 dies on its invalid version
        if got.returncode != 0 and (rejected or not pip_text.not_found(got.tail(50))):
            reason = pip_text.discard_reason(rejected[-1]) if rejected else (lines or ["?"])[-1]
            raise UsageError(
                f"pip rejected the wheel of {wanted}: {reason}",
                "the index serves a wheel pip will not install (its metadata disagrees with "
                "its file name, or it is broken): ask its publisher, or pin another version",
                details=rejected[:-1] if rejected else lines[-12:-1],  # the last is the message's
            )
        listed = runner.run(
            [sys.executable, "-m", "pip", "index", "versions", name, "--no-input",
             "--disable-pip-version-check", *sources],
            what=f"listing the versions of {name}", env=env, check=False,
        )  # fmt: skip
    versions = pip_text.index_versions(listed.stdout)
    if (
        listed.returncode != 0
        or versions is None
        or (version and version not in versions.available)
    ):
        raise UsageError(
            f"{wanted} is not on the index",
            "check the name and version (`pip index versions NAME` lists them), and that pip "
            "reaches the index (pip.conf, PIP_INDEX_URL) or give --find-links DIR",
            details=[got.tail()],
        )
    return render_pypi(name, version or versions.newest, None, None, python)


def wheel_version(filename: str, metadata: object) -> str:
    """The version of wheel *filename*, when its METADATA's Version (*metadata*) is the same
    PEP 440 version; else a UsageError. The index's wheel is untrusted: its raw Version could
    hold a line separator that ends app.yaml's comment (pip refuses that wheel, and so do we)."""
    hint = "the index serves a broken wheel: ask its publisher, or pin another version"
    try:
        _, expected, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        raise UsageError(f"{filename!r} is not a wheel's file name", hint) from None
    if not isinstance(metadata, str):
        raise UsageError(f"{filename} has no Version in its metadata", hint)
    try:
        found = Version(metadata)
    except InvalidVersion:
        raise UsageError(
            f"{filename} has a Version {metadata!r} that is not a version", hint
        ) from None
    if found != expected:
        raise UsageError(
            f"{filename} has Version {found} in its metadata, not the file name's {expected}", hint
        )
    return str(expected)


def _python_version(python: str, runner: Runner) -> list[str]:
    """``--python-version X.Y`` of the target interpreter when this host has it: the wheel
    picked is one the target can install."""
    if not Path(python).is_file():
        return []
    probe = runner.run([python, "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                       what=f"asking {python} its version", check=False)  # fmt: skip
    version = probe.stdout.strip()
    return ["--python-version", version] if re.fullmatch(r"\d+\.\d+", version) else []


def _metadata_project(text: str) -> dict[str, Any]:
    """A wheel's core metadata (METADATA) as the [project] table render's helpers read."""
    message = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)

    def one(key: str) -> str | None:
        value = message.get(key)
        return str(value).strip() if value is not None and str(value).strip() else None

    project: dict[str, Any] = {"name": one("Name") or "", "version": one("Version")}
    if (summary := one("Summary")) is not None:
        project["description"] = summary
    if (expression := one("License-Expression")) is not None:
        project["license"] = expression
    elif (text_license := one("License")) is not None and text_license.upper() != "UNKNOWN":
        project["license"] = {"text": text_license}
    project["classifiers"] = [str(c).strip() for c in message.get_all("Classifier") or []]
    urls: dict[str, str] = {}
    if (home := one("Home-page")) is not None:
        urls["Homepage"] = home
    for entry in message.get_all("Project-URL") or []:
        label, _, url = str(entry).partition(",")
        urls.setdefault(label.strip(), url.strip())
    project["urls"] = urls
    return project


def render_pypi(
    name: str,
    version: str,
    project: Mapping[str, Any] | None,
    scripts: Sequence[str] | None,
    python: str = PYTHON,
) -> Scaffold:
    """The manifest for distribution *name* at *version*: its wheel's metadata as *project*
    and its commands as *scripts* (both None: only an sdist, nothing read)."""
    warnings: list[str] = []
    project = project or {"name": name}
    package = _name({"name": name}, warnings)
    lines = _head(
        f"`venvrpm init --from-pypi {name}=={version}`",
        [f"name: {_scalar(package)}",
         f"version: {{from: {name}}}  # the version of {name} in the lock ({LOCK})"],
        project, python, warnings,
    )  # fmt: skip
    lines += [
        f"requirements: {LOCK}  # the hash-locked lock `venvrpm lock` writes",
        "lock:",
        f"  inputs: [{REQUIREMENTS_IN}]  # {name} and anything else to install with it",
    ]
    if scripts is None:
        warnings.append(
            f"{name} {version} has no wheel on the index, only an sdist: its commands are "
            "known only once it is built, so app.yaml has no entry_points: list them there "
            "(a name the build does not find fails it, and the error lists what bin/ holds)"
        )
        lines.append("# entry_points: [COMMAND]  # TODO: the sdist's console scripts")
    else:
        commands = [s for s in scripts if _ENTRY_POINT.match(s)]
        warnings += [f"script {s!r} cannot be linked into /usr/bin; left out"
                     for s in scripts if s not in commands]  # fmt: skip
        if commands:
            shown = ", ".join(_scalar(c) for c in commands)
            lines.append(f"entry_points: [{shown}]  # read from the wheel: /usr/bin/<name> links")
        else:
            warnings.append(f"{name} {version} declares no console scripts: no entry_points")
    requirements_in = "\n".join([
        "# Top-level requirements locked by `venvrpm lock` (lock.inputs in app.yaml).",
        "# Seeded by `venvrpm init --from-pypi`: the version whose commands app.yaml lists.",
        f"{name}=={version}",
    ]) + "\n"  # fmt: skip
    for pyproject_word, metadata_word in _METADATA_WORDS.items():
        warnings = [w.replace(pyproject_word, metadata_word) for w in warnings]
    return Scaffold(
        app_yaml="\n".join(lines) + "\n",
        requirements_in=requirements_in,
        warnings=tuple(warnings),
        placeholders=tuple(
            line.split(":")[0] for line in lines if f": {PLACEHOLDER}  # TODO" in line
        ),
    )
