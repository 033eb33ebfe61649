"""A content-addressed cache of built environments: the locked requirements, installed,
relocated to the prefix and compiled, before the project goes in.

CI rebuilds the same lock many times a day with only the application's own code changed. The
key is a hash of everything that can change such an environment (:func:`key_inputs`), so a hit
is the environment a cold build would make, byte for byte; a miss builds it and stores it.

The cache is untrusted input (docs/security.md): another user, a CI job or a disk may have
written anything into it, and venvrpm runs as root. So:

- a cache that anyone but this user can write (its directory, one in it, or one above it that
  is neither root's nor ours, or writable by others without the sticky bit) is not used: one
  warning says which directory and how to fix it, and the build goes on without the cache;
- nothing in it is followed: files are opened and linked without following symlinks, every
  directory of an entry must be ours and not writable by others, only regular files,
  directories and the recorded symlinks (recreated, never followed) are accepted, and a
  file's mode is applied only once its content matched;
- each entry's record (every file's mode, size and sha256) carries an HMAC-SHA256 keyed by a
  secret kept *outside* the cache (:func:`key_file`, or ``$VENVRPM_CACHE_SECRET``): whoever can
  write the cache cannot write a record venvrpm accepts. An entry that fails any check is a
  warning ("cache entry ... failed verification; rebuilt"), is removed, and is never shipped;
- markers and locks are created with ``O_NOFOLLOW``/``O_EXCL``: never through a planted link;
- a read-only, full or otherwise unwritable cache never fails a build: one warning, no cache.

Also:

- an entry is written under ``tmp/`` and renamed into ``envs/`` whole: readers never see a
  partial entry, and two builds storing the same key at once leave one (the second rename
  fails and its copy is discarded);
- every file is hashed on the way in and checked on the way out: an entry whose files differ
  from its record (disk error, someone editing the cache) is removed and the build goes on cold;
- readers hold a shared lock on the entry and pruning an exclusive one, so an entry in use is
  never pruned; a build's own environment is *taken* (moved into the build, put back after
  rpmbuild, :meth:`Cache.settle`) rather than linked, as is a new entry linked in only then:
  rpmbuild's cost grows with the square of the packaged files that have other links;
- after each store the cache is pruned back under its size limit, least recently used first.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import hmac
import json
import os
import pwd
import secrets
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
from venvrpm.files import write_replacing

FORMAT = 2
"""Bumped whenever the layout of an entry or the meaning of its key changes (2: signed records)."""
DEFAULT_MAX_BYTES = 5 * 1024**3
SECRET_VARIABLE = "VENVRPM_CACHE_SECRET"
_RECORD = "entry.json"
_MAC = "entry.mac"
"""``hmac-sha256 <key id> <hex>``: the HMAC of the entry's key and record."""
_CHUNK = 1 << 20
_NOFOLLOW_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class CacheEntry:
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


def key_file(env: Mapping[str, str]) -> Path:
    """Where the secret that signs entries lives: ``$XDG_CONFIG_HOME/venvrpm/cache.key``, else
    ``~/.config/venvrpm/cache.key``. Never in the cache: whoever can write the cache must not
    be able to read or replace it."""
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or "/root", ".config")
    return Path(base) / "venvrpm" / "cache.key"


def from_environment(env: Mapping[str, str]) -> Cache:
    """The cache, its size limit and its signing secret as *env* configures them."""
    return Cache(
        default_dir(env), max_bytes(env), key_path=key_file(env),
        secret=env.get(SECRET_VARIABLE) or None,
    )  # fmt: skip


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


def prune_limits(
    *, everything: bool, max_size: str | None, older_than_days: float | None
) -> tuple[int | None, float | None]:
    """``venvrpm cache prune``'s options (``--all``, ``--max-size``, ``--older-than DAYS``) as
    :meth:`Cache.prune`'s (*limit* in bytes, *older_than* in seconds). Pure."""
    if not (everything or max_size or older_than_days is not None):
        raise UsageError("prune what?", "give --max-size SIZE, --older-than DAYS, or --all")
    limit = 0 if everything else (parse_size(max_size) if max_size else None)
    return limit, (older_than_days * 86400 if older_than_days is not None else None)


