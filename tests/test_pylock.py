"""PEP 751 locks: read with packaging.pylock, refused when a package is not hash-pinned files,
and, for the target, one file per package chosen by the tags the target accepts."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.support.limits import address_space, sparse_terabyte
from tests.support.markers import LINUX_X86_64_311
from venvrpm import fetch, lockfile, pylock
from venvrpm.errors import LockFileError
from venvrpm.manifest import locked_version

LOCK = Path("pylock.toml")
X86 = LINUX_X86_64_311
ARM = {**X86, "platform_machine": "aarch64"}
# What pip's packaging.tags.sys_tags says on such targets, shortened: best first.
X86_TAGS = (
    "cp311-cp311-manylinux_2_36_x86_64",
    "cp311-cp311-manylinux_2_17_x86_64",
    "cp311-abi3-manylinux_2_17_x86_64",
    "py3-none-manylinux_2_17_x86_64",
    "py3-none-any",
)
ARM_TAGS = tuple(t.replace("x86_64", "aarch64") for t in X86_TAGS)
WINDOWS_TAGS = ("cp311-cp311-win_amd64", "py3-none-any")


def digest(char: str) -> str:
    return char * 64


WHEELS = {
    "x86": ("fastlib-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "1"),
    "arm": ("fastlib-2.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", "2"),
    "mac": ("fastlib-2.0-cp311-cp311-macosx_11_0_arm64.whl", "3"),
}
SDIST = ("fastlib-2.0.tar.gz", "4")


def wheel_entry(filename: str, char: str) -> str:
    return textwrap.dedent(f"""\
        [[packages.wheels]]
        url = "https://files.example.org/{filename}"
        hashes = {{sha256 = "{digest(char)}"}}
        """)


def multiplatform(*, sdist: bool = True, marker: str | None = None) -> str:
    """fastlib with wheels for three platforms (and an sdist); purelib, a pure wheel."""
    text = textwrap.dedent("""\
        lock-version = "1.0"
        created-by = "tests"
        requires-python = ">=3.9"

        [[packages]]
        name = "fastlib"
        version = "2.0"
        """)
    if marker:
        text += f"marker = {json.dumps(marker)}\n"
    for filename, char in WHEELS.values():
        text += wheel_entry(filename, char)
    if sdist:
        text += textwrap.dedent(f"""\
            [packages.sdist]
            url = "https://files.example.org/{SDIST[0]}"
            hashes = {{sha256 = "{digest(SDIST[1])}"}}
            """)
    text += textwrap.dedent(f"""\
        [[packages]]
        name = "purelib"
        version = "1.0"
        [[packages.wheels]]
        name = "purelib-1.0-py3-none-any.whl"
        path = "wheels/purelib-1.0-py3-none-any.whl"
        hashes = {{sha256 = "{digest("5")}", md5 = "{"0" * 32}"}}
        """)
    return text


def select(text: str, markers: dict[str, str], tags: tuple[str, ...] | None) -> lockfile.Lock:
    return pylock.parse(text, LOCK).for_target(markers, tags)


def test_only_the_wheel_for_the_targets_platform_is_chosen() -> None:
    lock = select(multiplatform(), X86, X86_TAGS)
    fast, pure = lock.requirements
    assert (fast.name, fast.version, fast.filename) == ("fastlib", "2.0", WHEELS["x86"][0])
    assert fast.hashes == ("sha256:" + digest("1"),), "that one file's hash: pip checks it"
    assert fast.url == f"https://files.example.org/{WHEELS['x86'][0]}"
    assert (pure.filename, pure.url) == ("purelib-1.0-py3-none-any.whl", None)
    assert pure.hashes == ("sha256:" + digest("5"),), "md5 is not one pip checks: left out"
    arm = select(multiplatform(), ARM, ARM_TAGS).requirements[0]
    assert (arm.filename, arm.hashes) == (WHEELS["arm"][0], ("sha256:" + digest("2"),))


def test_without_a_fitting_wheel_the_sdist_is_chosen() -> None:
    fast = select(multiplatform(), X86, WINDOWS_TAGS).requirements[0]
    assert (fast.filename, fast.hashes) == (SDIST[0], ("sha256:" + digest("4"),))


def test_a_package_with_no_file_for_the_target_is_named_with_the_target() -> None:
    with pytest.raises(LockFileError) as caught:
        select(multiplatform(sdist=False), X86, WINDOWS_TAGS)
    error = caught.value
    assert error.message == "no file in pylock.toml fits the target for fastlib"
    assert error.details[0].startswith("fastlib 2.0: no wheel fits and no sdist (")
    assert WHEELS["mac"][0] in error.details[0]
    assert error.details[-1] == (
        "the target: cpython 3.11.2 on Linux x86_64; the tags it accepts first: "
        "cp311-cp311-win_amd64, py3-none-any"
    )


def test_a_package_whose_marker_is_false_is_skipped() -> None:
    lock = select(multiplatform(marker='sys_platform == "darwin"'), X86, X86_TAGS)
    assert [r.name for r in lock.requirements] == ["purelib"]
    assert [r.name for r in lock.skipped] == ["fastlib"]


def test_dependency_groups_are_the_locks_defaults() -> None:
    """PEP 751: no extras, and the lock's default groups, unless the installer is told more."""
    text = multiplatform(marker="'dev' in dependency_groups")
    assert [r.name for r in select(text, X86, X86_TAGS).requirements] == ["purelib"]
    defaults = text.replace('requires-python = ">=3.9"\n', 'requires-python = ">=3.9"\n'
                            'dependency-groups = ["dev"]\ndefault-groups = ["dev"]\n')  # fmt: skip
    assert [r.name for r in select(defaults, X86, X86_TAGS).requirements] == ["fastlib", "purelib"]


