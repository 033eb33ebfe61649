"""The CI templates in docs/ci/ have the structure docs/ci.md describes, and every `venvrpm`
command in them parses with venvrpm's own argument parser: they cannot drift from the CLI."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from venvrpm.cli import _parser
from venvrpm.errors import UsageError

CI = Path(__file__).resolve().parent.parent / "docs" / "ci"
GITHUB = CI / "github-actions.yml"
GITLAB = CI / "gitlab-ci.yml"
_OPERATORS = {">", ">>", "<", "|", "||", "&&", ";", "&", "2>", "2>&1"}


def _load(path: Path) -> dict[Any, Any]:
    # PyYAML reads GitHub's `on:` as the boolean True (YAML 1.1); the runner does not.
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _github_lines() -> list[str]:
    steps = _load(GITHUB)["jobs"]["rpm"]["steps"]
    return [line for s in steps if "run" in s for line in s["run"].splitlines()]


def _gitlab_lines() -> list[str]:
    job = _load(GITLAB)["rpm"]
    return [*job["before_script"], *job["script"]]


def venvrpm_commands(lines: list[str]) -> list[list[str]]:
    """The arguments of every `venvrpm ...` command, cut at the first shell operator."""
    found = []
    for line in lines:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
        if not words or words[0] != "venvrpm":
            continue
        args = []
        for word in words[1:]:
            if word in _OPERATORS or set(word) <= set("<>|&;"):
                break
            args.append(word)
        found.append(args)
    return found


def _parses(args: list[str]) -> None:
    try:
        _parser().parse_args(args)
    except UsageError as exc:  # venvrpm's parser's way of saying "usage error"
        pytest.fail(f"`venvrpm {shlex.join(args)}` does not parse ({exc.message})")


@pytest.mark.parametrize("lines", [_github_lines, _gitlab_lines], ids=["github", "gitlab"])
def test_every_venvrpm_command_parses(lines: Any) -> None:
    commands = venvrpm_commands(lines())
    assert commands, "no venvrpm command found"
    for args in commands:
        _parses(args)
    # the commands docs/ci.md explains, in this order
    assert [a[0] for a in commands] == ["lock", "build", "inspect", "cache"]
    lock, build = commands[0], commands[1]
    assert "--check" in lock
    assert "--json" in build and build[build.index("-o") + 1] == "dist/"


def test_the_build_line_writes_build_json() -> None:
    for line in [*_github_lines(), *_gitlab_lines()]:
        if line.strip().startswith("venvrpm build"):
            assert line.rstrip().endswith("> build.json"), line


def test_a_broken_command_is_caught() -> None:
    (args,) = venvrpm_commands(['venvrpm build "$MANIFEST" --output dist/ --jsn > build.json'])
    assert args == ["build", "$MANIFEST", "--output", "dist/", "--jsn"]
    with pytest.raises(pytest.fail.Exception):
        _parses(args)


def test_github_workflow_structure() -> None:
    workflow = _load(GITHUB)
    assert {"name", "jobs", "env"} <= set(workflow)
    assert True in workflow or "on" in workflow  # `on:`, read by PyYAML as True
    job = workflow["jobs"]["rpm"]
    assert job["runs-on"] == "ubuntu-latest"
    steps = job["steps"]
    uses = [s["uses"] for s in steps if "uses" in s]
    assert uses[0] == "actions/checkout@v4"
    assert "actions/cache@v4" in uses
    assert uses[-1] == "actions/upload-artifact@v4"
    for step in steps:
        assert ("uses" in step) != ("run" in step), step
    runs = "\n".join(s["run"] for s in steps if "run" in s)
    assert "apt-get install" in runs and " rpm " in runs
    assert "pip" in runs and "install" in runs and "$VENVRPM_SOURCE" in runs
    # the cache action keeps the directory venvrpm is told to use
    cache = next(s for s in steps if s.get("uses") == "actions/cache@v4")
    assert "VENVRPM_CACHE_DIR=$RUNNER_TEMP/venvrpm-cache" in runs
    assert cache["with"]["path"] == "${{ runner.temp }}/venvrpm-cache"
    assert {"key", "restore-keys"} <= set(cache["with"])
    upload = steps[-1]["with"]
    assert "dist/*.rpm" in upload["path"].split()
    assert upload["if-no-files-found"] == "error"
    # the cache is restored before the build that fills it
    names = [s.get("uses") or s.get("run") for s in steps]
    build = next(i for i, n in enumerate(names) if n.startswith("venvrpm build"))
    assert names.index("actions/cache@v4") < build


def test_gitlab_job_structure() -> None:
    job = _load(GITLAB)["rpm"]
    assert job["image"].startswith(("debian:", "fedora:"))
    assert {"variables", "cache", "before_script", "script", "artifacts"} <= set(job)
    assert any(line.startswith("apt-get install") and " rpm " in line
               for line in job["before_script"])  # fmt: skip
    assert "dist/*.rpm" in job["artifacts"]["paths"]
    # GitLab caches paths inside the project only: VENVRPM_CACHE_DIR must be the cached path
    cache_dir = job["variables"]["VENVRPM_CACHE_DIR"]
    assert cache_dir.startswith("$CI_PROJECT_DIR/")
    relative = cache_dir.removeprefix("$CI_PROJECT_DIR/")
    assert [p.rstrip("/") for p in job["cache"]["paths"]] == [relative]
    # a top-level directory the build's copy of a `project: .` leaves out
    from venvrpm import venvbuild

    assert relative.split("/")[0] in venvbuild._IGNORED_AT_TOP
