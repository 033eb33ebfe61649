"""venvrpm.inspect: parsing recorded ``rpm -qp --queryformat`` output, the report, the rendering."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pytest

from venvrpm import inspect, pydists
from venvrpm.cli import main
from venvrpm.console import SCRIPTLET_LINES, Console, human_size, render_inspection, terminal_safe
from venvrpm.errors import EXIT_BUILD_FAILED, EXIT_USAGE, ToolMissingError, UsageError, VenvrpmError
from venvrpm.runner import Result

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "venvrpm" / "schema" / "inspect.schema.json").read_text()
)

# Recorded with rpm 4.18 from a hand-written spec (rpmbuild -bb): an epoch, no URL, a %post
# with quotes and two lines, Lua scriptlets, a bundled Provides but no bundled list.
FOREIGN = (
    "@header ='foreign' =1 ='2.1' ='3' ='noarch' ='Not from venvrpm' ='GPL-2.0-or-later' ! "
    "=1795301606 ='vm' =9 ='gzip' ='foreign-2.1-3.src.rpm'\n"
    "@signatures ! ! ! !\n"
    "@files\n"
    "=0 =16877 ='/usr/lib/python3.11/site-packages/foo'\n"
    "=6 =33188 ='/usr/lib/python3.11/site-packages/foo/__init__.py'\n"
    "=3 =33188 ='/usr/share-foreign.txt'\n"
    "@requires\n"
    "='/bin/sh' =1280 =''\n"
    "='/usr/bin/lua' =4352 =''\n"
    "='python(abi)' =16392 ='3.11'\n"
    "='rpmlib(CompressedFileNames)' =16777226 ='3.0.4-1'\n"
    "@provides\n"
    "='bundled(python3dist(six))' =8 ='1.16.0'\n"
    "='foreign' =8 ='1:2.1-3'\n"
    "@scriptlet:pretrans ='print(\"pre\")' ='<lua>' \n"
    "@scriptlet:pre ! \n"
    "@scriptlet:post ='echo \"installed '\\''quoted'\\'' $1\"\necho line2' ='/bin/sh' \n"
    "@scriptlet:preun ! \n"
    "@scriptlet:postun ='print(\"bye\")' ='/usr/bin/lua' \n"
    "@scriptlet:posttrans ! \n"
    "@scriptlet:verifyscript ! \n"
)

SITE = "/opt/smallapp/lib/python3.11/site-packages"
# Recorded from the test application (tests/support/apps.py) signed with rpmsign, files trimmed.
SMALLAPP = (
    "@header ='smallapp' ! ='1.0.0' ='1' ='x86_64' ='Tiny CLI with 100% awkward %{names}' "
    "='MIT' ='https://example.invalid/smallapp' =1795301478 ='reproducible' =79719 ='zstd' "
    "='smallapp-1.0.0-1.src.rpm'\n"
    '@signatures ="RSA/SHA512, Sat Nov 21 22:54:00 2026, Key ID da4566d69df639a9" ! ! !\n'
    "@files\n"
    "=0 =16877 ='/opt/smallapp'\n"
    "=6694 =33188 ='/opt/smallapp/bin/activate'\n"
    "=19 =41471 ='/opt/smallapp/bin/python'\n"
    "=163 =33261 ='/opt/smallapp/bin/smallapp'\n"
    f"=0 =16877 ='{SITE}/awkward_data'\n"
    f"=100 =33188 ='{SITE}/awkward_data/__init__.py'\n"
    f"=15 =33188 ='{SITE}/awkward_data/data/[brackets].txt'\n"
    f"=13 =33188 ='{SITE}/awkward_data/data/it'\\''s.txt'\n"
    f"=19 =33188 ='{SITE}/awkward_data/data/ leading space.txt'\n"
    f"=54 =33188 ='{SITE}/awkward_data-1.0.dist-info/METADATA'\n"
    f"=1200 =33261 ='{SITE}/tinynative/_core.so'\n"
    f"=15024 =33261 ='{SITE}/tinynative.libs/libtiny-1a2b3c4d.so.1'\n"
    f"=213 =33188 ='{SITE}/tinydep/__init__.py'\n"
    "=1000 =33188 ='/usr/share/doc/smallapp/bundled-distributions.json'\n"
    "@requires\n"
    "='/usr/bin/python3.11' =0 =''\n"
    "='python(abi)' =8 ='3.11'\n"
    "@provides\n"
    "='bundled(python3dist(awkward-data))' =8 ='1.0'\n"
    "='bundled(python3dist(tinydep))' =8 ='1.0'\n"
    "='bundled(python3dist(tinynative))' =8 ='1.0'\n"
    "='smallapp' =8 ='1.0.0-1'\n"
    "@scriptlet:pretrans ! \n@scriptlet:pre ! \n@scriptlet:post ! \n@scriptlet:preun ! \n"
    "@scriptlet:postun ! \n@scriptlet:posttrans ! \n@scriptlet:verifyscript ! \n"
)

DISTRIBUTIONS = (
    pydists.Distribution("awkward-data", "1.0", "lock", ("sha256:" + "a" * 64,)),
    pydists.Distribution("tinydep", "1.0", "lock", ("sha256:" + "b" * 64,)),
    pydists.Distribution("tinynative", "1.0", "venv", ()),
)
DOCUMENT = pydists.document("smallapp", "/usr/bin/python3.11", DISTRIBUTIONS)


def smallapp_report(document: str | None = DOCUMENT, **kwargs: str) -> inspect.Inspection:
    return inspect.report(
        Path("dist/smallapp-1.0.0-1.x86_64.rpm"), inspect.parse_query(SMALLAPP),
        file_size=37706, sha256="d" * 64, document=document, **kwargs,
    )  # fmt: skip


def test_foreign_header_is_parsed_whole() -> None:
    header = inspect.parse_query(FOREIGN)
    assert (header.name, header.epoch, header.version, header.release, header.arch) == (
        "foreign", 1, "2.1", "3", "noarch",
    )  # fmt: skip
    assert header.url is None and header.signatures == ()
    assert (header.build_time, header.size, header.payload_compressor) == (1795301606, 9, "gzip")
    assert [str(d) for d in header.requires] == [
        "/bin/sh", "/usr/bin/lua", "python(abi) = 3.11", "rpmlib(CompressedFileNames) <= 3.0.4-1",
    ]  # fmt: skip
    assert [str(d) for d in header.provides] == [
        "bundled(python3dist(six)) = 1.16.0", "foreign = 1:2.1-3",
    ]  # fmt: skip
    assert [(s.name, s.interpreter, s.body) for s in header.scriptlets] == [
        ("pretrans", "<lua>", 'print("pre")'),
        ("post", "/bin/sh", "echo \"installed 'quoted' $1\"\necho line2"),
        ("postun", "/usr/bin/lua", 'print("bye")'),
    ]


def test_awkward_file_names_and_the_signature_survive() -> None:
    header = inspect.parse_query(SMALLAPP)
    paths = [f.path for f in header.files]
    assert f"{SITE}/awkward_data/data/it's.txt" in paths
    assert f"{SITE}/awkward_data/data/ leading space.txt" in paths
    assert header.summary == "Tiny CLI with 100% awkward %{names}"
    assert header.epoch is None
    assert inspect.key_ids(header.signatures) == ("da4566d69df639a9",)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("@s =''", [""]),  # an empty value is not an absent tag
        ("@s !", [None]),
        ("@s ='a b'\\''c' =12", ["a b'c", "12"]),
        ('@s ="RSA/SHA256, Key ID 01"', ["RSA/SHA256, Key ID 01"]),
        ("@s ='=@x' ='line\nline'", ["=@x", "line\nline"]),
    ],
)
def test_tokens(output: str, expected: list[str | None]) -> None:
    assert inspect.tokens(output) == {"s": expected}


@pytest.mark.parametrize("output", ["before @s", "@s unquoted", "@header ='only one'"])
def test_unreadable_rpm_output_is_an_error_not_a_traceback(output: str) -> None:
    with pytest.raises(VenvrpmError, match="rpm's answer"):
        inspect.parse_query(output)


def test_query_format_asks_for_every_section() -> None:
    text = inspect.query_format()
    for marker in ("@header", "@signatures", "@files", "@requires", "@provides"):
        assert marker in text
    assert all(f"@scriptlet:{name} " in text for name, _ in inspect.SCRIPTLETS)
    argv = inspect.query_argv("/usr/bin/rpm", Path("/x/a.rpm"))
    assert argv[:3] == ["/usr/bin/rpm", "-qp", "--queryformat"] and argv[-1] == "/x/a.rpm"


def test_sizes_per_top_level_name_largest_first() -> None:
    sizes, other = inspect.package_sizes(inspect.parse_query(SMALLAPP).files)
    assert [(s.name, s.size, s.files) for s in sizes] == [
        ("tinynative.libs", 15024, 1),
        ("tinynative", 1200, 1),
        ("tinydep", 213, 1),
        ("awkward_data", 147, 4),
        ("awkward_data-1.0.dist-info", 54, 1),
    ]
    # regular files only: the directory and the bin/python symlink are not counted
    assert (other.size, other.files) == (6694 + 163 + 1000, 3)


def test_sizes_of_lib64_and_files_at_the_top_of_site_packages() -> None:
    entries = [
        inspect.FileEntry(path="/usr/lib64/python3.12/site-packages/_cffi.so", size=7, mode=0o100755),
        inspect.FileEntry(path="/usr/lib64/python3.12/site-packages/cffi/a.py", size=5, mode=0o100644),
        inspect.FileEntry(path="/usr/lib/python3.12/site-packages/cffi/b.py", size=5, mode=0o100644),
    ]  # fmt: skip
    sizes, other = inspect.package_sizes(entries)
    assert [(s.name, s.size) for s in sizes] == [("cffi", 10), ("_cffi.so", 7)]
    assert (other.size, other.files) == (0, 0)


def test_the_shipped_list_reads_back_what_bundled_writes() -> None:
    interpreter, found = inspect.parse_bundled_document(DOCUMENT)
    assert interpreter == "/usr/bin/python3.11"
    assert [(d.name, d.version, d.origin, d.hashes) for d in found] == [
        (d.name, d.version, d.origin, d.hashes) for d in DISTRIBUTIONS
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "Expecting value"),
        ("[]", "no distributions list"),
        ('{"distributions": [1]}', r"distributions\[0\] is not an object"),
        ('{"distributions": [{"name": "a"}]}', "no name or version"),
        ('{"distributions": [{"name": "a", "version": "1", "hashes": [1]}]}', "hashes"),
        ('{"distributions": [{"name": "a", "version": "1", "origin": 2}]}', "origin"),
    ],
)
def test_a_bad_shipped_list_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        inspect.parse_bundled_document(text)


def test_bundled_provides() -> None:
    provides = inspect.parse_query(FOREIGN).provides
    assert inspect.bundled_from_provides(provides) == (
        inspect.BundledDistribution(name="six", version="1.16.0", origin=None, hashes=()),
    )


def test_a_venvrpm_rpm_reports_its_shipped_list() -> None:
    found = smallapp_report()
    assert found.built_by_venvrpm and found.bundled_source == "payload"
    assert found.interpreter == "/usr/bin/python3.11"
    assert [d.origin for d in found.bundled] == ["lock", "lock", "venv"]
    assert found.notes == ()
    document = found.to_json()
    jsonschema.validate(document, SCHEMA)
    assert document["signature"] == {
        "key_id": "da4566d69df639a9",
        "key_ids": ["da4566d69df639a9"],
        "descriptions": ["RSA/SHA512, Sat Nov 21 22:54:00 2026, Key ID da4566d69df639a9"],
    }
    assert document["metadata"]["build_time_utc"] == "2026-11-21 22:51:18 UTC"  # type: ignore[index]


def test_a_foreign_rpm_gets_the_generic_parts_and_a_note() -> None:
    found = inspect.report(
        Path("foreign.rpm"), inspect.parse_query(FOREIGN), file_size=1, sha256="0" * 64,
        document=None,
    )  # fmt: skip
    assert not found.built_by_venvrpm and found.bundled_source == "provides"
    assert [d.name for d in found.bundled] == ["six"]
    (note,) = found.notes
    assert note.startswith("not built by venvrpm: it ships no /usr/share/doc/foreign/")
    document = found.to_json()
    jsonschema.validate(document, SCHEMA)
    assert document["signature"] is None
    assert document["scriptlets"][1]["body"] == "echo \"installed 'quoted' $1\"\necho line2"  # type: ignore[index]


def test_a_source_rpm_is_noted_as_such() -> None:
    header = inspect.parse_query(FOREIGN.replace(" ='foreign-2.1-3.src.rpm'", " !"))
    assert header.source_rpm is None
    found = inspect.report(Path("f.src.rpm"), header, file_size=1, sha256="0" * 64, document=None)
    assert found.notes == (
        "a source RPM: the bundled list and the sizes are those of its sources; "
        "inspect the binary RPM it builds",
    )


def test_a_list_that_disagrees_with_the_provides_is_noted() -> None:
    extra = (*DISTRIBUTIONS, pydists.Distribution("sneaky", "6.6", "venv", ()))
    found = smallapp_report(pydists.document("smallapp", "/usr/bin/python3.11", extra))
    assert found.notes == (
        "the shipped list and the Provides disagree: "
        "only in the list: sneaky 6.6; only in the Provides: -",
    )


def test_an_unreadable_list_falls_back_to_the_provides() -> None:
    found = smallapp_report("{broken")
    assert found.bundled_source == "provides" and len(found.bundled) == 3
    assert "bundled-distributions.json cannot be read" in found.notes[0]
    unread = smallapp_report(None, payload_problem="cpio not installed")
    assert unread.bundled_source == "provides"
    assert unread.notes == (
        "/usr/share/doc/smallapp/bundled-distributions.json could not be read from the payload: "
        "cpio not installed; the bundled list is from the Provides",
    )


@dataclass
class CannedRunner:
    """Answers from recorded output; records each command."""

    answers: Mapping[str, Callable[[Sequence[str]], Result]]
    tools: Mapping[str, str | None]
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def which(self, program: str) -> str | None:
        return self.tools.get(program, f"/usr/bin/{program}")

    def run(self, argv: Sequence[str], *, what: str, check: bool = True, **_: object) -> Result:
        self.calls.append(tuple(argv))
        return self.answers[Path(argv[0]).name](argv)


def answer(stdout: str, returncode: int = 0, stderr: str = "") -> Callable[[Sequence[str]], Result]:
    return lambda argv: Result(tuple(argv), returncode, stdout, stderr)


@pytest.fixture
def rpm_file(tmp_path: Path) -> Path:
    path = tmp_path / "smallapp-1.0.0-1.x86_64.rpm"
    path.write_bytes(inspect.RPM_MAGIC + b"rest of an rpm")
    return path


def test_inspect_rpm_queries_then_reads_the_list_from_the_payload(rpm_file: Path) -> None:
    runner = CannedRunner({"rpm": answer(SMALLAPP), "python3": answer(DOCUMENT)}, {})
    found = inspect.inspect_rpm(rpm_file, runner, python="/usr/bin/python3")
    assert found.bundled_source == "payload" and found.notes == ()
    assert found.file_size == rpm_file.stat().st_size
    query, extract = runner.calls
    assert query[:2] == ("/usr/bin/rpm", "-qp") and query[-1] == str(rpm_file)
    assert extract[:3] == ("/usr/bin/python3", "-I", "-c")
    assert extract[4:] == (
        "/usr/bin/rpm2cpio", str(rpm_file), "./usr/share/doc/smallapp/bundled-distributions.json",
        str(inspect.DOCUMENT_LIMIT), str(inspect.payload_budget(inspect.parse_query(SMALLAPP))),
    )  # fmt: skip


def test_a_foreign_rpm_needs_no_payload_read(rpm_file: Path) -> None:
    runner = CannedRunner({"rpm": answer(FOREIGN)}, {})
    found = inspect.inspect_rpm(rpm_file, runner)
    assert len(runner.calls) == 1 and not found.built_by_venvrpm


def test_a_payload_that_cannot_be_read_is_a_note(rpm_file: Path) -> None:
    failed = answer("", 1, "the payload ends early (rpm2cpio exited with 1)\n")
    runner = CannedRunner({"rpm": answer(SMALLAPP), "python3": failed}, {})
    found = inspect.inspect_rpm(rpm_file, runner, python="/usr/bin/python3")
    assert found.bundled_source == "provides"
    assert "ends early (rpm2cpio exited with 1) (is the payload damaged" in found.notes[0]
    over = answer("", 3, "the payload is larger than the 99 bytes venvrpm reads of it\n")
    runner = CannedRunner({"rpm": answer(SMALLAPP), "python3": over}, {})
    found = inspect.inspect_rpm(rpm_file, runner, python="/usr/bin/python3")
    assert found.notes[0].endswith(
        "from the payload: the payload is larger than the 99 bytes venvrpm reads of it; "
        "the bundled list is from the Provides"
    )
    missing = CannedRunner({"rpm": answer(SMALLAPP)}, {"rpm2cpio": None})
    found = inspect.inspect_rpm(rpm_file, missing)
    assert "from the payload: rpm2cpio not installed;" in found.notes[0]


def test_not_an_rpm(tmp_path: Path) -> None:
    text = tmp_path / "app.yaml"
    text.write_text("name: smallapp\n")
    runner = CannedRunner({}, {})
    with pytest.raises(UsageError, match="is not an RPM") as raised:
        inspect.inspect_rpm(text, runner)
    assert raised.value.exit_code == EXIT_USAGE and raised.value.hint
    with pytest.raises(UsageError, match="does not exist"):
        inspect.inspect_rpm(tmp_path / "missing.rpm", runner)
    with pytest.raises(UsageError, match="is not a file"):
        inspect.inspect_rpm(tmp_path, runner)
    assert runner.calls == [], "rpm must not see a file that is not an RPM"


def test_an_rpm_that_rpm_cannot_read(rpm_file: Path) -> None:
    said = "error: x.rpm: signature hdr blob(4388): BAD, read returned 0\n"
    runner = CannedRunner({"rpm": answer("", 1, said)}, {})
    with pytest.raises(UsageError, match="is not a readable RPM") as raised:
        inspect.inspect_rpm(rpm_file, runner)
    assert raised.value.details == (said.strip(),)


def test_rpm_missing_is_a_tool_error(rpm_file: Path) -> None:
    with pytest.raises(ToolMissingError, match="rpm is not installed") as raised:
        inspect.inspect_rpm(rpm_file, CannedRunner({}, {"rpm": None}))
    assert raised.value.exit_code == EXIT_BUILD_FAILED


def test_cli_json_error_for_a_file_that_is_not_an_rpm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    assert main(["inspect", str(text), "--json"]) == EXIT_USAGE
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    jsonschema.validate(document, SCHEMA)
    assert document["ok"] is False and document["exit_code"] == EXIT_USAGE
    assert "is not an RPM" in document["error"]["message"]
    assert "error:" in captured.err and "hint:" in captured.err


def test_human_report_off_a_terminal_is_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    header = inspect.parse_query(FOREIGN)
    long_body = "\n".join(f"echo {n}" for n in range(SCRIPTLET_LINES + 3))
    long = inspect.Scriptlet(name="preun", interpreter="/bin/sh", body=long_body)
    header = dataclasses.replace(header, scriptlets=(*header.scriptlets, long))
    found = inspect.report(
        Path("x/foreign-2.1-3.noarch.rpm"), header, file_size=6889, sha256="c" * 64,
        document=None,
    )  # fmt: skip
    text = render_inspection(found, io.StringIO())
    assert "\x1b[" not in text, "no colour codes in a pipe"
    assert all(line == line.rstrip() for line in text.splitlines())
    lines = text.splitlines()
    assert lines[0] == "foreign-2.1-3.noarch.rpm"
    assert "  epoch           1" in lines
    assert "  signature       unsigned" in lines
    assert "  built           2026-11-21 22:53:26 UTC on vm" in lines
    assert "bundled distributions: 1, from the Provides" in lines
    assert "  python(abi) = 3.11" in lines
    assert "  %post (/bin/sh)" in lines
    assert "    echo \"installed 'quoted' $1\"" in lines
    assert "    ... 3 more lines (--json shows them whole)" in lines
    assert f"    echo {SCRIPTLET_LINES}" not in lines
    assert lines[-1].startswith("note: not built by venvrpm")


def test_human_report_shows_names_literally() -> None:
    """File and package names are data, never rich markup."""
    recorded = SMALLAPP.replace("awkward %{names}", "[bold]awkward[/] %{names}\x1b]0;owned\x07")
    found = inspect.report(
        Path("smallapp.rpm"), inspect.parse_query(recorded), file_size=1, sha256="d" * 64,
        document=DOCUMENT,
    )  # fmt: skip
    text = render_inspection(found, io.StringIO())
    lines = text.splitlines()
    assert (
        "  summary         Tiny CLI with 100% [bold]awkward[/] %{names}\\x1b]0;owned\\x07" in lines
    )
    assert "\x1b" not in text, "a package's escape sequences never reach a terminal"
    assert "  signature       key da4566d69df639a9 (RSA/SHA512)" in lines
    assert "  tinynative.libs             14.7 KiB      1" in lines
    assert "  other                        7.7 KiB      3" in lines


def test_human_size() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 1536, 5 << 20, 3 << 30)] == [
        "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "5.0 MiB", "3.0 GiB",
    ]  # fmt: skip


# --- received RPMs are hostile: bounded work, no traceback, nothing acts on the terminal ---

HOSTILE = "\x1b]0;pwned\x07 \u202eevil\u202c \u2066x\u2069 \u200f\u061c \x9b2J \ud800"
"""An OSC title change, bidi overrides and isolates, marks, a C1 CSI and a lone surrogate."""
HOSTILE_SHOWN = (
    "\\x1b]0;pwned\\x07 \\u202eevil\\u202c \\u2066x\\u2069 \\u200f\\u061c \\x9b2J \\ud800"
)


def test_a_deeply_nested_list_is_a_note_not_a_traceback() -> None:
    """200,000 ``[`` made json.loads raise RecursionError, which reached the user."""
    found = smallapp_report("[" * 200_000)
    assert found.bundled_source == "provides"
    assert "nested more than" in found.notes[0]
    json.dumps(found.to_json())


@pytest.mark.parametrize("text", ["[" * 200_000, '{"a":' * 100 + "1" + "}" * 100])
def test_the_shipped_list_has_a_nesting_limit(text: str) -> None:
    with pytest.raises(ValueError, match=f"nested more than {inspect.NESTING_LIMIT} levels"):
        inspect.parse_bundled_document(text)


def test_brackets_in_strings_are_not_nesting() -> None:
    deep = "[{" * 1000 + '\\"]'
    text = json.dumps({"interpreter": deep, "distributions": [{"name": "a", "version": "1"}]})
    assert inspect.parse_bundled_document(text)[0] == deep


def test_the_payload_budget_comes_from_the_header() -> None:
    header = inspect.parse_query(SMALLAPP)
    regular = sum(f.size for f in header.files)
    budget = inspect.payload_budget(header)
    assert regular < budget < regular + 200 * len(header.files) + 1024
    big = dataclasses.replace(
        header, files=(inspect.FileEntry(path="/opt/zeros", size=8 << 30, mode=0o100644),)
    )
    assert inspect.payload_budget(big) == inspect.PAYLOAD_LIMIT


def test_a_list_larger_than_the_limit_in_the_header_is_not_read(rpm_file: Path) -> None:
    runner = CannedRunner(
        {"rpm": answer(SMALLAPP.replace("=1000 =33188", f"={inspect.DOCUMENT_LIMIT + 1} =33188"))},
        {},
    )
    found = inspect.inspect_rpm(rpm_file, runner)
    assert len(runner.calls) == 1, "the payload is not read"
    assert f"its header gives it {inspect.DOCUMENT_LIMIT + 1} bytes" in found.notes[0]


def test_hostile_strings_are_shown_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    recorded = SMALLAPP.replace("awkward %{names}", "[red]x[/] " + HOSTILE)
    document = json.dumps(
        {"interpreter": "[bold]py[/]" + HOSTILE,
         "distributions": [{"name": "n" + HOSTILE, "version": "1", "origin": "venv"}]}
    )  # fmt: skip
    found = inspect.report(
        Path("smallapp.rpm"), inspect.parse_query(recorded), file_size=1, sha256="d" * 64,
        document=document,
    )  # fmt: skip
    text = render_inspection(found, io.StringIO())
    assert "  summary         Tiny CLI with 100% [red]x[/] " + HOSTILE_SHOWN in text.splitlines()
    assert "(interpreter [bold]py[/]" + HOSTILE_SHOWN + ")" in text
    assert "  n" + HOSTILE_SHOWN in text
    for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\u200f", "\u061c", "\ud800"):
        assert raw not in text


def test_terminal_safe() -> None:
    assert terminal_safe("[b]x[/b]\t\n" + HOSTILE) == "\\[b]x\\[/b]\t\n" + HOSTILE_SHOWN
    assert terminal_safe("[b]x\r", markup=False) == "[b]x\\x0d"


def test_an_error_quoting_an_rpm_is_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    Console(stream=sys.stderr, terminal=False).error(
        VenvrpmError("bad " + HOSTILE, "hint " + HOSTILE, details=["said " + HOSTILE])
    )
    err = capsys.readouterr().err
    assert err.count(HOSTILE_SHOWN) == 3 and "\x1b" not in err and "\u202e" not in err


@pytest.mark.integration  # runs under the real runner wrapper (unshare)
def test_lint_output_is_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """rpmlint quotes a package's strings; they reached the terminal as they were."""
    fake = tmp_path / "bin" / "rpmlint"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\nprintf 'x.rpm: W: summary \\033]0;pwned\\007 \\342\\200\\256 [red]\\n'\n"
        "printf 'warn \\033[2J\\n' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    assert main(["lint", str(tmp_path / "x.rpm")]) == EXIT_BUILD_FAILED
    captured = capfd.readouterr()
    assert captured.out == "x.rpm: W: summary \\x1b]0;pwned\\x07 \\u202e [red]\n"
    assert "warn \\x1b[2J" in captured.err and "\x1b" not in captured.err


def test_a_header_rpm_answers_unevenly_is_an_error_not_a_traceback(rpm_file: Path) -> None:
    uneven = SMALLAPP.replace("@files\n", "@files\n=1 =33188\n", 1)
    with pytest.raises(UsageError, match="has a header venvrpm cannot read") as raised:
        inspect.inspect_rpm(rpm_file, CannedRunner({"rpm": answer(uneven)}, {}))
    assert raised.value.details


def test_a_wheel_bundling_openssl_is_noted_for_fips() -> None:
    libs = f"{SITE}/psycopg2_binary.libs"
    with_openssl = SMALLAPP.replace(
        "@requires\n",
        f"=0 =16877 ='{libs}'\n=3000000 =33261 ='{libs}/libcrypto-fb8d5b21.so.3'\n"
        f"=600000 =33261 ='{libs}/libssl-8a0b4c6d.so.3'\n@requires\n",
    )
    found = inspect.report(
        Path("dist/smallapp-1.0.0-1.x86_64.rpm"), inspect.parse_query(with_openssl),
        file_size=37706, sha256="d" * 64, document=DOCUMENT,
    )  # fmt: skip
    (note,) = [n for n in found.notes if "OpenSSL" in n]
    assert note.startswith(
        "psycopg2_binary.libs bundles its own OpenSSL: not the system's FIPS-validated module "
        "(libcrypto-fb8d5b21.so.3, libssl-8a0b4c6d.so.3); for FIPS, build psycopg2-binary from its sdist"
    )
    assert "build.requires" in note
    # the test application's own bundled library is no OpenSSL: nothing said
    assert not [n for n in smallapp_report().notes if "OpenSSL" in n]