def key_of(inputs: Mapping[str, Any]) -> str:
    """The entry's name: sha256 of the inputs as canonical JSON. Pure."""
    text = json.dumps({"format": FORMAT, "venvrpm": __version__, **inputs}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Untrusted(Exception):
    """The cache may not be used at all (the message says why and what to do)."""


class Cache:
    """The cache directory: ``envs/<key>/{tree/, entry.json, entry.mac}``, ``locks/<key>``,
    ``notes/``, ``tmp/``. Checked before its first use; unusable, it is a no-op with a warning.
    """

    def __init__(
        self,
        root: Path,
        limit: int = DEFAULT_MAX_BYTES,
        *,
        key_path: Path | None = None,
        secret: str | None = None,
    ) -> None:
        self.root = Path(os.path.abspath(root))
        self.limit = limit
        self.key_path = Path(os.path.abspath(key_path or key_file(os.environ)))
        self.warnings: list[str] = []
        """Why the cache or one of its entries was not used: a cache never fails a build."""
        self._secret = secret
        self._key = b""
        self._usable: bool | None = None  # None: not checked yet
        self._watched: dict[str, list[tuple[str, int, int, int]]] = {}
        self._restored: dict[str, dict[str, Any]] = {}
        self._taken: dict[str, _Taken] = {}
        """Entries moved out of the cache into a build (:meth:`restore` with *take*), to be
        put back by :meth:`settle`."""
        self._approved: list[Pending] = []
        """New entries whose build passed its checks, linked in by :meth:`settle`."""

    def _unusable(self, exc: OSError) -> None:
        # Once: a read-only or full cache would otherwise warn at every step.
        if self._usable is not False:
            self.warnings.append(
                f"the environment cache {self.root} is not usable ({exc.strerror or exc}); "
                "building without it (set VENVRPM_CACHE_DIR, or --no-cache)"
            )
        self._usable = False

    def _ready(self) -> bool:
        """Check the cache once: its directories are ours alone, the secret is readable."""
        if self._usable is None:
            try:
                self._open()
            except _Untrusted as exc:
                self.warnings.append(str(exc))
                self._usable = False
            except OSError as exc:
                self._unusable(exc)
            else:
                self._usable = True
        return bool(self._usable)

    def _open(self) -> None:
        user = _user()
        fix = (
            f"if the cache is yours, `chown -R {user} {self.root} && chmod -R go-w "
            f"{self.root}`; else set VENVRPM_CACHE_DIR to a directory only you can write"
        )
        _check_above(self.root, f"the environment cache {self.root} is not used", fix)
        _make_dirs(self.root, 0o755)
        for path in (self.root, self.envs, self.root / "locks", self.root / "notes",
                     self.root / "tmp"):  # fmt: skip
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o755)  # never group- or world-writable, whatever the umask
            problem = _dir_problem(os.lstat(path))
            if problem:
                raise _Untrusted(
                    f"the environment cache {self.root} is not used: {path} {problem}; "
                    f"building without it ({fix})"
                )
        self._key = self._load_key()
        self._tag()

    def _load_key(self) -> bytes:
        """The HMAC key: from the shared secret, else the key file (made on first use)."""
        if self._secret:
            return hashlib.sha256(b"venvrpm cache secret\0" + self._secret.encode()).digest()
        path = self.key_path
        what = f"the environment cache {self.root} is not used: its key {path}"
        fix = (
            f"remove {path} (a new one is made; cached entries are rebuilt once), or set "
            f"{SECRET_VARIABLE}"
        )
        _check_above(path.parent, what, fix)
        _make_dirs(path.parent, 0o700)
        problem = _dir_problem(os.lstat(path.parent))
        if problem:
            raise _Untrusted(f"{what}: {path.parent} {problem}; building without it ({fix})")
        for _ in range(2):
            try:
                fd = os.open(path, _NOFOLLOW_READ)
            except FileNotFoundError:
                # Written whole beside it, then linked in: never a half key, never two.
                made, name = tempfile.mkstemp(prefix=".cache.key-", dir=path.parent)
                try:
                    os.write(made, secrets.token_hex(32).encode() + b"\n")
                    os.fsync(made)
                    with contextlib.suppress(FileExistsError):
                        os.link(name, path)
                finally:
                    os.close(made)
                    os.unlink(name)
                continue
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _Untrusted(
                        f"{what} is a symbolic link; building without it ({fix})"
                    ) from None
                raise
            try:
                info = os.fstat(fd)
                problem = (
                    "is not a regular file" if not stat.S_ISREG(info.st_mode)
                    else _owner_problem(info) or (
                        "can be read or written by others" if info.st_mode & 0o077 else ""
                    )
                )  # fmt: skip
                if problem:
                    raise _Untrusted(f"{what} {problem}; building without it ({fix})")
                secret = os.read(fd, 4096).strip()
            finally:
                os.close(fd)
            if len(secret) < 32:
                raise _Untrusted(f"{what} is too short to be a key; building without it ({fix})")
            return hashlib.sha256(b"venvrpm cache key\0" + secret).digest()
        raise _Untrusted(f"{what} could not be created; building without it ({fix})")

    def _key_id(self) -> str:
        """Names the key (not the secret) in each entry: "another key" is not "tampered"."""
        return hmac.new(self._key, b"venvrpm cache key id", "sha256").hexdigest()[:16]

    def _sign(self, key: str, record: bytes) -> str:
        mac = hmac.new(self._key, key.encode() + b"\0" + record, "sha256").hexdigest()
        return f"hmac-sha256 {self._key_id()} {mac}\n"

    def _tag(self) -> None:
        # Backup tools skip it, and venvrpm never copies it into a project copy. O_EXCL: an
        # existing one (or anything planted there) is left alone, never written through.
        try:
            fd = os.open(
                self.root / "CACHEDIR.TAG",
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
            )  # fmt: skip
        except FileExistsError:
            return
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(
                "Signature: 8a477f597d28d172789f06886806bc55\n"
                "# venvrpm's cache of built environments (https://bford.info/cachedir/)\n"
            )

    @property
    def envs(self) -> Path:
        return self.root / "envs"

    def _lock_path(self, key: str) -> Path:
        return self.root / "locks" / key

    @contextlib.contextmanager
    def _locked(self, key: str, mode: int) -> Iterator[bool]:
        """Hold *mode* (LOCK_SH, LOCK_EX, with LOCK_NB) on the entry; yield whether we got it."""
        fd = _open_lock(self._lock_path(key))
        try:
            try:
                fcntl.flock(fd, mode)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def restore(self, key: str, dest: Path, *, take: bool = False) -> bool:
        """Copy the entry into *dest* (which must not exist), checking every file.

        With *take*, the entry's tree is moved to *dest* instead (checked there) and put back
        by :meth:`settle`: *dest*'s files then have one link each. rpmbuild compares every
        pair of multiply linked files (``isHardLink``, n^2/2 pairs): restored as links, a
        Zuul-sized environment (21,600 files) cost it 1.8 s of 5.6 s. Meanwhile other builds
        miss the entry. Taken only where a rename can move it (same filesystem).

        False (and *dest* absent) on a miss or a corrupt entry; a corrupt entry is removed.
        """
        if not self._ready():
            return False
        try:
            if take:
                dest.parent.mkdir(parents=True, exist_ok=True)
                taken = self._take(key, dest)
                if taken is not None:
                    return taken
            return self._restore(key, dest)
        except OSError as exc:
            shutil.rmtree(dest, ignore_errors=True)
            self._unusable(exc)
            return False

    def _take(self, key: str, dest: Path) -> bool | None:
        """Move the entry's tree to *dest* and check it there; None when it cannot be moved
        there (another mount), before anything moved."""
        entry = f"{self.envs}/{key}"
        if not os.path.lexists(entry):
            return False
        with self._locked(key, fcntl.LOCK_EX):  # no reader is linking from it
            if not os.path.lexists(entry):
                return False  # taken by another build meanwhile
            out, claim, moved = "", -1, False
            try:
                dirs, present = _walk_checked(entry)  # before anything is read through them
                record = self._verified_record(key, entry)
                rows: list[list[Any]] = record["files"]
                if present != {row[0] for row in rows}:
                    raise _Corrupt("the entry holds files its record does not list")
                try:
                    os.rename(f"{entry}/tree", dest)
                except OSError as exc:
                    if exc.errno == errno.EXDEV:
                        return None
                    raise
                moved = True
                out = tempfile.mkdtemp(prefix=f"entry-{os.getpid()}-", dir=self.root / "tmp")
                # held until settled: to a build in another PID namespace our pid looks dead
                claim = stale.claim(Path(out))
                os.rename(entry, f"{out}/entry")  # from here on other builds miss it
                identities = _check_in_place(str(dest), rows, dirs)
            except (_Corrupt, OSError, ValueError, KeyError, TypeError) as exc:
                shutil.rmtree(dest, ignore_errors=True)
                if out:
                    shutil.rmtree(out, ignore_errors=True)
                _close(claim)
                failure: BaseException | None = exc
            except BaseException:
                # Ctrl-C or SIGTERM while checking (seconds for 20,000 files): put back as it
                # was, unchecked (every take checks it again), not lost with the work directory
                if moved:
                    _put_back(entry, out, str(dest))
                _close(claim)
                raise
            else:
                failure = None
        if failure is not None:
            self._failed(key, failure)  # outside the lock: removing takes it too
            return False
        self._restored[key] = {k: v for k, v in record.items() if k != "files"}
        self._taken[key] = _Taken(out, str(dest), rows, identities, claim)
        return True

    def _restore(self, key: str, dest: Path) -> bool:
        entry = f"{self.envs}/{key}"
        if not os.path.lexists(entry):
            return False
        with self._locked(key, fcntl.LOCK_SH):
            try:
                dirs, present = _walk_checked(entry)  # before anything is read through them
                record = self._verified_record(key, entry)
                rows: list[list[Any]] = record["files"]
                _copy_checked(f"{entry}/tree", dest, rows, dirs, present, self._watch(key))
            except (_Corrupt, OSError, ValueError, KeyError, TypeError) as exc:
                shutil.rmtree(dest, ignore_errors=True)
                failure: BaseException | None = exc
            else:
                failure = None
                self._restored[key] = {k: v for k, v in record.items() if k != "files"}
                with contextlib.suppress(OSError):
                    os.utime(f"{entry}/{_RECORD}", follow_symlinks=False)  # last used, for pruning
        if failure is None:
            return True
        self._failed(key, failure)
        return False

    def _failed(self, key: str, failure: BaseException) -> None:
        """Warn that entry *key* failed verification, and remove it."""
        reason = (
            str(failure) if isinstance(failure, _Corrupt)
            else f"{failure.strerror}: {failure.filename}" if isinstance(failure, OSError)
            else "its record is unreadable"
        )  # fmt: skip
        if "another key" in reason:
            reason = (
                f"it was signed with another key: jobs that share a cache need the same "
                f"{SECRET_VARIABLE}, see docs/ci.md"
            )
        self.warnings.append(f"cache entry {key[:12]} failed verification; rebuilt ({reason})")
        self.remove(key)

    def restored(self, key: str) -> dict[str, Any]:
        """What :meth:`stage` was given in *about* for the entry *key* this cache restored
        (its signed record, without the file rows); empty if it restored none."""
        return dict(self._restored.get(key, {}))

    def _verified_record(self, key: str, entry: str) -> dict[str, Any]:
        """The entry's record, once it is shown to be one this key signed."""
        record = _read_own(f"{entry}/{_RECORD}")
        signature = _read_own(f"{entry}/{_MAC}").decode("ascii", "replace")
        parts = signature.split()
        if len(parts) != 3 or parts[0] != "hmac-sha256":
            raise _Corrupt("its record is not signed")
        if not hmac.compare_digest(parts[1], self._key_id()):
            raise _Corrupt("signed with another key")
        if not hmac.compare_digest(signature, self._sign(key, record)):
            raise _Corrupt("its record's signature does not match")
        loaded = json.loads(record)
        if loaded.get("key") != key or loaded.get("format") != FORMAT:
            raise _Corrupt("its record belongs to another entry")
        return dict(loaded)

    def store(self, key: str, source: Path, about: Mapping[str, Any]) -> bool:
        """Copy *source* in as entry *key*; False when another build stored it first."""
        pending = self.stage(key, source, about)
        return pending is not None and pending.commit()

    def stage(self, key: str, source: Path, about: Mapping[str, Any]) -> Pending | None:
        """Record *source* (every file hashed now) as entry *key*, invisible to other builds
        until :meth:`Pending.commit` links it in; None when the cache is not usable or holds
        *key* already. A pending entry never committed is removed by :meth:`Pending.discard`,
        or as a killed build's debris by a later store."""
        if not self._ready():
            return None
        try:
            if os.path.lexists(self.envs / key):
                return None
            scratch_base = self.root / "tmp"
            stale.remove(scratch_base, "entry-", trees=True)
            scratch = Path(tempfile.mkdtemp(prefix=f"entry-{os.getpid()}-", dir=scratch_base))
            claim = -1
            try:
                # held until committed: to a build in another PID namespace our pid looks dead
                claim = stale.claim(scratch)
                files, identities = _hash_recording(source)
                record = json.dumps({
                    "format": FORMAT, "key": key, "created": time.time(), **about,
                    "size": sum(f[3] for f in files if f[1] == "file"), "files": files,
                }).encode()  # fmt: skip
                for name, data in ((_RECORD, record), (_MAC, self._sign(key, record).encode())):
                    with open(scratch / name, "xb") as fh:
                        fh.write(data)
            except BaseException:
                shutil.rmtree(scratch, ignore_errors=True)
                _close(claim)
                raise
        except OSError as exc:
            self._unusable(exc)
            return None
        return Pending(self, key, scratch, str(source), files, identities, claim)

    def unsettled(self) -> bool:
        """Whether :meth:`settle` has entries to store or put back."""
        return bool(self._approved or self._taken)

    def settle(self) -> None:
        """After the build (its RPM written, or its failure): link the approved new entries in
        and put the taken ones back, each file checked to be the one recorded (same inode,
        size and mtime: nothing wrote into it in place). Done last so that rpmbuild saw each
        staged file with one link. A cache never fails a build: problems are warnings."""
        approved, self._approved = self._approved, []
        for pending in approved:
            pending.commit()
        if approved:
            self.prune()
        taken, self._taken = self._taken, {}
        for key, out in taken.items():
            try:
                with self._locked(key, fcntl.LOCK_EX):
                    _link_tree(out.dest, f"{out.scratch}/entry/tree", out.rows, out.identities)
                    os.utime(f"{out.scratch}/entry/{_RECORD}", follow_symlinks=False)  # last used
                    os.rename(f"{out.scratch}/entry", self.envs / key)
            except _Changed as exc:
                self.warnings.append(
                    f"the build changed {exc} of the cached environment {key[:12]}; the entry "
                    "was dropped (the next build recreates it)"
                )
            except OSError:
                pass  # stored meanwhile by another build (theirs is as good), or the cache failed
            finally:
                shutil.rmtree(out.scratch, ignore_errors=True)
                _close(out.claim)

    def recall(self, name: str) -> str | None:
        """A short note kept with the cache by :meth:`remember`, if this key signed it."""
        if not self._ready():
            return None
        try:
            text = _read_own(f"{self.root}/notes/{name}").decode("utf-8")
        except (OSError, UnicodeDecodeError, _Corrupt):
            return None
        value, _, signature = text.partition("\n")
        return value if hmac.compare_digest(signature, self._sign(name, value.encode())) else None

    def remember(self, name: str, value: str) -> None:
        """Keep *value* (one line) under *name*, signed, replacing any older note."""
        if not self._ready():
            return
        try:
            # replaces a link, never follows it
            write_replacing(self.root / "notes" / name,
                                  f"{value}\n{self._sign(name, value.encode())}", mode=None)  # fmt: skip
        except OSError as exc:
            self._unusable(exc)

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
                    with contextlib.suppress(OSError):  # a cache never fails a build
                        self.remove(key)
                    self.warnings.append(
                        f"the build wrote into {os.path.basename(path)} in place; its cached environment "
                        "was dropped (the next build recreates it)"
                    )
                    break
        self._watched.clear()

    def entries(self) -> list[CacheEntry]:
        """Every complete entry, most recently used first."""
        found = []
        if not os.path.lexists(self.root) or not self._ready():
            return []
        for path in self.envs.iterdir():
            record_path = path / _RECORD
            try:
                if _dir_problem(os.lstat(path)):
                    raise _Corrupt(path.name)
                record = json.loads(_read_own(record_path))
                used = record_path.lstat().st_mtime
                found.append(
                    CacheEntry(
                        key=path.name, path=path, app=str(record.get("app", "")),
                        prefix=str(record.get("prefix", "")),
                        interpreter=str(record.get("interpreter", "")),
                        backend=str(record.get("backend", "")), size=int(record["size"]),
                        files=len(record["files"]), created=float(record["created"]),
                        last_used=used,
                    )
                )  # fmt: skip
            except (OSError, ValueError, KeyError, TypeError, AttributeError, _Corrupt):
                continue
        return sorted(found, key=lambda e: e.last_used, reverse=True)

    def remove(self, key: str) -> bool:
        """Remove one entry unless a build is reading it; True if it is gone."""
        taken = self._taken.pop(key, None)
        if taken is not None:  # never put back
            shutil.rmtree(taken.scratch, ignore_errors=True)
            _close(taken.claim)
        with self._locked(key, fcntl.LOCK_EX | fcntl.LOCK_NB) as got:
            if not got:
                return False
            path = self.envs / key
            if os.path.lexists(path):
                # Renamed first so no reader finds it half deleted.
                doomed = self.root / "tmp" / f"doomed-{key}-{os.getpid()}"
                os.rename(path, doomed)
                if stat.S_ISDIR(os.lstat(doomed).st_mode):
                    shutil.rmtree(doomed, ignore_errors=True)  # never follows a link
                else:
                    os.unlink(doomed)
            with contextlib.suppress(OSError):
                self._lock_path(key).unlink()
            return True

    def prune(
        self, *, limit: int | None = None, older_than: float | None = None
    ) -> list[CacheEntry]:
        """Remove entries unused for *older_than* seconds, then the least recently used until
        the cache fits *limit* bytes (default: the cache's limit). Return what was removed."""
        limit = self.limit if limit is None else limit
        removed: list[CacheEntry] = []
        if not self._ready():
            return removed
        try:
            self._prune(limit, older_than, removed)
        except OSError as exc:
            self._unusable(exc)
        return removed

    def _prune(self, limit: int, older_than: float | None, removed: list[CacheEntry]) -> None:
        now = time.time()
        kept_size = 0
        for entry in self.entries():  # most recently used first
            too_old = older_than is not None and now - entry.last_used > older_than
            if (too_old or kept_size + entry.size > limit) and self.remove(entry.key):
                removed.append(entry)
                continue
            kept_size += entry.size
        stale.remove(self.root / "tmp", "entry-", trees=True)
        # notes are written beside their target now; this removes what older versions left
        stale.remove(self.root / "tmp", "note-")


