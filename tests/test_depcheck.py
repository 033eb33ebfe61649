"""The in-process dependency check follows pip check's rules."""

from __future__ import annotations

from tests.support.markers import LINUX_X86_64_311
from venvrpm.depcheck import unmet
from venvrpm.pydists import Distribution

LINUX_311 = LINUX_X86_64_311


def dist(name: str, version: str, *requires: str) -> Distribution:
    return Distribution(name, version, "lock", (), None, requires)


def test_met_requirements_pass() -> None:
    found = [dist("app", "1.0", "click>=8", "Requests[socks]~=2.31"), dist("click", "8.1.7"),
             dist("requests", "2.31.0")]  # fmt: skip
    assert unmet(found, LINUX_311) == []


def test_missing_and_conflicting_are_named_as_pip_check_does() -> None:
    found = [dist("app", "1.0", "click>=9", "tinydep"), dist("click", "8.1.7")]
    assert unmet(found, LINUX_311) == [
        "app 1.0 has requirement click>=9, but you have click 8.1.7.",
        "app 1.0 requires tinydep, which is not installed.",
    ]


def test_markers_are_the_targets() -> None:
    found = [dist("app", "1.0", 'tomli; python_version < "3.11"', 'pywin32; sys_platform == "win32"',
                  'uvloop; sys_platform == "linux"')]  # fmt: skip
    assert unmet(found, LINUX_311) == ["app 1.0 requires uvloop, which is not installed."]
    older = {**LINUX_311, "python_version": "3.9", "python_full_version": "3.9.18"}
    assert unmet(found, older) == [
        "app 1.0 requires tomli, which is not installed.",
        "app 1.0 requires uvloop, which is not installed.",
    ]


def test_extras_requirements_are_not_required() -> None:
    found = [
        dist(
            "app",
            "1.0",
            'pytest; extra == "test"',
            'rich; extra == "cli" and python_version >= "3"',
        )
    ]
    assert unmet(found, LINUX_311) == []


def test_names_compare_canonically_and_prereleases_count() -> None:
    found = [dist("app", "1.0", "Zope.Interface>=6", "beta>=1.0b1"), dist("zope-interface", "6.1"),
             dist("beta", "1.0b2")]  # fmt: skip
    assert unmet(found, LINUX_311) == []


def test_invalid_requirement_and_legacy_version() -> None:
    found = [dist("app", "1.0", "not a requirement !!", "old>=1"), dist("old", "weird-version")]
    problems = unmet(found, LINUX_311)
    assert problems[0] == "app 1.0 has an invalid requirement: not a requirement !!"
    assert problems[1].startswith("app 1.0 has requirement old>=1, but you have old weird-version")
