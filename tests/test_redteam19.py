"""Red team of issue 19 (pylock.toml, other tools' requirements files, the normalized lock):
holes in what a lock hands pip and uv, and in what venvrpm says of it, each shown by a failing
test first. The lock, the wheelhouse and manifest strings are untrusted (docs/security.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_pylock import LOCK, X86, multiplatform
from venvrpm import files, lockfile, pylock, testenv
from venvrpm.errors import LockFileError
from venvrpm.redact import redact

SECRET = "S3cr3t" * 15  # a long token: longer than the 60 characters a message quotes

# --- a pylock's marker, written on the installer's line -----------------------------------------


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85", "\x0b", "\x1c"])
def test_a_pylock_marker_with_a_line_break_is_refused(char: str) -> None:
    """A marker's quoted string may hold any character; packaging keeps it in str(marker), and
    pip splits a requirements file with str.splitlines: the rest of the marker would be a line
    of its own (`-r /etc/...`, `--index-url ...`) wherever a pylock's lines are written with
    their markers (a constraint for pip-compile, an untargeted lock)."""
    marker = f'os_name == "posix{char}-r /etc/passwd"'
    with pytest.raises(LockFileError) as caught:
        pylock.parse(multiplatform(marker=marker), LOCK)
    (detail,) = caught.value.details
    assert detail.startswith("packages[0] fastlib: its marker holds the control character U+")


# --- credentials in what a message quotes -------------------------------------------------------


def test_a_long_token_in_a_pylock_url_is_not_quoted_in_part() -> None:
    """A message quotes 60 characters of a refused URL; cut before its '@', the user part no
    longer looks like credentials, and redact (which every printed line passes) lets it by."""
    url = f"https://{SECRET}@files.example.org/fastlib-2.0.tar.gz"
    text = multiplatform().replace("https://files.example.org/fastlib-2.0.tar.gz", url)
    with pytest.raises(LockFileError) as caught:
        pylock.parse(text, LOCK)
    shown = redact(json.dumps([caught.value.message, *caught.value.details]))
    assert SECRET[:12] not in shown, shown


@pytest.mark.parametrize(
    "line",
    [
        f"-ihttps://user:{SECRET}@pypi.example.org/simple",
        f"foo @ https://{SECRET}@pypi.example.org/foo-1.0.tar.gz --hash=sha256:{'a' * 64}",
    ],
)
def test_a_long_token_in_a_refused_requirements_line_is_not_quoted_in_part(line: str) -> None:
    with pytest.raises(LockFileError) as caught:
        lockfile.parse(line + "\n", Path("requirements.lock"))
    shown = redact(json.dumps([caught.value.message, *caught.value.details]))
    assert SECRET[:12] not in shown, shown


# --- the test environment's lock, when it is a pylock -------------------------------------------


def test_a_pylock_test_lock_is_selected_for_the_target_before_pip_reads_it() -> None:
    """`venvrpm test` wrote the environment's lock for pip as read, untargeted: a pylock's
    markers are PEP 751's (`"dev" in dependency_groups`), which pip cannot evaluate, and a
    package whose marker is false still had its line. Selected first, as the main lock is."""
    text = multiplatform(marker='"dev" in dependency_groups').replace(
        'requires-python = ">=3.9"', 'requires-python = ">=3.9"\ndefault-groups = ["dev"]'
    )
    text = text.replace(
        'name = "purelib"\nversion = "1.0"\n',
        'name = "purelib"\nversion = "1.0"\nmarker = "sys_platform == \'win32\'"\n',
    )
    lock = pylock.parse(text, LOCK)
    written = testenv.test_requirements(lock, X86)
    assert written.startswith("fastlib==2.0 --hash=sha256:"), written
    assert ";" not in written and "purelib" not in written, written


# --- the SRPM kit's pylock ----------------------------------------------------------------------


def test_the_kit_ships_the_pylock_it_read_not_what_the_name_leads_to_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kit read the pylock without following a link, then copied it by name with
    shutil.copy2, which follows one: a lock swapped for a link between the two (its directory
    is the user's) put the link's target, any file root reads, in the source RPM."""
    from tests.test_lockfile import _manifest
    from venvrpm import manifest as manifest_module
    from venvrpm import srpm
    from venvrpm.runner import HostRunner

    app = _manifest(tmp_path / "app", "")
    app.write_text(app.read_text().replace("requirements.lock", "pylock.toml"))
    lock = tmp_path / "app" / "pylock.toml"
    lock.write_text(multiplatform())
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY\n")
    read = files.read_regular

    def read_then_swap(path: str | Path, limit: int, *, own: bool = False) -> bytes:
        data = read(path, limit, own=own)
        if Path(path) == lock:
            lock.unlink()
            lock.symlink_to(secret)
        return data

    monkeypatch.setattr(files, "read_regular", read_then_swap)
    kit = srpm.kit(manifest_module.load(app), tmp_path / "out", HostRunner(1))
    assert (kit.root / "pylock.toml").read_text() == multiplatform()