def test_a_lock_for_another_python_is_refused() -> None:
    text = multiplatform().replace('requires-python = ">=3.9"', 'requires-python = ">=3.12"')
    with pytest.raises(LockFileError, match="cannot be installed on this interpreter") as caught:
        select(text, X86, X86_TAGS)
    assert "3.11.2" in caught.value.details[0]


@pytest.mark.parametrize(
    ("marker", "said"),
    [
        ('extra == "x"', "packages[0] fastlib: marker 'extra == \"x\"': 'extra'"),
        ('python_full_version ~= "3.11.*"', "packages[0] fastlib: marker 'python_full_version ~= "),
    ],
)
def test_a_marker_that_cannot_be_evaluated_names_its_package(marker: str, said: str) -> None:
    """An error for the user, not a traceback: PEP 751 markers know `extras`, not `extra`."""
    with pytest.raises(LockFileError, match="cannot be installed on this interpreter") as caught:
        select(multiplatform(marker=marker), X86, X86_TAGS)
    (detail,) = caught.value.details
    assert detail.startswith(said)
    with pytest.raises(LockFileError):
        select(multiplatform(marker=marker), X86, None)


def test_without_tags_every_file_of_each_selected_package_is_allowed() -> None:
    """``lock`` and a dry run know no tags: what each package may install is any of its files."""
    fast, _ = select(multiplatform(), X86, None).requirements
    assert fast.hashes == tuple(f"sha256:{digest(c)}" for c in "1234")
    assert fast.filename is None and fast.marker is None


def test_choosing_again_changes_nothing() -> None:
    once = select(multiplatform(marker='python_version >= "3.10"'), X86, X86_TAGS)
    assert once.pylock is None
    assert once.for_target(X86, X86_TAGS) == once
    assert once.for_target(X86) == once


def test_the_read_lock_allows_every_file_and_names_the_version() -> None:
    lock = pylock.parse(multiplatform(), LOCK)
    assert [(r.name, r.version, len(r.hashes)) for r in lock.requirements] == [
        ("fastlib", "2.0", 4),
        ("purelib", "1.0", 1),
    ]


def test_a_version_left_out_is_read_from_the_file_names() -> None:
    text = multiplatform().replace('version = "2.0"\n', "")
    assert pylock.parse(text, LOCK).requirements[0].version == "2.0"


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ('[packages.vcs]\ntype = "git"\nurl = "https://example.org/x.git"\ncommit-id = "abc"\n',
         "packages[0] evil: comes from git (https://example.org/x.git)"),
        ('[packages.directory]\npath = "project"\n',
         "packages[0] evil: comes from the directory 'project'"),
        ('[packages.archive]\nurl = "https://example.org/evil-1.0.tar.gz"\n'
         f'hashes = {{sha256 = "{digest("a")}"}}\n',
         "packages[0] evil: comes from the archive 'https://example.org/evil-1.0.tar.gz'"),
    ],
)  # fmt: skip
def test_sources_no_hash_pins_are_refused_naming_the_package(source: str, said: str) -> None:
    text = f'lock-version = "1.0"\ncreated-by = "t"\n[[packages]]\nname = "evil"\n{source}'
    with pytest.raises(LockFileError) as caught:
        pylock.parse(text, LOCK)
    assert caught.value.message == "pylock.toml names 1 package venvrpm cannot install hash-checked"
    (detail,) = caught.value.details
    assert detail.startswith(said)


