"""Spec generation: escaping rules (pure) and a golden spec."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from venvrpm import manifest, scriptlets, spec
from venvrpm.errors import PayloadError
from venvrpm.payload import Attrs, OwnedPath, Payload

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden" / "smallapp.spec"


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        ("/opt/a/plain.txt", '"/opt/a/plain.txt"'),
        ("/opt/a/script (dev).tmpl", '"/opt/a/script (dev).tmpl"'),
        ("/opt/a/it's.txt", '"/opt/a/it\'s.txt"'),
        ("/opt/a/ünï.txt", '"/opt/a/ünï.txt"'),
        ("/opt/a/$HOME", '"/opt/a/$HOME"'),
        ("/opt/a/[x].txt", '"/opt/a/[[]x[]].txt"'),
        ("/opt/a/star*", '"/opt/a/star[*]"'),
        ("/opt/a/what?", '"/opt/a/what[?]"'),
        ("/opt/a/100%", '"/opt/a/100?"'),
        ("/opt/a/%{lua:x}", '"/opt/a/??lua:x?"'),
        ('/opt/a/say "hi"', '"/opt/a/say\\ ?hi?"'),
        ("/opt/a/b\\c", '"/opt/a/b?c"'),
        ("/opt/a/it's [x]", '"/opt/a/it\\\'s\\ [[]x[]]"'),
    ],
)
def test_file_patterns(path: str, pattern: str) -> None:
    assert spec.file_pattern(path) == pattern


def test_tag_values_cannot_expand_macros() -> None:
    assert spec.tag_value("100% %{lua:os.exit(1)} %(id)") == "100%% %%{lua:os.exit(1)} %%(id)"
    with pytest.raises(ValueError):
        spec.tag_value("two\nlines")


def test_description_lines_never_open_a_section() -> None:
    text = "First line.\n%post\n  %files\n%%(id)\nLast 100%"
    assert spec.description_text(text) == ("First line.\n %%post\n  %%files\n %%%%(id)\nLast 100%%")


def test_ambiguous_wildcards_are_refused() -> None:
    entries = [
        OwnedPath(PurePosixPath("/opt/a/b\\c"), "file"),
        OwnedPath(PurePosixPath("/opt/a/bxc"), "file"),
        OwnedPath(PurePosixPath("/opt/a/100%"), "file"),
    ]
    with pytest.raises(PayloadError) as info:
        spec.check_unambiguous(entries)
    assert info.value.details == ("/opt/a/b\\c would also match /opt/a/bxc",)


def test_golden_spec(tmp_path: Path) -> None:
    m = manifest.load(DATA / "manifests" / "good.yaml")
    entries = (
        OwnedPath(PurePosixPath("/etc/smallapp"), "dir"),
        OwnedPath(PurePosixPath("/etc/smallapp/app.conf"), "file", Attrs(config="noreplace")),
        OwnedPath(PurePosixPath("/opt/smallapp"), "dir"),
        OwnedPath(PurePosixPath("/opt/smallapp/bin"), "dir"),
        OwnedPath(PurePosixPath("/opt/smallapp/bin/python"), "link"),
        OwnedPath(PurePosixPath("/opt/smallapp/data"), "dir"),
        OwnedPath(PurePosixPath("/opt/smallapp/data/script (dev).tmpl"), "file"),
        OwnedPath(PurePosixPath("/opt/smallapp/data/100%.txt"), "file"),
        OwnedPath(PurePosixPath("/opt/smallapp/data/[x]*?.txt"), "file"),
        OwnedPath(PurePosixPath("/usr/bin/smallapp"), "link"),
    )
    text = spec.render(
        m,
        Payload(entries, (), 0),
        ["/usr/bin/python3.11", "libc.so.6()(64bit)", "openssl"],
        binary_payload="w19T0.zstdio",
    )
    if os.environ.get("VENVRPM_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


GOLDEN_SERVICE = DATA / "golden" / "smallapp-service.spec"


def test_golden_spec_of_a_service(tmp_path: Path) -> None:
    """User, dirs, services, scriptlets, attributes, relations and changelog."""
    m = manifest.load(DATA / "manifests" / "service.yaml")
    from venvrpm import payload as payload_mod

    attrs = payload_mod.attributes(m)
    paths = [
        ("/etc/smallapp", "dir"), ("/etc/smallapp/app.conf", "file"),
        ("/etc/smallapp/defaults.conf", "file"), ("/opt/smallapp", "dir"),
        ("/usr/lib/systemd/system/smallapp.service", "file"),
        ("/usr/share/doc/smallapp", "dir"), ("/usr/share/doc/smallapp/README", "file"),
        ("/var/lib/smallapp", "dir"), ("/var/log/smallapp", "dir"),
        ("/var/log/smallapp/smallapp.log", "file"),
    ]  # fmt: skip
    entries = tuple(
        OwnedPath(PurePosixPath(p), kind, attrs.get(PurePosixPath(p)))
        for p, kind in paths  # type: ignore[arg-type]
    )
    text = spec.render(
        m, Payload(entries, (), 0), ["/usr/bin/python3.11", "python(abi) = 3.11"],
        binary_payload="w19T0.zstdio", provides=["bundled(python3dist(click)) = 8.1.7"],
        scripts=scriptlets.combined(m),
    )  # fmt: skip
    if os.environ.get("VENVRPM_UPDATE_GOLDEN"):
        GOLDEN_SERVICE.write_text(text)
    assert text == GOLDEN_SERVICE.read_text()


@pytest.mark.parametrize(
    "provide",
    [
        "bundled(python3dist(x)) = 1, /usr/bin/sudo",
        "bundled(python3dist(x)) = 1\nProvides: glibc = 99",
        "bundled(python3dist(x)) = 1!2",
        "bundled(python3dist(x)) = 1 %{lua:x}",
        "glibc = 99",
        "bundled(python3dist(x))",
    ],
)
def test_generated_provides_are_bundled_python_distributions_only(provide: str) -> None:
    """What venvrpm computes itself (pydists.provides) is one `bundled(python3dist(NAME)) =
    EVR`, nothing else: not a second dependency, a path, a line, a macro."""
    m = manifest.load(DATA / "manifests" / "good.yaml")
    with pytest.raises(PayloadError) as info:
        spec.render(m, Payload((), (), 0), [], binary_payload="w19T0.zstdio", provides=[provide])
    assert "Provides" in info.value.message


def test_generated_provides_are_written() -> None:
    m = manifest.load(DATA / "manifests" / "good.yaml")
    good = ["bundled(python3dist(zope-interface)) = 1:6.0.post1+local.2"]
    text = spec.render(m, Payload((), (), 0), [], binary_payload="w19T0.zstdio", provides=good)
    assert "Provides:       bundled(python3dist(zope-interface)) = 1:6.0.post1+local.2\n" in text
