"""Credentials in URLs, masked wherever venvrpm shows or writes text.

An index URL carries its token in the user part: ``https://user:s3cret@host/simple`` or
``https://TOKEN@host/simple`` (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, proxies). venvrpm hands it
to pip as it is, but everything it prints (steps, -v output, errors, ``--dry-run``, ``--json``)
passes through :func:`redact` first. The masking is pip's own (``redact_auth_from_url``): the
user is kept when there is a password, which is masked; a lone user part is a token, masked.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import TypeVar

MASK = "****"

# scheme://netloc, the netloc up to the path, query or fragment, as urlsplit cuts it, and the user
# part up to its last @ (pip's split_auth_from_netloc). RFC 3986 allows ' ( ) * ! $ & + , ; =
# unencoded in the user part, and pip takes anything but / ? #: none of them may end it, or
# "https://user:it's@host" is printed whole. Only what cannot be in a URL typed into prose or
# a document ends it too: whitespace, a double quote (JSON strings, repr() of a string holding
# a ') and angle brackets (<https://...>).
_URL = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<netloc>[^/?#\s\"<>]*@)")

T = TypeVar("T")


def _masked(match: re.Match[str]) -> str:
    # the user part ends at the last @, as urlsplit reads it
    auth = match.group("netloc")[:-1]
    user, colon, _ = auth.partition(":")
    # with a password, the user is kept (which account?); a lone user part is a token
    shown = f"{urllib.parse.quote(urllib.parse.unquote(user))}:{MASK}" if colon else MASK
    return f"{match.group('scheme')}{shown}@"


def redact(text: str) -> str:
    """*text* with the credentials of every URL in it masked (pip's rules)."""
    if "@" not in text:
        return text
    return _URL.sub(_masked, text)


def redact_all(value: T) -> T:
    """*value* (a JSON-like document: dicts, lists, tuples, strings) with every string redacted."""
    if isinstance(value, str):
        return redact(value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {redact_all(k): redact_all(v) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, list | tuple):
        return type(value)(redact_all(v) for v in value)
    return value
