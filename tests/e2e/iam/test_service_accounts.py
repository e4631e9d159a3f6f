"""Service accounts: a secret shown once, stored hashed, rotatable."""

from __future__ import annotations

import httpx
import psycopg

from eaf.iam.adapters.passwords import digest_secret
from tests.e2e.iam.conftest import Site


async def client_credentials(
    site: Site, slug: str, client_id: str, secret: str
) -> httpx.Response:
    return await site.client.post(
        f"/realms/{slug}/protocol/openid-connect/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )


async def test_secret_is_shown_once_and_stored_hashed(site: Site) -> None:
    slug = await site.new_tenant("sa")
    created = (
        await site.client.post(
            f"/api/v1/tenants/{slug}/service-accounts",
            json={"name": "exporter", "roles": ["member"]},
            headers=site.admin,
        )
    ).json()

    listing = await site.client.get(
        f"/api/v1/tenants/{slug}/service-accounts", headers=site.admin
    )
    with psycopg.connect(site.database.owner_dsn) as conn:
        stored = conn.execute(
            "SELECT secret_hash FROM iam_service_accounts WHERE client_id = %s",
            (created["client_id"],),
        ).fetchone()

    assert "client_secret" not in listing.text
    assert [item["client_id"] for item in listing.json()] == [created["client_id"]]
    assert stored == (digest_secret(created["client_secret"]),)


async def test_rotation_replaces_the_secret_at_once(site: Site) -> None:
    slug = await site.new_tenant("sa")
    created = (
        await site.client.post(
            f"/api/v1/tenants/{slug}/service-accounts",
            json={"name": "rotator"},
            headers=site.admin,
        )
    ).json()

    rotated = (
        await site.client.post(
            f"/api/v1/tenants/{slug}/service-accounts/{created['id']}/secret",
            headers=site.admin,
        )
    ).json()
    old = await client_credentials(
        site, slug, created["client_id"], created["client_secret"]
    )
    new = await client_credentials(
        site, slug, created["client_id"], rotated["client_secret"]
    )

    assert rotated["client_id"] == created["client_id"]
    assert old.status_code == 401
    assert old.json()["error"] == "invalid_client"
    assert new.status_code == 200


async def test_deleted_account_gets_no_tokens(site: Site) -> None:
    slug = await site.new_tenant("sa")
    created = (
        await site.client.post(
            f"/api/v1/tenants/{slug}/service-accounts",
            json={"name": "temporary"},
            headers=site.admin,
        )
    ).json()

    deleted = await site.client.delete(
        f"/api/v1/tenants/{slug}/service-accounts/{created['id']}", headers=site.admin
    )
    answer = await client_credentials(
        site, slug, created["client_id"], created["client_secret"]
    )

    assert deleted.status_code == 204
    assert answer.status_code == 401


async def test_secret_of_one_tenant_fails_in_another(site: Site) -> None:
    slug, other = await site.new_tenant("sa"), await site.new_tenant("sa")
    created = (
        await site.client.post(
            f"/api/v1/tenants/{slug}/service-accounts",
            json={"name": "wanderer"},
            headers=site.admin,
        )
    ).json()

    answer = await client_credentials(
        site, other, created["client_id"], created["client_secret"]
    )

    assert answer.status_code == 401