class Pending:
    """An entry recorded in the cache's scratch, not yet visible to any build."""

    def __init__(
        self,
        cache: Cache,
        key: str,
        scratch: Path,
        source: str,
        rows: list[list[Any]],
        identities: dict[str, tuple[int, int, int]],
        claim: int = -1,
    ) -> None:
        self.cache = cache
        self.key = key
        self.scratch: Path | None = scratch
        self.source = source
        self.rows = rows
        self.identities = identities
        self.claim = claim
        """Our lock on *scratch* (stale.claim), held until it is committed or discarded."""

    def approve(self) -> None:
        """Every check of the build passed: :meth:`Cache.settle` commits the entry."""
        if self.scratch is not None:
            self.cache._approved.append(self)

    def commit(self) -> bool:
        """Link the recorded files in and make the entry visible; False when a file changed
        since it was recorded, another build stored it first (theirs is as good) or the cache
        failed meanwhile."""
        if self.scratch is None:
            return False
        try:
            _link_tree(self.source, str(self.scratch / "tree"), self.rows, self.identities)
            os.rename(self.scratch, self.cache.envs / self.key)
        except _Changed as exc:
            self.cache.warnings.append(
                f"the build changed {exc} after its environment was recorded; not cached "
                "(the next build makes it again)"
            )
            return False
        except OSError:
            return False  # stored meanwhile by a concurrent build
        finally:
            self.discard()
        return True

    def discard(self) -> None:
        """Drop the entry (the build failed a check); a no-op once committed or discarded."""
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None
        _close(self.claim)
        self.claim = -1