# --- the normalized lock says what the user's did -----------------------------------------------


def test_an_arbitrary_equality_pin_stays_one_the_installer_reads() -> None:
    """`===` pins a version that need not be PEP 440's (`foo===2013.custom-b`); the lock was
    read with it, then written for pip as `foo==2013.custom-b`, which is no requirement: the
    install failed on venvrpm's own file. A PEP 440 version stays `==` (hashes pin the file)."""
    from packaging.requirements import Requirement

    text = f"foo===2013.custom-b --hash=sha256:{'a' * 64}\nbar===1.0 --hash=sha256:{'b' * 64}\n"
    written = lockfile.normalized(lockfile.parse(text, Path("requirements.lock")))
    for line in written.splitlines():
        Requirement(line.split(" --hash")[0])  # raises on what pip would refuse
    assert written.startswith("foo===2013.custom-b --hash"), written
    assert "bar==1.0 --hash" in written, written


# --- a wheel file name that expands to millions of tags -----------------------------------------


@pytest.mark.parametrize("key", ["name", "url"])
def test_a_wheel_name_of_compressed_tag_sets_is_refused_before_it_is_expanded(key: str) -> None:
    """A wheel's tags are the product of its dotted tag sets (`py2.py3-none-any`): 200 values
    in each of its three parts, 3 KB of TOML, are 8 million tags, which packaging expands
    while it validates the lock (minutes and gigabytes, as root; 400 exhaust the memory). No
    file on disk has a name over 255 bytes: such a name is refused before anything parses it."""
    import time

    parts = ["py3." + ".".join(f"{kind}{i}" for i in range(200)) for kind in ("py", "a", "p")]
    wheel = f"fastlib-2.0-{'-'.join(parts)}.whl"
    text = multiplatform().replace(
        'url = "https://files.example.org/fastlib-2.0.tar.gz"',
        f'name = "{wheel}"\npath = "x"' if key == "name" else f'url = "https://h.org/{wheel}"',
    )
    text = text.replace("[packages.sdist]", "[[packages.wheels]]", 1)
    started = time.monotonic()
    with pytest.raises(LockFileError, match="is not a valid PEP 751 lock") as caught:
        pylock.parse(text, LOCK)
    assert time.monotonic() - started < 5
    assert "longer than 255 bytes" in caught.value.message


def test_many_wheels_of_many_tags_each_are_refused_before_they_are_expanded() -> None:
    """Under 255 bytes a name still holds 40, 40 and 24 values (38,400 tags); a few dozen
    such wheels are millions, which the selection keeps in one set. The tags a lock's wheels
    name are counted, not expanded, before packaging reads it."""
    import string
    import time

    letters = (string.ascii_letters + string.digits)[:40]
    text = multiplatform(sdist=False)
    for n in range(30):
        parts = [
            ".".join(letters),
            ".".join(letters),
            ".".join(c + letters[n] for c in letters[:24]),
        ]
        wheel = f"fastlib-2.0-{'-'.join(parts)}.whl"
        assert len(wheel) <= 255
        text += f'[[packages.wheels]]\nname = "{wheel}"\npath = "x"\n'
        text += f'hashes = {{sha256 = "{"a" * 64}"}}\n'
    # the wheels belong to the last package: purelib
    text = text.replace("fastlib-2.0-" + letters[0], "purelib-1.0-" + letters[0])
    started = time.monotonic()
    with pytest.raises(LockFileError, match="is not a valid PEP 751 lock") as caught:
        pylock.parse(text, LOCK)
    assert time.monotonic() - started < 5
    assert "tags" in caught.value.message


def test_an_installed_wheels_tag_line_of_compressed_sets_is_not_expanded() -> None:
    """The WHEEL file of an installed distribution is the wheel's text (up to 64 MiB read):
    its `Tag: py0.py1...-a0...-p0...` line is millions of tags once parse_tag expands it.
    Such a line names no file the lock allows: it matches none, unexpanded."""
    import time

    from venvrpm import pydists

    line = "-".join(".".join(f"{kind}{i}" for i in range(300)) for kind in ("py", "a", "p"))
    started = time.monotonic()
    assert pydists._tags(line) == frozenset()
    assert time.monotonic() - started < 5
    assert len(pydists._tags("py2.py3-none-any")) == 2


