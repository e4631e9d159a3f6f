#!/usr/bin/python
"""Ansible module: bring one Compose service to a wanted image, health-gated."""

from __future__ import annotations

import json
import shlex
import time

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: eaf_compose_service
short_description: Start or replace one service of a Compose project
description:
  - Finds the container of O(service) in the Compose project by the labels
    that both docker compose and podman-compose set.
  - Recreates it with C(up -d --no-deps) only when it is missing, stopped,
    runs another image than O(image), or O(force) is set; otherwise reports
    no change.
  - Then waits until the container is healthy (its image health check), or
    stays running for O(settle) seconds when O(wait=running).
options:
  project_dir: {type: path, required: true, description: Compose project directory.}
  compose_file: {type: str, default: compose.yml, description: Compose file in O(project_dir).}
  compose_command: {type: str, default: docker compose, description: Compose command line.}
  engine: {type: str, default: docker, choices: [docker, podman], description: Container engine CLI.}
  project: {type: str, required: true, description: Compose project name.}
  service: {type: str, required: true, description: Service name.}
  image: {type: str, description: Image the container must run.}
  force: {type: bool, default: false, description: Recreate even when nothing changed.}
  state: {type: str, default: started, choices: [started, info], description: C(info) only reports.}
  wait: {type: str, default: healthy, choices: [healthy, running, none], description: What to wait for.}
  timeout: {type: int, default: 180, description: Seconds to wait.}
  settle: {type: int, default: 10, description: Seconds a worker must stay up for O(wait=running).}
author: EAF operations
"""

RETURN = r"""
container: {description: Container name., type: str, returned: always}
image: {description: Image the container runs., type: str, returned: always}
running: {description: Whether it runs., type: bool, returned: always}
health: {description: Health status or an empty string., type: str, returned: always}
"""


class ComposeService:
    """The container of one Compose service, seen through the engine CLI."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params

    def run(self, argv: list[str], check: bool = True) -> tuple[int, str, str]:
        rc, out, err = self.module.run_command(argv, cwd=self.params["project_dir"])
        if check and rc != 0:
            self.module.fail_json(msg=f"{shlex.join(argv)} failed: {err or out}", rc=rc)
        return rc, out, err

    def inspect(self) -> dict | None:
        engine = self.params["engine"]
        labels = [
            f"label=com.docker.compose.project={self.params['project']}",
            f"label=com.docker.compose.service={self.params['service']}",
        ]
        argv = [engine, "ps", "-a", "--format", "{{.ID}}"]
        for label in labels:
            argv += ["--filter", label]
        _, out, _ = self.run(argv)
        ids = out.split()
        if not ids:
            return None
        _, out, _ = self.run([engine, "inspect", ids[0]])
        return json.loads(out)[0]

    def summary(self, info: dict | None) -> dict:
        if info is None:
            return {"container": "", "image": "", "running": False, "health": ""}
        health = (info["State"].get("Health") or {}).get("Status", "")
        return {
            "container": info["Name"].lstrip("/"),
            "image": info["Config"].get("Image", ""),
            "running": bool(info["State"].get("Running")),
            "health": health,
        }

    def needs_replacing(self, current: dict) -> bool:
        wanted = self.params["image"]
        if self.params["force"] or not current["running"]:
            return True
        return bool(wanted) and current["image"] != wanted

    def replace(self) -> None:
        compose = shlex.split(self.params["compose_command"])
        argv = compose + ["-f", self.params["compose_file"], "up", "-d", "--no-deps"]
        argv += ["--force-recreate", self.params["service"]]
        self.run(argv)

    def is_healthy(self, name: str) -> bool:
        if self.params["engine"] == "podman":
            # Podman schedules checks with systemd timers; run one directly so
            # that hosts without systemd get a fresh answer too.
            rc, _, _ = self.run(["podman", "healthcheck", "run", name], check=False)
            return rc == 0
        return self.summary(self.inspect())["health"] == "healthy"

    def wait_healthy(self, name: str) -> None:
        deadline = time.monotonic() + self.params["timeout"]
        while time.monotonic() < deadline:
            if self.is_healthy(name):
                return
            time.sleep(2)
        self.module.fail_json(msg=f"{name} not healthy after {self.params['timeout']}s")

    def wait_running(self) -> None:
        first = self.inspect()
        time.sleep(self.params["settle"])
        last = self.inspect()
        restarted = (last or {}).get("RestartCount") != (first or {}).get(
            "RestartCount"
        )
        if not self.summary(last)["running"] or restarted:
            self.module.fail_json(msg=f"{self.params['service']} does not stay up")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "project_dir": {"type": "path", "required": True},
            "compose_file": {"type": "str", "default": "compose.yml"},
            "compose_command": {"type": "str", "default": "docker compose"},
            "engine": {
                "type": "str",
                "default": "docker",
                "choices": ["docker", "podman"],
            },
            "project": {"type": "str", "required": True},
            "service": {"type": "str", "required": True},
            "image": {"type": "str"},
            "force": {"type": "bool", "default": False},
            "state": {
                "type": "str",
                "default": "started",
                "choices": ["started", "info"],
            },
            "wait": {
                "type": "str",
                "default": "healthy",
                "choices": ["healthy", "running", "none"],
            },
            "timeout": {"type": "int", "default": 180},
            "settle": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    service = ComposeService(module)
    current = service.summary(service.inspect())
    if module.params["state"] == "info":
        module.exit_json(changed=False, **current)

    changed = service.needs_replacing(current)
    if module.check_mode:
        module.exit_json(changed=changed, **current)
    if changed:
        service.replace()
        current = service.summary(service.inspect())
    if module.params["wait"] == "healthy":
        service.wait_healthy(current["container"])
    elif module.params["wait"] == "running" and changed:
        service.wait_running()
    module.exit_json(changed=changed, **service.summary(service.inspect()))


if __name__ == "__main__":
    main()
