"""The fenced surfaces read real output: pip 23 and pip 26 (tests/data/pip-output), rpm 4.18,
rpmlint 2.4, and the installed virtualenv and cyclonedx-python-lib."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from venvrpm._fenced import pip_text, rpm_text, virtualenv_api

SAMPLES = Path(__file__).parent / "data" / "pip-output"
PIPS = ["pip23", "pip26"]
WHEELHOUSE = "file:///tmp/venvrpm-pip-samples/wheelhouse"


def _output(pip: str, name: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of a captured run."""
    text = (SAMPLES / pip / f"{name}.txt").read_text()
    head, _, rest = text.partition("\n# stdout\n")
    stdout, _, stderr = rest.partition("# stderr\n")
    return int(head.removeprefix("# exit ")), stdout, stderr


@pytest.mark.parametrize("pip", PIPS)
@pytest.mark.parametrize("name", ["download-missing", "install-missing"])
def test_a_requirement_with_no_file_is_named(pip: str, name: str) -> None:
    status, stdout, stderr = _output(pip, name)
    assert status == 1
    assert pip_text.not_found(stdout + stderr) == ["absentdep==1.0"]
    assert not pip_text.hash_mismatch(stdout + stderr)


@pytest.mark.parametrize("pip", PIPS)
@pytest.mark.parametrize("name", ["download-hash-mismatch", "install-hash-mismatch"])
def test_a_hash_mismatch_names_the_distribution_and_its_file(pip: str, name: str) -> None:
    _, stdout, stderr = _output(pip, name)
    assert pip_text.hash_mismatches(stdout + stderr) == [
        pip_text.HashMismatch("tinydep", "1.0", f"{WHEELHOUSE}/tinydep-1.0-py3-none-any.whl")
    ]
    assert not pip_text.not_found(stdout + stderr)


@pytest.mark.parametrize("pip", PIPS)
@pytest.mark.parametrize("name", ["download-invalid-wheel", "install-invalid-wheel"])
def test_an_invalid_wheel_is_named(pip: str, name: str) -> None:
    _, stdout, stderr = _output(pip, name)
    assert [Path(w).name for w in pip_text.invalid_wheels(stdout + stderr)] == [
        "brokendep-1.0-py3-none-any.whl"
    ]


@pytest.mark.parametrize("pip", PIPS)
def test_each_distribution_started_is_one_line(pip: str) -> None:
    status, stdout, _ = _output(pip, "download-ok")
    assert status == 0
    started = [line for line in stdout.splitlines() if pip_text.STARTED.match(line)]
    assert len(started) == 1 and "tinydep-1.0" in started[0]
    assert not pip_text.not_found(stdout) and not pip_text.hash_mismatch(stdout)


@pytest.mark.parametrize("pip", PIPS)
def test_a_wheel_pip_refused_gives_its_reason(pip: str) -> None:
    """init: pip found the wheel and discarded it (its metadata disagrees with its name)."""
    _, stdout, stderr = _output(pip, "init-download-inconsistent")
    lines = [line.strip() for line in (stdout + stderr).splitlines() if line.strip()]
    rejected = pip_text.discarded(lines)
    assert len(rejected) == 1
    assert pip_text.discard_reason(rejected[0]).endswith(
        "has inconsistent version: expected '1.0', but metadata has '2.0'"
    )
    _, stdout, stderr = _output(pip, "init-download-missing")
    lines = [line.strip() for line in (stdout + stderr).splitlines() if line.strip()]
    assert not pip_text.discarded(lines)
    assert pip_text.not_found(stdout + stderr) == ["absentdep"]


@pytest.mark.parametrize("pip", PIPS)
def test_index_versions_are_read(pip: str) -> None:
    status, stdout, _ = _output(pip, "index-versions-found")
    assert status == 0
    assert pip_text.index_versions(stdout) == pip_text.IndexVersions("1.0", ("1.0",))
    status, stdout, stderr = _output(pip, "index-versions-missing")
    assert status == 1 and pip_text.index_versions(stdout) is None
    assert pip_text.not_found(stderr) == ["absentdep"]


