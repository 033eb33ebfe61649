"""Manifest validation: every problem at once, with key path and YAML line; exit 2; no traceback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import jsonschema
import pytest

from venvrpm import manifest
from venvrpm.cli import main
from venvrpm.errors import ManifestError, UsageError

DATA = Path(__file__).parent / "data" / "manifests"
RESULT_SCHEMA = json.loads(
    (Path(__file__).parents[1] / "venvrpm" / "schema" / "result.schema.json").read_text()
)


def problems(name: str) -> list[str]:
    with pytest.raises(ManifestError) as info:
        manifest.load(DATA / name)
    return [str(p) for p in info.value.problems]


def test_good_manifest_becomes_frozen_dataclasses() -> None:
    m = manifest.load(DATA / "good.yaml")
    assert m.name == "smallapp"
    assert m.version == "1.10"  # YAML would have read the float 1.1
    assert m.release == "1"
    assert m.description == m.summary
    assert m.prefix == PurePosixPath("/opt/smallapp")
    assert m.python == PurePosixPath("/usr/bin/python3.11")
    assert m.project == (DATA / "project").resolve()
    assert m.requirements == (DATA / "requirements.lock").resolve()
    assert m.files[0].dest == PurePosixPath("/etc/smallapp/app.conf")
    assert m.files[0].config == "noreplace" and m.files[0].mode == 0o640
    assert m.requires == ("openssl", "tzdata >= 2024a")
    with pytest.raises(AttributeError):
        m.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "bad-unknown-key.yaml",
            [
                "line 1: nmae: unknown key 'nmae'; did you mean 'name'?",
                "line 1: 'name' is a required property",
                "line 10: files[0].cnofig: unknown key 'cnofig'; did you mean 'config'?",
            ],
        ),
        (
            "bad-types.yaml",
            [
                "line 7: entry_points: 'smallapp' is a string, expected array",
                "line 10: files[0].dest: 'relative/app.conf' is not allowed here",
                "line 11: files[0].config: 'yes please' is not allowed here: true or \"noreplace\"",
            ],
        ),
        (
            "bad-name-version.yaml",
            [
                "line 1: name: 'my app' is not allowed here: RPM Name.",
                "line 2: version: '1.0-1' is not allowed here",
                "line 3: release: '1 2' is not allowed here",
                "line 6: python: 'python3.11' is not allowed here",
            ],
        ),
        (
            "bad-missing-required.yaml",
            [
                "'license' is a required property",
                "'python' is a required property",
            ],
        ),
        (
            "bad-paths.yaml",
            [
                "line 7: project: 'no-such-dir' is not a directory",
                "line 8: prefix: '/opt' is a system directory",
                "line 11: files[0].dest: '/etc/../etc/smallapp.conf' must be absolute and normalised",
                "line 12: files[1].src: 'conf/nope.conf' is not a file",
                "line 15: files[2].dest: '/etc/smallapp//c.conf' must be absolute and normalised",
                "line 17: files[3].dest: '/etc' is a system directory",
                "line 19: files[4].dest: '/etc/smallapp/b.conf' is already the dest of files[1]",
            ],
        ),
        (
            "bad-overlap.yaml",
            [
                "line 10: files[0].dest: '/opt/smallapp/etc/app.conf' overlaps the virtualenv prefix",
                "line 12: files[1].dest: '/usr/bin/smallapp' is also an entry point link",
                "line 15: files[2].mode: '0666' is world-writable",
            ],
        ),
        ("bad-setuid.yaml", ["line 10: files[0].mode: '4755' is not allowed here"]),
        (
            "bad-requires.yaml",
            [
                "line 8: requires[0]: \"foo %{lua:os.execute('id')}\" is not an RPM dependency",
                "line 9: requires[1]: 'bar >= ' is not an RPM dependency",
                "line 10: requires[2]: 'baz\\n%post' holds a line break",
            ],
        ),
        (
            "bad-run-args.yaml",
            [
                "line 10: build.run_args[0]: '--privileged' is refused",
                "line 11: build.run_args[1]: '-v' is refused: a mount shows the host's files",
                "line 13: build.run_args[3]: '--volume=/:/h' is refused",
                "line 14: build.run_args[4]: '--entrypoint' is refused",
                "line 16: build.run_args[6]: '--pid=host' is refused",
                "line 17: build.run_args[7]: '--cap-add' is refused",
                "line 19: build.run_args[9]: '--frobnicate' is not an option venvrpm passes on",
                "line 25: build.run_args[15]: '--memory=2g --privileged': '2g --privileged' is "
                "not a value of --memory",
                "line 26: build.run_args[16]: 'rockylinux:8' is not an option",
                "line 27: build.run_args[17]: '--cpus' needs a value",
            ],
        ),
        ("bad-syntax.yaml", ["line 4: not valid YAML"]),
        ("bad-duplicate-key.yaml", ["line 5: name: key given twice"]),
        ("bad-empty.yaml", ["line 1: the manifest is empty"]),
        ("bad-not-mapping.yaml", ["is a list, expected object"]),
        ("bad-summary.yaml", ["line 3: summary: 'two\\nlines' holds a line break"]),
        ("bad-complex-key.yaml", ["line 2: key '(a collection)' is not a plain string"]),
        ("bad-null-key.yaml", ["line 2: key '~' is not a plain string"]),
        ("bad-recursive-alias.yaml", ["line 1: name[0]: YAML aliases (*name) are not allowed"]),
        ("bad-billion-laughs.yaml", ["YAML aliases (*name) are not allowed (72 in the document)"]),
        (
            "bad-odd-values.yaml",
            [
                "line 3: summary: '   ' is not allowed here",
                "line 5: python: '/usr/bin/python3.11, evil' is not allowed here",
            ],
        ),
        (
            "bad-newlines.yaml",
            [
                "line 1: name: 'smallapp\\n' holds a line break",
                "line 2: version: '1.0\\n' holds a line break",
                "line 3: summary: 'x\\n' holds a line break",
                "line 4: license: 'MIT\\n' holds a line break",
                "line 5: url: 'https://example.invalid/\\n' holds a line break",
                "line 6: group: 'Applications/System\\n' holds a line break",
                "line 9: requires[0]: 'openssl\\n' holds a line break",
                "line 11: user.name: 'svc\\n' holds a line break",
                "line 14: files[0].dest: '/usr/lib/systemd/system/smallapp.service\\n' holds a line",
                "line 16: services[0].unit: 'smallapp.service\\n' holds a line break",
            ],
        ),
        (
            "bad-control-chars.yaml",
            [
                "line 3: summary: 'red \\x1b[31malert' holds a control character ('\\x1b')",
                "line 5: vendor: 'Example\\x00Corp' holds a control character ('\\x00')",
                "line 6: packager: 'tab\\there' holds a control character ('\\t')",
                "line 12: lock.environments.'dev\\n': the key holds a line break",
                "line 15: description: 'two lines\\nand an escape \\x1b[2J' holds a control",
                "line 17: scripts.post: 'echo ok\\r\\n' holds a control character ('\\r')",
                "line 20: changelog[0].author: 'Ops\\u2028Team' holds a line break",
                "line 21: changelog[0].text: 'fine\\nbut \\x07 is not' holds a control character",
            ],
        ),
        (
            "bad-system-paths.yaml",
            [
                "line 9: files[0].dest: '/etc/passwd' belongs to the system's accounts",
                "line 11: files[1].dest: '/etc/ld.so.preload' belongs to the system's dynamic loader",
                "line 13: files[2].dest: '/usr/lib/python3.11/site-packages/evil.pth' lies in "
                "/usr/lib/python3.11, which belongs to the system's Python",
                "line 15: files[3].dest: '/root/x' is outside the directories where packages add",
                "line 17: files[4].dest: '/usr/bin/python3' belongs to the system's Python",
                "line 19: files[5].dest: '/etc/ssh/sshd_config.d/50-app.conf' lies in /etc/ssh, "
                "which belongs to the system's login and authentication",
                "line 21: files[6].dest: '/usr/lib64/libc.so.6' lies directly in /usr/lib64",
                "line 23: files[7].dest: '/var/lib/rpm/Packages' lies in /var/lib/rpm, which "
                "belongs to the package managers' databases",
                "line 25: files[8].dest: '/usr/local/bin/smallapp' is outside the directories",
                "line 27: files[9].dest: '/usr/sbin/sudo' belongs to the system's core tools",
                "line 29: dirs[0].path: '/etc' is a system directory",
                "line 30: dirs[1].path: '/usr/lib64/python3.11' belongs to the system's Python",
                "line 31: dirs[2].path: '/tmp/smallapp' is outside the directories where",
                "line 32: dirs[3].path: '/etc/pam.d' belongs to the system's login and authentication",
                "line 33: entry_points[0]: 'python3' would be /usr/bin/python3, which belongs to the "
                "system's Python",
            ],
        ),
        (
            "bad-src.yaml",
            [
                "line 8: files[0].src: '/etc/shadow' is outside the manifest's directory",
                "line 10: files[1].src: '../../test_manifest.py' is outside the manifest's",
            ],
        ),
        (
            "bad-host-paths.yaml",
            [
                "line 7: wheelhouse: 'wh\\x00eels' holds a control character ('\\x00')",
                "line 8: project: 'xxxxxxxx",
            ],
        ),
    ],
)
def test_bad_manifest_lists_every_problem_with_its_line(fixture: str, expected: list[str]) -> None:
    found = problems(fixture)
    for text in expected:
        assert any(text in p for p in found), f"{text!r} not in {found}"
    assert len(found) >= len(expected)


@pytest.mark.parametrize("fixture", sorted(p.name for p in DATA.glob("bad-*.yaml")))
def test_cli_reports_manifest_errors_with_exit_2_and_no_traceback(
    fixture: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(DATA / fixture)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "error:" in err and "hint:" in err
    assert fixture in err


def test_allowed_run_args_are_passed_on_as_given(tmp_path: Path) -> None:
    """Resource limits, ulimits, the runtime and the platform, as `--opt value` or `--opt=value`."""
    allowed = [
        "--memory", "2g", "--cpus=2", "--ulimit", "nofile=1024:1024", "--runtime", "runc",
        "--pids-limit=512", "--shm-size", "256m", "--memory-swap=-1", "--cpu-shares", "512",
        "--cpuset-cpus=0-1,3", "--platform", "linux/arm64",
    ]  # fmt: skip
    text = (DATA / "bad-run-args.yaml").read_text().split("  run_args:")[0]
    (tmp_path / "requirements.lock").write_text("")
    (tmp_path / "app.yaml").write_text(text + f"  run_args: {json.dumps(allowed)}\n")
    loaded = manifest.load(tmp_path / "app.yaml")
    assert loaded.build.run_args == tuple(allowed)


@pytest.mark.parametrize(
    "arg",
    ["--runtime=/tmp/evil", "--ulimit=nofile=1;id", "--network=host", "--env=A=B", "--mount",
     "--security-opt=seccomp=unconfined", "--user=0", "--device=/dev/sda", "--userns=host",
     "--tmpfs=/x", "--ipc=host", "--uts=host", "--", "-m"],
)  # fmt: skip
def test_refused_run_args(tmp_path: Path, arg: str) -> None:
    text = (DATA / "bad-run-args.yaml").read_text().split("  run_args:")[0]
    (tmp_path / "requirements.lock").write_text("")
    (tmp_path / "app.yaml").write_text(text + f"  run_args: [{json.dumps(arg)}, x]\n")
    with pytest.raises(ManifestError) as info:
        manifest.load(tmp_path / "app.yaml")
    assert any("line 9: build.run_args[0]" in str(p) for p in info.value.problems)


def test_symlink_loop_in_a_source_path(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "app.yaml").write_text(
        (DATA / "good.yaml")
        .read_text()
        .replace("src: conf/app.conf", "src: loop/x")
        .replace("project: project\n", "")
    )
    with pytest.raises(ManifestError) as info:
        manifest.load(tmp_path / "app.yaml")
    assert any(
        "files[0].src: 'loop/x' cannot be used: Symlink loop" in str(p) for p in info.value.problems
    )


def test_missing_manifest_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UsageError):
        manifest.load(tmp_path / "nope.yaml")
    assert main(["build", str(tmp_path / "nope.yaml"), "-o", str(tmp_path / "out")]) == 2
    assert "manifest not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_schema_command_prints_the_packaged_schema(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == manifest.schema()
    assert set(printed["required"]) == {
        "name",
        "version",
        "summary",
        "license",
        "python",
        "requirements",
    }


def test_all_manifest_v1_keys_are_in_the_schema() -> None:
    keys = set(manifest.schema()["properties"])
    assert keys >= {
        "name",
        "version",
        "release",
        "summary",
        "license",
        "description",
        "url",
        "python",
        "project",
        "requirements",
        "wheelhouse",
        "prefix",
        "entry_points",
        "files",
        "requires",
    }
    assert set(manifest.schema()["properties"]["files"]["items"]["properties"]) >= {
        "src",
        "dest",
        "config",
        "mode",
    }


def test_a_src_symlink_leading_outside_the_project_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("not yours")
    project = tmp_path / "app"
    project.mkdir()
    (project / "conf").mkdir()
    (project / "conf" / "app.conf").symlink_to(outside / "secret")
    (project / "r.lock").write_text("")
    (project / "app.yaml").write_text(
        "name: app\nversion: '1'\nsummary: s\nlicense: MIT\npython: /usr/bin/python3.11\n"
        "requirements: r.lock\nfiles:\n  - src: conf/app.conf\n    dest: /etc/app/app.conf\n"
    )
    with pytest.raises(ManifestError) as info:
        manifest.load(project / "app.yaml")
    assert any(
        "is a symlink leading outside" in p.message and p.line == 8 for p in info.value.problems
    )


def test_multi_line_text_is_accepted_where_it_belongs(tmp_path: Path) -> None:
    (tmp_path / "r.lock").write_text("")
    (tmp_path / "app.yaml").write_text(
        "name: app\nversion: '1'\nsummary: s\nlicense: MIT\npython: /usr/bin/python3.11\n"
        "requirements: r.lock\n"
        "description: |\n  First line.\n\n  \tIndented with a tab.\n"
        'scripts:\n  post: |\n    if [ "$1" = 1 ]; then\n    \techo installed\n    fi\n'
        "changelog:\n  - date: 2026-01-05\n    author: Ops <ops@example.invalid>\n"
        "    text: |\n      First.\n      Second line.\n"
    )
    m = manifest.load(tmp_path / "app.yaml")
    assert m.description == "First line.\n\n\tIndented with a tab.\n"
    assert m.scripts == (("post", 'if [ "$1" = 1 ]; then\n\techo installed\nfi\n'),)
    assert m.changelog[0].text == "First.\nSecond line.\n"


def test_a_src_inside_the_manifest_directory_may_use_dotdot(tmp_path: Path) -> None:
    shutil.copytree(DATA, tmp_path / "app")
    text = (tmp_path / "app" / "good.yaml").read_text()
    (tmp_path / "app" / "good.yaml").write_text(
        text.replace("src: conf/app.conf", "src: project/../conf/./app.conf")
    )
    m = manifest.load(tmp_path / "app" / "good.yaml")
    assert m.files[0].src == (tmp_path / "app" / "conf" / "app.conf").resolve()


@pytest.mark.parametrize(
    "dest",
    [
        "/etc/smallapp/app.conf",
        "/etc/cron.d/smallapp",
        "/etc/logrotate.d/smallapp",
        "/etc/systemd/system/smallapp.service.d/override.conf",
        "/usr/bin/smallapp-admin",
        "/usr/bin/pythonista",
        "/usr/lib/smallapp/helper",
        "/usr/lib/tmpfiles.d/smallapp.conf",
        "/usr/share/man/man1/smallapp.1.gz",
        "/var/lib/smallapp/state",
        "/srv/smallapp/index.html",
        "/opt/smallapp-data/x",
    ],
)
def test_an_application_may_add_files_where_packages_do(tmp_path: Path, dest: str) -> None:
    shutil.copytree(DATA, tmp_path / "app")
    text = (tmp_path / "app" / "good.yaml").read_text()
    (tmp_path / "app" / "good.yaml").write_text(text.replace("/etc/smallapp/app.conf", dest))
    assert str(manifest.load(tmp_path / "app" / "good.yaml").files[0].dest) == dest


def test_a_bad_manifest_with_json_prints_an_error_document_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(DATA, tmp_path / "app")
    bad = tmp_path / "app" / "app.yaml"
    bad.write_text((DATA / "good.yaml").read_text().replace("summary: Tiny", 'summary: "x\\n"\n#'))
    code = main(["build", str(bad), "-o", str(tmp_path / "dist"), "--json"])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err
    document = json.loads(captured.out)
    jsonschema.validate(document, RESULT_SCHEMA)
    assert document["ok"] is False and document["exit_code"] == 2
    assert any(
        "line 3: summary: 'x\\n' holds a line break" in d for d in document["error"]["details"]
    )
    assert not (tmp_path / "dist").exists()


def test_the_run_args_allowlist_is_documented() -> None:
    """The schema's description (hence docs/reference.md) and docs/containers.md name every
    option venvrpm passes on: the allowlist is the documentation."""
    schema = json.loads(
        (Path(manifest.__file__).parent / "schema" / "manifest.schema.json").read_text()
    )
    described = schema["properties"]["build"]["properties"]["run_args"]["description"]
    containers = (Path(__file__).parents[1] / "docs" / "containers.md").read_text()
    for option in manifest.RUN_ARGS:
        assert option in described and f"`{option}`" in containers, option


def _with_links(tmp_path: Path, links: str) -> Path:
    shutil.copytree(DATA, tmp_path / "app")
    path = tmp_path / "app" / "good.yaml"
    path.write_text(path.read_text() + "links:\n" + links)
    return path


def test_links_from_system_paths_into_the_prefix(tmp_path: Path) -> None:
    m = manifest.load(_with_links(tmp_path, (
        "  - {src: share/man/man1/smallapp.1, dest: /usr/share/man/man1/smallapp.1}\n"
        "  - {src: /opt/smallapp/share/bash-completion/completions/smallapp,\n"
        "     dest: /usr/share/bash-completion/completions/smallapp}\n"
    )))  # fmt: skip
    assert [(str(link.src), str(link.dest)) for link in m.links] == [
        ("share/man/man1/smallapp.1", "/usr/share/man/man1/smallapp.1"),
        ("share/bash-completion/completions/smallapp",
         "/usr/share/bash-completion/completions/smallapp"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("src", "dest", "expected"),
    [
        ("share/man/man1/x.1", "/etc/shadow", "belongs to"),
        ("share/man/man1/x.1", "/usr/share/man/man1", "system directory"),
        ("share/man/man1/x.1", "/usr/bin/python3", "belongs to"),
        ("share/man/man1/x.1", "/usr/share/man/../../../etc/passwd", "normalised"),
        ("share/man/man1/x.1", "/usr/share/man/man1/x\\n.1", "line break"),
        ("share/man/man1/x.1", "/opt/smallapp/x.1", "overlaps the virtualenv prefix"),
        ("share/man/man1/x.1", "/usr/bin/smallapp", "entry point link"),
        ("share/man/man1/x.1", "/etc/smallapp/app.conf", "files entry"),
        ("share/../../../etc/shadow", "/usr/share/man/man1/x.1", "normalised"),
        ("/etc/shadow", "/usr/share/man/man1/x.1", "not a path inside the prefix"),
        ("/opt/smallapp", "/usr/share/man/man1/x.1", "not a path inside the prefix"),
    ],
)
def test_bad_links_are_refused(tmp_path: Path, src: str, dest: str, expected: str) -> None:
    path = _with_links(tmp_path, f'  - {{src: "{src}", dest: "{dest}"}}\n')
    with pytest.raises(ManifestError) as caught:
        manifest.load(path)
    text = "\n".join(str(p) for p in caught.value.problems)
    assert expected in text and "links[0]" in text, text


def test_two_links_to_one_dest_are_refused(tmp_path: Path) -> None:
    path = _with_links(tmp_path, "  - {src: a, dest: /usr/share/man/man1/x.1}\n"
                                 "  - {src: b, dest: /usr/share/man/man1/x.1}\n")  # fmt: skip
    with pytest.raises(ManifestError) as caught:
        manifest.load(path)
    assert "already the dest of links[0]" in str([str(p) for p in caught.value.problems])


# --- version: {from: NAME} -------------------------------------------------------------------

_HASH = "--hash=sha256:" + "0" * 64


def _versioned(tmp_path: Path, version: str, lock: str | None) -> Path:
    if lock is not None:
        (tmp_path / "requirements.txt").write_text(lock)
    app = tmp_path / "app.yaml"
    app.write_text(
        f"name: zuul\nversion: {version}\nsummary: s\nlicense: MIT\n"
        "python: /usr/bin/python3\nrequirements: requirements.txt\n"
    )
    return app


def test_version_from_the_lock_is_the_locked_version_as_rpm_orders_it(tmp_path: Path) -> None:
    app = _versioned(tmp_path, "{from: Zuul}", f"zuul==12.0.0rc1 {_HASH}\nsix==1.16.0 {_HASH}\n")
    loaded = manifest.load(app)
    assert loaded.version == "12.0.0~rc1" and loaded.version_from == "zuul"
    manifest.require_version(loaded)  # resolved: nothing to say
    assert manifest.version_warning(loaded) is None


@pytest.mark.parametrize(
    ("lock", "why"),
    [
        (None, "requirements.txt does not exist yet: `venvrpm lock` writes it"),
        (f"six==1.16.0 {_HASH}\n", "requirements.txt does not pin zuul"),
        ("zuul>=1\n", "requirements.txt cannot be read"),
        (
            f"zuul==1.0 ; python_version < '3.12' {_HASH}\n"
            f"zuul==2.0 ; python_version >= '3.12' {_HASH}\n",
            "pins zuul at 1.0 and 2.0",
        ),
    ],
)
def test_an_unresolved_version_loads_but_never_builds(
    tmp_path: Path, lock: str | None, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _versioned(tmp_path, "{from: zuul}", lock)
    loaded = manifest.load(app)  # `venvrpm lock` must be able to load it to write the lock
    assert loaded.version == manifest.UNRESOLVED_VERSION
    with pytest.raises(ManifestError) as caught:
        manifest.require_version(loaded)
    assert caught.value.exit_code == 2
    assert why in caught.value.details[0] and caught.value.details[0].startswith("line 2:")
    if lock is not None and "zuul>=1" not in lock:
        assert main(["check", str(app)]) == 2
        assert why in capsys.readouterr().err


def test_version_from_is_a_name_and_nothing_else(tmp_path: Path) -> None:
    for bad in ("{form: zuul}", "{from: 'not a name'}", "{from: zuul, extra: 1}", "[1]"):
        with pytest.raises(ManifestError):
            manifest.load(_versioned(tmp_path, bad, f"zuul==1.0 {_HASH}\n"))


def test_a_hand_written_version_that_differs_from_the_locked_app_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _versioned(tmp_path, "'11.0'", f"zuul==12.0.0 {_HASH}\n")
    warning = manifest.version_warning(manifest.load(app))
    assert warning is not None
    assert "version 11.0 differs from zuul 12.0.0 in requirements.txt" in warning
    assert "version: {from: zuul}" in warning
    assert main(["check", str(app)]) == 0
    assert "warning: version 11.0 differs from zuul 12.0.0" in capsys.readouterr().err
    same = _versioned(tmp_path, "12.0.0", f"zuul==12.0.0 {_HASH}\n")
    assert manifest.version_warning(manifest.load(same)) is None


def test_the_plan_carries_the_locked_version_and_refuses_an_unresolved_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _versioned(tmp_path, "{from: zuul}", f"zuul==12.0.0rc1 {_HASH}\n")
    assert main(["build", str(app), "--dry-run", "-o", str(tmp_path / "dist")]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "12.0.0~rc1"
    (tmp_path / "requirements.txt").write_text(f"six==1.16.0 {_HASH}\n")
    assert main(["build", str(app), "--dry-run", "-o", str(tmp_path / "dist")]) == 2
    assert "requirements.txt does not pin zuul" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        # a dirs entry at the link's dest: the build would mkdir over the link (a traceback)
        (
            "dirs:\n  - {path: /var/lib/smallapp}\nlinks:\n  - {src: a, dest: /var/lib/smallapp}\n",
            "also a directory in dirs",
        ),
        # under a files dest, or a files dest under the link: one is the other's parent
        ("links:\n  - {src: a, dest: /etc/smallapp/app.conf/x}\n", "lies under"),
        ("links:\n  - {src: a, dest: /etc/smallapp}\n", "has /etc/smallapp/app.conf under it"),
        # one link under another: written through the first
        (
            "links:\n  - {src: a, dest: /usr/share/smallapp}\n"
            "  - {src: b, dest: /usr/share/smallapp/x}\n",
            "lies under",
        ),
        ("links:\n  - {src: a, dest: /usr/bin/smallapp/x}\n", "lies under"),
    ],
)
def test_links_that_overlap_other_paths_are_refused(
    tmp_path: Path, links: str, expected: str
) -> None:
    text = _problems_with(tmp_path, lambda good: good + links)
    assert expected in text and "links[" in text, text


def _problems_with(tmp_path: Path, edit: Callable[[str], str]) -> str:
    """The problems of good.yaml once *edit* has changed its text (it must have some)."""
    shutil.copytree(DATA, tmp_path / "app")
    path = tmp_path / "app" / "good.yaml"
    path.write_text(edit(path.read_text()))
    with pytest.raises(ManifestError) as caught:
        manifest.load(path)
    return "\n".join(str(p) for p in caught.value.problems)


def test_a_link_inside_an_owned_directory_is_fine(tmp_path: Path) -> None:
    shutil.copytree(DATA, tmp_path / "app")
    path = tmp_path / "app" / "good.yaml"
    path.write_text(path.read_text() + "dirs:\n  - {path: /var/lib/smallapp}\n"
                    "links:\n  - {src: a, dest: /var/lib/smallapp/current}\n")  # fmt: skip
    assert [str(link.dest) for link in manifest.load(path).links] == ["/var/lib/smallapp/current"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        # venvrpm's own generated files: a link over them made the build fail with the wrong blame
        (
            "links:\n  - {src: a, dest: /usr/share/doc/smallapp/sbom.cdx.json}\n",
            "venvrpm generates",
        ),
        (
            "links:\n  - {src: a, dest: /usr/share/doc/smallapp/bundled-distributions.json}\n",
            "venvrpm generates",
        ),
        ("links:\n  - {src: a, dest: /usr/share/doc/smallapp}\n", "venvrpm generates"),
        (
            "links:\n  - {src: a, dest: /usr/lib/systemd/system-preset/50-smallapp.preset}\n",
            "venvrpm generates",
        ),
        # a files entry there was silently overwritten by the generated file
        (
            "  - {src: conf/app.conf, dest: /usr/share/doc/smallapp/sbom.cdx.json}\n",
            "venvrpm generates",
        ),
        ("  - {src: conf/app.conf, dest: /usr/share/doc/smallapp}\n", "venvrpm generates"),
    ],
)
def test_files_and_links_over_what_venvrpm_generates_are_refused(
    tmp_path: Path, extra: str, expected: str
) -> None:
    def edit(good: str) -> str:
        if extra.startswith("links:"):
            return good + extra
        return good.replace("files:\n", "files:\n" + extra, 1)

    text = _problems_with(tmp_path, edit)
    assert expected in text, text