def test_a_file_without_hashes_is_refused() -> None:
    text = multiplatform().replace(
        f'hashes = {{sha256 = "{digest("5")}", md5 = "{"0" * 32}"}}\n', ""
    )
    with pytest.raises(LockFileError, match="is not a valid PEP 751 lock") as caught:
        pylock.parse(text, LOCK)
    assert "hashes" in caught.value.message


def test_a_file_with_no_hash_pip_checks_is_refused() -> None:
    text = multiplatform().replace(f'sha256 = "{digest("5")}", ', "")
    with pytest.raises(LockFileError) as caught:
        pylock.parse(text, LOCK)
    assert caught.value.details == (
        "packages[1] purelib: purelib-1.0-py3-none-any.whl has no sha256, sha384 or sha512 "
        "hash (only md5): pip checks no other",
    )


def test_a_malformed_hash_is_refused() -> None:
    text = multiplatform().replace(digest("1"), "xyz")
    with pytest.raises(LockFileError) as caught:
        pylock.parse(text, LOCK)
    assert caught.value.details == (
        f"packages[0] fastlib: {WHEELS['x86'][0]}: unusable sha256 hash 'xyz'",
    )


def _refusal_of_url(url: str) -> str:
    """Why pylock.parse refuses the lock whose first x86 wheel is named and given *url*."""
    line = f'url = "https://files.example.org/{WHEELS["x86"][0]}"'
    text = multiplatform().replace(line, f'name = "{WHEELS["x86"][0]}"\nurl = {json.dumps(url)}')
    with pytest.raises(LockFileError) as caught:
        pylock.parse(text, LOCK)
    (detail,) = caught.value.details
    return detail


@pytest.mark.parametrize(
    "url",
    [
        "https://files.example.org/a.whl --index-url https://evil.example/",
        "https://files.example.org/a.whl#sha256=0",
        "https://files.example.org/${HOME}/a.whl",
        "https://user:secret@files.example.org/a.whl",
        "ftp://files.example.org/a.whl",
        "git+https://files.example.org/a.whl",
        "https://files.example.org/a.whl ; python_version > '3'",
    ],
)
def test_a_url_that_would_change_the_installers_line_is_refused(url: str) -> None:
    detail = _refusal_of_url(url)
    assert detail.startswith(f"packages[0] fastlib: {WHEELS['x86'][0]}: the url ")
    assert detail.endswith("is not one venvrpm gives the installer (http, https or file; no "
                           "spaces, quotes, '#', ';', '$' or credentials)")  # fmt: skip


def test_the_installers_line_names_the_locks_url_and_the_chosen_hash() -> None:
    lock = select(multiplatform(), X86, X86_TAGS)
    online = lockfile.normalized(lock, online=True).splitlines()
    assert online[0] == (
        f"fastlib @ https://files.example.org/{WHEELS['x86'][0]} --hash=sha256:{digest('1')}"
    )
    assert online[1] == f"purelib==1.0 --hash=sha256:{digest('5')}", "a path only: by name"
    url = Requirement(online[0].split(" --hash")[0]).url
    assert url == f"https://files.example.org/{WHEELS['x86'][0]}", "read back the same"
    assert lockfile.normalized(lock).splitlines()[0] == (
        f"fastlib==2.0 --hash=sha256:{digest('1')}"
    ), "offline: by name and hash from the wheelhouse"


@pytest.mark.parametrize(
    ("name", "is_pylock"),
    [
        ("pylock.toml", True),
        ("pylock.dev.toml", True),
        ("pylock-build.toml", False),
        ("pylock.a.b.toml", False),
        ("requirements.lock", False),
        ("pylock.txt", False),
    ],
)
def test_a_lock_is_read_as_pep_751_by_its_name(name: str, is_pylock: bool) -> None:
    assert lockfile.is_pylock(Path(name)) is is_pylock


