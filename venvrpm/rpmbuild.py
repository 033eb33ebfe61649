"""rpmbuild in a private topdir, and the atomic delivery of its RPM."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Sequence
from importlib import resources
from pathlib import Path, PurePosixPath

from venvrpm import probes, progress
from venvrpm._fenced import rpm_text
from venvrpm.errors import ToolMissingError, VenvrpmError
from venvrpm.files import replacing
from venvrpm.plan import BUILT_RPM, BuildPlan, fill
from venvrpm.runner import Runner

INSTALL_HINT = "Debian/Ubuntu: apt-get install rpm    Fedora/RHEL: dnf install rpm-build"
READS_PER_BYTE = 4.4
"""Bytes rpmbuild reads per byte of payload it packs: each file for its digest, its class and
the payload, and more. Measured with rpm 4.18 and venvrpm's rpmfc.magic: 4.28 (numpy and
pandas, 153 MB) to 4.64 (flask and sqlalchemy, 58 MB)."""
_MB = 1_000_000


def find_rpmbuild(runner: Runner) -> str:
    """rpmbuild's path, or a ToolMissingError saying how to install it."""
    path = runner.which("rpmbuild")
    if path is None:
        raise ToolMissingError("rpmbuild is not installed", INSTALL_HINT)
    return path


def find_elfdeps(runner: Runner) -> str:
    """rpm's ELF dependency scanner (``<_rpmconfigdir>/elfdeps``)."""
    rpm = runner.which("rpm")
    if rpm is None:
        raise ToolMissingError("rpm is not installed", INSTALL_HINT)
    configdir = runner.run(probes.rpm_configdir(rpm), what="asking rpm for its config dir")
    elfdeps = Path(configdir.stdout.strip()) / "elfdeps"
    if not elfdeps.is_file():
        raise ToolMissingError(f"{elfdeps} is missing", INSTALL_HINT)
    return str(elfdeps)


