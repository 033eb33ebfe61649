"""How the samples beside this file were made, offline (--no-index, a tiny wheelhouse):

    PYTHON tests/data/pip-output/capture.py PYTHON tests/data/pip-output/pipNN

with PYTHON an interpreter whose pip is that version (pip23: /work/main/.venv, pip 23.0.1;
pip26: a tox environment, pip 26.3). Paths in the samples are under /tmp/venvrpm-pip-samples.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.support.tinybackend import write_wheel

ROOT = Path("/tmp/venvrpm-pip-samples")
FLAGS = ["--no-deps", "--disable-pip-version-check", "--no-input", "--no-index"]


def main(python: str, out: Path) -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    ROOT.mkdir()
    wheelhouse, broken, odd = ROOT / "wheelhouse", ROOT / "badwh", ROOT / "inconswh"
    for d in (wheelhouse, broken, odd):
        d.mkdir()
    good = write_wheel(wheelhouse, "tinydep", "1.0", {"tinydep/__init__.py": ""})
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    (broken / "brokendep-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    bad_digest = hashlib.sha256(b"not a zip").hexdigest()
    wrong = write_wheel(odd, "odd", "2.0", {"odd/__init__.py": ""})
    wrong.rename(odd / "odd-1.0-py3-none-any.whl")  # metadata says 2.0

    def reqs(name: str, line: str) -> str:
        (ROOT / name).write_text(line + "\n")
        return str(ROOT / name)

    ok = reqs("ok.txt", f"tinydep==1.0 --hash=sha256:{digest}")
    missing = reqs("missing.txt", f"absentdep==1.0 --hash=sha256:{digest}")
    mismatch = reqs("mismatch.txt", "tinydep==1.0 --hash=sha256:" + "0" * 64)
    invalid = reqs("broken.txt", f"brokendep==1.0 --hash=sha256:{bad_digest}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    out.mkdir(parents=True, exist_ok=True)

    def run(name: str, argv: list[str]) -> None:
        dest = ROOT / f"dest-{name}"
        argv = [str(dest) if a == "DEST" else a for a in argv]
        r = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
        text = f"# exit {r.returncode}\n# stdout\n{r.stdout}# stderr\n{r.stderr}"
        (out / f"{name}.txt").write_text(text)

    pip = [python, "-m", "pip"]
    download = [*pip, "download", *FLAGS, "--require-hashes", "--progress-bar", "off",
                "--dest", "DEST"]  # fmt: skip
    install = [*pip, "install", *FLAGS, "--require-hashes", "--target", "DEST"]
    run("download-ok", [*download, "--find-links", str(wheelhouse), "-r", ok])
    run("download-missing", [*download, "--find-links", str(wheelhouse), "-r", missing])
    run("download-hash-mismatch", [*download, "--find-links", str(wheelhouse), "-r", mismatch])
    run("download-invalid-wheel", [*download, "--find-links", str(broken), "-r", invalid])
    run("install-invalid-wheel", [*install, "--find-links", str(broken), "-r", invalid])
    run("install-hash-mismatch", [*install, "--find-links", str(wheelhouse), "-r", mismatch])
    run("install-missing", [*install, "--find-links", str(wheelhouse), "-r", missing])
    init = [*pip, "download", *FLAGS, "--only-binary", ":all:", "--progress-bar", "off",
            "--dest", "DEST"]  # fmt: skip
    run("init-download-missing", [*init, "--find-links", str(wheelhouse), "absentdep"])
    run("init-download-inconsistent", [*init, "--find-links", str(odd), "odd==1.0"])
    index = [*pip, "index", "versions", "--no-input", "--disable-pip-version-check", "--no-index"]
    run("index-versions-found", [*index, "tinydep", "--find-links", str(wheelhouse)])
    run("index-versions-missing", [*index, "absentdep", "--find-links", str(wheelhouse)])


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