def test_read_dispatches_on_the_name(tmp_path: Path) -> None:
    (tmp_path / "pylock.toml").write_text(multiplatform())
    lock = lockfile.read(tmp_path / "pylock.toml")
    assert lock.pylock is not None and [r.name for r in lock.requirements] == [
        "fastlib",
        "purelib",
    ]
    (tmp_path / "pylock.dev.toml").write_text("fastlib==2.0 --hash=sha256:" + digest("1"))
    with pytest.raises(LockFileError, match="is not a TOML document"):
        lockfile.read(tmp_path / "pylock.dev.toml")


def test_a_symlinked_lock_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "real.toml").write_text(multiplatform())
    (tmp_path / "pylock.toml").symlink_to(tmp_path / "real.toml")
    with pytest.raises(LockFileError, match="cannot read the lock"):
        lockfile.read(tmp_path / "pylock.toml")


def test_a_huge_lock_is_refused_unread(tmp_path: Path) -> None:
    path = sparse_terabyte(tmp_path / "pylock.toml")
    with address_space(), pytest.raises(LockFileError, match="cannot read the lock"):
        lockfile.read(path)


def test_a_missing_lock_says_so(tmp_path: Path) -> None:
    with pytest.raises(LockFileError, match="does not exist"):
        lockfile.read(tmp_path / "pylock.toml")


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(LockFileError, match="is not a TOML document"):
        pylock.parse("x = " + "[" * 100_000 + "]" * 100_000, LOCK)


@pytest.mark.parametrize(
    "text",
    [
        'lock-version = "2.0"\ncreated-by = "t"\npackages = []\n',
        'lock-version = "1.0"\npackages = []\n',
        'lock-version = "1.0"\ncreated-by = "t"\npackages = [1]\n',
        'lock-version = "1.0"\ncreated-by = "t"\n[[packages]]\nname = "Not_Normal"\n',
    ],
)
def test_what_packaging_refuses_is_a_lock_file_error(text: str) -> None:
    with pytest.raises(LockFileError, match="is not a valid PEP 751 lock"):
        pylock.parse(text, LOCK)


