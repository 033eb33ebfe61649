"""A minimal PEP 517 build backend and wheel writer, standard library only.

Tests use it two ways: ``write_wheel`` builds real wheels for the test wheelhouse, and the file
is copied into test projects and sdists as their in-tree backend (``backend-path = ["."]``),
so installing them needs no build dependency from any index: builds stay offline.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import tarfile
import zipfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python < 3.11
    tomllib = None

# Fixed timestamp: wheels we build are byte-for-byte reproducible.
_DATE = (2020, 1, 1, 0, 0, 0)


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def write_wheel(
    directory,
    name,
    version,
    files,
    *,
    requires=(),
    entry_points=None,
    scripts=None,
    tag="py3-none-any",
    modes=None,
):
    """Write ``<name>-<version>-<tag>.whl`` into *directory*; return its path.

    *files* maps archive paths to content; *scripts* go to ``.data/scripts`` (pip rewrites a
    ``#!python`` first line); *modes* sets unix permission bits per archive path.
    """
    modes = modes or {}
    dist = f"{_norm(name)}-{version}"
    info = f"{dist}.dist-info"
    entries = {}
    for path, content in files.items():
        entries[path] = content.encode() if isinstance(content, str) else content
    for path, content in (scripts or {}).items():
        entries[f"{dist}.data/scripts/{path}"] = (
            content.encode() if isinstance(content, str) else content
        )
        modes.setdefault(f"{dist}.data/scripts/{path}", 0o755)
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    entries[f"{info}/METADATA"] = ("\n".join(meta) + "\n").encode()
    entries[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: tinybackend\nRoot-Is-Purelib: {'true' if tag.endswith('none-any') else 'false'}\nTag: {tag}\n"
    ).encode()
    if entry_points:
        lines = ["[console_scripts]"] + [f"{k} = {v}" for k, v in entry_points.items()]
        entries[f"{info}/entry_points.txt"] = ("\n".join(lines) + "\n").encode()
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in entries.items():
        writer.writerow([path, _hash(data), len(data)])
    writer.writerow([f"{info}/RECORD", "", ""])
    entries[f"{info}/RECORD"] = record.getvalue().encode()
    target = Path(directory) / f"{dist}-{tag}.whl"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in entries.items():
            zi = zipfile.ZipInfo(path, _DATE)
            zi.external_attr = (modes.get(path, 0o644) | 0o100000) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
    return target


def write_sdist(directory, name, version, files):
    """Write an sdist whose build backend is this file (in-tree): builds need no index."""
    base = f"{_norm(name)}-{version}"
    members = dict(files)
    members["pyproject.toml"] = (
        '[build-system]\nrequires = []\nbuild-backend = "tinybackend"\nbackend-path = ["."]\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
    )
    members["tinybackend.py"] = Path(__file__).read_text()
    members["PKG-INFO"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    target = Path(directory) / f"{base}.tar.gz"
    with tarfile.open(target, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        for path, content in sorted(members.items()):
            data = content.encode() if isinstance(content, str) else content
            ti = tarfile.TarInfo(f"{base}/{path}")
            ti.size, ti.mtime, ti.mode = len(data), 1577836800, 0o644
            tf.addfile(ti, io.BytesIO(data))
    return target


# --- PEP 517 hooks: package everything under src/ (or the package dirs) of the project ----------


def _project():
    with open("pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]


def _tree_files():
    root = Path("src") if Path("src").is_dir() else Path(".")
    skip = {"pyproject.toml", "tinybackend.py", "PKG-INFO", "setup.py"}
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if (
            path.is_file()
            and rel not in skip
            and "__pycache__" not in rel
            and ".egg-info" not in rel
        ):
            out[rel] = (path.read_bytes(), os.stat(path).st_mode & 0o777)
    return out


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project = _project()
    tree = _tree_files()
    wheel = write_wheel(
        wheel_directory,
        project["name"],
        project["version"],
        {k: v[0] for k, v in tree.items()},
        requires=project.get("dependencies", []),
        entry_points=project.get("scripts"),
        modes={k: v[1] for k, v in tree.items()},
    )
    return wheel.name
