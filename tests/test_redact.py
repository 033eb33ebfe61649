"""Credentials in URLs never reach what venvrpm prints: the masking, and the output boundary."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from venvrpm.console import Console
from venvrpm.errors import CommandError, VenvrpmError
from venvrpm.redact import redact, redact_all

SECRET = "s3cret"
URL = f"https://user:{SECRET}@example.invalid/simple"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # pip's redact_auth_from_url: the user kept, the password masked
        (URL, "https://user:****@example.invalid/simple"),
        # a lone user part is a token
        ("https://TOKEN@example.invalid/simple", "https://****@example.invalid/simple"),
        ("http://u:p%40ss@proxy:3128", "http://u:****@proxy:3128"),
        # the user part ends at the last @ of the netloc, as urlsplit reads it
        ("https://u:p@ss@host/x", "https://u:****@host/x"),
        # an @ in the path is no credential
        ("https://host/@scope/pkg", "https://host/@scope/pkg"),
        ("no url, a@b.c", "no url, a@b.c"),
        # several URLs in one value (PIP_EXTRA_INDEX_URL), and in a command line
        (
            f"{URL} https://t0k@b.invalid/",
            "https://user:****@example.invalid/simple https://****@b.invalid/",
        ),
        (
            f"pip install --index-url={URL} x",
            "pip install --index-url=https://user:****@example.invalid/simple x",
        ),
        # inside JSON and repr()
        (json.dumps({"k": URL}), '{"k": "https://user:****@example.invalid/simple"}'),
        (repr((URL,)), "('https://user:****@example.invalid/simple',)"),
        ("git+ssh://git:pw@host/r.git", "git+ssh://git:****@host/r.git"),
        # RFC 3986's sub-delimiters are part of the user part, as urlsplit reads it
        ("https://u:p'(*)!$&+,;=@host/", "https://u:****@host/"),
        (repr("https://u:it's@host/"), '"https://u:****@host/"'),
        # what ends a URL in prose or a document stays: no address taken for a password
        ("see (https://host/x) or mail a@b.c", "see (https://host/x) or mail a@b.c"),
        ("see <https://host> and a@b.c", "see <https://host> and a@b.c"),
        (json.dumps(["https://host", "a@b.c"]), '["https://host", "a@b.c"]'),
        (repr(("https://host", "a@b.c")), "('https://host', 'a@b.c')"),
    ],
)
def test_redact_masks_credentials_as_pip_does(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_redact_all_walks_a_document() -> None:
    document = {"pip_env": {"PIP_INDEX_URL": URL}, "argv": [URL, 3, None], "t": (URL,)}
    assert SECRET not in json.dumps(redact_all(document))
    assert redact_all(document)["argv"][1:] == [3, None]
    assert isinstance(redact_all(document)["t"], tuple)


def _console() -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(verbose=True, stream=stream, terminal=False), stream


def test_the_console_masks_steps_output_notices_and_warnings() -> None:
    console, stream = _console()
    console.report("step", f"locking from {URL}")
    console.report("info", f"index {URL}")
    console.report("warning", f"slow index {URL}")
    console.output("stdout", f"Looking in indexes: {URL}", captured=True)
    console.notice(f"kept {URL}")
    console.done(f"built from {URL}")
    text = stream.getvalue()
    assert SECRET not in text and text.count("user:****@") == 6


def test_an_error_shows_its_command_and_details_masked() -> None:
    console, stream = _console()
    console.error(
        CommandError(
            "pip failed", ["pip", "install", "--index-url", URL], 1, f"GET {URL}", f"check {URL}"
        )
    )
    console.error(VenvrpmError(f"cannot reach {URL}", details=[f"tried {URL}"]))
    text = stream.getvalue()
    assert SECRET not in text and "user:****@example.invalid" in text


def test_json_documents_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    Console(stream=io.StringIO()).write_json(
        {"error": {"details": [f"command: pip --index-url {URL}"]}}
    )
    assert SECRET not in capsys.readouterr().out


def test_the_plan_description_is_masked(tmp_path: Path) -> None:
    """What ``--dry-run`` prints: the index URL pip will see, its password masked."""
    from tests.test_plan import plan_for

    plan = plan_for(
        tmp_path,
        host_env={"PIP_INDEX_URL": URL, "PIP_EXTRA_INDEX_URL": f"https://t0k@b.invalid/ {URL}"},
    )
    assert dict(plan.pip_env)["PIP_INDEX_URL"] == URL  # pip itself gets the credentials
    described = json.dumps(plan.describe())
    assert SECRET not in described and "t0k" not in described
    assert "https://user:****@example.invalid/simple" in described
