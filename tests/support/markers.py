"""The environment markers of one target, as venvrpm probes them (``Interpreter.markers``), for
the tests that decide locks' and distributions' markers: CPython 3.11.2 on x86_64 Linux.

Read, never changed: a test that needs another target copies it (``{**LINUX_X86_64_311, ...}``).
"""

from __future__ import annotations

LINUX_X86_64_311 = {
    "python_version": "3.11",
    "python_full_version": "3.11.2",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "implementation_version": "3.11.2",
    "platform_release": "6.1.0",
    "platform_version": "#1 SMP",
}
