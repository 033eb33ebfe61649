"""Shell completion is generated from the parser: every command and option, a working script."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from venvrpm import completion
from venvrpm.cli import _parser, main


def test_every_command_and_option_is_offered() -> None:
    table = completion.commands(_parser())
    assert {"build", "lock", "cache", "inspect", "init", "completion"} <= set(table)
    assert "--no-cache" in table["build"] and "--json" in table["inspect"]
    assert "--version" in table[""]


@pytest.mark.parametrize(
    ("words", "expected", "absent"),
    [(["venvrpm", "bu"], "build", "lock"), (["venvrpm", "build", "--no-c"], "--no-cache", "--json"),
     (["venvrpm", "-q", "ins"], "inspect", "init")],
)  # fmt: skip
def test_bash_completes_commands_and_options(
    capsys: pytest.CaptureFixture[str], words: list[str], expected: str, absent: str
) -> None:
    bash = shutil.which("bash")
    assert bash is not None
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    probe = script + (
        f"COMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1}; _venvrpm; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    found = subprocess.run([bash, "-c", probe], capture_output=True, text=True, check=True)
    assert expected in found.stdout.split()
    assert absent not in found.stdout.split()


def test_zsh_script_loads_bash_completion_support(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "zsh"]) == 0
    assert capsys.readouterr().out.startswith("autoload -U +X bashcompinit")
