"""`eaf up` as a real process: first run, use over HTTP, stop, second run."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import psutil
import pytest

from eaf.runtime.embedded import free_port
from tests.support.servers import Servers, drop_database

pytestmark = pytest.mark.slow

OPERATOR_PASSWORD = "operator-pass-4711"  # noqa: S105 - throwaway test account


class UpProcess:
    def __init__(self, data_dir: Path, port: int, env: dict[str, str]) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = data_dir.parent / f"up-{uuid.uuid4().hex[:6]}.log"
        with self.log.open("wb") as output:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "eaf",
                    "up",
                    "--data-dir",
                    str(data_dir),
                    "--port",
                    str(port),
                ],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a process group of its own, as in a shell
            )

    def wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"eaf up exited:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"eaf up not ready:\n{self.log.read_text()}")

    def descendants(self) -> list[psutil.Process]:
        children: list[psutil.Process] = psutil.Process(self.proc.pid).children(
            recursive=True
        )
        return children

    def terminate(self, timeout_s: float = 10) -> float:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout_s)
        return time.monotonic() - started

    def interrupt(self, timeout_s: float = 10) -> float:
        """Ctrl-C as a terminal sends it: SIGINT to the whole process group."""
        started = time.monotonic()
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(timeout=timeout_s)
        return time.monotonic() - started


@pytest.fixture
def up_env(servers: Servers) -> Iterator[dict[str, str]]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("EAF_")
    }
    env["EAF_LOG_LEVEL"] = "info"
    if servers.embedded is not None:
        yield env
        return
    # External servers: a database and a stream of this test's own.
    import psycopg
    from psycopg import sql

    name = f"eaf_up_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(servers.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    suffix = uuid.uuid4().hex[:8]
    env.update(
        EAF_DATABASE_URL=servers.dsn_for(name),
        EAF_NATS_URL=servers.nats_url,
        EAF_STREAM_NAME=f"UP{suffix}",
        EAF_SUBJECT_PREFIX=f"up{suffix}",
    )
    yield env
    drop_database(servers, name)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="eaf-test-up-"))
    yield base / "data"
    shutil.rmtree(base, ignore_errors=True)


def token_for(base_url: str, tenant: str, username: str, password: str) -> str:
    response = httpx.post(
        f"{base_url}/realms/{tenant}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "eaf-cli",
            "username": username,
            "password": password,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def still_running(processes: list[psutil.Process]) -> list[int]:
    return [
        process.pid
        for process in processes
        if process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    ]


def decode_token(base_url: str, tenant: str, token: str) -> dict[str, object]:
    """Verify ``token`` against the realm's published keys; demand core claims."""
    discovery = httpx.get(
        f"{base_url}/realms/{tenant}/.well-known/openid-configuration"
    ).json()
    jwks = jwt.PyJWKClient(discovery["jwks_uri"])
    claims: dict[str, object] = jwt.decode(
        token,
        jwks.get_signing_key_from_jwt(token).key,
        algorithms=["RS256"],
        audience="eaf",
        issuer=discovery["issuer"],
        options={"require": ["iss", "sub", "aud", "exp"]},
    )
    return claims


def admin_password(data_dir: Path) -> str:
    secret_file = data_dir / "bootstrap-admin.txt"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    fields = dict(line.split("=", 1) for line in secret_file.read_text().split())
    return fields["password"]


def test_eaf_up_serves_iam_and_stops_cleanly(
    data_dir: Path, up_env: dict[str, str]
) -> None:
    up = UpProcess(data_dir, free_port(), up_env)
    try:
        up.wait_ready()
        password = admin_password(data_dir)
        admin_token = token_for(up.base_url, "default", "admin", password)
        admin = {"Authorization": f"Bearer {admin_token}"}

        tenant = httpx.post(
            f"{up.base_url}/api/v1/tenants",
            json={"slug": "acme", "name": "Acme"},
            headers=admin,
        )
        user = httpx.post(
            f"{up.base_url}/api/v1/tenants/acme/users",
            json={
                "username": "alice",
                "email": "alice@acme.example",
                "password": "alice-password",
                "roles": ["member"],
            },
            headers=admin,
        )
        assert (tenant.status_code, user.status_code) == (201, 201), user.text

        token = token_for(up.base_url, "acme", "alice", "alice-password")
        claims = decode_token(up.base_url, "acme", token)
        assert (claims["tenant"], claims["sub"]) == ("acme", user.json()["id"])

        keys = httpx.get(f"{up.base_url}/api/v1/licensing/keys")
        assert keys.status_code == 200, keys.text
        assert isinstance(keys.json()["keys"], list)

        deadline = time.monotonic() + 5
        listed: list[str] = []
        while time.monotonic() < deadline and "alice" not in listed:
            users = httpx.get(f"{up.base_url}/api/v1/tenants/acme/users", headers=admin)
            listed = [row["username"] for row in users.json()]
            time.sleep(0.1)
        assert "alice" in listed

        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "eaf",
                "up",
                "--data-dir",
                str(data_dir),
                "--port",
                str(free_port()),
            ],
            env=up_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        assert "in use" in (second.stdout + second.stderr)

        children = up.descendants()
        assert up.terminate() < 10
        time.sleep(0.5)
        assert still_running(children) == []
        assert password not in up.log.read_text()

    finally:
        if up.proc.poll() is None:
            up.proc.kill()
            up.proc.wait()

    again = UpProcess(data_dir, free_port(), up_env)
    try:
        again.wait_ready()
        assert admin_password(data_dir) == password
        token_for(again.base_url, "acme", "alice", "alice-password")

        children = again.descendants()
        assert again.interrupt() < 10
        time.sleep(0.5)
        assert still_running(children) == []
        assert again.proc.returncode == 0
        assert "EAF stopped." in again.log.read_text()
    finally:
        if again.proc.poll() is None:
            again.proc.kill()
            again.proc.wait()


def test_eaf_up_takes_admin_from_env_and_stops_when_server_dies(
    data_dir: Path, servers: Servers
) -> None:
    """A given admin name and password are used as is and never written out."""
    if servers.embedded is None:
        pytest.skip("runs embedded servers of its own only without external ones")
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("EAF_")
    }
    env["EAF_BOOTSTRAP_ADMIN_USERNAME"] = "operator"
    env["EAF_BOOTSTRAP_ADMIN_PASSWORD"] = OPERATOR_PASSWORD
    up = UpProcess(data_dir, free_port(), env)
    try:
        up.wait_ready()
        token = token_for(up.base_url, "default", "operator", OPERATOR_PASSWORD)
        claims = decode_token(up.base_url, "default", token)
        tenants = httpx.get(
            f"{up.base_url}/api/v1/tenants",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert tenants.status_code == 200, tenants.text
        assert not (data_dir / "bootstrap-admin.txt").exists()
        refused = httpx.post(
            f"{up.base_url}/realms/default/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "eaf-cli",
                "username": "admin",
                "password": OPERATOR_PASSWORD,
            },
        )
        assert refused.status_code == 400

        children = up.descendants()
        [postgres] = [
            child
            for child in children
            if child.name() == "postgres" and child.ppid() == up.proc.pid
        ]
        postgres.kill()
        exit_code = up.proc.wait(timeout=30)
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
            up.proc.wait()

    assert claims["tenant"] == "default"
    assert exit_code == 1
    log_text = up.log.read_text()
    assert "PostgreSQL server stopped unexpectedly" in " ".join(log_text.split())
    assert OPERATOR_PASSWORD not in log_text
    time.sleep(0.5)
    assert still_running(children) == []
