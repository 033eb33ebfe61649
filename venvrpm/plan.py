"""Manifest + probed facts -> BuildPlan: every path and command of a build, as a value. Pure.

The plan is what ``venvrpm build --dry-run`` prints, and what orchestration tests inspect.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from venvrpm import backends, pipconfig, probes
from venvrpm._fenced import virtualenv_api
from venvrpm.errors import UsageError
from venvrpm.lockfile import Lock, is_pylock, normalized
from venvrpm.manifest import DEFAULT_COMPRESSION, Manifest
from venvrpm.project import ProjectMetadata
from venvrpm.redact import redact_all


def binary_payload(algorithm: str, level: int) -> str:
    """rpm's ``_binary_payload`` for a manifest's ``rpm.compression``. Pure.

    zstd and xz get one thread per core (the ``T0`` suffix, rpm >= 4.17 for zstd); gzip has
    no threaded mode in rpm.
    """
    io = {"zstd": "zstdio", "xz": "xzdio", "gzip": "gzdio"}[algorithm]
    threads = "T0" if algorithm in ("zstd", "xz") else ""
    return f"w{level}{threads}.{io}"


DEFAULT_BINARY_PAYLOAD = binary_payload(*DEFAULT_COMPRESSION)

COMPILE_LIST = "<compile-list>"
"""Placeholder of :attr:`BuildPlan.compile_project`: the file listing what the project's
install wrote, made at run time under a fresh name (venvbuild.compile_bytecode)."""
BUILT_RPM = "<rpm>"
"""Placeholder of the commands that take the RPM rpmbuild wrote (its name has the arch rpm
chose)."""
PLACEHOLDERS = {
    COMPILE_LIST: "a file in the work directory listing the files the project's install wrote "
    "(NUL-separated, made under a fresh name when the build gets there)",
    BUILT_RPM: "the RPM rpmbuild wrote (its file name has the architecture rpm chose)",
}
"""Each placeholder an argv of the plan may hold, and what the build puts there."""


def fill(argv: tuple[str, ...], values: Mapping[str, str]) -> list[str]:
    """*argv* with each argument that is a placeholder (a key of *values*) replaced. Only whole
    arguments: a path that happens to contain ``<rpm>`` stays as it is."""
    return [values.get(arg, arg) for arg in argv]


# Forwarded to pip when it may reach an index: proxies, CA bundles and pip's own settings,
# which corporate users behind a TLS-intercepting proxy need.
_NETWORK_ENV_PREFIXES = ("PIP_",)
_NETWORK_ENV = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Interpreter:
    """The target interpreter as probed."""

    path: PurePosixPath
    version: str
    """Full version, e.g. ``3.11.2``."""
    implementation: str
    platform: str = ""
    """sysconfig platform, e.g. ``linux-x86_64``."""
    libc: str = ""
    """C library and version, e.g. ``glibc 2.36`` (what manylinux tags depend on)."""
    markers: tuple[tuple[str, str], ...] = ()
    """PEP 508 environment markers as the interpreter sees them."""
    executable_sha256: str = ""
    """Hash of the interpreter's executable: identifies its build for the environment cache."""
    probed: bool = True
    """False for :meth:`unknown`: nothing was asked of the interpreter (``--dry-run``)."""

    @classmethod
    def unknown(cls, path: PurePosixPath) -> Interpreter:
        """A placeholder for an interpreter not probed: ``--dry-run`` runs nothing of the target,
        whose interpreter is the manifest's to choose."""
        return cls(path=path, version="", implementation="", probed=False)

    @property
    def minor(self) -> str:
        """``3.11``."""
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True, kw_only=True, slots=True)
class Tools:
    """Host programs the build uses."""

    host_python: str
    """The interpreter venvrpm itself runs on (locking, the chroot helper)."""
    toolbox: Path
    """virtualenv (with its seed wheels) copied into the work directory for the target."""
    pip: Path
    """Where pip is importable (unpacked from its wheel), run by the target interpreter, so the
    shipped venv holds no pip. ``tools/pip`` in a uv build that has not placed pip (it runs
    none: venvbuild.deferred_pip), as in a plan of ``--dry-run``."""
    rpmbuild: str
    elfdeps: str
    signing: tuple[str, str] | None = None
    """rpmsign's and gpg's paths, when the build signs (``--sign``)."""
    uv: Path | None = None
    """uv's binary, when the manifest chose ``build.installer: uv``."""
    place_pip: Callable[[], object] | None = field(default=None, compare=False, repr=False)
    """Puts pip at :attr:`pip` before a step runs it (restored from the cache and verified
    there): a rebuild from the cache may run no pip at all. None: it is there already."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildIdentity:
    """The interpreter and build environment as every environment-cache key names them."""

    interpreter: tuple[str, ...]
    """Path, version, implementation, platform, libc and executable hash of the interpreter."""
    backend: tuple[str, ...]
    """backends.identity: the image's ID, the root's os-release hash, or ``host``."""

    def key(self) -> dict[str, list[str]]:
        """The fields of a cache key (venvrpm.cachekeys)."""
        return {"interpreter": list(self.interpreter), "backend": list(self.backend)}


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildPlan:
    """Everything a build will do, decided before it does any of it."""

    manifest: Manifest
    interpreter: Interpreter
    tools: Tools
    workdir: Path
    output_dir: Path
    source_date_epoch: int
    binary_payload: str
    offline: bool
    """Installs use only the wheelhouse; pip's configuration and index are ignored."""
    pip_env: tuple[tuple[str, str], ...]
    venv_env: tuple[tuple[str, str], ...]
    """Environment of create_venv: the toolbox on PYTHONPATH, virtualenv's app data private."""
    check_virtualenv: tuple[str, ...]
    """Asks the target whether it can import venvrpm's virtualenv (with ``venv_env``)."""
    create_venv: tuple[str, ...]
    create_venv_fallback: tuple[str, ...]
    """The standard library's venv, for targets that cannot import venvrpm's virtualenv."""
    install_lock: tuple[str, ...]
    compile_environment: tuple[str, ...]
    """Compiles every module of the venv for its final path (helpers/compile_tree.py)."""
    install_project: tuple[str, ...] | None
    compile_project: tuple[str, ...] | None = None
    """Compiles what the project's install wrote (listed in :data:`COMPILE_LIST`)."""
    build_env: tuple[str, ...] | None = None
    """Installs the build lock (the build requirements of the project and of the lock's sdists)
    into ``build_env_dir``, hash-checked, wheels only, compiled: with the manifest's installer."""
    build_lock: Path | None = None
    """The build lock ``build_env`` installs (buildreqs.lock_path), when one is used."""
    build_wheel: tuple[str, ...] | None = None
    """Builds the project's wheel with its backend, isolated with the build requirements; venvrpm
    then installs the wheel itself (venvbuild.install_wheel)."""
    install_test_lock: tuple[str, ...] | None = None
    """``venvrpm test``: installs the test environment's lock (``test.environment``), with the
    installer and flags of ``install_lock``."""
    elf_requires: tuple[str, ...]
    """rpm's ELF scanner: what the payload's ELF files (on its stdin) need."""
    elf_provides: tuple[str, ...]
    """rpm's ELF scanner: what the payload's ELF files (on its stdin) provide."""
    rpmbuild: tuple[str, ...]
    verify_rpm: tuple[str, ...]
    """Lists the built RPM (:data:`BUILT_RPM`), compared with the staged payload."""
    rpmbuild_source: tuple[str, ...]
    """``--srpm``: rpmbuild -bs of the source spec, instead of ``rpmbuild``."""
    rpm_requires: tuple[str, ...] = ()
    """Lists the built RPM's Requires as rpm shows them (rpmbuild adds its rpmlib() ones)."""
    sign: tuple[str, ...] | None = None
    """``--sign KEY``: rpmsign on the built RPM (:data:`BUILT_RPM`), after ``rpm_requires``."""
    sign_key: str | None = None
    helpers: tuple[tuple[str, str], ...] = ()
    """(file name, source) of venvrpm's helper scripts that commands pass to ``-c``:
    :meth:`describe` names them instead of printing their source."""

    stage_root: Path | None = None
    """Stage somewhere else than the work directory (rpmbuild's %{buildroot}, in an SRPM)."""
    lock: Lock | None = None
    """The main lock, parsed once (pipeline.prepare): the lines for the target interpreter
    (Lock.for_target), or every line in a plan of ``--dry-run``, which probes nothing. None
    only in a plan of :func:`make_plan` alone. The environment's checks use it as it is (since
    issue 18): a name pinned twice under exclusive markers is held to the target's pin only,
    and a distribution whose only pin has a false marker is not "from the lock"."""
    project: ProjectMetadata | None = None
    """The project's pyproject.toml, read once (venvrpm.project); None without a project."""
    host_wheels: tuple[Path, ...] = ()
    """With ``install: host``: the wheelhouse's wheel of each locked distribution that fits
    the target's tags best, chosen when preparing (venvrpm.hostinstall)."""
    built_with: BuildIdentity | None = None
    """What the environment cache's keys name the interpreter and build environment by (for
    a container, an ``image inspect``); None without a cache, or when the environment cannot
    be identified (an image not pulled yet): no caching then."""

    @property
    def stage(self) -> Path:
        """Staging root, expected to be ``/`` at run time: rpmbuild's buildroot."""
        return self.stage_root or self.workdir / "stage"

    @property
    def venv_dir(self) -> Path:
        """``<stage><prefix>``."""
        return self.stage / self.manifest.prefix.relative_to("/")

    @property
    def venv_python(self) -> Path:
        """The staged venv's interpreter link."""
        return self.venv_dir / "bin" / "python"

    @property
    def project_copy(self) -> Path:
        """Where the project is copied, so builds never write into the user's tree."""
        return self.workdir / "src"

    @property
    def install_report(self) -> Path:
        """pip's installation report of the lock's install: the file each distribution was
        installed from (installreport; uv writes none)."""
        return install_report(self.workdir)

    @property
    def locked_requirements(self) -> Path:
        """What ``install_lock`` reads: the lock as parsed, one line per requirement the target
        installs (venvbuild.install_lock writes it from ``lock``)."""
        return locked_requirements(self.workdir)

    @property
    def locked_text(self) -> str:
        """What ``locked_requirements`` holds (lockfile.normalized): what the installer reads
        and what the environment cache's key hashes, so the two cannot drift apart."""
        assert self.lock is not None, "prepare() parses the lock"
        return normalized(self.lock, online=not self.offline)

    @property
    def build_env_dir(self) -> Path:
        """The project's build requirements (``pip install --target``)."""
        return self.workdir / "build-env"

    @property
    def build_env_vars(self) -> dict[str, str]:
        """What installs that may build an sdist or the project run with: the hash-checked
        build requirements importable (pip runs them with build isolation off)."""
        return {"PYTHONPATH": str(self.build_env_dir)} if self.build_env is not None else {}

    @property
    def built_wheels(self) -> Path:
        """Where the project's wheel is built."""
        return self.workdir / "built"

    @property
    def compile_progress(self) -> Path:
        """The file the bytecode compiler grows by one byte per module (compile_tree.py)."""
        return compile_progress(self.workdir)

    @property
    def hostdir(self) -> Path:
        """What only the host writes (``<workspace>/host``, beside the work directory): never
        mounted into a container or root, so nothing run in the build plants links there."""
        return host_dir(self.workdir)

    @property
    def topdir(self) -> Path:
        """rpmbuild's private ``_topdir``, in :attr:`hostdir`."""
        return self.hostdir / "rpmbuild"

    @property
    def spec_path(self) -> Path:
        """The generated spec."""
        return self.topdir / "SPECS" / f"{self.manifest.name}.spec"

    @property
    def source_spec_path(self) -> Path:
        """The source RPM's spec (``--srpm``)."""
        return source_spec_path(self.topdir, self.manifest.name)

    @property
    def runs_pip(self) -> bool:
        """Whether the build runs venvrpm's pip: with pip as the installer, or to ask the
        target's wheel tags (a pylock.toml, ``install: host``); a uv build otherwise runs none,
        and pip is neither unpacked nor compiled for it (pipeline.prepare)."""
        manifest = self.manifest
        return (
            manifest.build.installer == "pip"
            or is_pylock(manifest.requirements)
            or manifest.install == "host"
        )

    def commands(self) -> dict[str, tuple[str, ...]]:
        """The commands a build runs, by name, in the order it runs them: no cache hit, a
        target that runs virtualenv, a project backend served by the build lock, a payload
        with ELF files (:meth:`describe` says what changes otherwise)."""
        found: dict[str, tuple[str, ...] | None] = {
            "check_virtualenv": self.check_virtualenv,
            "create_venv": self.create_venv,
            "build_env": self.build_env,
            "install_lock": self.install_lock,
            "compile_environment": self.compile_environment,
            "build_wheel": self.build_wheel,
            # the wheel is installed in process (pypa/installer); pip's way only without one
            "install_project": None if self.build_wheel is not None else self.install_project,
            "compile_project": self.compile_project,
            "elf_requires": self.elf_requires,
            "elf_provides": self.elf_provides,
            "rpmbuild": self.rpmbuild,
            "verify_rpm": self.verify_rpm,
            "rpm_requires": self.rpm_requires or None,
            "sign": self.sign,
        }
        return {name: argv for name, argv in found.items() if argv is not None}

    def describe(self) -> dict[str, Any]:
        """A JSON-able view for ``--dry-run``; ``unknown`` lists what only the build can tell;
        credentials in URLs masked (venvrpm.redact)."""
        found = self.interpreter
        facts = {
            "version": found.version,
            "implementation": found.implementation,
            "platform": found.platform,
            "libc": found.libc,
        }
        unknown: list[str] = []
        if not found.probed:
            later = f"unknown until the build probes {found.path}"
            facts = dict.fromkeys(facts, later)
            where = backends.describe(self.manifest)
            unknown = [
                f"the interpreter's version, platform and C library: the build probes {found.path}"
                f" {where}; --dry-run runs nothing there",
                "which lock lines have a true marker for that interpreter, and so which the "
                "wheelhouse must serve and which sdists need the build lock",
                *(
                    [
                        "which of each package's files in the pylock.toml fits that interpreter's "
                        "wheel tags (the wheelhouse must serve one of each package without a marker)"
                    ]
                    if is_pylock(self.manifest.requirements)
                    else []
                ),
                *(
                    [
                        "which of virtualenv's pip wheels suits that interpreter (the commands "
                        "run pip from tools/pip; the build unpacks it at tools/pip-VERSION)"
                    ]
                    if self.runs_pip
                    else []
                ),
                "the host's rpmbuild and elfdeps (found when the build starts)",
            ]
            if self.manifest.build.kind == "container":
                unknown.append(
                    f"whether the engine ({self.manifest.build.engine}) is installed and has or "
                    f"can pull the image {self.manifest.build.image}"
                )
        described: dict[str, Any] = {
            "name": self.manifest.name,
            "version": self.manifest.version,
            "release": self.manifest.release,
            "prefix": str(self.manifest.prefix),
            "interpreter": {"path": str(found.path), **facts},
            "unknown": unknown,
            "build_environment": self.manifest.build.kind,
            "workdir": str(self.workdir),
            "output_dir": str(self.output_dir),
            "offline": self.offline,
            "binary_payload": self.binary_payload,
            "before_the_build": self._before_the_build(),
            "commands": {n: self._shown(a) for n, a in self.commands().items()},
            "fallbacks": self._fallbacks(),
            "conditions": self._conditions(),
            "in_process": self._in_process(),
            "options": {
                "--srpm": {
                    "instead_of": ["rpmbuild", "verify_rpm", "rpm_requires", "sign"],
                    "argv": self._shown(self.rpmbuild_source),
                    "before": None
                    if self.manifest.project is None
                    else {
                        "argv": list(probes.git_files(self.manifest.project)),
                        "what": "the project's files for the source kit (else copy rules)",
                    },
                },
                "--spec-only": {
                    "instead_of": ["rpmbuild", "verify_rpm", "rpm_requires", "sign"],
                    "argv": None,
                },
                "--sign KEY": {
                    "after": "rpm_requires",
                    "argv": self._shown(self.sign or sign_command("<rpmsign>", "<gpg>", "KEY")),
                },
            },
            "placeholders": {
                **{
                    f"<helper {name}>": f"the source of venvrpm/helpers/{name}, given to -c"
                    for name, _ in (
                        *self.helpers,
                        (probes.PROBE_HELPER, ""),
                        (probes.TAGS_HELPER, ""),
                    )
                },
                "<build.requires check>": "venvrpm's check of build.requires (backends), -c",
                **PLACEHOLDERS,
            },
            "pip_env": dict(self.pip_env),
        }
        build = self.manifest.build
        if build.kind == "container":
            # what `run` is given besides venvrpm's own options (validated: limits only)
            described["container"] = {
                "image": build.image,
                "engine": build.engine,
                "run_args": list(build.run_args),
            }
        # printed and logged: an index URL's password never with it (pip gets it unmasked)
        return redact_all(described)

    def _shown(self, argv: tuple[str, ...]) -> list[str]:
        """*argv* as described: a helper's source by its name (``<helper NAME>``)."""
        names = {source: f"<helper {name}>" for name, source in self.helpers}
        return [names.get(arg, arg) for arg in argv]

    def _fallbacks(self) -> dict[str, dict[str, Any]]:
        """Commands that run instead of one of :meth:`commands` when the build finds it must."""
        found: dict[str, dict[str, Any]] = {
            "create_venv_fallback": {
                "instead_of": "create_venv",
                "when": "check_virtualenv fails: the target cannot import venvrpm's virtualenv "
                "(Python < 3.10)",
                "argv": self._shown(self.create_venv_fallback),
            }
        }
        if self.build_wheel is not None and self.install_project is not None:
            found["install_project"] = {
                "after": "build_wheel",
                "when": "the project's backend asks for build requirements and no build lock "
                "pins them: the installer builds the project itself (build isolation off)",
                "argv": self._shown(self.install_project),
            }
        return found

    def _before_the_build(self) -> dict[str, dict[str, Any]]:
        """What ``prepare`` runs to make this plan (venvrpm.probes), before any command of
        :meth:`commands`; in a container or root, finding a program there runs ``test -x``."""
        python = self.manifest.python
        found: dict[str, dict[str, Any]] = {
            "last_commit": {
                "argv": list(probes.last_commit("git", self.manifest.base_dir)),
                "when": "no SOURCE_DATE_EPOCH in the environment and no changelog",
            },
            "probe": {"argv": list(probes.probe(python, f"<helper {probes.PROBE_HELPER}>"))},
        }
        requires = self.manifest.build.requires
        paths = [r.split(" ")[0] for r in requires if r.startswith("/")]
        names = [r for r in requires if not r.startswith("/")]
        if requires:
            found["build_requires_paths"] = {
                "argv": list(probes.paths_present(python, "<build.requires check>", paths)),
            }
        if names:
            found["build_requires_packages"] = {
                "argv": list(probes.packages_provided(names)),
                "when": "the target is not a dpkg system",
            }
        if self.runs_pip:
            found["compile_pip"] = {
                "argv": list(probes.compile_pip(self.interpreter.path, self.tools.pip)),
                "when": "pip is not in the environment cache yet (then here, or before the first "
                "step that runs pip, when the cache names it)"
                if self.manifest.build.installer == "pip"
                else "pip is not in the environment cache yet: uv installs, pip only tells the "
                "target's wheel tags",
            }
        if is_pylock(self.manifest.requirements):
            found["target_tags"] = {
                "argv": list(probes.target_tags(
                    python, f"<helper {probes.TAGS_HELPER}>", self.tools.pip)),
                "what": "the wheel tags the target accepts, best first: which of each "
                "package's files in the pylock.toml the build installs",
            }  # fmt: skip
        found["rpm_configdir"] = {"argv": list(probes.rpm_configdir("rpm"))}
        return found

    def _conditions(self) -> dict[str, str]:
        """What the build may skip of :meth:`commands`, and when."""
        found = {
            "elf_requires": "only when the payload has ELF files; reads their paths on stdin",
            "elf_provides": "only when the payload has ELF files; reads their paths on stdin",
        }
        cached = ["check_virtualenv", "create_venv", "install_lock", "compile_environment"]
        if self.build_env is not None:
            found["build_env"] = (
                "not with a cache hit on the build requirements (offline builds only)"
            )
        for name in cached:
            found[name] = "not when the environment is restored from the cache"
        if self.manifest.install == "host":  # venvrpm.hostinstall
            for name in ("check_virtualenv", "install_lock"):
                found[name] = "never: install: host unpacks the locked wheels in process"
            found["create_venv"] = "run on this host by venvrpm's interpreter, not the target's"
            found["compile_environment"] = (
                "run on this host by venvrpm's interpreter, not the target's"
            )
        return found

    def _in_process(self) -> list[str]:
        """The build's steps that run no command (venvrpm does them itself)."""
        steps = ["relocation of the venv to the prefix (relocate), then the scan for build paths"]
        if self.manifest.install == "host":
            steps.insert(0, "installing each locked wheel (pypa/installer), install: host")
        if self.build_wheel is not None:
            steps.insert(0, "installing the project's wheel (pypa/installer), after build_wheel")
        steps.append("the dependency check: pip check's rules on the installed distributions "
                     "(depcheck)")  # fmt: skip
        return steps


