"""``venvrpm build --srpm``: a source RPM that rebuilds the same RPM with no network.

For build farms (mock, Koji, Copr, OBS). It carries two sources:

* ``NAME-kit.tar``: the manifest (paths made relative), the project, the lock, the wheelhouse
  and the manifest's files;
* ``venvrpm-toolchain.tar``: venvrpm and the distributions ``venvrpm stage`` runs on, copied
  from the environment venvrpm runs in (so the farm needs nothing from any index). Not pure
  Python: two native modules come along, built for venvrpm's own interpreter
  (:data:`NATIVE_IN_TOOLCHAIN`), so the farm's interpreter must be of the same minor version
  and architecture. The locking tools (pip-tools and its pip, setuptools, wheel, build, click)
  stay out: the farm never locks, and the pip it installs with is virtualenv's seed wheel.

Its ``%install`` runs ``venvrpm stage`` into ``%{buildroot}`` with the manifest's interpreter,
which writes the ``%files`` list; the header (Requires, Provides, scriptlets) is the direct
build's.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from venvrpm import buildreqs, fetch, lockfile, probes, toolbox, venvbuild
from venvrpm.errors import ToolMissingError, UsageError, VenvrpmError
from venvrpm.files import reproducible_tar
from venvrpm.manifest import Manifest
from venvrpm.progress import Report
from venvrpm.runner import Runner

_DROPPED_KEYS = ("build", "lock", "test", "targets")


@dataclass(frozen=True, slots=True)
class Kit:
    """The SRPM's build inputs, and where the project's files came from."""

    root: Path
    files: tuple[str, ...]
    """Every file in the kit, relative to *root*, sorted: what the build farm receives."""
    project_source: str
    """``git ls-files`` (what git tracks or would add) or ``the copy rules`` (no git)."""
    wheels: int


def kit(manifest: Manifest, dest: Path, runner: Runner) -> Kit:
    """The build inputs under *dest*/kit, with a manifest whose paths point inside it.

    Only what the build needs leaves the host: the project's files as git lists them (else
    the copy rules of venvbuild.copy_project), refused when one looks like a credential; the
    wheelhouse's regular files whose hash a lock names, never what a symlink points to.
    """
    if manifest.wheelhouse is None:
        raise UsageError("--srpm needs a wheelhouse: build farms have no network",
                         "add `wheelhouse: wheels/` and run `venvrpm fetch`")  # fmt: skip
    root = dest / "kit"
    root.mkdir(parents=True)
    data = yaml.safe_load(manifest.source.read_text(encoding="utf-8"))
    for key in _DROPPED_KEYS:
        data.pop(key, None)
    if manifest.target is not None:
        # one target's kit is a manifest of that target alone: its interpreter and release
        data["python"] = str(manifest.python)
        data["release"] = manifest.release
    if manifest.build.requires:
        # the farm's chroot has them (BuildRequires); stage checks them and names them in hints
        data["build"] = {"requires": list(manifest.build.requires)}
    # The locks as parsed, not as written: a line venvrpm ignores here (an index, the project's
    # `-e .`) would mean something else in the kit, where the project lies elsewhere. A
    # pylock.toml keeps its name (the name says how a lock is read) and its content.
    kit_lock = "requirements.lock"
    pylock_text = None
    if lockfile.is_pylock(manifest.requirements):
        from venvrpm import pylock

        # read once, and that text shipped: a copy by name would follow a link put there since
        pylock_text = lockfile.read_text(manifest.requirements, pylock.HINT)
        locks = [pylock.parse(pylock_text, manifest.requirements, project=manifest.project)]
    else:
        locks = [manifest.read_lock()]
    if pylock_text is not None:
        if [i for i in locks[0].ignored if i.project]:
            # its path leads from the lock to the project; in the kit both lie elsewhere
            raise UsageError(
                f"--srpm cannot ship {manifest.requirements.name}: it lists the project itself "
                f"({', '.join(i.shown for i in locks[0].ignored)})",
                "lock the project's dependencies only (`uv export --format pylock.toml "
                "--no-emit-project`, `pip lock -r requirements.in`)",
            )
        kit_lock = manifest.requirements.name
        (root / kit_lock).write_text(pylock_text, encoding="utf-8", newline="")
    else:
        (root / kit_lock).write_text(lockfile.normalized(locks[0]), encoding="utf-8")
    data["requirements"] = kit_lock
    build_lock = buildreqs.lock_path(manifest.requirements)
    if build_lock.is_file():  # found beside the lock, by its derived name
        locks.append(lockfile.read(build_lock))
        buildreqs.lock_path(root / kit_lock).write_text(
            lockfile.normalized(locks[1]), encoding="utf-8"
        )
    wheels = _copy_locked_wheels(manifest.wheelhouse, locks, root / "wheels")
    data["wheelhouse"] = "wheels"
    source = "the copy rules"
    if manifest.project is not None:
        source = _copy_project(manifest.project, root / "project", runner)
        _refuse_credentials(manifest.project, root / "project")
        data["project"] = "project"
    for i, (item, extra) in enumerate(zip(data.get("files", []), manifest.files, strict=True)):
        if extra.src is not None:
            (root / "files" / str(i)).mkdir(parents=True)
            shutil.copy2(extra.src, root / "files" / str(i) / extra.src.name)
            item["src"] = f"files/{i}/{extra.src.name}"
    # dates and versions stay text, as the user wrote them
    (root / "app.yaml").write_text(
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    listing = sorted(
        os.path.relpath(os.path.join(top, name), root)
        for top, dirs, names in os.walk(root)
        for name in [*names, *(d for d in dirs if os.path.islink(os.path.join(top, d)))]
    )
    return Kit(root, tuple(listing), source, wheels)


def _copy_locked_wheels(wheelhouse: Path, locks: list[lockfile.Lock], dest: Path) -> int:
    """Copy the wheelhouse's regular files whose hash a lock names; return how many.

    Not the directory: a symlink in it (``wheels/x.whl -> ~/.ssh/id_rsa``) would be followed,
    and files no lock names (a stray download, a private wheel) would ship too.
    """
    wanted: set[str] = set()
    for lock in locks:
        wanted.update(h for r in (*lock.requirements, *lock.skipped) for h in r.hashes)
    dest.mkdir()
    count = 0
    for digest, path in sorted(fetch.by_hash(wheelhouse).items(), key=lambda i: i[1].name):
        if digest not in wanted:
            continue
        # by_hash saw a regular file; O_NOFOLLOW and the copy's hash hold if it was swapped since
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as source, open(dest / path.name, "xb") as target:
            shutil.copyfileobj(source, target)
        if fetch.sha256_of(dest / path.name) != digest:
            raise VenvrpmError(f"{path} changed while it was copied into the source RPM",
                               "rebuild when nothing writes the wheelhouse")  # fmt: skip
        count += 1
    return count


def _copy_project(project: Path, dest: Path, runner: Runner) -> str:
    """Copy what git tracks or would add (ignored files stay: ``.env`` in .gitignore); without
    git, or when git declines (not a repository, another user's: "dubious ownership"), the
    copy rules of venvbuild.copy_project. Returns which was used."""
    names = _git_files(project, runner)
    if names is None:
        venvbuild.copy_project(project, dest)
        return "the copy rules"
    root = os.path.realpath(project)
    escaping: list[str] = []
    dest.mkdir(parents=True)
    for name in names:
        source = project / name
        if not os.path.lexists(source):
            continue  # deleted in the work tree, not yet in git
        # a directory on the way may have become a link out of the project since git saw it
        within = os.path.realpath(source.parent)
        if source.is_symlink():
            within = os.path.realpath(source)
        if within != root and not within.startswith(root + os.sep):
            shown = f" -> {os.readlink(source)}" if source.is_symlink() else ""
            escaping.append(f"{name}{shown}")
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        elif source.is_dir():  # a submodule: git lists it as one entry
            venvbuild.copy_project(source, target)
        elif source.is_file():
            shutil.copy2(source, target)
    if escaping:
        raise UsageError(
            f"{len(escaping)} path(s) in the project {project} lead out of it",
            "the source RPM would carry what they point to from the build host: "
            "replace them with the files, or remove them",
            details=sorted(escaping)[:20],
        )
    return "git ls-files"


def _git_files(project: Path, runner: Runner) -> list[str] | None:
    """The files git would commit (tracked, and untracked but not ignored), or None."""
    try:
        result = runner.run(
            probes.git_files(project),
            what="listing the project's files (git ls-files)",
            check=False,
        )
    except ToolMissingError:
        return None
    names = sorted({n for n in result.stdout.split("\0") if n})
    # nothing listed: a project that a parent repository ignores; copy it as without git
    return names if result.returncode == 0 and names else None


_CREDENTIAL_NAMES = frozenset({
    ".env", ".envrc", ".pypirc", ".netrc", "_netrc", ".git-credentials", ".npmrc", ".dockercfg",
})  # fmt: skip
_CREDENTIAL_DIRS = frozenset({".aws", ".ssh", ".gnupg"})
_CREDENTIAL_SUFFIXES = (".pem", ".key", ".p12", ".pfx")
_CREDENTIAL_PREFIXES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".env.")
_TEMPLATES = (".example", ".sample", ".template", ".dist", ".pub")  # no secret in them


def credential_like(relative: str) -> bool:
    """Whether a project path looks like it holds a secret (a token, a password, a key)."""
    parts = relative.split("/")
    name = parts[-1]
    if any(p in _CREDENTIAL_DIRS for p in parts[:-1]) or parts[-2:] == [".docker", "config.json"]:
        return True
    if name.endswith(_TEMPLATES):
        return False
    return (
        name in _CREDENTIAL_NAMES
        or name.endswith(_CREDENTIAL_SUFFIXES)
        or name.startswith(_CREDENTIAL_PREFIXES)
    )


def _refuse_credentials(project: Path, copy: Path) -> None:
    """Refuse (exit 2) when the copy of the project holds a file that looks like a credential:
    a build farm, and whoever downloads the SRPM, would get it. Refused, not dropped: the
    build might need the file, and a silent difference from the direct build hides that."""
    found = sorted(
        os.path.relpath(os.path.join(top, name), copy)
        for top, dirs, names in os.walk(copy)
        for name in [*names, *dirs]
        if credential_like(os.path.relpath(os.path.join(top, name), copy))
    )
    if found:
        raise UsageError(
            f"the project {project} holds {len(found)} file(s) that look like credentials; "
            "--srpm would ship them: " + ", ".join(found[:10]),
            "keep secrets outside the project directory; in git, `git rm --cached` them and "
            "list them in .gitignore (ignored files are not shipped)",
            details=found[:50],
        )


NATIVE_IN_TOOLCHAIN = {"rpds": "rpds-py, which jsonschema needs (through referencing); no "
                       "pure-Python alternative", "yaml": "PyYAML's optional libyaml binding _yaml; "
                       "PyYAML falls back to pure Python without it"}  # fmt: skip
"""Top-level packages of the toolchain that hold compiled extension modules, and why."""

_LOCKING_ONLY = frozenset({"pip-tools"})
"""venvrpm's requirements for ``venvrpm lock`` only (with what they pull in): not shipped."""


def write_sources(
    manifest: Manifest, sources: Path, scratch: Path, epoch: int, runner: Runner, report: Report
) -> None:
    """The SRPM's two sources in *sources*: the kit (the manifest, locks, wheelhouse and
    project) and venvrpm's toolchain, as reproducible tarballs; what leaves the build host is
    said (the count always, each file as a detail)."""
    sources.mkdir(parents=True, exist_ok=True)
    # modes kept: the project's and the toolchain's executables must stay executable
    made = kit(manifest, scratch, runner)
    report("info", f"source kit: {len(made.files)} files ({made.wheels} locked wheels; the "
                   f"project's chosen by {made.project_source}); -v lists them")  # fmt: skip
    for name in made.files:
        report("detail", f"kit: {name}")
    reproducible_tar(made.root, sources / f"{manifest.name}-kit.tar", epoch, normalise_modes=False)
    reproducible_tar(
        toolchain(scratch), sources / "venvrpm-toolchain.tar", epoch, normalise_modes=False
    )


def toolchain(dest: Path) -> Path:
    """venvrpm and what ``venvrpm stage`` needs at run time, copied under *dest*/toolchain.

    Copied from venvrpm's environment as installed, so compiled modules come along
    (NATIVE_IN_TOOLCHAIN, built for venvrpm's own interpreter); the locking tools do not.
    """
    needed = _closure("venvrpm", skip=_LOCKING_ONLY)
    root = toolbox.export(dest / "toolchain", sorted(needed - {"venvrpm"}), copy=True)
    import venvrpm

    # venvrpm itself may be an editable install: copy the package directory
    shutil.copytree(Path(venvrpm.__file__).parent, root / "venvrpm",
                    ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)  # fmt: skip
    return root


def _closure(name: str, skip: frozenset[str] = frozenset()) -> set[str]:
    """*name* and the distributions it requires, recursively, but *skip* and what only it needs."""
    found: set[str] = set()
    pending = [name]
    while pending:
        current = canonicalize_name(pending.pop())
        if current in found or current in skip:
            continue
        try:
            requires = importlib.metadata.requires(current) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        found.add(current)
        for line in requires:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                pending.append(req.name)
    return found


def source_spec(binary_spec: str, manifest: Manifest, epoch: int) -> str:
    """The SRPM's spec: the direct build's header and scriptlets; %install runs venvrpm stage."""
    head, _, rest = binary_spec.partition("\n%files\n")
    _, _, changelog = rest.partition("\n%changelog\n")
    # build.requires: what a mock or Koji chroot must install to compile the lock's sdists
    # (validated by the manifest: one dependency per value, no newline, no macro)
    sources = (
        f"Source0:        {manifest.name}-kit.tar\n"
        "Source1:        venvrpm-toolchain.tar\n"
        f"BuildRequires:  {manifest.python}\n"
        + "".join(f"BuildRequires:  {r}\n" for r in manifest.build.requires)
    )
    head = head.replace("AutoReqProv:    no\n", "AutoReqProv:    no\n" + sources, 1)
    build = f"""
%prep
%setup -q -c -T -n %{{name}}-%{{version}}-src -a 0 -a 1

%build
# the venv is made at install time, straight into the buildroot

%install
export SOURCE_DATE_EPOCH={epoch}
PYTHONPATH="$PWD/toolchain" {manifest.python} -B -m venvrpm stage kit/app.yaml \\
    --root "%{{buildroot}}" --file-list "$PWD/files.list"

%files -f files.list
%defattr(-,root,root,-)
"""
    text = head.rstrip("\n") + "\n" + build
    if changelog:
        text += "\n%changelog\n" + changelog
    return text
