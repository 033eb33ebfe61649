"""SOURCE_DATE_EPOCH of a build, and where it came from."""

from __future__ import annotations

import contextlib
import datetime
import shutil
import time
from collections.abc import Mapping

from venvrpm import probes
from venvrpm.manifest import Manifest
from venvrpm.runner import HostRunner


def default_source_date_epoch(env: Mapping[str, str], manifest: Manifest | None = None) -> int:
    """SOURCE_DATE_EPOCH for a build (:func:`source_date_epoch`, without where it came from)."""
    return source_date_epoch(env, manifest)[0]


def source_date_epoch(env: Mapping[str, str], manifest: Manifest | None = None) -> tuple[int, str]:
    """SOURCE_DATE_EPOCH for a build, the same for the same inputs wherever they are built, and
    where it came from (the build says it: a silent fallback to an mtime surprised users).

    In order: the environment's ``SOURCE_DATE_EPOCH``; the newest ``changelog`` date (midnight
    UTC); the time of the last git commit of the manifest's directory; the lock's mtime (the
    last one is not stable across checkouts); now.
    """
    value = env.get("SOURCE_DATE_EPOCH", "")
    if value.isdigit():
        return int(value), "the environment's SOURCE_DATE_EPOCH"
    if manifest is None:
        return int(time.time()), "the current time"
    if manifest.changelog:
        newest = max(entry.date for entry in manifest.changelog)
        return int(
            datetime.datetime.combine(newest, datetime.time(), datetime.UTC).timestamp()
        ), f"the newest changelog entry ({newest.isoformat()})"
    git = shutil.which("git")
    if git:
        committed = (
            HostRunner(0)
            .run(probes.last_commit(git, manifest.base_dir),
                 what="reading the last commit time", check=False)
            .stdout.strip()
        )  # fmt: skip
        if committed.isdigit():
            return int(committed), f"the last git commit of {manifest.base_dir}"
    with contextlib.suppress(OSError):
        return int(manifest.requirements.stat().st_mtime), (
            f"the modification time of {manifest.requirements.name} (no changelog, no git: "
            "another checkout gives another time; set SOURCE_DATE_EPOCH or add a changelog "
            "entry for reproducible builds)"
        )
    return int(time.time()), "the current time"
