"""The scriptlets' choices that depend on the manifest alone (pure); their behaviour with and
without the target's tools is tests/integration/test_conventions.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath

import pytest

from venvrpm import manifest, scriptlets

DATA = Path(__file__).parent / "data" / "manifests"


@pytest.fixture(scope="module")
def service() -> manifest.Manifest:
    return manifest.load(DATA / "service.yaml")


@pytest.mark.parametrize(
    ("prefix", "needed"),
    [("/opt/app", False), ("/opt/vendor/app", False), ("/usr/lib/app", False),
     ("/usr/local/app", False), ("/srv/app", True), ("/data/app", True),
     ("/var/lib/app/venv", True), ("/optional/app", True)],
)  # fmt: skip
def test_selinux_equivalence_only_outside_what_the_policy_labels(
    service: manifest.Manifest, prefix: str, needed: bool
) -> None:
    m = dataclasses.replace(service, prefix=PurePosixPath(prefix))
    assert scriptlets.needs_selinux_equivalence(m) is needed
    post = scriptlets.own(m).get("post", "")
    assert (f"semanage fcontext -a -e /opt '{prefix}'" in post) is needed
    assert (
        f"semanage fcontext -d -e /opt '{prefix}'" in scriptlets.own(m).get("postun", "")
    ) is needed


def test_the_account_is_declared_in_sysusers_d(service: manifest.Manifest) -> None:
    path, text = scriptlets.sysusers(service) or (None, "")
    assert path == PurePosixPath("/usr/lib/sysusers.d/smallapp.conf")
    assert (
        text.splitlines()[1]
        == 'u smallapp - "smallapp service account" /var/lib/smallapp /usr/sbin/nologin'
    )
    assert f"systemd-sysusers --replace={path} -" in scriptlets.own(service)["pre"]


@pytest.mark.parametrize(
    "change",
    [{"group": "daemons"}, {"comment": 'say "hi"'}, {"home": "/var/lib/my app"},
     {"comment": "costs $5"}, {"shell": "/bin/sh%x"}],
)  # fmt: skip
def test_an_account_sysusers_d_cannot_say_is_made_by_useradd_alone(
    service: manifest.Manifest, change: dict[str, str]
) -> None:
    assert service.user is not None
    m = dataclasses.replace(service, user=dataclasses.replace(service.user, **change))
    assert scriptlets.sysusers(m) is None
    assert all(p != scriptlets.sysusers_path(m.name) for p, _ in scriptlets.generated(m))
    pre = scriptlets.own(m)["pre"]
    assert "systemd-sysusers" not in pre and "useradd -r" in pre


def test_no_user_no_sysusers_file(service: manifest.Manifest) -> None:
    assert scriptlets.sysusers(dataclasses.replace(service, user=None)) is None
