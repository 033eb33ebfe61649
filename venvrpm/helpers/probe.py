"""Describe the interpreter running this script as JSON. Standard library only."""

import hashlib
import json
import os
import platform
import sys
import sysconfig

# PEP 508 environment markers as this interpreter sees them (what packaging computes).
_impl = sys.implementation
_iv = f"{_impl.version.major}.{_impl.version.minor}.{_impl.version.micro}"
if _impl.version.releaselevel != "final":
    _iv += _impl.version.releaselevel[0] + str(_impl.version.serial)
MARKERS = {
    "implementation_name": _impl.name,
    "implementation_version": _iv,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}


def _sha256(path: str) -> str:
    # Identifies the interpreter build for venvrpm's environment cache: a rebuilt or patched
    # interpreter of the same version gets new environments.
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


json.dump(
    {
        "executable": sys.executable,
        "executable_sha256": _sha256(os.path.realpath(sys.executable)),
        "version": platform.python_version(),
        "implementation": sys.implementation.name,
        "cache_tag": sys.implementation.cache_tag,
        "platform": sysconfig.get_platform(),
        "soabi": sysconfig.get_config_var("SOABI"),
        "markers": MARKERS,
        "libc": " ".join(platform.libc_ver()).strip(),
    },
    sys.stdout,
)