@dataclass(frozen=True, slots=True)
class _Taken:
    """An entry moved into a build by :meth:`Cache.restore` with *take*."""

    scratch: str
    """The cache's ``tmp/entry-PID-*``: ``entry/`` holds its record while *dest* holds its tree."""
    dest: str
    rows: list[list[Any]]
    identities: dict[str, tuple[int, int, int]]
    """Each file's (inode, size, mtime) once checked: what may be put back."""
    claim: int
    """Our lock on *scratch* (stale.claim), held until the entry is put back or dropped."""


class _Changed(Exception):
    """A file is no longer the one recorded (its path relative to the tree)."""


class _Corrupt(Exception):
    """An entry (or note) failed verification; the message says how."""


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _owner_problem(info: os.stat_result) -> str:
    if info.st_uid != os.geteuid():
        return f"is owned by uid {info.st_uid}, not by you (uid {os.geteuid()})"
    return ""


def _dir_problem(info: os.stat_result) -> str:
    """Why a directory of the cache is not ours alone ('' when it is)."""
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a directory"
    if info.st_mode & 0o022:
        return "is writable by group or others"
    return _owner_problem(info)


def _check_above(path: Path, what: str, fix: str) -> None:
    """Raise _Untrusted when a directory above *path* (as written, and as resolved) could let
    another user replace what it holds: owned by neither root nor us, or writable by others
    without the sticky bit (/tmp is fine: others cannot rename what is ours in it)."""
    euid = os.geteuid()
    for chain in (path, Path(os.path.realpath(path))):
        for above in reversed(chain.parents):
            try:
                info = os.lstat(above)
            except FileNotFoundError:
                break  # made by us, below what was checked
            if stat.S_ISLNK(info.st_mode):
                continue  # its directory was checked; where it leads is the resolved chain
            if info.st_uid not in (0, euid) or (
                info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX
            ):
                raise _Untrusted(
                    f"{what}: {above}, which holds it, can be changed by another user (owner "
                    f"uid {info.st_uid}, mode {stat.S_IMODE(info.st_mode):o}); building "
                    f"without it ({fix})"
                )


