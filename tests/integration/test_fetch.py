"""`venvrpm fetch` and offline builds: the wheelhouse filled from an index, then no network."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.support.apps import make_smallapp
from venvrpm.cli import main

pytestmark = pytest.mark.integration


def make_index(wheels: Path, index: Path) -> None:
    """A PEP 503 index (file://) holding *wheels*: pip's real index code, no network."""
    for path in wheels.iterdir():
        name = canonicalize_name(path.name.split("-")[0])
        (index / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, index / name / path.name)
        links = "".join(
            f'<a href="{p.name}">{p.name}</a>\n'
            for p in sorted((index / name).iterdir())
            if p.name != "index.html"
        )
        (index / name / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")


def app_with_index(root: Path) -> tuple[Path, Path, Path]:
    """The test app with an empty wheelhouse and its files in a PEP 503 index instead."""
    app = make_smallapp(root / "app")
    wheels = app.parent / "wheels"
    make_index(wheels, root / "simple")
    shutil.rmtree(wheels)
    return app, wheels, root / "simple"


def test_fetch_fills_the_wheelhouse_then_builds_with_no_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app, wheels, index = app_with_index(tmp_path)
    expected = sorted(p.name for p in index.rglob("*") if p.is_file() and p.name != "index.html")
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")  # only our index, not the host's
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())

    assert main(["fetch", str(app)]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in wheels.iterdir()) == expected
    assert "fetched 4, already there 0" in capsys.readouterr().err

    assert main(["fetch", str(app)]) == 0  # complete: nothing to do, no pip run
    assert "already holds all 4 locked distributions" in capsys.readouterr().err

    # offline build with the network cut (unshare -n): nothing may reach out
    build = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "venvrpm", "build", str(app), "--offline",
         "-o", str(tmp_path / "dist")], capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    assert len(list((tmp_path / "dist").glob("*.rpm"))) == 1


def test_fetch_names_what_it_could_not_get(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app, _, _ = app_with_index(tmp_path)
    shutil.rmtree(tmp_path / "simple" / "tinydep")
    (
        tmp_path
        / "simple"
        / "sdistonly"
        / next(p.name for p in (tmp_path / "simple" / "sdistonly").iterdir() if p.suffix == ".gz")
    ).write_bytes(b"tampered")
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())
    assert main(["fetch", str(app)]) == 1
    err = capsys.readouterr().err
    assert "2 distribution(s) could not be fetched" in err
    assert "tinydep==1.0: no file for this interpreter and platform" in err
    assert "sdistonly==2.0: hash mismatch" in err
    assert "Traceback" not in err


def test_offline_build_with_an_incomplete_wheelhouse_names_the_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_smallapp(tmp_path / "app")
    next((app.parent / "wheels").glob("tinydep-*")).unlink()
    assert main(["build", str(app), "--offline", "-o", str(tmp_path / "dist")]) == 1
    err = capsys.readouterr().err
    assert (
        "cannot serve requirements.lock" in err and "tinydep==1.0 is not in the wheelhouse" in err
    )
    assert "venvrpm fetch app.yaml" in err
    assert not (tmp_path / "dist").exists()


def test_offline_needs_a_wheelhouse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_smallapp(tmp_path / "app")
    app.write_text(app.read_text().replace("wheelhouse: wheels/\n", ""))
    assert main(["build", str(app), "--offline", "-o", str(tmp_path / "dist")]) == 2
    assert "--offline needs a wheelhouse" in capsys.readouterr().err


def test_a_network_failure_mid_fetch_is_named_and_leaves_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A loopback index that cuts the tinydep wheel off halfway through."""
    import http.server
    import threading

    app, wheels, index = app_with_index(tmp_path)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(index), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            return None

        def do_GET(self) -> None:
            if self.path.endswith(".whl") and "tinydep" in self.path:
                data = (index / self.path.lstrip("/")).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])  # then the connection drops
                self.close_connection = True
                return
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
        monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_port}/")
        monkeypatch.setenv("PIP_RETRIES", "0")
        monkeypatch.setenv("PIP_TIMEOUT", "5")
        assert main(["fetch", str(app)]) == 1
    finally:
        server.shutdown()
        server.server_close()  # its listening socket, else left to the garbage collector
    err = capsys.readouterr().err
    assert "1 distribution(s) could not be fetched" in err and "tinydep==1.0" in err
    assert "Traceback (most recent call last)" not in err.split("error:")[0]
    present = sorted(p.name for p in wheels.iterdir())
    assert not [p for p in present if p.startswith("tinydep")], "no half-written file"
    assert len(present) == 3  # the others arrived whole (their hashes were checked)


def test_one_pip_fetches_the_whole_lock_and_reports_how_far_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pip per distribution cost ~1 s each (Zuul: 139 files in 200 s, silently)."""
    from tests.support.recording import RecordingRunner
    from venvrpm import fetch, lockfile
    from venvrpm.console import Console
    from venvrpm.runner import HostRunner

    app, wheels, index = app_with_index(tmp_path)
    lock = lockfile.read(app.parent / "requirements.lock")
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    env = {"PIP_CONFIG_FILE": "/dev/null", "PIP_INDEX_URL": index.as_uri()}
    events: list[tuple[str, str]] = []
    console = Console(stream=io.StringIO(), terminal=False)

    def report(kind: str, text: str) -> None:
        events.append((kind, text))
        console.report(kind, text)

    console.report("step", "fetching")
    runner = RecordingRunner(HostRunner(1, on_output=console.sink))
    (tmp_path / "scratch").mkdir()
    done = fetch.fetch(lock, wheels, [sys.executable, "-m", "pip"], runner, env,
                       tmp_path / "scratch", isolated=True, report=report)  # fmt: skip
    assert len(done.downloaded) == len(lock.requirements) == 4
    downloads = [c for c in runner.calls if "download" in c.argv]
    assert len(downloads) == 1, "one pip for the whole lock"
    assert "--require-hashes" in downloads[0].argv and "--no-deps" in downloads[0].argv
    assert ("total", "4 distributions") in events
    assert console.bar is not None and console.bar.done == 4, "pip's lines were counted"


@pytest.mark.parametrize("where", ["wheelhouse is a file", "its directory is a file"])
def test_a_wheelhouse_that_cannot_be_written_is_said_with_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:  # fmt: skip
    """The wheelhouse is the user's directory: a write the machine refuses there is said with
    its path, exit 1, not a bug's traceback."""
    app, wheels, _ = app_with_index(tmp_path)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())
    if where == "wheelhouse is a file":
        wheels.write_text("a file where the wheelhouse should be\n")
    else:
        (app.parent / "blocked").write_text("a file where a directory should be\n")
        app.write_text(app.read_text().replace("wheelhouse: wheels/", "wheelhouse: blocked/w/"))
        wheels = app.parent / "blocked" / "w"
    assert main(["fetch", str(app)]) == 1
    err = capsys.readouterr().err
    assert f"filling the wheelhouse {wheels}: " in err, err
    assert "Traceback" not in err and "bug in venvrpm" not in err
