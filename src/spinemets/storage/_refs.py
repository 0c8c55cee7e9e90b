"""Case references: one documented, URL-safe pattern and length limit everywhere.

A reference is 1-200 characters from ``A-Z a-z 0-9 . _ -``, starting with a letter or digit
(so it is never ``.`` or ``..``). Such a reference is its own URL path segment: no ``/``,
``?``, ``#``, ``%`` or space, nothing to escape. The case format's ``id`` allows 200
characters, the form and both databases hold 200 (``cases.case_ref`` is ``VARCHAR(200)``).
"""

from __future__ import annotations

import re

from spinemets.storage._errors import InvalidCaseRefError
from spinemets.storage._models import CASE_REF_MAX

__all__ = ["CASE_REF_MAX", "CASE_REF_PATTERN", "CASE_REF_RULE", "check_case_ref"]

#: The reference pattern (anchored; also usable as an HTML ``pattern`` without the anchors).
CASE_REF_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{CASE_REF_MAX - 1}}}$"
CASE_REF_RULE = (f"1 to {CASE_REF_MAX} characters: letters A-Z or a-z, digits, '.', '_' or '-', "
                 "starting with a letter or digit")
_RE = re.compile(CASE_REF_PATTERN)


def check_case_ref(case_ref: str) -> str:
    """``case_ref`` if it follows the pattern, else :class:`InvalidCaseRefError`.

    The message never echoes more than 40 characters of the offending value.
    """
    if not _RE.fullmatch(case_ref):
        shown = case_ref[:40] + ("..." if len(case_ref) > 40 else "")
        msg = f"case reference {shown!r} is not valid: {CASE_REF_RULE}"
        raise InvalidCaseRefError(msg)
    return case_ref
