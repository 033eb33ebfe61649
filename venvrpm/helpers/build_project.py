"""Build the project's wheel through its PEP 517 backend, in one process. Standard library only.

Run by the target interpreter as::

    python -I -S build_project.py PROJECT BUILD_ENV OUT_DIR RESULT_JSON

BUILD_ENV holds the project's ``[build-system] requires`` (installed by pip with ``--target``).
``-I -S``: nothing but the standard library and BUILD_ENV is importable -- the isolation pip's
build environments give, without creating one per build and running each hook in its own
interpreter (together about 3 s of a rebuild whose own code changed).

Exit 0: RESULT_JSON says ``{"wheel": NAME}``. Exit 3: this project needs what BUILD_ENV lacks
(``get_requires_for_build_wheel`` asked for more): the caller falls back to pip. Anything else:
the backend failed, with its output on stderr.
"""

import json
import os
import re
import site
import sys

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _canonical(name: str) -> str:
    """PEP 503 normalisation (packaging is not importable here)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed(build_env: str) -> set[str]:
    return {
        _canonical(entry.rsplit("-", 1)[0])
        for entry in os.listdir(build_env)
        if entry.endswith(".dist-info")
    }


def main(project: str, build_env: str, out_dir: str, result: str) -> int:
    try:
        import tomllib
    except ImportError:  # Python < 3.11: pip's way
        return 3
    try:
        with open(os.path.join(project, "pyproject.toml"), "rb") as fh:
            system = tomllib.load(fh).get("build-system", {})
    except OSError:  # setup.py only: pip's way
        return 3
    backend_name = system.get("build-backend", "setuptools.build_meta:__legacy__")
    # .pth files of the build environment count (setuptools' distutils-precedence.pth).
    site.addsitedir(build_env)
    for path in reversed(system.get("backend-path", [])):
        sys.path.insert(0, os.path.join(project, path))
    os.chdir(project)
    module_name, _, attribute = backend_name.partition(":")
    backend = __import__(module_name, fromlist=["_"])
    for part in filter(None, attribute.split(".")):
        backend = getattr(backend, part)
    # Output of the backend goes to stderr: stdout stays ours.
    saved, sys.stdout = sys.stdout, sys.stderr
    try:
        hook = getattr(backend, "get_requires_for_build_wheel", None)
        extra = hook({}) if hook else []
        have = _installed(build_env)
        missing = [
            r for r in extra
            if (m := _NAME.match(r)) and _canonical(m.group(1)) not in have
        ]  # fmt: skip
        if missing:
            print(f"build_project: the backend also needs {missing}", file=sys.stderr)
            return 3
        wheel = backend.build_wheel(out_dir, {}, None)
    finally:
        sys.stdout = saved
    with open(result, "w", encoding="utf-8") as fh:
        json.dump({"wheel": wheel}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