def _make_dirs(path: Path, mode: int) -> None:
    """mkdir -p, each new directory *mode* (whatever the umask adds, never write for others)."""
    missing = []
    while not os.path.lexists(path):
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, mode)


def _open_lock(path: Path) -> int:
    """The lock file's descriptor: created if missing, never through a link or a FIFO."""
    for _ in range(3):
        try:
            fd = os.open(
                path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644
            )
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            os.unlink(path)  # a planted link: removed, the lock made anew
            continue
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
        os.close(fd)
        os.unlink(path)
    raise OSError(errno.ELOOP, "not a regular file", str(path))


def _open_nofollow(path: str | Path, shown: str) -> int:
    """Open *path* for reading; a symbolic link there makes the entry corrupt (never followed)."""
    try:
        return os.open(path, _NOFOLLOW_READ)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _Corrupt(f"{shown} is a symbolic link") from None
        raise


def _read_own(path: str | Path) -> bytes:
    """A regular file of ours, read without following a link."""
    fd = _open_nofollow(path, os.path.basename(path))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            raise _Corrupt(f"{os.path.basename(path)} is not a regular file of yours")
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read()
    finally:
        os.close(fd)


def _walk_checked(entry: str) -> tuple[set[str], set[str]]:
    """The directories and all names under the entry's ``tree/``, relative to it; raise
    _Corrupt when the entry or any directory in it is a link, not ours, or writable by others
    (then another user could change a file after it was checked)."""
    problem = _dir_problem(os.lstat(entry))
    if problem:
        raise _Corrupt(f"{entry} {problem}")
    tree = f"{entry}/tree"
    dirs: set[str] = set()
    present: set[str] = set()
    # fwalk: each directory is opened once, by descriptor, and never through a link
    for dirpath, dirnames, filenames, dirfd in os.fwalk(entry, follow_symlinks=False):
        problem = _dir_problem(os.fstat(dirfd))
        if problem:
            raise _Corrupt(f"{dirpath} {problem}")
        if dirpath == entry:
            if set(dirnames) | set(filenames) != {"tree", _RECORD, _MAC} or "tree" not in dirnames:
                raise _Corrupt("the entry holds files its record does not list")
            continue
        base = dirpath[len(tree) + 1 :]
        # walked, so a real directory (fwalk lists links to directories among dirnames too)
        dirs.add(base)
        prefix = f"{base}/" if base else ""
        present.update(prefix + name for name in (*dirnames, *filenames))
    return dirs, present