def build(
    plan: BuildPlan,
    spec_text: str,
    runner: Runner,
    report: progress.Report = progress.quiet,
    payload_size: int = 0,
) -> Path:
    """Write the spec, run rpmbuild, return the RPM it wrote (inside the topdir).

    *report* hears how many MB of the *payload_size* bytes rpmbuild has packed, estimated from
    the bytes it has read (it prints nothing per file)."""
    for sub in ("SPECS", "RPMS", "BUILD", "SOURCES", "SRPMS"):
        (plan.topdir / sub).mkdir(parents=True, exist_ok=True)
    (plan.hostdir / "tmp").mkdir(exist_ok=True)
    plan.spec_path.write_text(spec_text, encoding="utf-8")
    reads = progress.ProcessReads(Path(plan.rpmbuild[0]).name, plan.rpmbuild[-1])
    with (
        resources.as_file(resources.files("venvrpm").joinpath("rpmfc.magic")) as magic,
        progress.watching(
            report,
            -(-payload_size // _MB),
            "MB packed",
            lambda: int(reads() / READS_PER_BYTE / _MB),
        ),
    ):
        result = runner.run(
            plan.rpmbuild,
            what="rpmbuild",
            cwd=plan.topdir,
            # rpm keeps only the ELF word size of libmagic's verdict (see rpmfc.magic): the
            # full database spent half of rpmbuild's time on text files.
            env={"MAGIC": str(magic)},
            hint=f"the generated spec is {plan.spec_path} (keep it with --keep-workdir)",
        )
    written = rpm_text.written(result.stdout + result.stderr)
    rpms = [p for p in written if p.is_file() and not p.name.endswith(".src.rpm")]
    if len(rpms) != 1:
        raise VenvrpmError(
            f"rpmbuild reported {len(rpms)} binary RPMs instead of one",
            "run with --keep-workdir and look at the rpmbuild output",
        )
    return rpms[0]


def verify(plan: BuildPlan, rpm: Path, expected: Sequence[PurePosixPath], runner: Runner) -> None:
    """The RPM rpmbuild wrote lists exactly the payload venvrpm staged: a macro that slipped
    through escaping, or a build-id link rpm added, would show here before anyone installs it."""
    listed = runner.run(
        fill(plan.verify_rpm, {BUILT_RPM: str(rpm)}),
        what="reading the built RPM",
    ).stdout.splitlines()
    wanted = sorted(str(p) for p in expected)
    if sorted(listed) != wanted:
        extra = sorted(set(listed) - set(wanted))[:5]
        lacking = sorted(set(wanted) - set(listed))[:5]
        raise VenvrpmError(
            "the built RPM does not hold the payload venvrpm staged",
            "report this with the manifest: the spec did not say what venvrpm meant",
            details=[f"in the RPM only: {extra}", f"staged only: {lacking}"],
        )


def build_source(plan: BuildPlan, spec_text: str, runner: Runner) -> Path:
    """rpmbuild -bs: the source RPM of *spec_text* (its sources already in SOURCES)."""
    for sub in ("SPECS", "SRPMS", "SOURCES"):
        (plan.topdir / sub).mkdir(parents=True, exist_ok=True)
    plan.source_spec_path.write_text(spec_text, encoding="utf-8")
    result = runner.run(plan.rpmbuild_source, what="rpmbuild -bs", cwd=plan.topdir)
    written = rpm_text.written(result.stdout + result.stderr)
    srpms = [p for p in written if p.name.endswith(".src.rpm") and p.is_file()]
    if len(srpms) != 1:
        raise VenvrpmError(f"rpmbuild -bs reported {len(srpms)} source RPMs instead of one")
    return srpms[0]


def requires_of(plan: BuildPlan, rpm: Path, runner: Runner) -> tuple[str, ...]:
    """The Requires *rpm*'s header lists, as ``rpm -qpR`` prints them."""
    listed = runner.run(
        fill(plan.rpm_requires, {BUILT_RPM: str(rpm)}), what="reading the built RPM's Requires"
    )
    return tuple(line.strip() for line in listed.stdout.splitlines() if line.strip())


def find_signing(runner: Runner) -> tuple[str, str]:
    """rpmsign's and gpg's paths, or a ToolMissingError saying how to install them."""
    rpmsign = runner.which("rpmsign")
    if rpmsign is None:
        raise ToolMissingError(
            "rpmsign is not installed", INSTALL_HINT.replace("rpm-build", "rpm-sign")
        )
    gpg = runner.which("gpg2") or runner.which("gpg")
    if gpg is None:
        raise ToolMissingError(
            "gpg is not installed", "apt-get install gnupg  |  dnf install gnupg2"
        )
    return rpmsign, gpg


def sign(argv: tuple[str, ...], key: str, rpm: Path, runner: Runner) -> None:
    """Sign *rpm* in place with *argv* (the plan's ``sign``, :func:`plan.sign_command`)."""
    runner.run(
        fill(argv, {BUILT_RPM: str(rpm)}),
        what=f"signing with {key}",
        hint="the secret key must be in gpg's keyring (GNUPGHOME) and usable without a prompt "
        "(no passphrase, or a gpg-agent that has it)",
    )


def deliver(built: Path, output_dir: Path) -> Path:
    """Move *built* into *output_dir* atomically: readers see the whole RPM or nothing."""
    output_dir.mkdir(parents=True, exist_ok=True)
    final = output_dir / built.name
    try:  # on the same filesystem: renamed, not copied (35 MB took ~0.3 s to copy)
        with built.open("rb") as fh:
            os.fsync(fh.fileno())
        built.chmod(0o644)
        os.replace(built, final)
        return final
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    # copied under a fresh name; what a killed build left (.NAME.<pid>.*.part) is removed
    with replacing(final) as scratch, built.open("rb") as src:
        shutil.copyfileobj(src, scratch.file, 1 << 20)
    return final
