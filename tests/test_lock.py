"""lock: pip-compile's output is read back only if it is the regular file of this user."""

from __future__ import annotations

import os
import types
from pathlib import Path

import pytest

from venvrpm import lock, lockfile, resolvers
from venvrpm.errors import LockError


def test_pip_compiles_output_replaced_by_a_link_is_not_read(tmp_path: Path) -> None:
    """pip-compile writes its output by name, beside the lock, in a directory others may
    write: a link put there is not read through (venvrpm, root, read it as the new lock)."""
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$secret\n")
    scratch = tmp_path / ".requirements.lock.1.abcd1234.venvrpm-tmp"
    scratch.symlink_to(secret)
    manifest = types.SimpleNamespace(base_dir=tmp_path)
    with pytest.raises(LockError, match="is not the file it wrote"):
        lock._compiled(manifest, scratch)  # type: ignore[arg-type]
    scratch.unlink()
    scratch.write_text("a==1.0\n")
    assert lock._compiled(manifest, scratch) == "a==1.0\n"  # type: ignore[arg-type]


def test_pip_compiles_output_hard_linked_or_too_large_is_not_read(tmp_path: Path) -> None:
    """A hard link to one of this user's files (two links), another user's file, or a file
    over the bound: refused."""
    manifest = types.SimpleNamespace(base_dir=tmp_path)
    scratch = tmp_path / ".requirements.lock.1.abcd1234.venvrpm-tmp"
    (tmp_path / "other").write_text("a==1.0\n")
    os.link(tmp_path / "other", scratch)
    with pytest.raises(LockError, match="is not the file it wrote"):
        lock._compiled(manifest, scratch)  # type: ignore[arg-type]
    scratch.unlink()
    scratch.write_text("a==1.0\n")
    os.chown(scratch, os.geteuid() + 1, -1)
    with pytest.raises(LockError, match="is not the file it wrote"):
        lock._compiled(manifest, scratch)  # type: ignore[arg-type]
    scratch.unlink()
    scratch.touch()
    os.truncate(scratch, lockfile.MAX_BYTES + 1)
    with pytest.raises(LockError, match="is not the file it wrote"):
        lock._compiled(manifest, scratch)  # type: ignore[arg-type]


# --- locking where the build runs: what the target is asked to run, and what it sees ---

LOCKED_ENV = """\
lock:
  environments:
    dev:
      inputs: [requirements-dev.in]
      output: locks/requirements-dev.lock
"""


def rootfs_app(tmp_path: Path) -> Path:
    """The small app, built in a root, with a dev lock in a directory of its own."""
    from tests.support.apps import make_smallapp

    (tmp_path / "root").mkdir()
    app = make_smallapp(
        tmp_path / "app", extra_manifest=LOCKED_ENV + f"build:\n  rootfs: {tmp_path / 'root'}\n"
    )
    (tmp_path / "shared.in").write_text("tinydep\n")  # an include outside the manifest's tree
    (app.parent / "requirements-dev.in").write_text(f"-r {tmp_path / 'shared.in'}\n")
    (app.parent / "locks").mkdir()
    return app


def test_the_target_sees_the_inputs_read_only_and_the_locks_by_their_directory(
    tmp_path: Path,
) -> None:
    from venvrpm import backends, manifest

    loaded = manifest.load(rootfs_app(tmp_path))
    workdir = tmp_path / "work"
    workdir.mkdir()
    shown = {
        m.path: m.read_only
        for m in backends.mounts(
            loaded, workdir, {}, lock.mounts(loaded, loaded.locks), host_env={}
        )
    }
    base = loaded.base_dir
    assert shown[workdir] is False
    assert shown[base] is True  # the manifest's tree: project, wheelhouse, inputs, main lock
    assert shown[tmp_path / "shared.in"] is True  # an -r include outside it
    # the main lock (the dev lock's constraint, replaced by the same run) only through its
    # directory: a file's own bind mount would go on showing the replaced inode
    assert loaded.requirements not in shown and loaded.requirements.parent in shown
    assert loaded.wheelhouse not in shown and loaded.project not in shown  # seen through base
    assert not any(ro is False and p != workdir for p, ro in shown.items())


