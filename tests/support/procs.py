"""What is left running: the processes of a killed build (issue 17, defect 16)."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path


def survivors(marker: str, grace: float = 5.0) -> list[str]:
    """Command lines of live processes (zombies aside) that name *marker* (a directory of the
    test's), once *grace* seconds have passed for the dying to finish dying."""
    deadline = time.monotonic() + grace
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                raw = (entry / "cmdline").read_bytes()
                if marker.encode() in raw and "State:\tZ" not in (entry / "status").read_text():
                    shown = raw.replace(b"\0", b" ").decode(errors="replace")
                    found.append(f"{entry.name}: {shown}")
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
