"""A loopback PEP 503 index serving a wheelhouse, for tools that record hashes only from an
index (uv lock and Poetry take none from a local directory): no network beyond 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from packaging.utils import canonicalize_name


def write_index(wheels: Path, index: Path) -> None:
    """A PEP 503 tree of *wheels* under *index*, each link with its ``#sha256=`` fragment."""
    projects: dict[str, list[Path]] = {}
    for path in sorted(wheels.iterdir()):
        projects.setdefault(canonicalize_name(path.name.split("-")[0]), []).append(path)
    for name, paths in projects.items():
        (index / name).mkdir(parents=True)
        links = ""
        for path in paths:
            shutil.copy(path, index / name / path.name)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            links += f'<a href="{path.name}#sha256={digest}">{path.name}</a>\n'
        (index / name / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    root = "".join(f'<a href="{n}/">{n}</a>\n' for n in projects)
    (index / "index.html").write_text(f"<html><body>\n{root}</body></html>\n")


@contextmanager
def serve(wheels: Path, index: Path) -> Iterator[str]:
    """*wheels* as a PEP 503 index on 127.0.0.1; yields its URL (``http://.../simple/``)."""
    write_index(wheels, index / "simple")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(index), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/simple/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
