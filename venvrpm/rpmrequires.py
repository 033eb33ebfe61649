"""The RPM's Requires: the interpreter, system sonames of bundled ELF files, the manifest's extras.

rpm's own dependency generator is off (``AutoReqProv: no``): it would require the renamed
libraries manylinux wheels bundle (``libcrypto-fb8d5b21.so.3`` in ``psycopg2_binary.libs``),
which nothing on the system provides, and advertise them to the whole system. We run the same
ELF scanner rpm uses (``elfdeps``) and drop what the payload itself contains.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from venvrpm.plan import BuildPlan
from venvrpm.runner import Runner


def soname_of(dependency: str) -> str:
    """``libc.so.6(GLIBC_2.14)(64bit)`` -> ``libc.so.6``."""
    return dependency.split("(", 1)[0]


def system_requires(
    requires: Iterable[str], provides: Iterable[str], payload_names: Iterable[str]
) -> list[str]:
    """ELF requirements the payload does not satisfy itself, sorted. Pure."""
    bundled = {soname_of(p) for p in provides} | set(payload_names)
    return sorted({r for r in requires if soname_of(r) not in bundled})


def elf_requires(plan: BuildPlan, runner: Runner, elf_files: Sequence[Path]) -> list[str]:
    """System sonames (with symbol versions) that *elf_files* need and do not bundle (the
    plan's ``elf_requires`` and ``elf_provides``, given the files on stdin)."""
    if not elf_files:
        return []
    listing = "".join(f"{path}\n" for path in elf_files)
    needed = runner.run(plan.elf_requires, stdin=listing, what="reading ELF dependencies")
    offered = runner.run(plan.elf_provides, stdin=listing, what="reading ELF provides")
    return system_requires(
        needed.stdout.split(), offered.stdout.split(), (p.name for p in elf_files)
    )


def all_requires(interpreter: Sequence[str], elf: Sequence[str], extra: Sequence[str]) -> list[str]:
    """The interpreter's first, then sonames, then the manifest's own, without duplicates."""
    seen: dict[str, None] = {}
    for req in (*interpreter, *elf, *extra):
        seen.setdefault(req, None)
    return list(seen)
