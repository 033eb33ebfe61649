"""Native libraries bundled inside wheels: what PyPI's advisories cannot see. Pure but for
:func:`in_venv`, which lists a directory.

auditwheel (and delocate's Linux cousins) copy the shared libraries a wheel links against into
``site-packages/<package>.libs/``, renamed with a hash: ``libssl-4f7f1e14.so.3``,
``libpq-9c0c2e7b.so.5.16``, ``libopenblas64_p-r0-15028c96.3.21.so``. An OpenSSL flaw is an
OpenSSL advisory, not a PyPI one: an audit lists them, and the SBOM carries them as components
marked so, for a scanner that knows the libraries (or for the operator).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from venvrpm import files

NOT_COVERED = "not covered by PyPI advisories: a native library bundled in a wheel"
"""How the report and the SBOM mark them."""
_IN_LIBS = re.compile(r"/site-packages/([^/]+\.libs)/([^/]+)$")
# auditwheel's name: the library's, a dash and 8 hex digits of its hash, then the rest
_GRAFTED = re.compile(r"(?P<name>.+?)-[0-9a-f]{8}(?P<rest>(?:\.[^.]*)*)")
_SONAME_VERSION = re.compile(r"\.so\.(?P<version>\d[0-9A-Za-z.]*)")
_VERSION_BEFORE_SO = re.compile(r"\.(?P<version>\d[0-9A-Za-z.]*)\.so")


@dataclass(frozen=True, kw_only=True, slots=True)
class NativeLibrary:
    """A shared library in a ``*.libs`` directory of site-packages."""

    path: str
    """The installed path."""
    directory: str
    """``<package>.libs``: the wheel it came with."""
    name: str
    """The library's name from its file name (``libssl``), the grafting hash removed."""
    version: str | None
    """What the file name tells: the soname's version (``3`` of ``libssl.so.3``, an ABI
    version, not always the release) or the one before ``.so``; None when it tells none."""


OWN_OPENSSL = "bundles its own OpenSSL: not the system's FIPS-validated module"
"""What build and inspect say of a wheel's ``*.libs`` holding libcrypto or libssl: on a host in
FIPS mode only the system's OpenSSL is the validated module (docs/security.md, FIPS)."""
_OPENSSL = frozenset({"libcrypto", "libssl"})


def own_openssl(libraries: Iterable[NativeLibrary]) -> list[str]:
    """One line per ``*.libs`` directory among *libraries* that bundles OpenSSL, with the
    alternative: the distribution built from its sdist against the system's OpenSSL."""
    found: dict[str, list[str]] = {}
    for lib in libraries:
        if lib.name in _OPENSSL:
            found.setdefault(lib.directory, []).append(PurePosixPath(lib.path).name)
    lines = []
    for directory, names in sorted(found.items()):
        distribution = directory.removesuffix(".libs").replace("_", "-")
        lines.append(
            f"{directory} {OWN_OPENSSL} ({', '.join(sorted(names))}); for FIPS, build "
            f"{distribution} from its sdist against the system's OpenSSL: lock its sdist (or its "
            "non-binary variant, e.g. psycopg2 for psycopg2-binary) and add the OpenSSL headers "
            "to build.requires (openssl-devel)"
        )
    return lines


def parse_name(filename: str) -> tuple[str, str | None]:
    """(name, version) of a library's file name, as :class:`NativeLibrary` holds them."""
    grafted = _GRAFTED.fullmatch(filename)
    name, rest = (grafted["name"], grafted["rest"]) if grafted else (filename, "")
    if not grafted:
        name, dot, after = filename.partition(".so")
        rest = dot + after
    found = _SONAME_VERSION.search(rest) or _VERSION_BEFORE_SO.match(rest)
    return name, (found["version"].rstrip(".") if found else None)


def from_paths(paths: Iterable[str]) -> tuple[NativeLibrary, ...]:
    """The shared libraries among *paths* (an RPM's file list): files under
    ``site-packages/*.libs/`` with ``.so`` in their names."""
    found = []
    for path in paths:
        match = _IN_LIBS.search(path)
        if match and ".so" in match[2]:
            name, version = parse_name(match[2])
            found.append(NativeLibrary(path=path, directory=match[1], name=name, version=version))
    return tuple(sorted(set(found), key=lambda n: n.path))


def in_venv(venv_dir: Path, installed_at: PurePosixPath) -> tuple[NativeLibrary, ...]:
    """The shared libraries in the ``*.libs`` directories of *venv_dir*'s site-packages (real
    directories only: no link is followed), by their paths once *venv_dir* is installed at
    *installed_at* (the prefix)."""
    paths = []
    for site in files.site_packages(venv_dir):
        for entry in sorted(os.listdir(site)):
            libs = site / entry
            if entry.endswith(".libs") and files.is_real_dir(libs):
                paths += [str(libs / f) for f in sorted(os.listdir(libs))
                          if not os.path.islink(libs / f)]  # fmt: skip
    return tuple(
        NativeLibrary(path=str(installed_at / os.path.relpath(n.path, venv_dir)),
                      directory=n.directory,
                      name=n.name, version=n.version)
        for n in from_paths(paths)
    )  # fmt: skip