def pip_environment(
    manifest: Manifest, host_env: Mapping[str, str], *, online: bool = False
) -> dict[str, str]:
    """What pip sees of the build host's environment (*online*: the index, even with a wheelhouse)."""
    if manifest.wheelhouse is not None and not online:
        # pip must see only the wheelhouse: no index from pip.conf, no PIP_FIND_LINKS.
        return {"PIP_CONFIG_FILE": os.devnull}
    found = {
        k: v
        for k, v in host_env.items()
        if k.startswith(_NETWORK_ENV_PREFIXES) or k in _NETWORK_ENV
    }
    if manifest.build.kind != "host":
        # a PIP_* naming a file the target cannot be given would fail pip there (pipconfig.py)
        for key in pipconfig.forwarding(found, configs=()).dropped_env:
            del found[key]
    return found


def uv_environment(pip_env: Mapping[str, str]) -> dict[str, str]:
    """uv does not read pip's settings: the index ones it has an equivalent for, translated."""
    translated = {
        "PIP_INDEX_URL": "UV_DEFAULT_INDEX",
        "PIP_EXTRA_INDEX_URL": "UV_INDEX",
        "PIP_CERT": "SSL_CERT_FILE",
    }
    return {uv: pip_env[pip] for pip, uv in translated.items() if pip in pip_env}


