"""Red team of issue 18: holes in the surfaces the redesign added, each shown by a failing test.

The threat model is docs/security.md: venvrpm runs as root; the cache, the wheelhouse, wheels'
contents, manifest strings and whatever code run during the build writes are untrusted, and so
are other users of the build host (here: one who can write an output directory venvrpm is
pointed at, such as a group-writable shared directory without the sticky bit).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support import limits
from venvrpm import cli, files, project
from venvrpm.errors import EXIT_USAGE, VenvrpmError
from venvrpm.redact import redact

# --- files.replacing: one atomic write, in a directory others may write ---------------------


def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


@pytest.mark.parametrize("directory", [False, True], ids=["file", "directory"])
def test_a_tree_renamed_to_a_stale_scratch_name_is_not_removed(
    tmp_path: Path, directory: bool
) -> None:
    """stale.remove takes any entry of the right name and owner for a dead writer's scratch and
    rmtree's it. In an output directory another user can write (no sticky bit), that user may
    rename (not delete: it is not theirs to empty) a tree of venvrpm's user there to
    ``.NAME.<dead pid>.abcd1234.part``; the next ``venvrpm build/bundle -o`` (root) removed the
    whole tree. A writer's scratch is one file (or one directory for a directory target), made
    by mkstemp/mkdtemp: a tree it did not make must not be taken for it."""
    shared = tmp_path / "out"
    shared.mkdir()
    precious = shared / "releases"
    (precious / "v1").mkdir(parents=True)
    (precious / "v1" / "app-1.0-1.x86_64.rpm").write_bytes(b"the released RPM")
    renamed = shared / f".f.{_dead_pid()}.abcd1234.part"
    precious.rename(renamed)  # what the other user does: rename only, in the shared directory
    with files.replacing(shared / "f", directory=directory) as scratch:
        if not directory:
            scratch.write_text("whole")
    assert (renamed / "v1" / "app-1.0-1.x86_64.rpm").read_bytes() == b"the released RPM"


def test_a_scratch_directory_swapped_for_a_link_is_not_chmodded_through(tmp_path: Path) -> None:
    """``replacing(directory=True)`` (``venvrpm bundle``) chmods its scratch by path when the block
    ends, following a link: while createrepo_c runs, whoever can write the output directory
    renames the scratch away and puts a link to any file in its place; venvrpm (root) made that
    file 0755 -- /etc/shadow world-readable -- and then renamed the link onto the bundle."""
    shared = tmp_path / "out"
    shared.mkdir()
    victim = tmp_path / "shadow"
    victim.write_text("root:$6$secret")
    victim.chmod(0o600)
    target = shared / "app-1.0-1"
    with contextlib.suppress(OSError), files.replacing(target, directory=True) as scratch:
        (scratch / "README.txt").write_text("bundle")
        scratch.rename(shared / "taken")  # the other user, during the long createrepo_c run
        scratch.symlink_to(victim)
    assert victim.stat().st_mode & 0o777 == 0o600
    assert not target.is_symlink()


def test_a_scratch_file_swapped_for_a_link_is_not_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``replacing`` makes its scratch with mkstemp (O_EXCL, good), closes it and yields its
    *path*; every caller (write_replacing, rpmbuild.deliver across filesystems, init) reopens it
    by path, following links. Between the two, whoever can write the output directory replaces
    the scratch with a link (the race is simulated here: the link is planted right after
    mkstemp), and venvrpm, root, truncated and wrote the file the link names."""
    shared = tmp_path / "out"
    shared.mkdir()
    victim = tmp_path / "passwd"
    victim.write_text("root:x:0:0::/root:/bin/bash\n")
    real_mkstemp = tempfile.mkstemp

    def racing_mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        fd, name = real_mkstemp(*args, **kwargs)  # type: ignore[call-overload]
        os.unlink(name)  # the other user: unlink (the directory is theirs to write) ...
        os.symlink(victim, name)  # ... and a link of the same name
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", racing_mkstemp)  # what files.replacing calls
    with contextlib.suppress(OSError):
        files.write_replacing(shared / "requirements.lock", "attacker-chosen text\n")
    assert victim.read_text() == "root:x:0:0::/root:/bin/bash\n"