def test_a_tampered_file_in_the_wheelhouse_is_named(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheels"
    wheelhouse.mkdir()
    lock = select(multiplatform(), X86, X86_TAGS)
    (wheelhouse / WHEELS["x86"][0]).write_bytes(b"not the locked wheel")
    assert fetch.problems(lock, wheelhouse) == [
        f"hash mismatch for {WHEELS['x86'][0]}: it is not the file pylock.toml names for "
        "fastlib==2.0",
        "purelib-1.0-py3-none-any.whl (purelib==1.0) is not in the wheelhouse",
    ]


def test_the_wheelhouse_must_hold_the_chosen_file_not_another_platforms(tmp_path: Path) -> None:
    """A wheelhouse filled for aarch64 does not serve an x86_64 build of the same lock."""
    wheelhouse = tmp_path / "wheels"
    wheelhouse.mkdir()
    other = wheelhouse / WHEELS["arm"][0]
    other.write_bytes(b"arm")
    lock = pylock.parse(multiplatform().replace(digest("2"), fetch.sha256_of(other)[7:]), LOCK)
    assert [r.name for r in fetch.missing(lock.for_target(ARM, ARM_TAGS), wheelhouse)] == [
        "purelib"
    ]
    x86 = lock.for_target(X86, X86_TAGS)
    assert [r.name for r in fetch.missing(x86, wheelhouse)] == ["fastlib", "purelib"]
    assert fetch.problems(x86, wheelhouse)[0] == (
        f"{WHEELS['x86'][0]} (fastlib==2.0) is not in the wheelhouse"
    )


def test_version_from_reads_a_pylock(tmp_path: Path) -> None:
    (tmp_path / "pylock.toml").write_text(multiplatform())
    assert locked_version("fastlib", tmp_path / "pylock.toml") == ("2.0", None)


def with_project(path: str) -> str:
    """The lock as `pip lock .` writes it: the app itself listed as a directory package."""
    return (
        multiplatform()
        + f'[[packages]]\nname = "smallapp"\n[packages.directory]\npath = "{path}"\n'
    )


def test_the_projects_own_directory_package_is_skipped(tmp_path: Path) -> None:
    """As `-e .` in a requirements lock: venvrpm builds the project from `project:`."""
    lock = pylock.parse(
        with_project("project"), tmp_path / "pylock.toml", project=tmp_path / "project"
    )
    assert [r.name for r in lock.requirements] == ["fastlib", "purelib"]
    assert [(i.shown, i.project, i.line) for i in lock.ignored] == [
        ("smallapp (directory project)", True, 0)
    ]
    assert lockfile.ignored_note(lock) == (
        "pylock.toml: ignored 'smallapp (directory project)' (the project itself: venvrpm builds "
        "and installs it)"
    )
    chosen = lock.for_target(X86, X86_TAGS)
    assert [r.name for r in chosen.requirements] == ["fastlib", "purelib"]
    assert chosen.requirements[0].filename == WHEELS["x86"][0]


@pytest.mark.parametrize(
    ("path", "project"),
    [("other", "project"), ("project", None), ("project/../other", "other/x")],
)
def test_any_other_directory_package_is_refused(
    tmp_path: Path, path: str, project: str | None
) -> None:
    with pytest.raises(LockFileError) as caught:
        pylock.parse(
            with_project(path),
            tmp_path / "pylock.toml",
            project=None if project is None else tmp_path / project,
        )
    (detail,) = caught.value.details
    assert detail.startswith(f"packages[2] smallapp: comes from the directory '{path}'")


def test_the_project_reached_through_dot_dot_is_the_project(tmp_path: Path) -> None:
    lock = pylock.parse(
        with_project("../app"), tmp_path / "locks" / "pylock.toml", project=tmp_path / "app"
    )
    assert [i.project for i in lock.ignored] == [True]


def test_the_project_listed_first_shifts_nothing(tmp_path: Path) -> None:
    """The project's entry stays in the document packaging selects from: each package's index,
    and what its errors say, remain the file's."""
    head, packages = multiplatform().split("[[packages]]", 1)
    text = f'{head}[[packages]]\nname = "smallapp"\n[packages.directory]\npath = "."\n\n[[packages]]{packages}'
    lock = pylock.parse(text, tmp_path / "pylock.toml", project=tmp_path)
    chosen = lock.for_target(ARM, ARM_TAGS)
    assert [(r.name, r.filename) for r in chosen.requirements] == [
        ("fastlib", WHEELS["arm"][0]),
        ("purelib", "purelib-1.0-py3-none-any.whl"),
    ]
    twice = text + "[[packages]]" + packages.split("[[packages]]")[0]
    with pytest.raises(LockFileError) as caught:
        pylock.parse(twice, tmp_path / "pylock.toml", project=tmp_path).for_target(X86, X86_TAGS)
    (detail,) = caught.value.details
    assert "at packages[3] and packages[1]" in detail, detail


@pytest.mark.parametrize(
    "url", ["file:///etc/shadow", "https://files.example.org/download?id=3", "https://x.org/y.whl"]
)
def test_a_url_whose_file_name_is_another_is_refused(url: str) -> None:
    """pip reads what a file is (wheel or sdist, its tags) from the URL's name, not the lock's."""
    detail = _refusal_of_url(url)
    assert detail.startswith(f"packages[0] fastlib: {WHEELS['x86'][0]}: the url ends in ")
    assert detail.endswith("not in the file's name: the installer would read it as another file")


def test_a_percent_encoded_url_names_its_decoded_file() -> None:
    name = "fastlib-2.0+cpu-cp311-cp311-manylinux_2_17_x86_64.whl"
    encoded = "https://files.example.org/fastlib-2.0%2Bcpu-cp311-cp311-manylinux_2_17_x86_64.whl"
    text = multiplatform().replace(f"https://files.example.org/{WHEELS['x86'][0]}", encoded)
    text = (
        text.replace('version = "2.0"', 'version = "2.0+cpu"')
        .replace("fastlib-2.0-", "fastlib-2.0+cpu-")
        .replace("fastlib-2.0.tar.gz", "fastlib-2.0+cpu.tar.gz")
    )
    fast = select(text, X86, X86_TAGS).requirements[0]
    assert (fast.filename, fast.url, fast.version) == (name, encoded, "2.0+cpu")
