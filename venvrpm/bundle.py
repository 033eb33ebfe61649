"""``venvrpm bundle``: a delivery directory (and reproducible .tar) for air-gapped customers.

It holds the RPM, repository metadata made by createrepo_c (so ``dnf`` installs from it), a
``.repo`` file, ``SHA256SUMS``, the CycloneDX SBOM, the public signing key when signed, the
audit report of the RPM when asked (``--audit-db``), and a README for the customer's operator. Every timestamp is SOURCE_DATE_EPOCH: the same build gives
the same tarball.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from venvrpm.errors import FULL_HINT, ToolMissingError, VenvrpmError, refused
from venvrpm.files import replacing, reproducible_tar, sha256_hex
from venvrpm.manifest import Manifest
from venvrpm.runner import Runner

README = """\
{name} {version}-{release}: delivery for hosts without network
==============================================================

Contents
  {rpm}              the package
  repodata/                 repository metadata (createrepo_c)
  {name}.repo               a dnf/yum repository definition for this directory
  SHA256SUMS                checksums of every file here
  sbom.cdx.json             CycloneDX SBOM of the Python distributions inside
{audit_line}{key_line}
1. Check what arrived:          sha256sum -c SHA256SUMS
{verify}
3. Install, with dnf (copy or mount this directory as {mount}):
       dnf install --repofrompath={name},{mount} --repo={name} {name}
   or add the repository for later updates:
       cp {name}.repo /etc/yum.repos.d/ && dnf install {name}
   or with rpm alone:
       rpm -Uvh {rpm}
4. Check it:                    rpm -V {name}
Remove it:                      dnf remove {name}   (or rpm -e {name})
"""


UNSIGNED_WARNING = """\
2. WARNING: this delivery is NOT SIGNED. Nothing in it proves who made it: its .repo file says
   gpgcheck=0, which a host whose security policy demands signed packages must not accept. Check SHA256SUMS against a copy received over
   a channel you trust before installing, or ask for a signed bundle (venvrpm bundle --sign).
"""


def assemble(
    manifest: Manifest,
    rpm: Path,
    sbom_text: str,
    out_dir: Path,
    runner: Runner,
    *,
    source_date_epoch: int,
    sign_key: str | None = None,
    audit_text: str | None = None,
) -> tuple[Path, Path]:
    """Make ``out_dir/NAME-V-R/`` and ``out_dir/NAME-V-R.tar``; return both. *audit_text*:
    ``venvrpm audit RPM --json``'s report, shipped as ``audit.json``."""
    createrepo = _createrepo(runner)
    with refused(f"writing the bundle into {out_dir}", FULL_HINT):
        return _assemble(manifest, rpm, sbom_text, out_dir, runner, createrepo,
                         source_date_epoch=source_date_epoch, sign_key=sign_key,
                         audit_text=audit_text)  # fmt: skip


def _assemble(
    manifest: Manifest,
    rpm: Path,
    sbom_text: str,
    out_dir: Path,
    runner: Runner,
    createrepo: str,
    *,
    source_date_epoch: int,
    sign_key: str | None,
    audit_text: str | None,
) -> tuple[Path, Path]:
    """:func:`assemble`'s writes, once createrepo_c is found."""
    label = f"{manifest.name}-{manifest.version}-{manifest.release}"
    mount = f"/mnt/{label}"
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / label
    # a fresh scratch directory: two bundles into one directory do not share it
    with replacing(final, directory=True) as partial:
        shutil.copy2(rpm, partial / rpm.name)
        (partial / "sbom.cdx.json").write_text(sbom_text, encoding="utf-8")
        if audit_text is not None:
            (partial / "audit.json").write_text(audit_text, encoding="utf-8")
        key_name = f"RPM-GPG-KEY-{manifest.name}"
        if sign_key:
            _export_key(runner, sign_key, partial / key_name)
        (partial / f"{manifest.name}.repo").write_text(
            _repo_file(manifest, mount, key=f"{mount}/{key_name}" if sign_key else None),
            encoding="utf-8",
        )
        verify = (
            f"2. Trust the signing key, then check the package and the repository metadata:\n"
            f"       rpm --import {key_name} && rpm -Kv {rpm.name}\n"
            f"       gpg --verify repodata/repomd.xml.asc repodata/repomd.xml   (after importing\n"
            f"       {key_name} into gpg; dnf does both itself: gpgcheck=1, repo_gpgcheck=1)\n"
            if sign_key
            else UNSIGNED_WARNING
        )
        (partial / "README.txt").write_text(
            README.format(
                name=manifest.name, version=manifest.version, release=manifest.release,
                rpm=rpm.name, mount=mount, verify=verify,
                key_line=f"  {key_name:<25} the public key the package and repodata/repomd.xml.asc are signed with\n" if sign_key else "",
                audit_line="  audit.json                known vulnerabilities of the package when it was made "
                "(venvrpm audit)\n" if audit_text is not None else "",
            ),
            encoding="utf-8",
        )  # fmt: skip
        _repository(runner, createrepo, partial, source_date_epoch, sign_key)
        _write_sums(partial)
        _set_times(partial, source_date_epoch)
    tar = reproducible_tar(final, out_dir / f"{label}.tar", source_date_epoch, normalise_modes=True)
    return final, tar


