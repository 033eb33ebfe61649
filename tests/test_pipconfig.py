"""What of the host's pip configuration reaches a container or root (venvrpm/pipconfig.py)."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

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
    assert found.files == tuple(sorted((p, p) for p in (config, constraints, cert)))
    assert found.warnings == () and found.dropped_env == ()


def test_a_config_naming_a_missing_file_is_not_forwarded_and_warns(tmp_path: Path) -> None:
    config = _config(tmp_path / "pip.conf", f"constraint = {tmp_path / 'gone.txt'}\n")
    found = pipconfig.forwarding({}, configs=(config,))
    assert found.files == ()
    (warning,) = found.warnings
    assert str(config) in warning and "gone.txt" in warning and "not found" in warning


def test_special_files_relative_and_output_paths_are_refused(tmp_path: Path) -> None:
    (tmp_path / "null").symlink_to("/dev/null")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    cases = {
        "not a regular file": "cert = /dev/null\n",
        f"{tmp_path / 'null'} (/dev/null) is not a regular file": f"cert = {tmp_path / 'null'}\n",
        "dangling not found": f"constraint = {tmp_path / 'dangling'}\n",
        "relative": "requirement = reqs.txt\n",
        "not forwarded": "target = /opt/elsewhere\n",
    }
    for reason, text in cases.items():
        config = _config(tmp_path / "pip.conf", text)
        found = pipconfig.forwarding({}, configs=(config,))
        assert found.files == (), reason
        (warning,) = found.warnings
        assert reason.split()[-1] in warning and reason.split()[0] in warning, (reason, warning)


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
    assert found.files == tuple(sorted((p, p) for p in (constraints, wheels)))
    assert found.dropped_env == ("PIP_CLIENT_CERT",)
    assert len(found.warnings) == 1 and "PIP_CLIENT_CERT" in found.warnings[0]
    assert "secret" not in found.warnings[0]


def test_devnull_config_file_forwards_nothing(tmp_path: Path) -> None:
    found = pipconfig.forwarding({"PIP_CONFIG_FILE": os.devnull}, configs=())
    assert found.files == () and found.warnings == () and found.dropped_env == ()


def test_a_symlinked_cert_is_mounted_resolved_at_its_configured_path(tmp_path: Path) -> None:
    # RHEL: /etc/ssl/certs -> /etc/pki/tls/certs, and ca-bundle.crt is itself a symlink
    certs = tmp_path / "pki" / "tls" / "certs"
    certs.mkdir(parents=True)
    bundle = tmp_path / "pki" / "ca-trust" / "tls-ca-bundle.pem"
    bundle.parent.mkdir()
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    (certs / "ca-bundle.crt").symlink_to("../../ca-trust/tls-ca-bundle.pem")
    (tmp_path / "ssl").mkdir()
    (tmp_path / "ssl" / "certs").symlink_to(certs)
    linked_file = certs / "ca-bundle.crt"
    under_linked_dir = tmp_path / "ssl" / "certs" / "ca-bundle.crt"
    for cert in (linked_file, under_linked_dir):
        config = _config(
            tmp_path / "pip.conf", f"index-url = https://m.invalid/simple\ncert = {cert}\n"
        )
        found = pipconfig.forwarding({"PIP_CERT": str(cert)}, configs=(config,))
        assert found.files == tuple(sorted(((config, config), (cert, bundle)))), cert
        assert found.warnings == () and found.dropped_env == ()


def test_a_symlinked_config_and_find_links_directory_are_resolved(tmp_path: Path) -> None:
    wheels = tmp_path / "srv" / "wheels"
    wheels.mkdir(parents=True)
    (tmp_path / "links").symlink_to(wheels)
    real = _config(tmp_path / "real.conf", f"find-links = {tmp_path / 'links'}\n")
    config = tmp_path / "pip.conf"
    config.symlink_to(real)
    found = pipconfig.forwarding({}, configs=(config,))
    assert found.files == tuple(sorted(((config, real), (tmp_path / "links", wheels))))
    assert found.warnings == ()


def test_cache_dir_and_log_are_ignored_not_refused(tmp_path: Path) -> None:
    config = _config(
        tmp_path / "pip.conf",
        "index-url = https://m.invalid/simple\ncache-dir = /var/cache/pip\nlog = /var/log/pip.log\n",
    )
    found = pipconfig.forwarding({"PIP_CACHE_DIR": "/var/cache/pip"}, configs=(config,))
    assert found.files == ((config, config),)
    assert found.warnings == () and found.dropped_env == ()
    assert any("cache-dir" in n for n in found.notes)
    assert any("log" in n for n in found.notes)


def test_system_directories_and_host_secrets_are_refused(tmp_path: Path) -> None:
    (tmp_path / "root").symlink_to("/")
    (tmp_path / "shadow").symlink_to("/etc/shadow")
    cases = {
        "find-links = /\n": "/ is a system directory",
        "find-links = file:///\n": "/ is a system directory",
        "index-url = file:///\n": "/ is a system directory",
        f"find-links = {tmp_path / 'root'}\n": "/ is a system directory",
        "find-links = /etc\n": "/etc is a system directory",
        "find-links = /usr/lib\n": "/usr/lib is a system directory",
        "find-links = /etc/ssh\n": "/etc/ssh is a system directory",
        "cert = /proc/self/status\n": "the running system's state",
        "cert = /etc/shadow\n": "the system's accounts",
        f"constraint = {tmp_path / 'shadow'}\n": "the system's accounts",
    }
    for text, reason in cases.items():
        config = _config(tmp_path / "pip.conf", text)
        found = pipconfig.forwarding({}, configs=(config,))
        assert found.files == (), text
        (warning,) = found.warnings
        assert reason in warning, (text, warning)
    found = pipconfig.forwarding({"PIP_FIND_LINKS": "/"}, configs=())
    assert found.dropped_env == ("PIP_FIND_LINKS",) and found.files == ()


def test_a_directory_holding_host_secrets_is_refused() -> None:
    secret = pipconfig._secret  # the directories do not exist on every test host
    assert secret(PurePosixPath("/etc/pki"), directory=True) == "the host's secret keys"
    assert secret(PurePosixPath("/etc/pki/tls"), directory=True) == "the host's secret keys"
    assert secret(PurePosixPath("/etc/pki/tls/private/k.pem"), directory=False) is not None
    assert secret(PurePosixPath("/etc/pki/tls/certs"), directory=True) is None
    assert secret(PurePosixPath("/etc/pki/tls/certs/ca-bundle.crt"), directory=False) is None
    assert secret(PurePosixPath("/srv/wheels"), directory=True) is None


def test_a_client_certificate_is_never_forwarded(tmp_path: Path) -> None:
    # a client certificate holds its private key: build code in the target could ship it
    key = tmp_path / "client.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    config = _config(
        tmp_path / "pip.conf", f"index-url = https://m.invalid/simple\nclient-cert = {key}\n"
    )
    found = pipconfig.forwarding({}, configs=(config,))
    assert found.files == ()
    (warning,) = found.warnings
    assert "client-cert" in warning and "private key" in warning and "wheelhouse" in warning
    found = pipconfig.forwarding({"PIP_CLIENT_CERT": str(key)}, configs=())
    assert found.dropped_env == ("PIP_CLIENT_CERT",) and found.files == ()
    assert "private key" in found.warnings[0]


def test_a_find_links_directory_must_hold_only_distributions(tmp_path: Path) -> None:
    # the red team's case: find-links at a home-like directory holding keys
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in ("a-1.0-py3-none-any.whl", "b-1.0.tar.gz", "c-1.0.zip", "d-1.0.tar.bz2",
                 "e-1.0.tgz", "index.html", "old.htm"):  # fmt: skip
        (wheels / name).write_text("")
    config = _config(tmp_path / "pip.conf", f"find-links = {wheels}\n")
    found = pipconfig.forwarding({}, configs=(config,))
    assert found.warnings == () and (wheels, wheels) in found.files
    for extra, why in ((".ssh/id_ed25519", ".ssh"), ("cache.key", "cache.key"),
                       (".hidden.whl", ".hidden.whl"), ("sub/x.whl", "sub")):  # fmt: skip
        home = tmp_path / extra.replace("/", "_")
        home.mkdir()
        (home / "a-1.0-py3-none-any.whl").write_text("")
        (home / extra).parent.mkdir(exist_ok=True)
        (home / extra).write_text("secret")
        config = _config(tmp_path / "pip.conf", f"find-links = {home}\n")
        found = pipconfig.forwarding({}, configs=(config,))
        assert found.files == (), extra
        (warning,) = found.warnings
        assert why in warning and "distribution" in warning, warning
        found = pipconfig.forwarding({"PIP_FIND_LINKS": f"file://{home}"}, configs=())
        assert found.dropped_env == ("PIP_FIND_LINKS",), extra
    # a find-links file is an index page or a distribution, not any file
    config = _config(
        tmp_path / "pip.conf", f"find-links = {tmp_path / 'cache.key' / 'cache.key'}\n"
    )
    assert pipconfig.forwarding({}, configs=(config,)).files == ()


def test_a_local_index_may_hold_project_directories_of_index_pages(tmp_path: Path) -> None:
    simple = tmp_path / "simple"
    (simple / "requests").mkdir(parents=True)
    (simple / "index.html").write_text("")
    (simple / "requests" / "index.html").write_text("")
    (simple / "requests" / "requests-2.0-py3-none-any.whl").write_text("")
    config = _config(tmp_path / "pip.conf", f"index-url = file://{simple}\n")
    assert pipconfig.forwarding({}, configs=(config,)).warnings == ()
    (simple / "requests" / ".netrc").write_text("machine x password y")
    found = pipconfig.forwarding({}, configs=(config,))
    assert found.files == () and ".netrc" in found.warnings[0]
