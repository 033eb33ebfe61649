"""lock.resolver: uv: the platform uv is told, and the command it runs."""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath

import pytest

from venvrpm import uvlock
from venvrpm.errors import LockError
from venvrpm.plan import Interpreter


def probed(version: str = "3.9.21", platform: str = "linux-x86_64", libc: str = "glibc 2.34",
           implementation: str = "cpython") -> Interpreter:  # fmt: skip
    return Interpreter(path=PurePosixPath("/usr/bin/python3"), version=version,
                       implementation=implementation, platform=platform, libc=libc)  # fmt: skip


@pytest.mark.parametrize(
    ("platform", "libc", "name", "noted"),
    [
        ("linux-x86_64", "glibc 2.34", "x86_64-manylinux_2_34", False),  # RHEL 9
        ("linux-x86_64", "glibc 2.28", "x86_64-manylinux_2_28", False),  # RHEL 8
        ("linux-aarch64", "glibc 2.39", "aarch64-manylinux_2_39", False),  # RHEL 10
        ("linux-x86_64", "glibc 2.17", "x86_64-manylinux_2_17", False),  # EL7
        ("linux-x86_64", "glibc 2.41", "x86_64-manylinux_2_40", True),  # trixie: newer than uv
        ("linux-ppc64le", "glibc 2.30", "ppc64le-manylinux_2_28", True),  # a gap in uv's list
    ],
)
def test_the_platform_is_the_probed_machine_and_glibc_or_the_newest_below_it(
    platform: str, libc: str, name: str, noted: bool
) -> None:
    chosen = uvlock.python_platform(probed(platform=platform, libc=libc))
    assert chosen.name == name
    assert (chosen.note is not None) == noted


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"libc": ""}, "needs the target's glibc version"),  # musl: libc_ver() says nothing
        ({"libc": "glibc 2.12"}, "glibc older than 2.17"),
        ({"platform": "linux-armv7l"}, "manylinux platforms only for"),
        ({"platform": "macosx-14.0-arm64", "libc": ""}, "manylinux platforms only for"),
        ({"implementation": "pypy"}, "CPython only"),
    ],
)
def test_what_uv_cannot_express_is_refused_naming_the_target(
    changes: dict[str, str], said: str
) -> None:
    with pytest.raises(LockError) as raised:
        uvlock.python_platform(probed(**changes))
    assert said in raised.value.message and "/usr/bin/python3 (" in raised.value.message
    assert "lock.resolver: pip-tools" in (raised.value.hint or "")


def test_every_platform_chosen_is_one_uv_accepts() -> None:
    """The table against the uv venvrpm installs: each value it can choose is accepted."""
    import uv  # type: ignore[import-not-found,unused-ignore]

    binary = uv.find_uv_bin()
    for machine in uvlock.UV_MACHINES:
        for minor in uvlock.UV_MANYLINUX:
            name = f"{machine}-manylinux_2_{minor}"
            run = subprocess.run(
                [binary, "pip", "compile", "--python-platform", name, "--help"],
                capture_output=True, text=True,
            )  # fmt: skip
            assert run.returncode == 0, (name, run.stderr)


def test_offline_with_a_wheelhouse_and_told_the_full_version(tmp_path: Path) -> None:
    platform = uvlock.Platform(name="x86_64-manylinux_2_34")
    argv = uvlock.base_argv(
        Path("/w/tools/uv"), probed(), platform, Path("/w/lock-1.txt"),
        wheelhouse=Path("/srv/wheels"), cache=Path("/w/uv-cache"), upgrade=False,
        upgrade_packages=["requests"],
    )  # fmt: skip
    assert argv[:3] == ["/w/tools/uv", "pip", "compile"]
    assert argv[argv.index("--python-version") + 1] == "3.9.21"
    assert argv[argv.index("--python-platform") + 1] == "x86_64-manylinux_2_34"
    assert argv[argv.index("--python") + 1] == "/usr/bin/python3"  # for sdists' metadata
    assert {"--generate-hashes", "--offline", "--no-index", "--no-config"} <= set(argv)
    assert argv[argv.index("--find-links") + 1] == "/srv/wheels"
    assert argv[argv.index("--upgrade-package") + 1] == "requests"
    online = uvlock.base_argv(
        Path("uv"), probed(), platform, Path("o"), wheelhouse=None, cache=Path("c"),
        upgrade=True, upgrade_packages=(),
    )  # fmt: skip
    assert "--offline" not in online and "--no-index" not in online and "--upgrade" in online


def test_pips_index_and_ca_are_translated_for_uv() -> None:
    env = uvlock.environment({"PIP_INDEX_URL": "https://proxy/simple", "PIP_CERT": "/ca.pem"})
    assert env["UV_DEFAULT_INDEX"] == "https://proxy/simple"
    assert env["SSL_CERT_FILE"] == "/ca.pem"