def host_dir(workdir: Path) -> Path:
    """The host's half of the workspace whose build half is *workdir* (venvrpm.workspace)."""
    return workdir.parent / "host"


def source_spec_path(topdir: Path, name: str) -> Path:
    """The source RPM's spec in rpmbuild's *topdir* (BuildPlan.source_spec_path)."""
    return topdir / "SPECS" / f"{name}-src.spec"


def compile_progress(workdir: Path) -> Path:
    """The bytecode compiler's progress file (BuildPlan.compile_progress)."""
    return workdir / "compile-progress"


def install_report(workdir: Path) -> Path:
    """Where pip writes its installation report (BuildPlan.install_report)."""
    return workdir / "install-report.json"


def locked_requirements(workdir: Path) -> Path:
    """The normalized lock the installer reads (BuildPlan.locked_requirements)."""
    return workdir / "locked-requirements.txt"


def _copying(uv: list[str]) -> list[str]:
    """*uv*'s argv with ``--link-mode copy`` instead of its hard links."""
    at = uv.index("--link-mode") + 1
    return [*uv[:at], "copy", *uv[at + 1 :]]


def uv_cache(workdir: Path) -> Path:
    """uv's cache: this build's own, in the work directory (never ``~/.cache/uv``)."""
    return workdir / "uv-cache"