@dataclass(frozen=True, kw_only=True, slots=True)
class Built:
    """One target's share of a multi-target bundle."""

    manifest: Manifest
    """The target's manifest (manifest.for_target): its name, release, interpreter."""
    rpm: Path
    sbom: str
    audit_text: str | None = None


TARGETS_README = """\
{name} {version}: delivery for hosts without network, one repository per system
{underline}

Each directory below is a repository for one system: the package, its repository metadata
(repodata/, createrepo_c), a {name}.repo for it and the CycloneDX SBOM of the package
(sbom.cdx.json){audit_word}. SHA256SUMS covers every file of every directory.
{key_line}
{table}

1. Check what arrived:          sha256sum -c SHA256SUMS
{verify}
3. On each host, install from the directory of its system (copy or mount it as {mount}/DIR):
       dnf install --repofrompath={name},{mount}/DIR --repo={name} {name}
   or add the repository for later updates (its baseurl is {mount}/DIR):
       cp DIR/{name}.repo /etc/yum.repos.d/ && dnf install {name}
   or with rpm alone:
       rpm -Uvh DIR/PACKAGE.rpm
4. Check it:                    rpm -V {name}
Remove it:                      dnf remove {name}   (or rpm -e {name})
"""


def assemble_targets(
    manifest: Manifest,
    built: list[Built],
    out_dir: Path,
    runner: Runner,
    *,
    source_date_epoch: int,
    sign_key: str | None = None,
) -> tuple[Path, Path]:
    """A bundle of every target: ``out_dir/NAME-VERSION-RELEASE/TARGET/`` a repository each
    (the RPM, repodata, a .repo, the SBOM, the audit when asked), one SHA256SUMS and one
    README (which directory is for which system) at the top; and its reproducible .tar."""
    createrepo = _createrepo(runner)
    label = f"{manifest.name}-{manifest.version}-{manifest.release}"
    mount = f"/mnt/{label}"
    with refused(f"writing the bundle into {out_dir}", FULL_HINT):
        out_dir.mkdir(parents=True, exist_ok=True)
        final = out_dir / label
        with replacing(final, directory=True) as partial:
            key_name = f"RPM-GPG-KEY-{manifest.name}"
            if sign_key:
                _export_key(runner, sign_key, partial / key_name)
            rows = []
            for each in built:
                directory = each.manifest.target or each.manifest.name
                repo = partial / directory
                repo.mkdir()
                shutil.copy2(each.rpm, repo / each.rpm.name)
                (repo / "sbom.cdx.json").write_text(each.sbom, encoding="utf-8")
                if each.audit_text is not None:
                    (repo / "audit.json").write_text(each.audit_text, encoding="utf-8")
                (repo / f"{manifest.name}.repo").write_text(
                    _repo_file(manifest, f"{mount}/{directory}", key=f"{mount}/{key_name}"
                               if sign_key else None),
                    encoding="utf-8",
                )  # fmt: skip
                _repository(runner, createrepo, repo, source_date_epoch, sign_key)
                rows.append((directory, each.manifest, f"{directory}/{each.rpm.name}"))
            (partial / "README.txt").write_text(
                _targets_readme(manifest, rows, mount, sign_key, key_name,
                                audit=any(b.audit_text is not None for b in built)),
                encoding="utf-8",
            )  # fmt: skip
            _write_sums(partial)
            _set_times(partial, source_date_epoch)
        tar = reproducible_tar(
            final, out_dir / f"{label}.tar", source_date_epoch, normalise_modes=True
        )
    return final, tar


