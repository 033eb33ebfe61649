"""``venvrpm bundle``: a delivery directory (and reproducible .tar) for air-gapped customers.

It holds the RPM, repository metadata made by createrepo_c (so ``dnf`` installs from it), a
``.repo`` file, ``SHA256SUMS``, the CycloneDX SBOM, the public signing key when signed, the
audit report of the RPM when asked (``--audit-db``), and a README for the customer's operator. Every timestamp is SOURCE_DATE_EPOCH: the same build gives
the same tarball.
"""

from __future__ import annotations

import os
import shutil
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
    createrepo = runner.which("createrepo_c")
    if createrepo is None:
        raise ToolMissingError(
            "createrepo_c is not installed",
            "apt-get install createrepo-c  |  dnf install createrepo_c",
        )
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
            exported = runner.run(
                ["gpg", "--armor", "--export", "--", sign_key], what="exporting the public key"
            )
            if "BEGIN PGP PUBLIC KEY BLOCK" not in exported.stdout:
                raise VenvrpmError(f"gpg has no public key for {sign_key}")
            (partial / key_name).write_text(exported.stdout, encoding="ascii")
        (partial / f"{manifest.name}.repo").write_text(
            f"[{manifest.name}]\nname={manifest.summary}\nbaseurl=file://{mount}\nenabled=1\n"
            # signed: dnf checks the metadata's signature and each package's (EL 9 policy)
            + (
                f"gpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file://{mount}/{key_name}\n"
                if sign_key
                else "gpgcheck=0\nrepo_gpgcheck=0\n"
            ),
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
        _set_times(partial, source_date_epoch)
        runner.run(
            [createrepo, "--quiet", "--revision", str(source_date_epoch),
             "--set-timestamp-to-revision", "--simple-md-filenames", str(partial)],
            what="making the repository metadata (createrepo_c)",
        )  # fmt: skip
        if sign_key:
            repomd = partial / "repodata" / "repomd.xml"
            runner.run(
                ["gpg", "--batch", "--yes", "--armor", "--digest-algo", "SHA256", "--local-user",
                 sign_key, "--detach-sign", "--output", f"{repomd}.asc", "--", str(repomd)],
                what="signing the repository metadata",
                hint="the secret key must be in gpg's keyring (GNUPGHOME) and usable without a "
                "prompt (no passphrase, or a gpg-agent that has it)",
            )  # fmt: skip
        files = sorted(p for p in partial.rglob("*") if p.is_file())
        sums = "".join(f"{sha256_hex(p)}  {p.relative_to(partial).as_posix()}\n" for p in files)
        (partial / "SHA256SUMS").write_text(sums, encoding="utf-8")
        _set_times(partial, source_date_epoch)
    tar = reproducible_tar(final, out_dir / f"{label}.tar", source_date_epoch, normalise_modes=True)
    return final, tar


def _set_times(root: Path, epoch: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.utime(path, (epoch, epoch), follow_symlinks=False)
