"""The running version of EAF, overridable by the image build."""

from __future__ import annotations

import functools
import os
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def eaf_version() -> str:
    override = os.environ.get("EAF_VERSION")
    if override:
        return override
    try:
        return version("eaf")
    except PackageNotFoundError:
        return "0.0.0+unknown"


def eaf_revision() -> str:
    """``EAF_REVISION`` (set by the image), else the commit of a source checkout."""
    return os.environ.get("EAF_REVISION") or _checkout_revision() or "unknown"


@functools.cache
def _checkout_revision() -> str | None:
    # Only a checkout holding this very file (an editable install) counts.
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists() or not (root / "pyproject.toml").exists():
        return None
    try:
        done = subprocess.run(  # noqa: S603 - fixed command, no shell
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    revision = done.stdout.strip()
    return revision or None
