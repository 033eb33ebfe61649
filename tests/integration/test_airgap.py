"""docs/air-gapped.md followed step by step: lock, fetch, bundle offline, install at the customer."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.integration.test_fetch import make_index
from tests.integration.test_lifecycle import throwaway_key
from tests.support import target
from tests.support.apps import make_smallapp
from venvrpm.cli import main

pytestmark = pytest.mark.integration
GUIDE = Path(__file__).parents[2] / "docs" / "air-gapped.md"


def test_the_guide_from_lock_to_customer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    guide = GUIDE.read_text()
    for command in ("venvrpm lock app.yaml", "venvrpm fetch app.yaml",
                    "venvrpm bundle app.yaml --offline --sign", "sha256sum -c SHA256SUMS",
                    "rpm --import RPM-GPG-KEY-NAME", "rpm -V NAME"):  # fmt: skip
        assert command in guide, f"the guide no longer says {command!r}"
    public = throwaway_key(tmp_path, monkeypatch)
    app = make_smallapp(tmp_path / "app", extra_manifest="lock:\n  inputs: []\n")
    # the index the developer's machine reaches (a file:// PEP 503 index: no network here)
    make_index(app.parent / "wheels", tmp_path / "simple")
    shutil.rmtree(app.parent / "wheels")
    (app.parent / "requirements.lock").unlink()
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())

    # 1. lock, against the index (a manifest without wheelhouse resolves from the index)
    text = app.read_text()
    app.write_text(text.replace("wheelhouse: wheels/\n", ""))
    assert main(["lock", str(app)]) == 0
    app.write_text(text)
    # 2. fetch
    assert main(["fetch", str(app)]) == 0
    assert main(["fetch", str(app)]) == 0
    assert "already holds all" in capsys.readouterr().err
    # 3. bundle, offline, signed, with the network cut
    delivery = tmp_path / "delivery"
    run = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "venvrpm", "bundle", str(app), "--offline",
         "--sign", "signing@example.invalid", "-o", str(delivery)], capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    tar = delivery / "smallapp-1.0.0-1.tar"
    assert tar.is_file()
    # 4. at the customer: unpack, check sums, import the key, check and install the package
    customer = tmp_path / "customer"
    with tarfile.open(tar) as archive:
        archive.extractall(customer)  # our own archive (filter= needs Python >= 3.11.4)
    bundle = customer / "smallapp-1.0.0-1"
    names = sorted(p.name for p in bundle.iterdir())
    assert names == ["README.txt", "RPM-GPG-KEY-smallapp", "SHA256SUMS", "repodata", "sbom.cdx.json",
                     "smallapp-1.0.0-1.x86_64.rpm", "smallapp.repo"]  # fmt: skip
    assert subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=bundle).returncode == 0
    assert (bundle / "RPM-GPG-KEY-smallapp").read_text() == public.read_text()
    repo = (bundle / "smallapp.repo").read_text()
    assert "baseurl=file:///mnt/smallapp-1.0.0-1" in repo
    assert "\ngpgcheck=1\nrepo_gpgcheck=1\n" in repo
    assert "NOT SIGNED" not in (bundle / "README.txt").read_text()
    # the repository metadata's signature verifies with the exported key alone (gpgv: no
    # keyring, no agent)
    keyring = tmp_path / "customer.gpg"
    dearmored = subprocess.run(["gpg", "--batch", "--dearmor", "--output", str(keyring),
                                str(bundle / "RPM-GPG-KEY-smallapp")], capture_output=True, text=True)  # fmt: skip
    assert dearmored.returncode == 0, dearmored.stderr
    repomd = bundle / "repodata" / "repomd.xml"
    verified = subprocess.run(["gpgv", "--status-fd", "1", "--keyring", str(keyring),
                               f"{repomd}.asc", str(repomd)], capture_output=True, text=True)  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    # "[GNUPG:] VALIDSIG FPR DATE TS EXPIRE VERSION RESERVED PUBKEY-ALGO HASH-ALGO ...": 8 = SHA-256
    validsig = next(line.split() for line in verified.stdout.splitlines() if "VALIDSIG" in line)
    assert validsig[9] == "8", validsig
    assert "repodata/repomd.xml.asc" in (bundle / "SHA256SUMS").read_text()
    primary = subprocess.run(
        ["zcat", str(bundle / "repodata" / "primary.xml.gz")], capture_output=True, text=True
    ).stdout
    assert "<name>smallapp</name>" in primary and 'href="smallapp-1.0.0-1.x86_64.rpm"' in primary
    root = target.fresh_root(tmp_path / "root")
    target.rpm(root, "--import", str(bundle / "RPM-GPG-KEY-smallapp"))
    checked = target.rpm(root, "-Kv", str(bundle / "smallapp-1.0.0-1.x86_64.rpm"))
    # signed with a SHA-256 digest (EL 9 rejects SHA-1 signatures)
    assert "Header V4 RSA/SHA256 Signature" in checked.stdout, checked.stdout
    assert "RSA/SHA1" not in checked.stdout
    assert (
        target.rpm(root, "-U", str(bundle / "smallapp-1.0.0-1.x86_64.rpm"), check=False).returncode
        == 0
    )
    assert target.rpm(root, "-V", "smallapp", check=False).stdout == ""
    # the SBOM: CycloneDX, every bundled distribution with purl and hash
    sbom = json.loads((bundle / "sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    # native libraries bundled in wheels have no purl: no PyPI advisory covers them
    purls = {c["purl"] for c in sbom["components"] if "purl" in c}
    assert [c["name"] for c in sbom["components"] if "purl" not in c] == ["libtiny"]
    assert {"pkg:pypi/tinydep@1.0", "pkg:pypi/sdistonly@2.0", "pkg:pypi/smallapp@1.0.0"} <= purls
    tinydep = next(c for c in sbom["components"] if c["name"] == "tinydep")
    assert tinydep["hashes"][0]["alg"] == "SHA-256"
    shipped = root / "usr/share/doc/smallapp/sbom.cdx.json"
    assert json.loads(shipped.read_text()) == sbom


def test_the_bundle_is_reproducible(tmp_path: Path) -> None:
    import hashlib

    digests = []
    changelog = "changelog:\n  - date: 2026-11-01\n    author: Ops <ops@example.invalid>\n    text: Bundled twice.\n"
    first = make_smallapp(tmp_path / "a" / "app", extra_manifest=changelog)
    shutil.copytree(first.parent, tmp_path / "b" / "elsewhere", symlinks=True)
    for n, app in enumerate((first, tmp_path / "b" / "elsewhere" / "app.yaml")):
        assert main(["bundle", str(app), "-o", str(tmp_path / f"out{n}"), "-q"]) == 0
        digests.append(
            hashlib.sha256((tmp_path / f"out{n}" / "smallapp-1.0.0-1.tar").read_bytes()).hexdigest()
        )
    assert digests[0] == digests[1]
    # unsigned: the .repo checks nothing, and the README says so first
    bundle = tmp_path / "out0" / "smallapp-1.0.0-1"
    assert "\ngpgcheck=0\nrepo_gpgcheck=0\n" in (bundle / "smallapp.repo").read_text()
    assert "2. WARNING: this delivery is NOT SIGNED." in (bundle / "README.txt").read_text()
    assert not (bundle / "repodata" / "repomd.xml.asc").exists()
