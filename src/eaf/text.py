"""Free text that people type: names, descriptions, reasons.

Control characters (C0, DEL, C1) and the bidirectional embeddings, overrides
and isolates can hide or reorder what a terminal or a browser shows (the
"Trojan Source" characters), so every bounded context refuses them in free
text with its own error type.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def unsafe_character(text: str) -> str | None:
    """The first control or bidi override character in ``text``, if any."""
    found = _UNSAFE.search(text)
    return found.group() if found else None
