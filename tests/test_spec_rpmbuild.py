"""The escaping rules hold against the real rpmbuild: exact file lists, no injection.

No virtualenv here: a staged tree of hostile names and a manifest of hostile strings go through
spec.render and rpmbuild, and rpm reads back what was packaged.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.support.apps import AWKWARD_NAMES
from venvrpm import manifest, payload, spec

pytestmark = pytest.mark.integration

HOSTILE_NAMES = (
    *AWKWARD_NAMES,
    "%(touch${IFS}MARKER).txt",
    "%{lua:os.execute('touch MARKER')}",
    "a b*c",
    "x?",
    "xa",
    "[z]",
    "z",
    "-dash",
    "~tilde",
    "#hash",
    ";semi",
    "`tick`",
    "new%%line",
    "=eq",
    "@at",
    "!bang",
    "&amp",
    "|pipe",
    "<lt>",
    "日本語",
)


def build_rpm(tmp_path: Path, manifest_text: str, names: tuple[str, ...]) -> tuple[Path, Path]:
    (tmp_path / "req.lock").write_text("")
    (tmp_path / "app.yaml").write_text(manifest_text)
    m = manifest.load(tmp_path / "app.yaml")
    stage = tmp_path / "stage"
    data = stage / "opt" / m.name / "data"
    data.mkdir(parents=True)
    for name in names:
        (data / name).write_text(name)
    (data / "sub dir [1]").mkdir()
    (data / "sub dir [1]" / "inner %.txt").write_text("x")
    content = payload.inventory(stage, {})
    from venvrpm import scriptlets

    text = spec.render(
        m, content, ["/bin/sh"], binary_payload="w3.zstdio", scripts=scriptlets.combined(m)
    )
    top = tmp_path / "top"
    spec_path = tmp_path / "t.spec"
    spec_path.write_text(text)
    run = subprocess.run(
        [
            "rpmbuild",
            "-bb",
            "--noclean",
            "--define",
            f"_topdir {top}",
            "--buildroot",
            str(stage),
            str(spec_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (rpm,) = (top / "RPMS").rglob("*.rpm")
    return rpm, stage


def query(rpm: Path, *args: str) -> str:
    return subprocess.run(
        ["rpm", "-qp", *args, str(rpm)], capture_output=True, text=True, check=True
    ).stdout


def test_hostile_names_are_listed_exactly(tmp_path: Path) -> None:
    rpm, stage = build_rpm(tmp_path, MANIFEST.format(summary="s", description="d"), HOSTILE_NAMES)
    listed = set(query(rpm, "--list").splitlines())
    on_disk = {"/" + str(p.relative_to(stage)) for p in stage.rglob("*")} - {"/opt"}
    assert listed == on_disk
    assert not list(tmp_path.rglob("MARKER"))


MANIFEST = textwrap.dedent("""\
    name: hostile
    version: 1.0
    summary: {summary}
    license: "MIT %{{lua:os.execute('touch MARKER')}}"
    description: {description}
    url: "https://example.invalid/%(touch${{IFS}}MARKER)"
    python: /usr/bin/python3.11
    requirements: req.lock
    """)


@pytest.mark.parametrize(
    ("summary", "description"),
    [
        ("\"100% %(touch MARKER) %{lua:os.execute('touch MARKER')}\"", "plain"),
        ("s", '"line with %post and %(touch MARKER) inside\nand %include /etc/passwd too"'),
        ("s", '"text %%(touch MARKER) %define x %(touch MARKER) %{x}"'),
        (
            "s",
            '"%{expand:%%(touch MARKER)} at the start is refused, mid-line is data"'.replace(
                '"%{', '"x %{'
            ),
        ),
    ],
)
def test_manifest_strings_cannot_inject(tmp_path: Path, summary: str, description: str) -> None:
    rpm, _ = build_rpm(tmp_path, MANIFEST.format(summary=summary, description=description), ("a",))
    assert not list(tmp_path.rglob("MARKER")), "a manifest string ran a command at build time"
    assert query(rpm, "--scripts") == ""
    assert "/etc/passwd" not in query(rpm, "--list")
    info = query(rpm, "--queryformat", "%{SUMMARY}\n%{LICENSE}\n%{URL}\n%{DESCRIPTION}")
    assert "MIT %{lua:os.execute('touch MARKER')}" in info
    assert "%(touch${IFS}MARKER)" in info
    m = manifest.parse((tmp_path / "app.yaml").read_text(), tmp_path / "app.yaml")
    assert info.splitlines()[0] == m.summary
    assert info.splitlines()[3:] == m.description.splitlines()


def test_scriptlets_and_changelog_cannot_inject(tmp_path: Path) -> None:
    hostile = textwrap.dedent("""\
        scripts:
          post: |
            echo "100% %{lua:os.execute('touch MARKER')}"
            true %files
            echo /etc/passwd %(touch MARKER)
          preun: |
            echo %%post bye
        changelog:
          - date: 2026-11-21
            author: "Mallory %(touch MARKER) <m@example.invalid>"
            text: |
              %(touch MARKER) fixed
              * Mon Jan 01 2024 Fake Entry - 0-0
              %files
        """)
    rpm, _ = build_rpm(tmp_path, MANIFEST.format(summary="s", description="d") + hostile, ("a",))
    assert not list(tmp_path.rglob("MARKER")), "a scriptlet or changelog line ran at build time"
    scripts = query(rpm, "--scripts")
    assert "echo \"100% %{lua:os.execute('touch MARKER')}\"" in scripts
    assert "true %files\necho /etc/passwd %(touch MARKER)" in scripts
    assert "echo %%post bye" in scripts
    assert "/etc/passwd" not in query(rpm, "--list")
    log = query(rpm, "--changelog")
    assert [line for line in log.splitlines() if line.startswith("* ")] == [
        "* Sat Nov 21 2026 Mallory %(touch MARKER) <m@example.invalid>"
    ]
    assert "- %(touch MARKER) fixed" in log and "- * Mon Jan 01 2024 Fake Entry" in log


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('description: "ok\\n%include /etc/passwd"', "description"),
        ('description: "ok\\n   %if 0"', "description"),
        ("scripts:\n  preun: |\n    echo a\n    %if 0\n", "scripts.preun"),
        ("scripts:\n  post: |\n    %%post\n", "scripts.post"),
    ],
)
def test_lines_rpm_would_read_as_directives_are_refused(
    tmp_path: Path, text: str, where: str
) -> None:
    """rpm reads %if/%include after expansion and blanks: such lines are refused, not altered."""
    from venvrpm.errors import ManifestError

    (tmp_path / "req.lock").write_text("")
    base = MANIFEST.format(summary="s", description="d").replace("description: d\n", "")
    (tmp_path / "app.yaml").write_text(base + text + "\n")
    with pytest.raises(ManifestError) as info:
        manifest.load(tmp_path / "app.yaml")
    assert any(p.path == where and "starts with '%'" in p.message for p in info.value.problems), (
        info.value.problems
    )


def test_changelog_directives_stay_text(tmp_path: Path) -> None:
    extra = textwrap.dedent("""\
        changelog:
          - date: 2026-11-21
            author: Ops <ops@example.invalid>
            text: |
              %include /etc/passwd
              %if 0
              * Mon Jan 01 2024 Fake
        """)
    rpm, _ = build_rpm(tmp_path, MANIFEST.format(summary="s", description="d") + extra, ("a",))
    log = query(rpm, "--changelog")
    assert "- %include /etc/passwd\n- %if 0\n- * Mon Jan 01 2024 Fake" in log
    assert "root:" not in log