def _hash_recording(
    source: Path,
) -> tuple[list[list[Any]], dict[str, tuple[int, int, int]]]:
    """The tree's ``[relpath, kind, mode, size, sha256-or-link-target]`` rows, and each file's
    (inode, size, mtime) as it was hashed: :func:`_link_tree` links only files still so."""
    rows: list[list[Any]] = []
    identities: dict[str, tuple[int, int, int]] = {}
    root = str(source)
    # strings, not Paths: pathlib's parsing was a fifth of recording benchzuul's 23,000 files
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = dirpath[len(root) + 1 :]
        prefix = f"{base}/" if base else ""
        real_dirs = []
        for name in [*dirnames, *sorted(filenames)]:
            path = f"{dirpath}/{name}"
            rel = prefix + name
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                rows.append([rel, "link", 0, 0, os.readlink(path)])
            elif stat.S_ISDIR(info.st_mode):
                rows.append([rel, "dir", stat.S_IMODE(info.st_mode), 0, ""])
                real_dirs.append(name)
            elif stat.S_ISREG(info.st_mode):
                identities[rel] = (info.st_ino, info.st_size, info.st_mtime_ns)
                rows.append([rel, "file", stat.S_IMODE(info.st_mode), info.st_size, _sha256(path)])
            else:
                raise OSError(f"{path}: neither file, directory nor symlink")
        # symlinks to directories are listed among dirnames but not walked
        dirnames[:] = real_dirs
    return rows, identities


