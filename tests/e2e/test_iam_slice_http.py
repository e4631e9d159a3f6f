"""The first IAM slice through HTTP: tenants, users, tokens, isolation, errors."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import psycopg
import pytest

from eaf.runtime.embedded import EmbeddedNats
from eaf.runtime.platform import Platform
from tests.e2e.conftest import password_token
from tests.support.live_server import live_site
from tests.support.servers import ClonedDatabase, Servers

PROBLEM = "application/problem+json"


async def create_tenant(
    client: httpx.AsyncClient, headers: dict[str, str], slug: str
) -> None:
    response = await client.post(
        "/api/v1/tenants", json={"slug": slug, "name": slug.title()}, headers=headers
    )
    assert response.status_code == 201, response.text


async def create_user(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    tenant: str,
    username: str,
    roles: list[str] | None = None,
) -> httpx.Response:
    return await client.post(
        f"/api/v1/tenants/{tenant}/users",
        json={
            "username": username,
            "email": f"{username}@{tenant}.example",
            "password": f"{username}-secret-pw",
            "roles": roles or ["member"],
        },
        headers=headers,
    )


async def listed_usernames(
    client: httpx.AsyncClient, headers: dict[str, str], tenant: str
) -> list[str]:
    response = await client.get(f"/api/v1/tenants/{tenant}/users", headers=headers)
    assert response.status_code == 200, response.text
    return [user["username"] for user in response.json()]


async def wait_for_user(
    client: httpx.AsyncClient, headers: dict[str, str], tenant: str, username: str
) -> None:
    for _ in range(100):
        if username in await listed_usernames(client, headers, tenant):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{username} not listed within 5 s")


async def test_user_logs_in_and_token_verifies_against_jwks(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await create_tenant(client, admin_headers, "acme")
    created = await create_user(
        client, admin_headers, "acme", "alice", ["tenant_admin"]
    )
    assert created.status_code == 201, created.text

    token = await password_token(client, "acme", "alice", "alice-secret-pw")
    discovery = (
        await client.get("/realms/acme/.well-known/openid-configuration")
    ).json()
    jwks = (
        await client.get(discovery["jwks_uri"].removeprefix("http://testserver"))
    ).json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience="eaf", issuer=discovery["issuer"]
    )

    assert claims["tenant"] == "acme"
    assert claims["sub"] == created.json()["id"]
    assert claims["roles"] == ["tenant_admin"]
    await wait_for_user(client, admin_headers, "acme", "alice")


async def test_stored_password_hashes_are_argon2id(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    platform: Platform,
    database: ClonedDatabase,
) -> None:
    await create_tenant(client, admin_headers, "acme")
    created = await create_user(client, admin_headers, "acme", "alice")
    assert created.status_code == 201, created.text

    with psycopg.connect(database.owner_dsn) as conn:
        rows = conn.execute(
            "SELECT tenant_id, password_hash FROM iam_credentials ORDER BY tenant_id"
        ).fetchall()

    settings = platform.settings
    cost = f"m={settings.password_hash_memory_kib},t={settings.password_hash_time_cost}"
    assert [tenant for tenant, _ in rows] == ["acme", "default"]
    for _, stored in rows:
        assert stored.startswith(f"$argon2id$v=19${cost},"), stored
        assert "alice-secret-pw" not in stored


async def test_tenant_admin_cannot_touch_other_tenant(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    platform: Platform,
    database: ClonedDatabase,
) -> None:
    for slug in ("acme", "globex"):
        await create_tenant(client, admin_headers, slug)
    await create_user(client, admin_headers, "acme", "alice", ["tenant_admin"])
    await create_user(client, admin_headers, "globex", "gary", ["tenant_admin"])
    token = await password_token(client, "acme", "alice", "alice-secret-pw")
    alice = {"Authorization": f"Bearer {token}"}

    listing = await client.get("/api/v1/tenants/globex/users", headers=alice)
    creating = await create_user(client, alice, "globex", "mallory")
    tenants = await client.get("/api/v1/tenants", headers=alice)

    assert [listing.status_code, creating.status_code, tenants.status_code] == [
        403,
        403,
        403,
    ]
    assert listing.headers["content-type"] == PROBLEM
    await wait_for_user(client, admin_headers, "globex", "gary")
    with psycopg.connect(database.runtime_dsn) as conn:
        conn.execute("SELECT set_config('eaf.tenant_id', 'acme', false)")
        visible = conn.execute("SELECT DISTINCT tenant_id FROM iam_users").fetchall()
        claims = conn.execute("SELECT count(*) FROM iam_usernames").fetchone()
    assert visible == [("acme",)]
    assert claims == (1,)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ('{"slug": "acme", "name": ', 400),
        ('{"slug": "acme"}', 422),
        ('{"slug": "Not A Slug!", "name": "x"}', 422),
        ('{"slug": "acme", "name": "x", "extra": 1}', 422),
        ("[]", 422),
    ],
)
async def test_bad_tenant_body_gets_problem(
    client: httpx.AsyncClient, admin_headers: dict[str, str], body: str, status: int
) -> None:
    response = await client.post(
        "/api/v1/tenants",
        content=body,
        headers={**admin_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == status
    tenants = await client.get("/api/v1/tenants", headers=admin_headers)
    assert [tenant["slug"] for tenant in tenants.json()] == ["default"]


async def test_duplicate_username_changes_nothing(
    client: httpx.AsyncClient, admin_headers: dict[str, str], platform: Platform
) -> None:
    await create_tenant(client, admin_headers, "acme")
    assert (
        await create_user(client, admin_headers, "acme", "alice")
    ).status_code == 201
    head = await platform.store.head_position()

    again = await create_user(client, admin_headers, "acme", "ALICE")

    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert "already taken" in again.json()["detail"]
    assert await platform.store.head_position() == head


async def test_unknown_tenant_gets_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    users = await client.get("/api/v1/tenants/nowhere/users", headers=admin_headers)
    created = await create_user(client, admin_headers, "nowhere", "alice")
    discovery = await client.get("/realms/nowhere/.well-known/openid-configuration")

    assert [users.status_code, created.status_code, discovery.status_code] == [
        404,
        404,
        404,
    ]
    assert discovery.headers["content-type"] == PROBLEM


async def test_wrong_password_gets_oauth_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/realms/default/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "eaf-cli",
            "username": "admin",
            "password": "wrong-password",
        },
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_missing_or_bad_token_gets_401(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/tenants")
    garbage = await client.get(
        "/api/v1/tenants", headers={"Authorization": "Bearer not.a.token"}
    )

    assert [missing.status_code, garbage.status_code] == [401, 401]
    assert garbage.headers["content-type"] == PROBLEM


async def test_weak_password_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await create_tenant(client, admin_headers, "acme")
    response = await client.post(
        "/api/v1/tenants/acme/users",
        json={"username": "bob", "email": "bob@acme.example", "password": "bob"},
        headers=admin_headers,
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_openapi_describes_every_route(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    app_routes = {
        route.path
        for route in client._transport.app.routes  # type: ignore[attr-defined]
        if getattr(route, "include_in_schema", False)
    }

    assert app_routes <= set(spec["paths"])
    assert "/api/v1/tenants/{slug}/users" in spec["paths"]


async def test_health_readiness_and_metrics(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    ready = await client.get("/readyz")
    metrics = await client.get("/metrics")

    assert health.status_code == 200
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert {"postgres", "nats", "relay", "projections"} <= set(checks)
    assert all(checks.values())
    assert "eaf_http_requests_total" in metrics.text


async def test_one_correlation_id_for_response_and_events(
    client: httpx.AsyncClient, admin_headers: dict[str, str], platform: Platform
) -> None:
    response = await client.post(
        "/api/v1/tenants", json={"slug": "acme", "name": "Acme"}, headers=admin_headers
    )

    [created] = [
        event async for event in platform.store.read_stream("acme", "tenant-acme")
    ]
    assert created.metadata["correlation_id"] == response.headers["x-correlation-id"]


async def test_unexpected_failure_is_a_problem_with_correlation_id(
    platform: Platform,
) -> None:
    from eaf.http.app import create_app

    app = create_app(platform)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("unexpected")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/boom", headers={"X-Correlation-Id": "c-123"})

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-correlation-id"] == "c-123"
    assert "unexpected" not in response.text


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    nats = EmbeddedNats(tmp_path / "nats-server")
    nats.start()
    yield nats
    nats.stop()


def readiness(url: str) -> tuple[int, dict[str, bool]]:
    answer = httpx.get(f"{url}/readyz", timeout=10)
    return answer.status_code, answer.json()["checks"]


def wait_for_readiness(url: str, status: int, timeout_s: float = 60) -> dict[str, bool]:
    deadline = time.monotonic() + timeout_s
    while True:
        code, checks = readiness(url)
        if code == status or time.monotonic() > deadline:
            assert code == status, checks
            return checks
        time.sleep(0.2)


def test_readiness_fails_while_nats_is_down(
    servers: Servers,
    template_database: str,
    private_nats: EmbeddedNats,
    tmp_path: Path,
) -> None:
    """A live server answers 503 without NATS and 200 again once it is back."""
    own_nats = dataclasses.replace(servers, nats_url=private_nats.url)
    with live_site(own_nats, template_database, tmp_path / "data") as site:
        assert readiness(site.url)[0] == 200
        url = private_nats.url

        private_nats.stop()
        down = wait_for_readiness(site.url, 503)
        private_nats.start()
        assert private_nats.url == url
        back = wait_for_readiness(site.url, 200)

    assert down["nats"] is False
    assert down["postgres"] is True
    assert all(back.values())