# --- the error door -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["build", "--json", "--no-such-option", "app.yaml"], ["build", "--json"]],
    ids=["unknown option", "missing manifest"],
)
def test_a_usage_error_with_json_still_writes_the_document(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """cli.main parses the arguments outside its try: argparse's usage error exits 2 through
    SystemExit with nothing on stdout, so a CI step that parses ``--json`` gets no document
    (issue 18 item 4: "--json writes its document on every exit path")."""
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # what main does today: argparse exits on its own
        code = exc.code  # type: ignore[assignment]
    assert code == EXIT_USAGE
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False and document["exit_code"] == EXIT_USAGE


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("https://user:pa(ss@pypi.example/simple", "pa(ss"),
        ("https://user:it's@pypi.example/simple", "it's"),
        ("https://tok)en@pypi.example/simple", "tok)en"),
    ],
)
def test_a_password_with_sub_delimiters_is_masked(url: str, secret: str) -> None:
    """RFC 3986 allows ``' ( ) * ! $ & + , ; =`` unencoded in the user part, pip's urlsplit
    reads ``https://user:pa(ss@host`` as the password ``pa(ss`` and pip's own
    redact_auth_from_url masks it; venvrpm's pattern stops the netloc at quotes and brackets
    (for URLs inside repr() and JSON), finds no ``@`` and printed the password whole -- in
    ``--dry-run``'s pip_env, ``--json`` documents and bug tracebacks alike."""
    assert secret not in redact(f"PIP_INDEX_URL={url}")


# --- project.py: the one pyproject.toml reader ----------------------------------------------


def test_a_deeply_nested_pyproject_is_not_a_bug_traceback(tmp_path: Path) -> None:
    """tomllib recurses on nested arrays and inline tables: a 100 kB pyproject.toml of ``[`` is a
    RecursionError, which project.read does not catch (it catches OSError, UnicodeDecodeError
    and TOMLDecodeError), so ``venvrpm build``, ``check`` and ``lock`` of such a project end
    in "this is a bug in venvrpm" with a traceback. The sdist reader (buildreqs) catches it
    only because RecursionError is a RuntimeError."""
    (tmp_path / "pyproject.toml").write_text("x = " + "[" * 100_000 + "\n")
    try:
        metadata = project.read(tmp_path)
    except VenvrpmError:
        return  # a clean refusal is fine too
    assert metadata is not None and metadata.pyproject is False


def test_a_huge_pyproject_is_not_read_whole(tmp_path: Path) -> None:
    """project.read reads pyproject.toml whole (``read_text``), without a limit, where the
    readers of the RPM's list, the install report and the dist-infos have one
    (files.read_regular): a sparse 1 TB file is a MemoryError traceback (here under a 4 GiB
    address-space limit, as tests/test_files.py does)."""
    limits.sparse_terabyte(tmp_path / "pyproject.toml")
    with limits.address_space():
        try:
            metadata = project.read(tmp_path)
        except VenvrpmError:
            return
    assert metadata is not None and metadata.pyproject is False


def test_a_pyproject_link_leading_out_of_the_project_is_not_read(tmp_path: Path) -> None:
    """The project copy refuses links leading out of the project (the backend would read through
    them), but project.read, which runs first (prepare, ``check``, ``lock``, ``init``), follows
    ``pyproject.toml -> /anywhere`` and takes its name, build requirements and scripts from a
    file outside the project, read as root."""
    outside = tmp_path / "elsewhere.toml"
    outside.write_text('[project]\nname = "from-outside"\n')
    tree = tmp_path / "project"
    tree.mkdir()
    (tree / "pyproject.toml").symlink_to(outside)
    with contextlib.suppress(VenvrpmError):
        metadata = project.read(tree)
        assert metadata is None or metadata.name != "from-outside"
