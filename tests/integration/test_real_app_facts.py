"""What a release engineer reads about a real app: lint, counts, man pages (issue 17).

One build of the test application with a third-party wheel like real ones (a zero-length
``.lock``, an executable script without a shebang, a man page in its data), a man page linked
into /usr/share/man and a zero-length file of the package's own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import target, tinybackend
from tests.support.apps import make_smallapp, sha256
from venvrpm.cli import main

pytestmark = pytest.mark.integration

MAN = "share/man/man1/lintbait.1"
SITE = "/opt/smallapp/lib/python3.11/site-packages"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    root = tmp_path_factory.mktemp("facts")
    manifest = make_smallapp(
        root,
        extra_files="  - src: conf/empty.conf\n    dest: /etc/smallapp/empty.conf\n",
        extra_manifest=f"links:\n  - src: {MAN}\n    dest: /usr/share/man/man1/lintbait.1\n",
    )
    (root / "conf" / "empty.conf").write_text("")
    wheel = tinybackend.write_wheel(
        root / "wheels", "lintbait", "1.0",
        {"lintbait/__init__.py": "", "lintbait/empty.lock": "", "lintbait/run.sh": "echo hi\n",
         f"lintbait-1.0.data/data/{MAN}": ".TH LINTBAIT 1\n.SH NAME\nlintbait\n"},
        modes={"lintbait/run.sh": 0o755},
    )  # fmt: skip
    with (root / "requirements.lock").open("a") as lock:
        lock.write(f"lintbait==1.0 \\\n    --hash=sha256:{sha256(wheel)}\n")
    out = root / "out.json"
    with out.open("w") as stdout:
        code = subprocess.run(
            [sys.executable, "-m", "venvrpm", "build", str(manifest), "-o", str(root / "dist"), "--json"],
            stdout=stdout, cwd=Path(__file__).parents[2], check=False,
        ).returncode  # fmt: skip
    assert code == 0, out.read_text()
    (rpm,) = (root / "dist").glob("*.rpm")
    return rpm, json.loads(out.read_text())


def test_the_build_counts_what_rpm_lists(built: tuple[Path, dict[str, object]]) -> None:
    rpm, document = built
    listed = subprocess.run(["rpm", "-qpl", str(rpm)], capture_output=True, text=True, check=True)
    requires = subprocess.run(
        ["rpm", "-qpR", str(rpm)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert document["files"] == len(listed.stdout.splitlines())
    assert document["requires"] == [r.strip() for r in requires]
    assert any(r.startswith("rpmlib(") for r in requires)


def test_lint_filters_bundled_files_and_keeps_the_packages_own(
    built: tuple[Path, dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    rpm, _ = built
    capsys.readouterr()
    code = main(["lint", "--show-filtered", str(rpm)])
    captured = capsys.readouterr()
    shown, notes = captured.out, captured.err
    out = shown + notes
    assert f"{SITE}/lintbait/empty.lock" not in shown, out
    assert f"{SITE}/lintbait/run.sh" not in shown, out
    assert f"filtered: smallapp.x86_64: E: zero-length {SITE}/lintbait/empty.lock" in out, out
    assert "findings about files of bundled distributions filtered" in notes
    # the package's own file and tags are still reported
    assert "zero-length /etc/smallapp/empty.conf" in shown, out
    assert "no-changelogname-tag" in shown, out
    # that error of the package's own is left: lint fails on it, filtered findings or not
    assert code == 1, out


def test_a_linked_man_page_resolves_verifies_and_is_erased(
    built: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    rpm, _ = built
    root = target.fresh_root(tmp_path / "root")
    before = target.snapshot(root)
    target.rpm(root, "-i", str(rpm))
    link = root / "usr/share/man/man1/lintbait.1"
    assert link.is_symlink()
    resolved = target.chroot(root, "/bin/cat", "/usr/share/man/man1/lintbait.1")
    assert ".TH LINTBAIT 1" in resolved.stdout
    assert "/usr/share/man/man1/lintbait.1" in target.rpm(root, "-ql", "smallapp").stdout
    verify = target.rpm(root, "-V", "smallapp", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    target.rpm(root, "-e", "smallapp")
    assert not link.is_symlink()
    assert target.snapshot(root) == before
