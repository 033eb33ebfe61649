"""What of the host's pip configuration reaches a container or root (venvrpm/pipconfig.py)."""

from __future__ import annotations

import os
from pathlib import Path

from venvrpm import pipconfig


def _config(path: Path, text: str) -> Path:
    path.write_text("[global]\n" + text)
    return path


def test_a_config_is_forwarded_with_the_files_it_names(tmp_path: Path) -> None:
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("torch<3\n")
    cert = tmp_path / "ca.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    config = _config(tmp_path / "pip.conf", f"constraint = {constraints}\ncert = {cert}\n")
    found = pipconfig.forwarding({}, configs=(config, tmp_path / "absent.conf"))
    assert found.files == tuple(sorted((config, constraints, cert)))
    assert found.warnings == () and found.dropped_env == ()


def test_a_config_naming_a_missing_file_is_not_forwarded_and_warns(tmp_path: Path) -> None:
    config = _config(tmp_path / "pip.conf", f"constraint = {tmp_path / 'gone.txt'}\n")
    found = pipconfig.forwarding({}, configs=(config,))
    assert found.files == ()
    (warning,) = found.warnings
    assert str(config) in warning and "gone.txt" in warning and "not found" in warning


def test_symlinks_special_files_relative_and_output_paths_are_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("")
    (tmp_path / "link.txt").symlink_to(real)
    (tmp_path / "linkdir").symlink_to(tmp_path)
    cases = {
        "symlink": f"constraint = {tmp_path / 'link.txt'}\n",
        "symlinked directory": f"constraint = {tmp_path / 'linkdir' / 'real.txt'}\n",
        "not a regular file": "cert = /dev/null\n",
        "relative": "requirement = reqs.txt\n",
        "not forwarded": "log = /var/log/pip.log\n",
    }
    for reason, text in cases.items():
        config = _config(tmp_path / "pip.conf", text)
        found = pipconfig.forwarding({}, configs=(config,))
        assert found.files == (), reason
        (warning,) = found.warnings
        assert reason in warning, (reason, warning)


def test_environment_settings_naming_files_are_forwarded_or_dropped(tmp_path: Path) -> None:
    constraints = tmp_path / "c.txt"
    constraints.write_text("")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    env = {
        "PIP_CONSTRAINT": str(constraints),
        "PIP_FIND_LINKS": f"{wheels} https://example.invalid/links",
        "PIP_CLIENT_CERT": str(tmp_path / "missing.pem"),
        "PIP_INDEX_URL": "https://user:secret@mirror.invalid/simple",
    }
    found = pipconfig.forwarding(env, configs=())
    assert found.files == tuple(sorted((constraints, wheels)))
    assert found.dropped_env == ("PIP_CLIENT_CERT",)
    assert len(found.warnings) == 1 and "PIP_CLIENT_CERT" in found.warnings[0]
    assert "secret" not in found.warnings[0]


def test_devnull_config_file_forwards_nothing(tmp_path: Path) -> None:
    found = pipconfig.forwarding({"PIP_CONFIG_FILE": os.devnull}, configs=())
    assert found.files == () and found.warnings == () and found.dropped_env == ()