def _export_key(runner: Runner, sign_key: str, path: Path) -> None:
    exported = runner.run(
        ["gpg", "--armor", "--export", "--", sign_key], what="exporting the public key"
    )
    if "BEGIN PGP PUBLIC KEY BLOCK" not in exported.stdout:
        raise VenvrpmError(f"gpg has no public key for {sign_key}")
    path.write_text(exported.stdout, encoding="ascii")


def _repo_file(manifest: Manifest, baseurl: str, *, key: str | None) -> str:
    """The .repo of a repository at *baseurl*; signed (*key*: the public key's path there),
    dnf checks the metadata's signature and each package's (EL 9 policy)."""
    return f"[{manifest.name}]\nname={manifest.summary}\nbaseurl=file://{baseurl}\nenabled=1\n" + (
        f"gpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file://{key}\n"
        if key
        else "gpgcheck=0\nrepo_gpgcheck=0\n"
    )


def _createrepo(runner: Runner) -> str:
    createrepo = runner.which("createrepo_c")
    if createrepo is None:
        raise ToolMissingError(
            "createrepo_c is not installed",
            "apt-get install createrepo-c  |  dnf install createrepo_c",
        )
    return createrepo


def _repository(
    runner: Runner, createrepo: str, repo: Path, epoch: int, sign_key: str | None
) -> None:
    """*repo*'s metadata (reproducible: times and revision from *epoch*), signed with
    *sign_key* (``repodata/repomd.xml.asc``) when one is given."""
    _set_times(repo, epoch)
    runner.run(
        [createrepo, "--quiet", "--revision", str(epoch), "--set-timestamp-to-revision",
         "--simple-md-filenames", str(repo)],
        what="making the repository metadata (createrepo_c)",
    )  # fmt: skip
    if sign_key:
        repomd = repo / "repodata" / "repomd.xml"
        runner.run(
            ["gpg", "--batch", "--yes", "--armor", "--digest-algo", "SHA256", "--local-user",
             sign_key, "--detach-sign", "--output", f"{repomd}.asc", "--", str(repomd)],
            what="signing the repository metadata",
            hint="the secret key must be in gpg's keyring (GNUPGHOME) and usable without a "
            "prompt (no passphrase, or a gpg-agent that has it)",
        )  # fmt: skip


def _write_sums(top: Path) -> None:
    """``SHA256SUMS`` of every file under *top*, by path relative to it."""
    files = sorted(p for p in top.rglob("*") if p.is_file())
    sums = "".join(f"{sha256_hex(p)}  {p.relative_to(top).as_posix()}\n" for p in files)
    (top / "SHA256SUMS").write_text(sums, encoding="utf-8")


def _targets_readme(
    manifest: Manifest, rows: list[tuple[str, Manifest, str]], mount: str,
    sign_key: str | None, key_name: str, *, audit: bool,
) -> str:  # fmt: skip
    header = ("DIR", "RELEASE", "INTERPRETER", "BUILT IN", "PACKAGE")
    lines = [header] + [
        # a root by its directory's name: the host's paths are not the customer's business,
        # and would make one build's tarball differ from another's
        (d, m.release, str(m.python),
         m.build.rootfs.name if m.build.rootfs else m.build.image or "this host", package)
        for d, m, package in rows
    ]  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    table = "\n".join(
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
    title = f"{manifest.name} {manifest.version}: delivery for hosts without network, one "
    verify = (
        f"2. Trust the signing key, then check each package and its repository metadata:\n"
        f"       rpm --import {key_name} && rpm -Kv DIR/PACKAGE.rpm\n"
        f"       gpg --verify DIR/repodata/repomd.xml.asc DIR/repodata/repomd.xml   (after\n"
        f"       importing {key_name} into gpg; dnf does both itself: gpgcheck=1, repo_gpgcheck=1)\n"
        if sign_key
        else UNSIGNED_WARNING
    )
    return TARGETS_README.format(
        name=manifest.name, version=manifest.version, underline="=" * (len(title) + 23),
        audit_word=" and the audit of its known vulnerabilities (audit.json)" if audit else "",
        key_line=f"{key_name} is the public key the packages and repodata/repomd.xml.asc are "
        "signed with.\n"
        if sign_key else "",
        table=table, verify=verify, mount=mount,
    )  # fmt: skip


def _set_times(root: Path, epoch: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.utime(path, (epoch, epoch), follow_symlinks=False)
