"""External test material, copied into the repository with its source.

``tests/data/cases/<set>/SOURCE.md`` names where each set comes from and its
licence sits beside it; ``EAF_SHARED_CASES`` points at another copy.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_cases() -> Path:
    """``tests/data/cases`` of this checkout, or ``EAF_SHARED_CASES``."""
    override = os.environ.get("EAF_SHARED_CASES")
    return Path(override) if override else REPO_ROOT / "tests" / "data" / "cases"
