"""Free text that people type: display names and reasons.

Control characters (C0, DEL, C1) and bidirectional overrides can hide or
reorder what a terminal or a browser shows, so free text refuses them.
"""

from __future__ import annotations

from eaf.licensing.domain.errors import UnsafeTextError
from eaf.text import unsafe_character

__all__ = ["check_text", "unsafe_character"]


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