def locked_build_requirements(workdir: Path) -> Path:
    """The build lock as parsed, which ``build_env`` installs (venvbuild.make_build_env)."""
    return workdir / "locked-build-requirements.txt"


def locked_test_requirements(workdir: Path) -> Path:
    """The test environment's lock as parsed, which ``install_test_lock`` installs
    (testenv.run_tests writes it)."""
    return workdir / "locked-test-requirements.txt"


def make_plan(
    manifest: Manifest,
    *,
    interpreter: Interpreter,
    tools: Tools,
    workdir: Path,
    output_dir: Path,
    source_date_epoch: int,
    host_env: Mapping[str, str],
    stage: Path | None = None,
    build_requires: tuple[str, ...] | None = None,
    build_helper: str = "",
    compile_helper: str = "",
    build_lock: Path | None = None,
    sign_key: str | None = None,
) -> BuildPlan:
    """Decide every path and command of the build.

    *build_lock*: the build requirements of the project and the lock's sdists, installed
    hash-checked into ``build_env_dir``; every install runs with build isolation off, so pip
    never installs a build requirement unchecked. *build_helper*, *compile_helper*: the source
    of venvrpm's helpers/build_project.py and helpers/compile_tree.py, run with ``-c``.
    """
    stage_root = stage
    stage = stage or workdir / "stage"
    venv_dir = stage / manifest.prefix.relative_to("/")
    venv_python = str(venv_dir / "bin" / "python")
    pip = [venv_python, str(tools.pip / "pip")]
    offline = manifest.wheelhouse is not None
    source = ["--no-index", "--find-links", str(manifest.wheelhouse)] if offline else []
    common = [
        "install",
        "--no-compile",
        "--no-deps",
        "--no-input",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--progress-bar",
        "off",
        "--root-user-action",
        "ignore",
    ]
    # Build isolation off: pip would install build requirements without a hash check. An sdist
    # builds with the build lock's environment (PYTHONPATH, build_env_vars); --ignore-installed
    # so that pip does not take what it finds there for installed in the venv.
    no_isolation = ["--no-build-isolation", "--ignore-installed"]
    # --report: which of the files a lock line allows was installed (the SBOM names it).
    # Never the user's file: pip would obey what else it says (options, includes, paths), and
    # a pylock.toml is not a requirements file. The installer reads the lock as parsed.
    locked = str(locked_requirements(workdir))
    install_lock = (*pip, *common, *no_isolation, *source, "--require-hashes", "--report",
                    str(install_report(workdir)), "-r", locked)  # fmt: skip
    install_project = None
    if manifest.project is not None:
        install_project = (*pip, *common, *no_isolation, *source, str(workdir / "src"))
    test_lock = _test_lock(manifest)
    install_test_lock = None
    if test_lock is not None:
        install_test_lock = (*pip, *common, *no_isolation, *source, "--require-hashes", "-r",
                             str(locked_test_requirements(workdir)))  # fmt: skip
    pip_env = pip_environment(manifest, host_env)
    uses_uv = manifest.build.installer == "uv"
    build_env = build_wheel = None
    build_locked = str(locked_build_requirements(workdir))
    if build_lock is not None:
        # compiled (common[2:] drops --no-compile): it never ships, and the backend imports
        # it on every build (~0.3 s of a rebuild without its bytecode)
        # wheels only: an sdist here would be built by a backend from an isolated build,
        # installed without a hash check
        build_env = (*pip, "install", "--target", str(workdir / "build-env"), *common[2:],
                     *source, "--only-binary", ":all:", "--require-hashes", "-r",
                     build_locked)  # fmt: skip
    if manifest.project is not None and build_requires is not None:
        # pip builds in an environment it makes and discards per build, one interpreter per
        # hook; venvrpm keeps the build requirements (cached) and runs the hooks in one. For
        # uv too: an installer started after the lock starts the venv's python with site,
        # where a locked .pth would run.
        build_wheel = (venv_python, "-I", "-S", "-c", build_helper, str(workdir / "src"),
                       str(workdir / "build-env"), str(workdir / "built"),
                       str(workdir / "built" / "result.json"))  # fmt: skip
    if uses_uv:
        assert tools.uv is not None, "prepare() finds uv for build.installer: uv"
        uv = [
            str(tools.uv), "pip", "install", "--python", venv_python, "--no-deps",
            # hard links into uv's cache, which is this build's own (in the work directory) and
            # removed right after the install (venvbuild.install_lock), before relocation
            # rewrites files in place and before rpmbuild, whose cost grows with the square of
            # multiply linked files. Copies wrote benchzuul's 491 MB twice: 5.3-7.7 s -> 3.6-3.9 s.
            "--link-mode", "hardlink", "--cache-dir", str(uv_cache(workdir)),
            "--no-progress", "--quiet",
            *(["--no-config"] if offline else []), *source,
        ]  # fmt: skip
        install_lock = (*uv, "--no-build-isolation", "--require-hashes", "-r", locked)
        if build_env is not None:
            # uv too, with pip's flags: a uv build then runs no pip at all (unpacking,
            # compiling and starting pip cost ~1 s of a cold build, uv ~0.2 s)
            # copies: linked, a distribution in both locks was one inode in the build
            # environment (stored in the environment cache too) and in the stage, whatever
            # removing uv's cache undid. Build requirements are few: copying them costs little.
            build_env = (*_copying(uv), "--target", str(workdir / "build-env"), "--only-binary",
                         ":all:", "--require-hashes", "--compile-bytecode", "-r",
                         build_locked)  # fmt: skip
        if manifest.project is not None:
            install_project = (*uv, "--no-build-isolation", str(workdir / "src"))
        if test_lock is not None:
            install_test_lock = (*uv, "--no-build-isolation", "--require-hashes", "-r",
                                 str(locked_test_requirements(workdir)))  # fmt: skip
        pip_env = {**pip_env, **uv_environment(pip_env)}
    topdir = host_dir(workdir) / "rpmbuild"
    rpmbuild_source = (tools.rpmbuild, "-bs", "--define", f"_topdir {topdir}",
                       "--define", f"_sourcedir {topdir / 'SOURCES'}",
                       "--define", f"_srcrpmdir {topdir / 'SRPMS'}",
                       "--define", f"_specdir {topdir / 'SPECS'}",
                       str(source_spec_path(topdir, manifest.name)))  # fmt: skip
    # -S: site would run the .pth files of the locked distributions, as root
    compile_environment = (venv_python, "-I", "-S", "-B", "-c", compile_helper, str(venv_dir),
                           str(stage), str(compile_progress(workdir)))  # fmt: skip
    return BuildPlan(
        stage_root=stage_root,
        manifest=manifest,
        interpreter=interpreter,
        tools=tools,
        workdir=workdir,
        output_dir=output_dir,
        source_date_epoch=source_date_epoch,
        binary_payload=binary_payload(*manifest.compression),
        offline=offline,
        pip_env=tuple(sorted(pip_env.items())),
        venv_env=(
            ("PYTHONPATH", str(tools.toolbox)),
            ("VIRTUALENV_OVERRIDE_APP_DATA", str(workdir / "virtualenv-data")),
        ),
        # -c and -m put the working directory first on sys.path (-I would drop the toolbox's
        # PYTHONPATH too): run from the private work directory (venvbuild.create)
        check_virtualenv=(str(interpreter.path), "-c", virtualenv_api.CAN_RUN),
        # The target interpreter runs virtualenv itself, wherever it lives (host, container,
        # chroot): the venv is exactly what that interpreter makes.
        create_venv=(
            str(interpreter.path),
            "-m",
            "virtualenv",
            "--no-download",
            "--no-periodic-update",
            "--no-seed",
            "--no-vcs-ignore",
            str(venv_dir),
        ),
        # interpreters too old for venvrpm's virtualenv (3.9 on EL9): the standard library's
        create_venv_fallback=(str(interpreter.path), "-m", "venv", "--without-pip", str(venv_dir)),
        install_lock=install_lock,
        compile_environment=compile_environment,
        install_project=install_project,
        compile_project=(
            (*compile_environment, COMPILE_LIST) if manifest.project is not None else None
        ),
        build_env=build_env,
        build_lock=build_lock if build_env is not None else None,
        build_wheel=build_wheel,
        install_test_lock=install_test_lock,
        elf_requires=(tools.elfdeps, "--requires"),
        elf_provides=(tools.elfdeps, "--provides"),
        helpers=tuple(
            (name, source)
            for name, source in (
                ("build_project.py", build_helper),
                ("compile_tree.py", compile_helper),
            )
            if source
        ),
        rpmbuild=(
            tools.rpmbuild,
            "-bb",
            # another architecture's RPM (a target's arch, built under emulation): rpm names
            # it, and reads its ELF files' requires, for that architecture
            *(("--target", manifest.arch) if manifest.arch else ()),
            "--noclean",
            "--define",
            f"_topdir {topdir}",
            "--define",
            f"_tmppath {host_dir(workdir) / 'tmp'}",
            # ~/.rpmmacros may move these; the build's output must stay in the private topdir.
            "--define",
            f"_rpmdir {topdir / 'RPMS'}",
            "--define",
            f"_srcrpmdir {topdir / 'SRPMS'}",
            "--define",
            f"_builddir {topdir / 'BUILD'}",
            "--define",
            f"_sourcedir {topdir / 'SOURCES'}",
            "--define",
            f"_specdir {topdir / 'SPECS'}",
            "--define",
            "_build_name_fmt %{ARCH}/%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm",
            "--buildroot",
            str(stage),
            str(topdir / "SPECS" / f"{manifest.name}.spec"),
        ),
        verify_rpm=("rpm", "-qp", "--nosignature", "--qf", "[%{FILENAMES}\n]", BUILT_RPM),
        rpm_requires=("rpm", "-qp", "--nosignature", "--requires", BUILT_RPM),
        rpmbuild_source=rpmbuild_source,
        sign=sign_command(*tools.signing, sign_key) if tools.signing and sign_key else None,
        sign_key=sign_key,
    )