class ScriptedTarget:
    """The target (a root) as the locking steps see it: records each command and answers
    as the tools would; the resolver writes *compiled* to its --output-file."""

    def __init__(self, site: Path, compiled: str, *, piptools_runs: bool = True) -> None:
        self.site = site
        self.compiled = compiled
        self.piptools_runs = piptools_runs
        self.calls: list[tuple[str, tuple[str, ...], Path | None, dict[str, str]]] = []
        self.seen: list[set[str]] = []
        """What the working directory held when each command ran."""

    def which(self, program: str) -> str | None:
        return None

    def run(self, argv, *, what, cwd=None, env=None, stdin=None, check=True, hint=None,
            capture=True):  # type: ignore[no-untyped-def]  # fmt: skip
        from venvrpm.runner import Result

        argv = tuple(str(a) for a in argv)
        self.calls.append((what, argv, cwd, dict(env or {})))
        self.seen.append({p.name for p in cwd.iterdir()} if cwd is not None else set())
        out, code = "", 0
        if what == "preparing the locking environment":
            (self.site / "venvrpm-tools.pth").write_text(argv[-1])  # as the venv's python
        elif what == "loading pip-tools under the target interpreter":
            code = 0 if self.piptools_runs else 1
            out = "" if self.piptools_runs else "TypeError: unsupported operand type(s) for |"
        elif what.startswith("resolving"):
            Path(argv[argv.index("--output-file") + 1]).write_text(self.compiled)
        return Result(argv, code, out, "")


def test_pip_compile_runs_in_the_target_and_writes_only_the_work_directory(
    tmp_path: Path,
) -> None:
    from venvrpm import lockfile, manifest
    from venvrpm.plan import Interpreter

    loaded = manifest.load(rootfs_app(tmp_path))
    workdir = tmp_path / "work"
    workdir.mkdir()
    site = workdir / "lock-tools" / "lib" / "python3.13" / "site-packages"
    site.mkdir(parents=True)
    digest = "a" * 64
    target = ScriptedTarget(site, f"tinydep==1.0 \\\n    --hash=sha256:{digest}\n")
    interpreter = Interpreter(path=loaded.python, version="3.13.5", implementation="cpython")
    (dev,) = [t for t in loaded.locks if t.name == "dev"]
    before = sorted(p.name for p in dev.output.parent.iterdir())
    lock.lock(loaded, dev, interpreter, target, workdir)  # type: ignore[arg-type]

    whats = [c[0] for c in target.calls]
    assert whats == [
        "checking that the target can run virtualenv",
        "creating the locking environment",
        "preparing the locking environment",
        "loading pip-tools under the target interpreter",
        "resolving the dev lock (pip-compile)",
    ]
    made = target.calls[1][1]
    assert made[:3] == (str(loaded.python), "-m", "virtualenv")  # the target's interpreter
    # the host's writes came before the target's first command there (it could plant links)
    assert {"lock-toolbox", "lock-tools-packages", "tools"} <= target.seen[0]
    _, argv, cwd, env = target.calls[-1]
    assert argv[0] == str(workdir / "lock-tools" / "bin" / "python")
    output = Path(argv[argv.index("--output-file") + 1])
    assert output.parent.parent == workdir and not output.exists()  # removed afterwards
    assert argv[argv.index("--find-links") + 1] == str(loaded.wheelhouse)
    assert cwd == loaded.base_dir and env["TMPDIR"] == str(workdir / "tmp")
    # what the venv imports is in the work directory, copied (the root sees no host path)
    pth = (site / "venvrpm-tools.pth").read_text().splitlines()
    assert all(Path(line).is_relative_to(workdir) for line in pth)
    farm = workdir / "lock-tools-packages"
    assert (farm / "piptools").is_dir() and not (farm / "piptools").is_symlink()
    assert not (farm / "pip").exists() and (Path(pth[0]) / "pip" / "__main__.py").is_file()
    # the lock, written by venvrpm on the host; nothing else beside it
    assert [r.name for r in lockfile.read(dev.output).requirements] == ["tinydep"]
    assert sorted(p.name for p in dev.output.parent.iterdir()) == sorted([*before, dev.output.name])
    assert '"python": "/usr/bin/python3.11 3.13.5"' in dev.output.read_text()