def _link_tree(
    source: str,
    tree: str,
    rows: list[list[Any]],
    identities: Mapping[str, tuple[int, int, int]],
) -> None:
    """Make *tree* from *rows*: directories (ours alone: 0755; the recorded mode is applied on
    restore), the recorded symlinks, and *source*'s files hard-linked (else copied); raise
    _Changed when a file is no longer the one recorded."""
    os.mkdir(tree, 0o755)
    for rel, kind, mode, _, detail in rows:
        target = f"{tree}/{rel}"
        if kind == "dir":
            os.mkdir(target, 0o755)
        elif kind == "link":
            os.symlink(detail, target)
        else:
            path = f"{source}/{rel}"
            try:
                os.link(path, target, follow_symlinks=False)
            except FileNotFoundError:
                raise _Changed(rel) from None
            except OSError:  # another filesystem, or links not allowed: copy
                if _copy_file(path, target, mode) != detail:
                    raise _Changed(rel) from None
                continue
            info = os.lstat(target)
            if not stat.S_ISREG(info.st_mode) or (
                (info.st_ino, info.st_size, info.st_mtime_ns) != identities.get(rel)
            ):
                raise _Changed(rel)


def _check_in_place(
    root: str, rows: list[list[Any]], dirs: set[str]
) -> dict[str, tuple[int, int, int]]:
    """Check a tree moved out of an entry against its record, as :func:`_copy_checked` checks
    a restored one, and give each file and directory its recorded mode; return each file's
    (inode, size, mtime)."""
    euid = os.geteuid()
    identities = {}
    for rel, kind, mode, size, detail in rows:
        path = f"{root}/{rel}"
        if kind == "dir":
            if rel not in dirs:
                raise _Corrupt(f"{rel} is not a directory")
        elif rel in dirs:
            raise _Corrupt(f"{rel} is a directory")
        elif kind == "link":
            if os.readlink(path) != detail:
                raise _Corrupt(f"{rel} links elsewhere")
        elif kind == "file":
            identities[rel] = _check_moved_file(path, rel, mode, size, detail, euid)
        else:
            raise _Corrupt(rel)
    for rel, kind, mode, _, _ in rows:
        if kind == "dir":  # after the files: a read-only directory would refuse them
            os.chmod(f"{root}/{rel}", mode)
    return identities


def _check_moved_file(
    path: str, rel: str, mode: int, size: int, digest: str, euid: int
) -> tuple[int, int, int]:
    fd = _open_nofollow(path, rel)
    try:
        info = os.fstat(fd)
        _require_recorded(info, rel, size, euid)
        if info.st_mode & 0o022:  # others may hold it open for writing: a private copy
            os.close(fd)
            fd = -1
            private = f"{path}.venvrpm-{os.getpid()}"
            got = _copy_out(path, private, rel, euid)
            os.replace(private, path)
            info = os.lstat(path)
        else:
            # identity as it was before it was read: a write since then shows at settle
            got = _sha256_fd(fd)
        if got != digest:
            raise _Corrupt(f"{rel} differs from its record")
        if stat.S_IMODE(info.st_mode) != mode:
            os.chmod(path, mode)
        return (info.st_ino, info.st_size, info.st_mtime_ns)
    finally:
        if fd >= 0:
            os.close(fd)


