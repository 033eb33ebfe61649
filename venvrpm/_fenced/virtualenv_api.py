"""virtualenv's private API: its embedded seed wheels and its ``_virtualenv.py`` startup module.

Fragile: neither is virtualenv's public interface (its command line is). venvrpm takes pip
from the wheel virtualenv embeds for each Python (``virtualenv.seed.wheels.embed``), asks a
target whether it can run virtualenv by importing ``virtualenv.run``, and recognises, byte for
byte, the ``_virtualenv.pth``/``_virtualenv.py`` pair virtualenv writes into environments for
old targets (``virtualenv/create/via_global_ref/_virtualenv.py``).

Checked with virtualenv 21.15 (pyproject allows >= 20.26; tests/test_fenced.py runs each
function against the installed virtualenv).

When virtualenv moves these: the tests fail on the import or the missing file; at run time
:func:`embedded_wheel` raises ImportError (a bug report with its traceback), the runnable check
fails and the standard library's venv is used, and :func:`startup_module` answers None, so the
startup-code check warns about ``_virtualenv.pth`` instead of exempting it (never the reverse).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

CAN_RUN = "import virtualenv.run"
"""The code a target interpreter runs (``python -c``) to tell whether it can run virtualenv:
what virtualenv's ``__main__`` imports first."""

STARTUP_PTH = ("_virtualenv.pth", b"import _virtualenv")
"""The ``.pth`` file virtualenv < 20.31 writes into venvs for Python < 3.10 (a guard against
distutils configuration), and its whole content."""

SCRIPT_DIR_PLACEHOLDER = b'"__SCRIPT_DIR__"'
"""What older releases replaced in ``_virtualenv.py`` with the scripts directory."""


def embedded_wheel(distribution: str, python: str) -> Path | None:
    """The wheel of *distribution* (``pip``) virtualenv embeds for Python *python* (``3.11``),
    or None when it embeds none for that version."""
    from virtualenv.seed.wheels.embed import get_embed_wheel

    wheel = get_embed_wheel(distribution, python)
    return None if wheel is None else Path(wheel.path)


def startup_module() -> bytes | None:
    """virtualenv's ``_virtualenv.py``, as this venvrpm's virtualenv writes it (the toolbox
    copies that virtualenv verbatim); None when it is not where it was."""
    spec = importlib.util.find_spec("virtualenv")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0], "create", "via_global_ref", "_virtualenv.py")
    try:
        return path.read_bytes()
    except OSError:
        return None