def test_the_uv_resolver_runs_uv_alone_in_the_target(tmp_path: Path) -> None:
    """lock.resolver: uv: no locking environment, no pip-tools; uv (copied into the work
    directory) is told the target's version and platform, and writes the work directory."""
    from venvrpm import lockfile, manifest, uvlock
    from venvrpm.plan import Interpreter

    loaded = manifest.load(rootfs_app(tmp_path))
    workdir = tmp_path / "work"
    workdir.mkdir()
    target = ScriptedTarget(workdir, f"tinydep==1.0 \\\n    --hash=sha256:{'b' * 64}\n")
    interpreter = Interpreter(path=loaded.python, version="3.9.21", implementation="cpython",
                              platform="linux-x86_64", libc="glibc 2.34")  # fmt: skip
    tool = resolvers.Resolver(interpreter=interpreter, uv=workdir / "tools" / "uv",
                              platform=uvlock.python_platform(interpreter),
                              cache=workdir / "uv")  # fmt: skip
    (dev,) = [t for t in loaded.locks if t.name == "dev"]
    lock.lock(loaded, dev, interpreter, target, workdir, tool=tool)  # type: ignore[arg-type]
    ((what, argv, cwd, env),) = target.calls
    assert what == "resolving the dev lock (uv)"
    assert argv[:3] == (str(workdir / "tools" / "uv"), "pip", "compile")
    assert argv[argv.index("--python-platform") + 1] == "x86_64-manylinux_2_34"
    assert argv[argv.index("--constraints") + 1] == "requirements.lock"
    assert Path(argv[argv.index("--output-file") + 1]).parent.parent == workdir
    assert cwd == loaded.base_dir and env["TMPDIR"] == str(workdir / "tmp")
    assert [r.name for r in lockfile.read(dev.output).requirements] == ["tinydep"]
    assert '"python": "/usr/bin/python3.11 3.9.21"' in dev.output.read_text()


def test_the_build_locks_input_is_a_fresh_file_not_a_planted_link(tmp_path: Path) -> None:
    """The build lock's input is written after the main lock's resolution ran in the target,
    whose build backends can write the work directory: a link planted at a name the host
    would use is not followed (the host runs as root)."""
    from venvrpm import manifest
    from venvrpm.plan import Interpreter

    app = rootfs_app(tmp_path)
    pyproject = app.parent / "project" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("requires = []", 'requires = ["tinydep"]'))
    loaded = manifest.load(app)
    workdir = tmp_path / "work"
    workdir.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    (workdir / "build-requirements.in").symlink_to(victim)
    target = ScriptedTarget(workdir, f"tinydep==1.0 \\\n    --hash=sha256:{'c' * 64}\n")
    interpreter = Interpreter(path=loaded.python, version="3.13.5", implementation="cpython")
    tool = resolvers.Resolver(interpreter=interpreter, python=workdir / "py")
    made = lock.lock_build(loaded, interpreter, target, workdir, tool)  # type: ignore[arg-type]
    assert made is not None and victim.read_text() == "root's file\n"
    source = Path(target.calls[-1][1][-1])
    assert source.name == "build-requirements.in" and source.parent.parent == workdir
    assert source.read_text().splitlines()[-1] == "tinydep"


# --- lock --format pylock ---


def test_format_must_agree_with_the_main_locks_name(tmp_path: Path) -> None:
    from tests.support.apps import make_smallapp
    from venvrpm import manifest
    from venvrpm.errors import UsageError

    loaded = manifest.load(make_smallapp(tmp_path / "app"))  # requirements.lock
    lock.require_format(loaded, None)
    lock.require_format(loaded, "requirements")
    with pytest.raises(UsageError, match=r"requirements: requirements\.lock is not named as one"):
        lock.require_format(loaded, "pylock")
    app = loaded.source
    app.write_text(app.read_text().replace("requirements.lock", "pylock.web.toml"))
    (app.parent / "pylock.web.toml").write_text('lock-version = "1.0"\ncreated-by = "x"\n')
    named = manifest.load(app)
    lock.require_format(named, "pylock")
    with pytest.raises(UsageError, match=r"pylock\.web\.toml is named as a PEP 751 lock"):
        lock.require_format(named, "requirements")


def test_the_build_lock_beside_a_pylock_is_a_requirements_file_by_its_name() -> None:
    from venvrpm import buildreqs, lockfile

    for main, build in (("pylock.toml", "pylock-build.txt"),
                        ("pylock.web.toml", "pylock.web-build.txt"),
                        ("requirements.lock", "requirements-build.lock")):  # fmt: skip
        made = buildreqs.lock_path(Path("/a") / main)
        assert made == Path("/a") / build and not lockfile.is_pylock(made)
