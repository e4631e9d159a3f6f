"""The served revision: the image's setting, else the checkout's commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from eaf.version import eaf_revision

ROOT = Path(__file__).resolve().parents[2]


def test_image_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EAF_REVISION", "abc123")
    assert eaf_revision() == "abc123"


def test_checkout_reports_its_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not running from a git checkout")
    monkeypatch.delenv("EAF_REVISION", raising=False)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert eaf_revision() == head
