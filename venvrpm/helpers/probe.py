"""Describe the interpreter running this script as JSON. Standard library only."""

import json
import platform
import sys
import sysconfig

json.dump(
    {
        "executable": sys.executable,
        "version": platform.python_version(),
        "implementation": sys.implementation.name,
        "cache_tag": sys.implementation.cache_tag,
        "platform": sysconfig.get_platform(),
        "soabi": sysconfig.get_config_var("SOABI"),
        "has_venv": bool(__import__("importlib.util").util.find_spec("venv")),
    },
    sys.stdout,
)