# What the signing key may not hold: rpm expands % in _gpg_name (%(cmd) runs a shell command),
# then splits %__gpg_sign_cmd (-u "%{_gpg_name}") at double quotes and backslashes into gpg's
# argv; control characters (C0, DEL, C1) and line breaks have no place in a name.
_NOT_IN_KEY = re.compile(r'[%"\\\x00-\x1f\x7f-\x9f\u2028\u2029]')


def sign_key(value: str) -> str | None:
    """*value* (``--sign``, ``VENVRPM_SIGN_KEY``) as a key for gpg and rpmsign; None when
    empty (not signed). A key id or fingerprint (hex, ``0x``, ``!``) or a user id (an email, a
    name) that neither rpm nor gpg can read as anything else; raises UsageError otherwise.

    Checked where the CLI takes the key: it goes into rpmsign's ``--define "_gpg_name KEY"``
    and gpg's ``--export``, where a leading ``-`` would be an option."""
    if not value:
        return None
    if not value.startswith("-") and not _NOT_IN_KEY.search(value):
        return value
    raise UsageError(
        f"the signing key {value!r} is not a gpg key id, fingerprint or user id",
        "give --sign (or VENVRPM_SIGN_KEY) a key id or fingerprint in hex (`gpg "
        "--list-secret-keys --keyid-format long`) or a user id such as an email: not starting "
        "with '-', without '%', '\"', '\\' or control characters",
    )


def sign_command(rpmsign: str, gpg: str, key: str, rpm: str = BUILT_RPM) -> tuple[str, ...]:
    """rpmsign with gpg, key by id, fingerprint or user id. ``%__gpg`` defaults to
    /usr/bin/gpg2, which Debian does not have: the real one is named. The digest is SHA-256
    whatever the host's macros or gpg.conf say: EL 9 and later reject SHA-1 signatures."""
    return (rpmsign, "--addsign", "--define", f"__gpg {gpg}", "--define", f"_gpg_name {key}",
            "--define", "_gpg_digest_algo sha256", rpm)  # fmt: skip


def _test_lock(manifest: Manifest) -> Path | None:
    """The lock of ``test.environment`` (``venvrpm test``), when the manifest names one."""
    tests = manifest.tests
    if tests is None or not tests.environment:
        return None
    target = manifest.lock_target(tests.environment)
    return target.output if target is not None else None
