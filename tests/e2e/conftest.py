"""A running Platform on the test servers, and an HTTP client for its app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from eaf.bus.nats import NatsBus
from eaf.http.app import create_app
from eaf.iam.bootstrap import bootstrap_platform
from eaf.runtime.platform import Platform, PlatformOptions
from eaf.settings import load_settings
from tests.support.servers import ClonedDatabase, Servers

BASE_URL = "http://testserver"
ADMIN_PASSWORD = "admin-password-1"  # noqa: S105 - test bootstrap account


@pytest.fixture
async def platform(
    servers: Servers,
    database: ClonedDatabase,
    stream_names: tuple[str, str],
    tmp_path: Path,
) -> AsyncIterator[Platform]:
    stream_name, prefix = stream_names
    settings = load_settings(
        data_dir=tmp_path, stream_name=stream_name, subject_prefix=prefix
    )
    options = PlatformOptions(
        runtime_dsn=database.runtime_dsn,
        nats_url=servers.nats_url,
        secret=b"test-signing-secret",
        public_url=BASE_URL,
    )
    running = Platform(settings, options)
    await running.start()
    await bootstrap_platform(
        running.iam,
        tenant=settings.bootstrap_tenant,
        username=settings.bootstrap_admin_username,
        password=ADMIN_PASSWORD,
        data_dir=tmp_path,
    )
    yield running
    await running.stop()
    bus = NatsBus(servers.nats_url, stream_name=stream_name, subject_prefix=prefix)
    await bus.connect()
    try:
        await bus.js.delete_stream(stream_name)
    finally:
        await bus.close()


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


async def password_token(
    client: httpx.AsyncClient, tenant: str, username: str, password: str
) -> str:
    response = await client.post(
        f"/realms/{tenant}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "eaf-cli",
            "username": username,
            "password": password,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
async def admin_headers(client: httpx.AsyncClient) -> dict[str, str]:
    token = await password_token(client, "default", "admin", ADMIN_PASSWORD)
    return {"Authorization": f"Bearer {token}"}
