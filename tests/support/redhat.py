"""Red Hat's rpmbuild post-processing on this Debian host (tests/support/redhat/macros).

rpm reads ``~/.rpmmacros`` after its own configuration, so a build whose HOME is
:func:`home` runs what Fedora and EL run after ``%install``. venvrpm's runner keeps HOME, so
this reaches the rpmbuild of ``venvrpm build`` as it reaches a farm's ``rpmbuild --rebuild``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

SUPPORT = Path(__file__).parent / "redhat"
TOOLS = ("find-debuginfo", "eu-strip", "eu-elfclassify", "gcc")


def home(directory: Path) -> Path:
    """A HOME whose ``.rpmmacros`` turns Red Hat's install-post chain on; returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    text = (SUPPORT / "macros").read_text().replace("@SUPPORT@", str(SUPPORT))
    (directory / ".rpmmacros").write_text(text)
    return directory


def shipped(rpm: Path) -> dict[str, tuple[str, str, str]]:
    """Every file of *rpm*: path -> (mode, SHA-256 digest, link target)."""
    out = subprocess.run(
        ["rpm", "-qp", "--nosignature", "--qf",
         "[%{FILENAMES}\\t%{FILEMODES:octal}\\t%{FILEDIGESTS}\\t%{FILELINKTOS}\\n]", str(rpm)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    files = {}
    for line in out.splitlines():
        path, mode, digest, link = line.split("\t")
        files[path] = (mode, digest, link)
    return files