def test_other_pip_refusals() -> None:
    assert pip_text.backend_unavailable("pip._vendor.pyproject_hooks._impl.BackendUnavailable: x")
    assert pip_text.bad_zip("zipfile.BadZipFile: File is not a zip file")
    assert pip_text.hashes_refused(
        "ERROR: Hashes are required in --require-hashes mode, but they are missing from some "
        "requirements. [...]\n    tinydep==1.0 --hash=sha256:85243ab3"
    )
    assert not pip_text.hashes_refused("ERROR: No matching distribution found for x")


def test_a_resolution_failure_keeps_the_final_message_only() -> None:
    output = (
        "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
        "pip._internal.exceptions.ResolutionImpossible: [RequirementInformation(x)]\n"
        "\nThe above exception was the direct cause of the following exception:\n\n"
        "Traceback (most recent call last):\n  File \"y.py\", line 2\n"
        "Could not find a version that matches a<1,>=2\n"
        "piptools.exceptions.NoCandidateFound: Could not find a version that matches a<1,>=2\n"
    )  # fmt: skip
    assert pip_text.resolution_failure(output) == "Could not find a version that matches a<1,>=2"
    assert pip_text.resolution_failure("") == "(pip-compile printed nothing)"


# rpm 4.18's rpmbuild log and rpmlint 2.4's lines, as they print them
RPMBUILD_LOG = """\
Processing files: smallapp-1.0.0-1.x86_64
Checking for unpackaged file(s): /usr/lib/rpm/check-files /w/stage
Wrote: /w/rpmbuild/SRPMS/smallapp-1.0.0-1.src.rpm
Wrote: /w/rpmbuild/RPMS/x86_64/smallapp-1.0.0-1.x86_64.rpm
Executing(%clean): /bin/sh -e /w/tmp/rpm-tmp.x
"""
RPMLINT = """\
smallapp.x86_64: E: zero-length /opt/smallapp/lib/python3.11/site-packages/x/py.typed
smallapp.x86_64: W: no-documentation
 1 packages and 0 specfiles checked; 1 errors, 1 warnings, 0 badness; has taken 0.3 s
"""


def test_rpmbuild_says_what_it_wrote() -> None:
    assert rpm_text.written(RPMBUILD_LOG) == [
        Path("/w/rpmbuild/SRPMS/smallapp-1.0.0-1.src.rpm"),
        Path("/w/rpmbuild/RPMS/x86_64/smallapp-1.0.0-1.x86_64.rpm"),
    ]
    assert rpm_text.written("Processing files: x\n") == []


def test_rpmlint_findings_and_summary() -> None:
    lines = RPMLINT.splitlines()
    first = rpm_text.FINDING.match(lines[0])
    assert first is not None and (first["package"], first["level"], first["check"]) == (
        "smallapp.x86_64", "E", "zero-length"
    )  # fmt: skip
    second = rpm_text.FINDING.match(lines[1])
    assert second is not None and second["check"] == "no-documentation" and second["rest"] is None
    assert rpm_text.FINDING.match(lines[2]) is None
    summary = rpm_text.SUMMARY.search(lines[2])
    assert summary is not None and summary.groups() == ("1", "1")


def test_virtualenv_embeds_a_pip_for_the_supported_pythons() -> None:
    for python in ("3.10", "3.11", "3.12", "3.13"):
        wheel = virtualenv_api.embedded_wheel("pip", python)
        assert wheel is not None and wheel.is_file() and re.fullmatch(r"pip-.+\.whl", wheel.name)


def test_virtualenv_still_has_its_startup_module() -> None:
    module = virtualenv_api.startup_module()
    assert module is not None and b"applied at runtime to the virtual environment" in module


def test_cyclonedx_imports_without_a_warning() -> None:
    import importlib

    from venvrpm._fenced import cyclonedx_api

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(cyclonedx_api)


def test_only_the_fences_import_the_fragile_libraries() -> None:
    package = Path(__file__).parent.parent / "venvrpm"
    for path in package.rglob("*.py"):
        if path.parent.name == "_fenced":
            continue
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) (cyclonedx|virtualenv)\b", text, re.M), path
        assert "Wrote: " not in text and "No matching distribution" not in text, path


def test_rpm_names_what_no_package_provides() -> None:
    """rpm 4.18's answer for two names, one provided (its NEVRA) and one not."""
    said = "bash-5.2.15-2.fc38.x86_64\nno package provides libpq-devel >= 13\n"
    assert rpm_text.unprovided(said, ["bash", "libpq-devel >= 13"]) == ["libpq-devel >= 13"]
