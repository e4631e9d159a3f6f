"""The running version of EAF, overridable by the image build."""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version


def eaf_version() -> str:
    override = os.environ.get("EAF_VERSION")
    if override:
        return override
    try:
        return version("eaf")
    except PackageNotFoundError:
        return "0.0.0+unknown"


def eaf_revision() -> str:
    return os.environ.get("EAF_REVISION", "unknown")
