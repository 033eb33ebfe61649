"""``venvrpm build --srpm``: a source RPM that rebuilds the same RPM with no network.

For build farms (mock, Koji, Copr, OBS). It carries two sources:

* ``NAME-kit.tar``: the manifest (paths made relative), the project, the lock, the wheelhouse
  and the manifest's files;
* ``venvrpm-toolchain.tar``: venvrpm and the pure-Python distributions it runs on, copied from
  the environment venvrpm runs in (so the farm needs nothing from any index).

Its ``%install`` runs ``venvrpm stage`` into ``%{buildroot}`` with the manifest's interpreter,
which writes the ``%files`` list; the header (Requires, Provides, scriptlets) is the direct
build's.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from venvrpm import buildreqs, toolbox, venvbuild
from venvrpm.errors import UsageError
from venvrpm.manifest import Manifest

_DROPPED_KEYS = ("build", "lock", "test")


def kit(manifest: Manifest, dest: Path) -> Path:
    """The build inputs under *dest*/kit, with a manifest whose paths point inside it."""
    if manifest.wheelhouse is None:
        raise UsageError("--srpm needs a wheelhouse: build farms have no network",
                         "add `wheelhouse: wheels/` and run `venvrpm fetch`")  # fmt: skip
    root = dest / "kit"
    root.mkdir(parents=True)
    data = yaml.safe_load(manifest.source.read_text(encoding="utf-8"))
    for key in _DROPPED_KEYS:
        data.pop(key, None)
    shutil.copy2(manifest.requirements, root / "requirements.lock")
    data["requirements"] = "requirements.lock"
    build_lock = buildreqs.lock_path(manifest.requirements)
    if build_lock.is_file():  # found beside the lock, by its derived name
        shutil.copy2(build_lock, buildreqs.lock_path(root / "requirements.lock"))
    shutil.copytree(manifest.wheelhouse, root / "wheels")
    data["wheelhouse"] = "wheels"
    if manifest.project is not None:
        venvbuild.copy_project(manifest.project, root / "project")
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
    return root


def toolchain(dest: Path) -> Path:
    """venvrpm and every distribution it needs at run time, copied under *dest*/toolchain."""
    needed = _closure("venvrpm")
    root = toolbox.export(dest / "toolchain", sorted(needed - {"venvrpm"}), copy=True)
    import venvrpm

    # venvrpm itself may be an editable install: copy the package directory
    shutil.copytree(Path(venvrpm.__file__).parent, root / "venvrpm",
                    ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)  # fmt: skip
    return root


def _closure(name: str) -> set[str]:
    found: set[str] = set()
    pending = [name]
    while pending:
        current = canonicalize_name(pending.pop())
        if current in found:
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
    sources = (
        f"Source0:        {manifest.name}-kit.tar\n"
        "Source1:        venvrpm-toolchain.tar\n"
        f"BuildRequires:  {manifest.python}\n"
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
