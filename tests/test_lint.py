"""venvrpm lint: findings about bundled distributions' files are filtered, the package's stay."""

from __future__ import annotations

from venvrpm import lint

OUTPUT = """\
checks: 26, packages: 1

app.x86_64: E: zero-length /opt/app/lib/python3.11/site-packages/dep/empty.lock
app.x86_64: E: script-without-shebang /opt/app/lib/python3.11/site-packages/dep/a b.sh
app.x86_64: W: zero-length /etc/app/empty.conf
app.x86_64: E: no-changelogname-tag
 1 packages and 0 specfiles checked; 3 errors, 1 warnings, 3 badness; has taken 0.1 s
"""
BUNDLED = frozenset({
    "/opt/app/lib/python3.11/site-packages/dep/empty.lock",
    "/opt/app/lib/python3.11/site-packages/dep/a b.sh",
})  # fmt: skip


def test_findings_about_bundled_files_are_filtered_and_the_summary_recounted() -> None:
    result = lint.filter_output(OUTPUT, BUNDLED)
    assert "empty.lock" not in result.output and "a b.sh" not in result.output
    assert "W: zero-length /etc/app/empty.conf" in result.output
    assert "E: no-changelogname-tag" in result.output
    assert "1 errors, 1 warnings" in result.output
    assert result.kept_errors == 1
    assert len(result.filtered) == 2


def test_a_path_that_only_starts_like_a_bundled_one_stays() -> None:
    text = "app.x86_64: E: zero-length /opt/app/lib/python3.11/site-packages/dep/empty.lockx\n"
    assert lint.filter_output(text, BUNDLED).kept_errors == 1
