"""One running platform per test module, and helpers to populate it.

Starting a platform takes a second or two; the IAM tests share one per module
and keep apart by creating tenants with random slugs. A module can override
``site_settings`` (for example a short lockout window).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from eaf.bus.nats import NatsBus
from eaf.http.app import create_app
from eaf.iam.bootstrap import bootstrap_platform
from eaf.runtime.platform import Platform, PlatformOptions
from eaf.settings import Settings, load_settings
from tests.support import servers as test_servers

BASE_URL = "https://testserver"
ADMIN_PASSWORD = "admin-password-1"
TOKEN_PATH = "/realms/{slug}/protocol/openid-connect/token"

# Cheap argon2 parameters keep the many logins of these tests fast; the
# production defaults are exercised by the benchmark.
FAST_HASHING = {"password_hash_memory_kib": 8192, "password_hash_time_cost": 1}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_slug(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class User:
    tenant: str
    id: str
    username: str
    password: str
    email: str


@dataclass
class Site:
    """A platform, an HTTP client for its app and a superadmin's token."""

    platform: Platform
    client: httpx.AsyncClient
    database: test_servers.ClonedDatabase
    settings: Settings
    admin: dict[str, str] = field(default_factory=dict)

    async def token(
        self, slug: str, username: str, password: str, scope: str = "openid profile"
    ) -> dict[str, Any]:
        response = await self.client.post(
            TOKEN_PATH.format(slug=slug),
            data={
                "grant_type": "password",
                "client_id": "eaf-cli",
                "username": username,
                "password": password,
                "scope": scope,
            },
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def login(self, user: User) -> dict[str, str]:
        tokens = await self.token(user.tenant, user.username, user.password)
        return bearer(tokens["access_token"])

    async def new_tenant(self, prefix: str = "t") -> str:
        slug = new_slug(prefix)
        response = await self.client.post(
            "/api/v1/tenants", json={"slug": slug, "name": slug}, headers=self.admin
        )
        assert response.status_code == 201, response.text
        return slug

    async def new_user(
        self,
        slug: str,
        roles: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> User:
        username = f"u{uuid.uuid4().hex[:8]}"
        password = f"pw-{uuid.uuid4().hex[:12]}"
        email = f"{username}@{slug}.example"
        response = await self.client.post(
            f"/api/v1/tenants/{slug}/users",
            json={
                "username": username,
                "email": email,
                "password": password,
                "roles": roles or ["member"],
            },
            headers=headers or self.admin,
        )
        assert response.status_code == 201, response.text
        return User(slug, response.json()["id"], username, password, email)

    async def tenant_admin(self, slug: str) -> tuple[User, dict[str, str]]:
        user = await self.new_user(slug, ["tenant_admin"])
        return user, await self.login(user)


@pytest.fixture(scope="module")
def site_settings() -> dict[str, Any]:
    return {}


@pytest.fixture(scope="module")
async def site(
    servers: test_servers.Servers,
    template_database: str,
    site_settings: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Site]:
    database = test_servers.clone_database(servers, template_database)
    data_dir: Path = tmp_path_factory.mktemp("site")
    suffix = uuid.uuid4().hex[:10]
    settings = load_settings(
        data_dir=data_dir,
        stream_name=f"T{suffix}",
        subject_prefix=f"t{suffix}",
        **{**FAST_HASHING, **site_settings},
    )
    options = PlatformOptions(
        runtime_dsn=database.runtime_dsn,
        nats_url=servers.nats_url,
        secret=b"test-signing-secret",
        public_url=BASE_URL,
    )
    platform = Platform(settings, options)
    await platform.start()
    await bootstrap_platform(
        platform.iam,
        tenant=settings.bootstrap_tenant,
        username=settings.bootstrap_admin_username,
        password=ADMIN_PASSWORD,
        data_dir=data_dir,
    )
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        running = Site(platform, client, database, settings)
        tokens = await running.token("default", "admin", ADMIN_PASSWORD)
        running.admin = bearer(tokens["access_token"])
        yield running
    await platform.stop()
    bus = NatsBus(servers.nats_url, stream_name=settings.stream_name)
    await bus.connect()
    try:
        await bus.js.delete_stream(settings.stream_name)
    finally:
        await bus.close()
    test_servers.drop_database(servers, database.name)
