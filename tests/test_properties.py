"""Property-based tests: hostile manifests and file names never give a traceback or a wrong RPM."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path, PurePosixPath

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from venvrpm import manifest, payload, spec
from venvrpm.errors import ManifestError, PayloadError, UsageError
from venvrpm.plan import Interpreter, Tools, make_plan

KEYS = [*sorted(manifest.schema()["properties"]), "nmae", "Version", ""]
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
# The number of examples comes from the Hypothesis profile (tests/conftest.py: dev or ci).
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(text: str, base: Path) -> manifest.Manifest | None:
    """A Manifest, or None for a clean manifest error; anything else propagates (a bug)."""
    try:
        return manifest.parse(text, base / "app.yaml")
    except (ManifestError, UsageError) as exc:
        assert exc.exit_code == 2 and exc.message
        return None


def plan_of(m: manifest.Manifest, base: Path) -> None:
    make_plan(
        m,
        interpreter=Interpreter(path=m.python, version="3.11.2", implementation="cpython"),
        tools=Tools(host_python="/p", toolbox=base / "t", pip=base / "w", rpmbuild="/r", elfdeps="/e"),
        workdir=base / "work", output_dir=base / "out", source_date_epoch=1, host_env={},
    )  # fmt: skip


@pytest.fixture(scope="module")
def base() -> Path:
    root = Path(tempfile.mkdtemp(prefix="props-"))
    (root / "requirements.lock").write_text("")
    (root / "conf").mkdir()
    (root / "conf" / "a.conf").write_text("x")
    return root


@SETTINGS
@given(document=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=10))
def test_any_structured_document_is_a_plan_or_exit_2(
    base: Path, document: dict[str, object]
) -> None:
    m = outcome(yaml.safe_dump(document), base)
    if m is not None:
        plan_of(m, base)


@SETTINGS
@given(
    overrides=st.dictionaries(
        st.sampled_from(["name", "version", "release", "summary", "license", "description", "url",
                         "python", "prefix", "requires", "entry_points", "files", "changelog",
                         "scripts", "dirs", "user", "services", "build"]),
        VALUES, max_size=4,
    )
)  # fmt: skip
def test_valid_documents_with_hostile_values(base: Path, overrides: dict[str, object]) -> None:
    document: dict[str, object] = {
        "name": "app", "version": "1.0", "summary": "s", "license": "MIT",
        "python": "/usr/bin/python3.11", "requirements": "requirements.lock",
    }  # fmt: skip
    document.update(overrides)
    m = outcome(yaml.safe_dump(document), base)
    if m is not None:
        plan_of(m, base)


@SETTINGS
@given(text=st.text(max_size=300))
def test_any_text_is_a_plan_or_exit_2(base: Path, text: str) -> None:
    m = outcome(text, base)
    if m is not None:
        plan_of(m, base)


NAME_BYTES = st.binary(min_size=1, max_size=16).filter(
    lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b"..")
)


@pytest.mark.integration
@settings(
    # an rpmbuild per example: 2/15 of the profile's examples (40 in CI)
    max_examples=settings.default.max_examples * 2 // 15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    names=st.lists(
        NAME_BYTES
        | st.text(min_size=1, max_size=12)
        .map(os.fsencode)
        .filter(lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b"..")),
        min_size=1,
        max_size=5,
        unique=True,
    )
)
def test_any_file_name_is_listed_exactly_or_refused_by_name(
    tmp_path: Path, names: list[bytes]
) -> None:
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    stage = work / "stage"
    data = os.fsencode(stage / "opt" / "app" / "data")
    os.makedirs(data)
    for name in names:
        with open(data + b"/" + name, "wb") as fh:
            fh.write(b"x")
    try:
        content = payload.inventory(stage, {})
        text = spec.render(_tiny_manifest(work), content, ["/bin/sh"], binary_payload="w1.gzdio")
    except PayloadError as exc:
        refused = "\n".join(exc.details)
        shown = [payload._shown(PurePosixPath("/opt/app/data") / os.fsdecode(n)) for n in names]
        plain = [str(PurePosixPath("/opt/app/data") / os.fsdecode(n)) for n in names]
        assert any(s in refused for s in shown + plain), (refused, shown)
        return
    (work / "t.spec").write_text(text)
    top = work / "top"
    built = subprocess.run(["rpmbuild", "-bb", "--noclean", "--define", f"_topdir {top}",
                            "--buildroot", str(stage), str(work / "t.spec")], capture_output=True)  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (rpm,) = (top / "RPMS").rglob("*.rpm")
    listed = subprocess.run(["rpm", "-qpl", str(rpm)], capture_output=True, check=True).stdout
    want = sorted({b"/opt/app", b"/opt/app/data"} | {b"/opt/app/data/" + n for n in names})
    assert sorted(listed.splitlines()) == want


def _tiny_manifest(base: Path) -> manifest.Manifest:
    (base / "r.lock").write_text("")
    return manifest.parse(
        "name: app\nversion: '1'\nsummary: s\nlicense: MIT\npython: /usr/bin/python3.11\nrequirements: r.lock\n",
        base / "app.yaml",
    )


def test_refusals_name_the_file(tmp_path: Path) -> None:
    stage = tmp_path / "stage"
    (stage / "opt/app").mkdir(parents=True)
    (stage / "opt/app/bad\nname").write_text("x")
    with pytest.raises(PayloadError) as info:
        payload.inventory(stage, {})
    assert "/opt/app/bad\\nname" in info.value.details[0]
    assert PurePosixPath("/opt/app")
