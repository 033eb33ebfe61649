"""venvrpm lint: findings about bundled distributions' files are filtered, the package's stay."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from venvrpm import lint, manifest

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


SITE = "./opt/app/lib/python3.11/site-packages"


def test_only_paths_inside_the_venv_of_a_dist_info_are_bundled() -> None:
    # the RPM is untrusted (docs/security.md): its RECORDs may name any path
    record = "\n".join([
        "dep/x.py,sha256=a,1", "../../../bin/dep,sha256=b,2", "../../../share/man/man1/dep.1,,",
        "../../../../../../usr/bin/x,sha256=c,3", "/usr/bin/y,,", "../../../../bin/z,,",
        "dep/../../../../../../etc/shadow,,", "../../..,,",
    ])  # fmt: skip
    members = {
        f"{SITE}/dep-1.0.dist-info/RECORD": record,
        # a dist-info whose "venv" is a system directory
        "./usr/lib/python3.11/site-packages/evil-1.0.dist-info/RECORD": "../../../bin/evil,,",
        "./usr/lib/python3/dist-packages/odd-1.0.dist-info/RECORD": "odd.py,,",
    }
    assert lint.record_paths(members) == frozenset({
        "/opt/app/lib/python3.11/site-packages/dep/x.py", "/opt/app/bin/dep",
        "/opt/app/share/man/man1/dep.1",
    })  # fmt: skip


def test_security_findings_are_never_filtered() -> None:
    path = "/opt/app/lib/python3.11/site-packages/dep/tool"
    checks = ["setuid-binary", "setgid-binary", "world-writable", "non-standard-executable-perm",
              "non-standard-dir-perm", "dangling-symlink", "dangling-relative-symlink",
              "strange-permission", "non-standard-uid", "executable-stack"]  # fmt: skip
    text = "".join(f"app.x86_64: E: {check} {path} 04755\n" for check in checks)
    result = lint.filter_output(text, frozenset({path}))
    assert result.filtered == () and result.kept_errors == len(checks)


@pytest.mark.parametrize(
    ("returncode", "kept_errors", "failed"),
    [
        (0, 0, False),
        (64, 0, False),  # every error was about bundled files
        (65, 0, False),  # errors promoted from warnings, all filtered
        (64, 1, True),
        (66, 0, True),  # the badness threshold was exceeded
        (3, 0, True),  # rpmlint could not read the package
        (1, 0, True),  # rpmlint crashed
        (2, 0, True),  # a usage error
    ],
)
def test_lint_fails_on_kept_errors_and_on_any_rpmlint_failure(
    returncode: int, kept_errors: int, failed: bool
) -> None:
    assert lint.failed(returncode, kept_errors) is failed


def test_duplicated_waste_is_filtered_only_when_every_duplicate_is_a_bundled_file() -> None:
    site = "/opt/app/lib/python3.11/site-packages"
    listing = "\n".join([
        f"aa\t5000\t-rw-r--r--\t{site}/a-1.0.dist-info/LICENSE",
        f"aa\t5000\t-rw-r--r--\t{site}/b-1.0.dist-info/LICENSE",
        f"bb\t9000\t-rw-r--r--\t{site}/b/vendored.py",
        "\t0\tdrwxr-xr-x\t/opt/app",
        "\t0\tdrwxr-xr-x\t/opt/app/bin",
        "cc\t0\t-rw-r--r--\t/etc/app/empty-a",
        "cc\t0\t-rw-r--r--\t/etc/app/empty-b",
    ])  # fmt: skip
    bundled = frozenset({f"{site}/a-1.0.dist-info/LICENSE", f"{site}/b-1.0.dist-info/LICENSE"})
    assert lint.waste_is_bundled(listing, bundled)
    # one copy is the package's own: the finding stays
    own = listing + "\naa\t5000\t-rw-r--r--\t/usr/share/doc/app/LICENSE"
    assert not lint.waste_is_bundled(own, bundled)
    # nothing duplicated: nothing to filter
    assert not lint.waste_is_bundled(f"aa\t5000\t-rw-r--r--\t{site}/x", bundled)

    output = "app.x86_64: E: files-duplicated-waste 5000\n 1 packages; 1 errors, 0 warnings\n"
    assert lint.filter_output(output, bundled, frozenset({"app.x86_64"})).kept_errors == 0
    assert lint.filter_output(output, bundled, frozenset({"other.x86_64"})).kept_errors == 1


def test_a_record_in_a_system_directory_filters_nothing() -> None:
    # the red team's RPM: a "venv" at /etc/cron.d, whose RECORD names the cron job next to it
    members = {
        "./etc/cron.d/lib/python3.11/site-packages/x-1.dist-info/RECORD": (
            "../../../evil,,\n../../../../../../usr/bin/evilbin,,\n"
        ),
        "./etc/lib/python3.11/site-packages/y-1.0.dist-info/RECORD": "../../../cron.d/a,,",
        "./usr/local/lib/python3.11/site-packages/z-1.0.dist-info/RECORD": "../../../bin/z,,",
    }
    assert lint.record_paths(members) == frozenset()


@pytest.mark.parametrize("prefix", ["/etc/cron.d", "/etc/systemd", "/usr/local", "/opt", "/srv"])
def test_the_venv_prefix_follows_the_manifests_rule(prefix: str) -> None:
    assert manifest.prefix_refusal(PurePosixPath(prefix)) is not None
    assert (
        lint.record_paths({f".{prefix}/lib/python3.11/site-packages/x.dist-info/RECORD": "a,,"})
        == frozenset()
    )


def test_only_findings_of_checks_harmless_for_wheel_files_are_filtered() -> None:
    path = "/opt/app/lib/python3.11/site-packages/dep/tool"
    kept = ["executable-crontab-file", "symlink-crontab-file", "missing-PT_GNU_STACK-section",
            "setuid-binary", "non-standard-executable-perm", "dangling-symlink",
            "executable-stack", "pem-private-key", "some-check-rpmlint-adds-tomorrow",
            "shlib-with-non-pic-code", "binary-in-etc"]  # fmt: skip
    text = "".join(f"app.x86_64: E: {check} {path} 04755\n" for check in kept)
    result = lint.filter_output(text, frozenset({path}))
    assert result.filtered == () and result.kept_errors == len(kept)
    # what real apps' wheels produce (httpie's RPM) is filtered
    harmless = ["zero-length", "script-without-shebang", "non-executable-script",
                "hidden-file-or-dir", "devel-file-in-non-devel-package"]  # fmt: skip
    text = "".join(f"app.x86_64: E: {check} {path}\n" for check in harmless)
    assert len(lint.filter_output(text, frozenset({path})).filtered) == len(harmless)
