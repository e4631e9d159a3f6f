"""EAF_REQUIRE_DEPLOY_LINT=1 turns a missing deploy tool venv into failures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_TEST = "tests/deploy/test_lint.py::test_yaml_files_pass_yamllint"


def run_lint_test(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # tools-venv.sh fails at once: its venv path is new and its Python is false.
    broken = {
        "EAF_DEPLOY_VENV": str(tmp_path / "venv"),
        "EAF_DEPLOY_PYTHON": "false",
    }
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", LINT_TEST]
    return subprocess.run(
        argv,
        cwd=REPO,
        env={**os.environ, **broken, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_linters_skip_without_tools_by_default(tmp_path: Path) -> None:
    result = run_lint_test(tmp_path, EAF_REQUIRE_DEPLOY_LINT="0")

    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 skipped" in result.stdout


def test_linters_fail_without_tools_when_required(tmp_path: Path) -> None:
    result = run_lint_test(tmp_path, EAF_REQUIRE_DEPLOY_LINT="1")

    assert result.returncode != 0
    assert "EAF_REQUIRE_DEPLOY_LINT=1" in result.stdout
