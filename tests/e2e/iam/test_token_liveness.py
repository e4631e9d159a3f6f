"""Revocations, deactivations and suspensions end a token on the API at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from eaf.http.app import create_app
from eaf.runtime.platform import Platform, PlatformOptions
from tests.e2e.iam.conftest import BASE_URL, Site, bearer

PROTOCOL = "/realms/{slug}/protocol/openid-connect"


@pytest.fixture(scope="module")
async def replica(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    """A second platform process on the same database, with its own caches."""
    options = PlatformOptions(
        runtime_dsn=site.database.runtime_dsn,
        nats_url=site.platform.options.nats_url,
        secret=b"test-signing-secret",
        public_url=BASE_URL,
        run_relay=False,
        run_projections=False,
    )
    platform = Platform(site.settings, options)
    await platform.start()
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client
    await platform.stop()


async def new_account(site: Site, slug: str) -> dict[str, str]:
    created = await site.client.post(
        f"/api/v1/tenants/{slug}/service-accounts",
        json={"name": "checker", "roles": ["tenant_admin"]},
        headers=site.admin,
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


async def account_token(site: Site, slug: str, account: dict[str, str]) -> str:
    answer = await site.client.post(
        f"{PROTOCOL.format(slug=slug)}/token",
        data={"grant_type": "client_credentials"},
        auth=(account["client_id"], account["client_secret"]),
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def introspect(
    site: Site, slug: str, account: dict[str, str], token: str
) -> dict[str, object]:
    answer = await site.client.post(
        f"{PROTOCOL.format(slug=slug)}/token/introspect",
        data={"token": token},
        auth=(account["client_id"], account["client_secret"]),
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_revoked_access_token_is_refused_by_the_api(site: Site) -> None:
    slug = await site.new_tenant("live")
    user = await site.new_user(slug)
    token = (await site.token(slug, user.username, user.password))["access_token"]
    before = await site.client.get("/api/v1/me", headers=bearer(token))

    revoked = await site.client.post(
        f"{PROTOCOL.format(slug=slug)}/revoke",
        data={"token": token, "client_id": "eaf-cli"},
    )
    after = await site.client.get("/api/v1/me", headers=bearer(token))

    assert before.status_code == 200
    assert revoked.status_code == 200
    assert after.status_code == 401
    assert "revoked" in after.json()["detail"]


async def test_deactivated_user_is_refused_by_the_api_at_once(site: Site) -> None:
    slug = await site.new_tenant("live")
    user = await site.new_user(slug)
    headers = await site.login(user)
    before = await site.client.get("/api/v1/me", headers=headers)

    deactivated = await site.client.post(
        f"/api/v1/tenants/{slug}/users/{user.id}/deactivate", headers=site.admin
    )
    after = await site.client.get("/api/v1/me", headers=headers)

    assert before.status_code == 200
    assert deactivated.status_code == 200
    assert after.status_code == 401


async def test_token_revoked_while_user_inactive_stays_revoked(site: Site) -> None:
    slug = await site.new_tenant("live")
    user = await site.new_user(slug)
    token = (await site.token(slug, user.username, user.password))["access_token"]
    path = f"/api/v1/tenants/{slug}/users/{user.id}"

    await site.client.post(f"{path}/deactivate", headers=site.admin)
    revoked = await site.client.post(
        f"{PROTOCOL.format(slug=slug)}/revoke",
        data={"token": token, "client_id": "eaf-cli"},
    )
    await site.client.post(f"{path}/activate", headers=site.admin)
    after = await site.client.get("/api/v1/me", headers=bearer(token))
    fresh = await site.login(user)

    assert revoked.status_code == 200
    assert after.status_code == 401
    assert (await site.client.get("/api/v1/me", headers=fresh)).status_code == 200


async def test_deleted_service_account_is_refused_by_the_api(site: Site) -> None:
    slug = await site.new_tenant("live")
    account = await new_account(site, slug)
    headers = bearer(await account_token(site, slug, account))
    roles = f"/api/v1/tenants/{slug}/roles"
    before = await site.client.get(roles, headers=headers)

    deleted = await site.client.delete(
        f"/api/v1/tenants/{slug}/service-accounts/{account['id']}",
        headers=site.admin,
    )
    after = await site.client.get(roles, headers=headers)

    assert before.status_code == 200
    assert deleted.status_code == 204
    assert after.status_code == 401


async def test_suspension_counts_at_once_in_another_process(
    site: Site, replica: httpx.AsyncClient
) -> None:
    slug = await site.new_tenant("live")
    user = await site.new_user(slug)
    account = await new_account(site, slug)
    headers = await site.login(user)
    token = headers["Authorization"].removeprefix("Bearer ")
    seen_active = await replica.get("/api/v1/me", headers=headers)
    active = await introspect(site, slug, account, token)

    suspended = await site.client.post(
        f"/api/v1/tenants/{slug}/suspend", json={"reason": "x"}, headers=site.admin
    )
    on_replica = await replica.get("/api/v1/me", headers=headers)
    on_origin = await site.client.get("/api/v1/me", headers=headers)
    inactive = await introspect(site, slug, account, token)

    assert seen_active.status_code == 200
    assert active["active"] is True
    assert suspended.json()["status"] == "suspended"
    assert on_replica.status_code == 401
    assert on_origin.status_code == 401
    assert inactive == {"active": False}
