"""Test applications: a wheelhouse, a project, a hash-locked lock and a manifest, built in tmp.

Everything is made here from source, offline: pure wheels, a platform wheel with a compiled
library and a bundled, renamed soname (as auditwheel makes them), an sdist-only dependency,
and a wheel whose data files have the awkward names real wheels carry.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import textwrap
from pathlib import Path

from tests.support import tinybackend

# Names that occur in real wheels (setuptools ships 'script (dev).tmpl') or break naive spec
# generators: spaces, %, glob characters, $, quotes, braces, backslash, non-ASCII.
AWKWARD_NAMES = (
    "script (dev).tmpl",
    "100%.txt",
    "%{lua:print(1)}.txt",
    "%(id).txt",
    "[brackets].txt",
    "star*.txt",
    "what?.txt",
    "{a,b}.txt",
    "$HOME.txt",
    "it's.txt",
    'say "hi".txt',
    "back\\slash.txt",
    "ünïcödé.txt",
    " leading space.txt",
    "trailing space .txt",
)

BUNDLED_SONAME = "libtiny-1a2b3c4d.so.1"

APP_MAIN = """\
import ctypes, json, sys
import awkward_data, sdistonly, tinydep, tinynative

def main():
    print(json.dumps({
        "prefix": sys.prefix,
        "tinydep": tinydep.VALUE,
        "native": tinynative.answer(),
        "sdistonly": sdistonly.VALUE,
        "awkward": awkward_data.count(),
        "co_filename": main.__code__.co_filename,
    }))
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_native(workdir: Path) -> tuple[bytes, bytes]:
    """A bundled library with a renamed soname, and a library that needs it and libc."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tiny.c").write_text("int tiny_value(void) { return 42; }\n")
    (workdir / "core.c").write_text(
        "#include <stdio.h>\n#include <stdlib.h>\nint tiny_value(void);\n"
        'int answer(void) { char b[16]; snprintf(b, sizeof b, "%d", tiny_value());'
        " return atoi(b); }\n"
    )
    lib = workdir / BUNDLED_SONAME
    core = workdir / "_core.so"
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-O2",
            "-o",
            lib,
            f"-Wl,-soname,{BUNDLED_SONAME}",
            workdir / "tiny.c",
        ],
        check=True,
    )
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-O2",
            "-o",
            core,
            workdir / "core.c",
            f"-L{workdir}",
            f"-l:{BUNDLED_SONAME}",
            "-Wl,-rpath,$ORIGIN/../tinynative.libs",
        ],
        check=True,
    )
    return lib.read_bytes(), core.read_bytes()


def make_wheelhouse(directory: Path) -> dict[str, Path]:
    """Build every distribution the test app locks; return name -> file."""
    directory.mkdir(parents=True, exist_ok=True)
    lib, core = build_native(directory.parent / "native-build")
    dists = {
        "tinydep": tinybackend.write_wheel(
            directory,
            "tinydep",
            "1.0",
            {"tinydep/__init__.py": "VALUE = 'tinydep 1.0'\n"},
            scripts={"tinydep-tool": "#!python\nimport tinydep\nprint(tinydep.VALUE)\n"},
        ),
        "awkward-data": tinybackend.write_wheel(
            directory,
            "awkward-data",
            "1.0",
            {
                "awkward_data/__init__.py": (
                    "import os\n\ndef count():\n"
                    "    return len(os.listdir(os.path.join(os.path.dirname(__file__), 'data')))\n"
                ),
                **{f"awkward_data/data/{n}": f"{n}\n" for n in AWKWARD_NAMES},
            },
        ),
        "tinynative": tinybackend.write_wheel(
            directory,
            "tinynative",
            "1.0",
            {
                "tinynative/__init__.py": (
                    "import ctypes, os\n"
                    "_lib = ctypes.CDLL(os.path.join(os.path.dirname(__file__), '_core.so'))\n\n"
                    "def answer():\n    return _lib.answer()\n"
                ),
                "tinynative/_core.so": core,
                f"tinynative.libs/{BUNDLED_SONAME}": lib,
            },
            tag="py3-none-linux_x86_64",
            modes={"tinynative/_core.so": 0o755, f"tinynative.libs/{BUNDLED_SONAME}": 0o755},
        ),
        "sdistonly": tinybackend.write_sdist(
            directory,
            "sdistonly",
            "2.0",
            {"src/sdistonly/__init__.py": "VALUE = 'built from sdist'\n"},
        ),
    }
    return dists


def write_lock(path: Path, dists: dict[str, Path], versions: dict[str, str]) -> None:
    lines = ["# hash-locked by the tests (pip-compile --generate-hashes format)"]
    for name in sorted(dists):
        lines.append(f"{name}=={versions[name]} \\\n    --hash=sha256:{sha256(dists[name])}")
    path.write_text("\n".join(lines) + "\n")


VERSIONS = {"tinydep": "1.0", "awkward-data": "1.0", "tinynative": "1.0", "sdistonly": "2.0"}


def make_smallapp(
    root: Path,
    *,
    name: str = "smallapp",
    version: str = "1.0.0",
    extra_manifest: str = "",
    entry_points: str = "[smallapp, tinydep-tool]",
    extra_files: str = "",
    config_text: str = "# smallapp configuration\ncolour = blue\n",
) -> Path:
    """The full test application under *root*; returns the manifest path.

    *extra_files* is YAML appended to the manifest's ``files`` list (indented two spaces).
    """
    dists = make_wheelhouse(root / "wheels")
    project = root / "project"
    (project / "src" / "smallapp").mkdir(parents=True)
    shutil.copy(tinybackend.__file__, project / "tinybackend.py")
    (project / "pyproject.toml").write_text(
        textwrap.dedent(f'''\
        [build-system]
        requires = []
        build-backend = "tinybackend"
        backend-path = ["."]

        [project]
        name = "smallapp"
        version = "{version}"
        dependencies = ["tinydep", "awkward-data", "tinynative", "sdistonly"]

        [project.scripts]
        smallapp = "smallapp:main"
        ''')
    )
    (project / "src" / "smallapp" / "__init__.py").write_text(APP_MAIN)
    (root / "conf").mkdir()
    (root / "conf" / "smallapp.conf").write_text(config_text)
    write_lock(root / "requirements.lock", dists, VERSIONS)
    manifest = root / "app.yaml"
    manifest.write_text(
        textwrap.dedent(f"""\
        name: {name}
        version: {version}
        release: 1
        summary: Tiny CLI with 100% awkward %{{names}}
        license: MIT
        description: |
          A test application.
          Then %post and %{{lua:x}} as data.
          It must build whatever its strings say.
        url: https://example.invalid/smallapp
        python: /usr/bin/python3.11
        project: project
        requirements: requirements.lock
        wheelhouse: wheels/
        entry_points: {entry_points}
        files:
          - src: conf/smallapp.conf
            dest: /etc/{name}/{name}.conf
            config: true
            mode: "0640"
        """)
        + extra_files
        + extra_manifest
    )
    return manifest


def project_builds_with_the_backend_wheel(root: Path) -> None:
    """The test app's project: its [build-system] requires tinybackend (from the wheelhouse)
    instead of its in-tree copy."""
    (root / "project" / "tinybackend.py").unlink()
    pyproject = root / "project" / "pyproject.toml"
    text = pyproject.read_text().replace("requires = []", 'requires = ["tinybackend"]')
    pyproject.write_text(text.replace('backend-path = ["."]\n', ""))
