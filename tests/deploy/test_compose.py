"""Structure of the production-like Compose stack (compose.prod.yml).

The schema check in test_lint.py says the file is valid Compose; these say it
is fit to run: what is published, what is limited, restarted and checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

COMPOSE_PROD = Path(__file__).resolve().parents[2] / "deploy/compose/compose.prod.yml"
ENTRY_SERVICE = "entry"
RESTARTING = {"always", "unless-stopped", "on-failure"}


def load_services() -> dict[str, dict[str, Any]]:
    # safe_load resolves the x-* anchors and "<<" merges as Compose does.
    services: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE_PROD.read_text())[
        "services"
    ]
    return services


SERVICES = load_services()
LONG_RUNNING = sorted(
    name for name, spec in SERVICES.items() if spec.get("restart", "no") != "no"
)
JOBS = sorted(set(SERVICES) - set(LONG_RUNNING))


def command_of(name: str) -> list[str]:
    return list(SERVICES[name].get("command") or [])


def test_only_the_entry_publishes_ports() -> None:
    """HTTPS entry and metrics are both ports of the entry proxy; nothing else."""
    publishing = sorted(name for name, spec in SERVICES.items() if spec.get("ports"))

    assert publishing == [ENTRY_SERVICE]
    assert len(SERVICES[ENTRY_SERVICE]["ports"]) == 2


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_has_cpu_and_memory_limits(name: str) -> None:
    limits = SERVICES[name].get("deploy", {}).get("resources", {}).get("limits", {})

    assert {"cpus", "memory"} <= set(limits), f"{name}: limits {limits}"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_service_restarts(name: str) -> None:
    assert SERVICES[name]["restart"] in RESTARTING


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_service_has_a_healthcheck(name: str) -> None:
    check = SERVICES[name].get("healthcheck", {})

    assert not check.get("disable"), f"{name}: health check disabled"
    assert check.get("test"), f"{name}: no health check command"


def test_jobs_are_the_one_shot_migrate_and_bootstrap() -> None:
    assert JOBS == ["bootstrap", "migrate"]
    assert command_of("migrate") == ["migrate"]
    assert command_of("bootstrap") == ["bootstrap"]


def test_two_relays_one_standing_by() -> None:
    """The relay's advisory lock keeps one active; the second takes over."""
    relays = [name for name in SERVICES if command_of(name) == ["serve", "relay"]]

    assert len(relays) == 2


@pytest.mark.parametrize("role", ["iam", "licensing"])
def test_http_service_runs_two_replicas(role: str) -> None:
    replicas = [name for name in SERVICES if command_of(name) == ["serve", role]]

    assert len(replicas) == 2
