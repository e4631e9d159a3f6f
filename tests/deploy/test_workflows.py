"""How the GitHub workflows hang together (actionlint checks their syntax)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
DEPLOY_SECRETS = ("DEPLOY_SSH_KEY", "DEPLOY_KNOWN_HOSTS", "ANSIBLE_VAULT_PASSWORD")


def load(name: str) -> dict[str, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key "on" as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def run_scripts(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job.get("steps", []))


def test_deploy_environment_takes_secrets_from_the_environment() -> None:
    """No declared caller secrets: the job's GitHub environment supplies them."""
    workflow = load("deploy-environment.yml")
    job = workflow["jobs"]["deploy"]

    assert "secrets" not in workflow["on"]["workflow_call"]
    assert job["environment"]["name"] == "${{ inputs.environment }}"
    for secret in DEPLOY_SECRETS:
        assert f"secrets.{secret}" in yaml.safe_dump(job)


def test_release_builds_only_after_the_tests() -> None:
    workflow = load("release.yml")
    jobs = workflow["jobs"]

    assert jobs["tests"]["uses"] == "./.github/workflows/ci.yml"
    assert "workflow_call" in load("ci.yml")["on"]
    assert jobs["wheelhouse"]["needs"] == ["tests"]
    assert "wheelhouse" in jobs["image"]["needs"]


def test_release_stamps_the_wheel_with_the_tag_version() -> None:
    script = run_scripts(load("release.yml")["jobs"]["wheelhouse"])

    stamp = script.index("GITHUB_REF_NAME#v")
    assert stamp < script.index("pip wheel --no-deps")
    assert "pyproject.toml" in script[stamp:]


def test_release_uploads_the_air_gapped_bundle() -> None:
    job = load("release.yml")["jobs"]["publish"]
    uploads = [
        step for step in job["steps"] if "action-gh-release" in str(step.get("uses"))
    ]

    assert "deploy/bundle.sh" in run_scripts(job)
    assert "dist/eaf-bundle-*.tar.gz" in uploads[0]["with"]["files"]
