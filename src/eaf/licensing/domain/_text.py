"""Free text that people type: display names and reasons.

Control characters (C0, DEL, C1) and bidirectional overrides can hide or
reorder what a terminal or a browser shows, so free text refuses them.
"""

from __future__ import annotations

import re

from eaf.licensing.domain.errors import UnsafeTextError

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def unsafe_character(value: str) -> str | None:
    """The first control or bidi override character in ``value``, if any."""
    found = _UNSAFE.search(value)
    return found.group() if found else None


def check_text(field: str, value: str) -> str:
    """Return ``value`` if it holds no control or bidi override character."""
    character = unsafe_character(value)
    if character is not None:
        raise UnsafeTextError(
            f"{field} must not contain control or bidirectional override "
            f"characters (found U+{ord(character):04X})",
            field=field,
        )
    return value
