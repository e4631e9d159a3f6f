"""External test material from the shared folder beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_cases() -> Path:
    """``../shared/cases`` next to the checkout, or ``EAF_SHARED_CASES``."""
    override = os.environ.get("EAF_SHARED_CASES")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "cases"
