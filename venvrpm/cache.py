"""A content-addressed cache of built environments: the locked requirements, installed,
relocated to the prefix and compiled, before the project goes in.

CI rebuilds the same lock many times a day with only the application's own code changed. The
key is a hash of everything that can change such an environment (:func:`key_inputs`), so a hit
is the environment a cold build would make, byte for byte; a miss builds it and stores it.

Safety:

- an entry is written under ``tmp/`` and renamed into ``envs/`` whole: readers never see a
  partial entry, and two builds storing the same key at once leave one (the second rename
  fails and its copy is discarded);
- every file is hashed on the way in and checked on the way out: an entry whose files differ
  from its record (disk error, someone editing the cache) is removed and the build goes on cold;
- readers hold a shared lock on the entry and pruning an exclusive one, so an entry in use is
  never pruned;
- after each store the cache is pruned back under its size limit, least recently used first.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from venvrpm import __version__, stale
from venvrpm.errors import UsageError

FORMAT = 1
"""Bumped whenever the layout of an entry or the meaning of its key changes."""
DEFAULT_MAX_BYTES = 5 * 1024**3
_RECORD = "entry.json"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Entry:
    """One cached environment, as ``venvrpm cache list`` shows it."""

    key: str
    path: Path
    app: str
    prefix: str
    interpreter: str
    backend: str
    size: int
    files: int
    created: float
    last_used: float


def default_dir(env: Mapping[str, str]) -> Path:
    """``$VENVRPM_CACHE_DIR``, else ``$XDG_CACHE_HOME/venvrpm``, else ``~/.cache/venvrpm``."""
    if env.get("VENVRPM_CACHE_DIR"):
        return Path(env["VENVRPM_CACHE_DIR"])
    base = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME") or "/root", ".cache")
    return Path(base) / "venvrpm"


def max_bytes(env: Mapping[str, str]) -> int:
    """The size limit: ``$VENVRPM_CACHE_MAX_SIZE`` (e.g. ``2G``, ``500M``), default 5G."""
    value = env.get("VENVRPM_CACHE_MAX_SIZE", "")
    return parse_size(value) if value else DEFAULT_MAX_BYTES


def parse_size(text: str) -> int:
    """``10G``, ``500M``, ``64k``, ``1000`` -> bytes (powers of 1024). Pure."""
    units = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    body = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = body[-1:] if body[-1:] in units else ""
    number = body[: len(body) - len(unit)]
    try:
        value = float(number)
    except ValueError:
        raise UsageError(
            f"not a size: {text!r}", "write a number with an optional unit: 500M, 2G"
        ) from None
    if value < 0:
        raise UsageError(f"not a size: {text!r}", "sizes are not negative")
    return int(value * units[unit])


def key_of(inputs: Mapping[str, Any]) -> str:
    """The entry's name: sha256 of the inputs as canonical JSON. Pure."""
    text = json.dumps({"format": FORMAT, "venvrpm": __version__, **inputs}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Cache:
    """The cache directory: ``envs/<key>/{tree/, entry.json}``, ``locks/<key>``, ``tmp/``."""

    def __init__(self, root: Path, limit: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root
        self.limit = limit
        self.warnings: list[str] = []
        """Why the cache could not be used (unwritable, full): a cache never fails a build."""
        self._watched: dict[str, list[tuple[str, int, int, int]]] = {}

    def _unusable(self, exc: OSError) -> None:
        self.warnings.append(
            f"the environment cache {self.root} is not usable ({exc.strerror or exc}); "
            "building without it (set VENVRPM_CACHE_DIR, or --no-cache)"
        )

    def _tag(self) -> None:
        # Backup tools skip it, and venvrpm never copies it into a project copy.
        tag = self.root / "CACHEDIR.TAG"
        if not tag.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            tag.write_text(
                "Signature: 8a477f597d28d172789f06886806bc55\n"
                "# venvrpm's cache of built environments (https://bford.info/cachedir/)\n",
                encoding="ascii",
            )

    @property
    def envs(self) -> Path:
        return self.root / "envs"

    def _lock_path(self, key: str) -> Path:
        return self.root / "locks" / key

    @contextlib.contextmanager
    def _locked(self, key: str, mode: int) -> Iterator[bool]:
        """Hold *mode* (LOCK_SH, LOCK_EX, with LOCK_NB) on the entry; yield whether we got it."""
        path = self._lock_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, mode)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def restore(self, key: str, dest: Path) -> bool:
        """Copy the entry into *dest* (which must not exist), checking every file.

        False (and *dest* absent) on a miss or a corrupt entry; a corrupt entry is removed.
        """
        try:
            return self._restore(key, dest)
        except OSError as exc:
            shutil.rmtree(dest, ignore_errors=True)
            self._unusable(exc)
            return False

    def _restore(self, key: str, dest: Path) -> bool:
        entry = self.envs / key
        if not (entry / _RECORD).is_file():
            return False
        with self._locked(key, fcntl.LOCK_SH):
            try:
                record = json.loads((entry / _RECORD).read_text(encoding="utf-8"))
                _copy_checked(entry / "tree", dest, record["files"], self._watch(key))
            except (OSError, ValueError, KeyError, TypeError, _Corrupt):
                shutil.rmtree(dest, ignore_errors=True)
                corrupt = True
            else:
                corrupt = False
                with contextlib.suppress(OSError):
                    os.utime(entry / _RECORD)  # last used, for pruning
        if corrupt:
            self.remove(key)
            return False
        return True

    def store(self, key: str, source: Path, about: Mapping[str, Any]) -> bool:
        """Copy *source* in as entry *key*; False when another build stored it first."""
        try:
            return self._store(key, source, about)
        except OSError as exc:
            self._unusable(exc)
            return False

    def _store(self, key: str, source: Path, about: Mapping[str, Any]) -> bool:
        if (self.envs / key / _RECORD).is_file():
            return False
        self._tag()
        scratch_base = self.root / "tmp"
        scratch_base.mkdir(parents=True, exist_ok=True)
        stale.remove(scratch_base, "entry-")
        scratch = Path(tempfile.mkdtemp(prefix=f"entry-{os.getpid()}-", dir=scratch_base))
        try:
            watched: list[tuple[str, int, int, int]] = []
            files = _copy_recording(source, scratch / "tree", watched)
            record = {
                "format": FORMAT, "key": key, "created": time.time(), **about,
                "size": sum(f[3] for f in files if f[1] == "file"), "files": files,
            }  # fmt: skip
            (scratch / _RECORD).write_text(json.dumps(record), encoding="utf-8")
            self.envs.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(scratch, self.envs / key)
            except OSError:
                return False  # stored meanwhile by a concurrent build: theirs is as good
            self._watch(key).extend(watched)
            return True
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _watch(self, key: str) -> list[tuple[str, int, int, int]]:
        return self._watched.setdefault(key, [])

    def confirm(self) -> None:
        """After the build: drop every entry whose linked files were written in place (a
        project overwriting a dependency's file would otherwise change the entry itself).
        The build that did it is not affected; later builds rebuild the entry."""
        for key, watched in self._watched.items():
            for path, inode, size, mtime in watched:
                try:
                    info = os.stat(path)
                except OSError:
                    continue  # removed from the stage: the entry's file is untouched
                if info.st_ino != inode:
                    continue  # replaced by a new file: the entry's file is untouched
                if (info.st_size, info.st_mtime_ns) != (size, mtime):
                    self.remove(key)
                    self.warnings.append(
                        f"the build wrote into {os.path.basename(path)} in place; its cached environment "
                        "was dropped (the next build recreates it)"
                    )
                    break
        self._watched.clear()

    def entries(self) -> list[Entry]:
        """Every complete entry, most recently used first."""
        found = []
        if not self.envs.is_dir():
            return []
        for path in self.envs.iterdir():
            record_path = path / _RECORD
            try:
                record = json.loads(record_path.read_text(encoding="utf-8"))
                used = record_path.stat().st_mtime
                found.append(
                    Entry(
                        key=path.name, path=path, app=str(record.get("app", "")),
                        prefix=str(record.get("prefix", "")),
                        interpreter=str(record.get("interpreter", "")),
                        backend=str(record.get("backend", "")), size=int(record["size"]),
                        files=len(record["files"]), created=float(record["created"]),
                        last_used=used,
                    )
                )  # fmt: skip
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return sorted(found, key=lambda e: e.last_used, reverse=True)

    def remove(self, key: str) -> bool:
        """Remove one entry unless a build is reading it; True if it is gone."""
        with self._locked(key, fcntl.LOCK_EX | fcntl.LOCK_NB) as got:
            if not got:
                return False
            path = self.envs / key
            if path.exists():
                # Renamed first so no reader finds it half deleted.
                doomed = self.root / "tmp" / f"doomed-{key}-{os.getpid()}"
                doomed.parent.mkdir(parents=True, exist_ok=True)
                os.rename(path, doomed)
                shutil.rmtree(doomed, ignore_errors=True)
            with contextlib.suppress(OSError):
                self._lock_path(key).unlink()
            return True

    def prune(self, *, limit: int | None = None, older_than: float | None = None) -> list[Entry]:
        """Remove entries unused for *older_than* seconds, then the least recently used until
        the cache fits *limit* bytes (default: the cache's limit). Return what was removed."""
        limit = self.limit if limit is None else limit
        removed: list[Entry] = []
        try:
            self._prune(limit, older_than, removed)
        except OSError as exc:
            self._unusable(exc)
        return removed

    def _prune(self, limit: int, older_than: float | None, removed: list[Entry]) -> None:
        now = time.time()
        kept_size = 0
        for entry in self.entries():  # most recently used first
            too_old = older_than is not None and now - entry.last_used > older_than
            if (too_old or kept_size + entry.size > limit) and self.remove(entry.key):
                removed.append(entry)
                continue
            kept_size += entry.size
        stale.remove(self.root / "tmp", "entry-")


class _Corrupt(Exception):
    pass


def _copy_recording(
    source: Path, dest: Path, watched: list[tuple[str, int, int, int]]
) -> list[list[Any]]:
    """Copy the tree, returning ``[relpath, kind, mode, size, sha256-or-link-target]`` rows."""
    rows: list[list[Any]] = []
    dest.mkdir(parents=True)
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames.sort()
        base = Path(dirpath)
        rel_base = base.relative_to(source)
        for name in [*dirnames, *sorted(filenames)]:
            path = base / name
            rel = str(rel_base / name)
            info = path.lstat()
            target = dest / rel
            if stat.S_ISLNK(info.st_mode):
                link = os.readlink(path)
                target.symlink_to(link)
                rows.append([rel, "link", 0, 0, link])
            elif stat.S_ISDIR(info.st_mode):
                target.mkdir()
                rows.append([rel, "dir", stat.S_IMODE(info.st_mode), 0, ""])
            elif stat.S_ISREG(info.st_mode):
                digest = _place_file(path, target, stat.S_IMODE(info.st_mode), watched, path)
                rows.append([rel, "file", stat.S_IMODE(info.st_mode), info.st_size, digest])
            else:
                raise OSError(f"{path}: neither file, directory nor symlink")
        # symlinks to directories are listed among dirnames but not walked
        dirnames[:] = [d for d in dirnames if not (base / d).is_symlink()]
    return rows


def _copy_checked(
    source: Path, dest: Path, rows: list[list[Any]], watched: list[tuple[str, int, int, int]]
) -> None:
    """Recreate the recorded tree at *dest*; raise _Corrupt when a file differs from its row."""
    listed = set()
    dest.mkdir(parents=True)
    # strings, not Paths: pathlib's parsing was a third of restoring 5,000 files
    src_root, dst_root = str(source), str(dest)
    for rel, kind, mode, size, detail in rows:
        listed.add(rel)
        path, target = f"{src_root}/{rel}", f"{dst_root}/{rel}"
        if kind == "link":
            if os.readlink(path) != detail:
                raise _Corrupt(rel)
            os.symlink(detail, target)
        elif kind == "dir":
            os.mkdir(target)
        elif kind == "file":
            placed = os.lstat(path).st_size == size and _place_file(
                path, target, mode, watched, target
            )
            if placed != detail:
                raise _Corrupt(rel)
        else:
            raise _Corrupt(rel)
    for rel, kind, mode, _, _ in rows:
        if kind == "dir":  # after the files: a read-only directory would refuse them
            os.chmod(f"{dst_root}/{rel}", mode)
    # Nothing extra may have appeared in the entry either.
    present = {
        f"{dirpath[len(src_root) + 1 :]}/{name}" if dirpath != src_root else name
        for dirpath, dirnames, filenames in os.walk(src_root)
        for name in (*dirnames, *filenames)
    }
    if present != listed:
        raise _Corrupt("the entry holds files its record does not list")


def _place_file(
    source: str | Path,
    dest: str | Path,
    mode: int,
    watched: list[tuple[str, int, int, int]],
    stage: str | Path,
) -> str:
    """Hard-link *dest* to *source* (no data written: restoring 150 MB took seconds as copies),
    else copy it; return the sha256 of what *dest* holds. Linked files are *watched*: nothing
    may write into them in place (see Cache.confirm)."""
    try:
        os.link(source, dest)
    except OSError:  # another filesystem, or links not allowed: copy
        return _copy_file(source, dest, mode)
    info = os.stat(dest)
    if stat.S_IMODE(info.st_mode) != mode:  # the entry's own mode, normally: no chmod
        os.chmod(dest, mode)
    watched.append((str(stage), info.st_ino, info.st_size, info.st_mtime_ns))  # the build's side
    return _sha256(dest)


def _sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_file(source: str | Path, dest: str | Path, mode: int) -> str:
    """Copy one file, returning its sha256 as read (the copy is what was hashed)."""
    digest = hashlib.sha256()
    with (
        open(source, "rb") as src,
        open(dest, "xb", opener=lambda p, f: os.open(p, f, mode | stat.S_IWUSR)) as out,
    ):
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    os.chmod(dest, mode)
    return digest.hexdigest()