def test_an_unselected_pylock_is_never_written_for_an_installer() -> None:
    """A pylock marker's quoted string is the lock's text: `os_name == "x --index-url=URL"`
    passes packaging, and on a requirement line pip reads everything from ` --` on as options.
    Selected, no marker is left; unselected, normalized() refuses to write it."""
    lock = pylock.parse(multiplatform(marker='os_name == "x --index-url=http://evil/"'), LOCK)
    with pytest.raises(AssertionError, match="once selected"):
        lockfile.normalized(lock)
    assert "--index-url" not in lockfile.normalized(lock.for_target(X86))


# --- the requirements lock is read as the pylock is ---------------------------------------------


def test_a_symlinked_requirements_lock_is_not_followed_nor_quoted(tmp_path: Path) -> None:
    """A pylock.toml is never read through a link; a requirements lock was, and its bad
    lines are quoted: `requirements.lock -> /etc/shadow` printed root's hash (a line with ':'
    is "a URL"), from a host build whose backend runs in a container."""
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$S3CRETSALT$HASHHASHHASH:19000:0:99999:7:::\n")
    lock = tmp_path / "requirements.lock"
    lock.symlink_to(secret)
    with pytest.raises(LockFileError, match="cannot read the lock") as caught:
        lockfile.read(lock)
    assert "S3CRET" not in json.dumps([caught.value.message, *caught.value.details])


def test_a_huge_requirements_lock_is_refused_unread(tmp_path: Path) -> None:
    from tests.support.limits import address_space, sparse_terabyte

    path = sparse_terabyte(tmp_path / "requirements.lock")
    with address_space(), pytest.raises(LockFileError, match="cannot read the lock"):
        lockfile.read(path)


# --- a lock the manifest names, linked out of the project ---------------------------------------


@pytest.mark.parametrize(
    ("key", "name"),
    [("requirements", "requirements.lock"), ("requirements", "pylock.toml"), ("output", "d.lock")],
)
def test_a_lock_linked_out_of_the_project_is_refused_when_the_manifest_is_read(
    tmp_path: Path, key: str, name: str
) -> None:
    """The manifest resolved a lock's path through links, so every later no-follow read saw a
    regular file: `requirements.lock -> /etc/shadow` was read and its first line quoted
    ("'root:$6$...' is a URL"), and `venvrpm lock` (as root) would write a lock, and the build
    lock beside it, where the link leads (`-> /etc/cron.d/job`). As for `files[].src`."""
    from venvrpm import manifest
    from venvrpm.errors import ManifestError

    outside = tmp_path / "etc"
    outside.mkdir()
    (outside / "shadow").write_text("root:$6$S3CRETSALT$HASH:19000:0:99999:7:::\n")
    project = tmp_path / "app"
    project.mkdir()
    (project / name).symlink_to(outside / "shadow")
    lock = "r.lock" if key == "output" else name
    if key == "output":
        (project / "r.lock").write_text("")
    environments = (
        "lock:\n  inputs: [r.lock]\n  environments:\n    dev:\n      inputs: [r.lock]\n"
        "      output: d.lock\n"
    )
    (project / "app.yaml").write_text(
        "name: app\nversion: '1'\nsummary: s\nlicense: MIT\npython: /usr/bin/python3.11\n"
        f"requirements: {lock}\n" + (environments if key == "output" else "")
    )
    with pytest.raises(ManifestError) as info:
        manifest.load(project / "app.yaml")
    assert any("is a symlink leading outside" in p.message for p in info.value.problems), [
        p.message for p in info.value.problems
    ]


def test_fetch_writes_the_build_locks_parsed_copy_fresh_not_through_a_planted_link(
    tmp_path: Path,
) -> None:
    """`fetch` installs the build lock from a parsed copy in its scratch directory, where the
    sdists' backends ran (pip download prepares their metadata): a link planted at the copy's
    name is replaced, never written through, as venvbuild writes the build's copy."""
    from venvrpm import fetch
    from venvrpm.runner import HostRunner

    requirements = tmp_path / "requirements.lock"
    requirements.write_text(f"six==1.16.0 --hash=sha256:{'a' * 64}\n")
    (tmp_path / "requirements-build.lock").write_text(
        f"flit-core==3.9.0 --hash=sha256:{'b' * 64}\n"
    )
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    dest = tmp_path / "scratch" / "build-env"
    dest.parent.mkdir()
    parsed = dest.with_name("build-env-requirements.txt")
    parsed.symlink_to(outside)
    # /bin/true stands for pip: what is checked is the file written before it runs
    fetch.build_env(requirements, tmp_path / "wheels", ["/bin/true"], HostRunner(1), {}, dest)
    assert outside.read_text() == "precious\n"
    assert not parsed.is_symlink() and parsed.read_text().startswith("flit-core==3.9.0 ")