def _copy_checked(
    source: str,
    dest: Path,
    rows: list[list[Any]],
    dirs: set[str],
    present: set[str],
    watched: list[tuple[str, int, int, int]],
) -> None:
    """Recreate the recorded tree at *dest*; raise _Corrupt when a file differs from its row.

    *dirs* and *present* are what :func:`_walk_checked` found: every directory on the way to a
    file is a real one of ours, so a path here cannot be redirected. Files are linked without
    following links, checked as what was linked (a regular file of ours, its size and sha256),
    and only then given their recorded mode.
    """
    listed = set()
    dest.mkdir(parents=True)
    euid = os.geteuid()
    # strings, not Paths: pathlib's parsing was a third of restoring 5,000 files
    dst_root = str(dest)
    for rel, kind, mode, size, detail in rows:
        listed.add(rel)
        path, target = f"{source}/{rel}", f"{dst_root}/{rel}"
        if kind == "dir":
            if rel not in dirs:
                raise _Corrupt(f"{rel} is not a directory")
            os.mkdir(target, 0o700)  # its mode once its files are in, below
        elif rel in dirs:
            raise _Corrupt(f"{rel} is a directory")
        elif kind == "link":
            if os.readlink(path) != detail:
                raise _Corrupt(f"{rel} links elsewhere")
            os.symlink(detail, target)  # recreated, never followed
        elif kind == "file":
            _restore_file(path, target, rel, mode, size, detail, watched, euid)
        else:
            raise _Corrupt(rel)
    if present != listed:  # nothing extra may have appeared in the entry either
        raise _Corrupt("the entry holds files its record does not list")
    for rel, kind, mode, _, _ in rows:
        if kind == "dir":  # after the files: a read-only directory would refuse them
            os.chmod(f"{dst_root}/{rel}", mode)


def _restore_file(
    path: str,
    target: str,
    rel: str,
    mode: int,
    size: int,
    digest: str,
    watched: list[tuple[str, int, int, int]],
    euid: int,
) -> None:
    """Hard-link *target* to the entry's file (no data written: restoring 150 MB took seconds
    as copies), else copy it; check it; then give it *mode*. Linked files are *watched*:
    nothing may write into them in place (see Cache.confirm)."""
    try:
        os.link(path, target, follow_symlinks=False)
    except OSError:  # another filesystem, or links not allowed
        info = None
    else:
        info = os.lstat(target)
        _require_recorded(info, rel, size, euid)
        if info.st_mode & 0o022:  # others could write it after the check: a private copy
            os.unlink(target)
            info = None
    if info is None:
        if _copy_out(path, target, rel, euid) != digest:
            raise _Corrupt(f"{rel} differs from its record")
        os.chmod(target, mode)
        return
    if _sha256(target) != digest:
        raise _Corrupt(f"{rel} differs from its record")
    if stat.S_IMODE(info.st_mode) != mode:  # the entry's own mode, normally: no chmod
        os.chmod(target, mode)
    watched.append((target, info.st_ino, info.st_size, info.st_mtime_ns))


def _require_recorded(info: os.stat_result, rel: str, size: int, euid: int) -> None:
    if not stat.S_ISREG(info.st_mode) or info.st_uid != euid or info.st_size != size:
        raise _Corrupt(f"{rel} is not the recorded regular file of yours")


def _close(fd: int) -> None:
    if fd >= 0:
        os.close(fd)


def _put_back(entry: str, out: str, dest: str) -> None:
    """Undo an interrupted take: the entry back into ``envs/`` (unless another build stored
    one meanwhile), its tree back into it; what cannot go back is removed."""
    if out:
        with contextlib.suppress(OSError):
            os.rename(f"{out}/entry", entry)
    with contextlib.suppress(OSError):
        os.rename(dest, f"{entry}/tree")
    shutil.rmtree(dest, ignore_errors=True)
    if out:
        shutil.rmtree(out, ignore_errors=True)


def _sha256(path: str | Path) -> str:
    """The sha256 of a file, never read through a link."""
    fd = os.open(path, _NOFOLLOW_READ)
    try:
        return _sha256_fd(fd)
    finally:
        os.close(fd)


def _sha256_fd(fd: int) -> str:
    digest = hashlib.sha256()
    while chunk := os.read(fd, _CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _copy_out(source: str, dest: str, rel: str, euid: int) -> str:
    """Copy an entry's file to a new private file; return the sha256 of what was copied."""
    digest = hashlib.sha256()
    fd = _open_nofollow(source, rel)
    with os.fdopen(fd, "rb") as src:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != euid:
            raise _Corrupt(f"{rel} is not a regular file of yours")
        with open(dest, "xb", opener=lambda p, f: os.open(p, f | os.O_NOFOLLOW, 0o600)) as out:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
    return digest.hexdigest()


def _copy_file(source: str | Path, dest: str | Path, mode: int) -> str:
    """Copy one file, returning its sha256 as read (the copy is what was hashed)."""
    digest = hashlib.sha256()
    with (
        open(source, "rb", opener=lambda p, f: os.open(p, _NOFOLLOW_READ)) as src,
        open(dest, "xb", opener=lambda p, f: os.open(p, f, mode | stat.S_IWUSR)) as out,
    ):
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    os.chmod(dest, mode)
    return digest.hexdigest()
