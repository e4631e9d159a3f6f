"""Purging protocol state: expired rows go, rows still needed stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from eaf.iam.adapters.passwords import digest_secret
from tests.e2e.iam.conftest import Site, User

PROTOCOL = "/realms/{slug}/protocol/openid-connect"


def long_ago() -> datetime:
    return datetime.now(UTC) - timedelta(days=2)


async def owner_sql(site: Site, statement: str, params: Any = None) -> list[Any]:
    """Run ``statement`` as the database owner (no row-level security)."""
    async with await psycopg.AsyncConnection.connect(
        site.database.owner_dsn, row_factory=dict_row
    ) as conn:
        cur = await conn.execute(statement, params)
        return list(await cur.fetchall()) if cur.description else []


async def refresh(site: Site, slug: str, token: str) -> dict[str, Any]:
    answer = await site.client.post(
        f"{PROTOCOL.format(slug=slug)}/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "eaf-cli",
            "refresh_token": token,
        },
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def expire_refresh_token(site: Site, token: str) -> None:
    await owner_sql(
        site,
        "UPDATE iam_refresh_tokens SET expires_at = %s WHERE token_hash = %s",
        (long_ago(), digest_secret(token)),
    )


async def remaining(site: Site, table: str, slug: str) -> int:
    rows = await owner_sql(
        site,
        f"SELECT count(*) AS n FROM {table} WHERE tenant_id = %s",  # noqa: S608
        (slug,),
    )
    return int(rows[0]["n"])


async def add_stale_rows(site: Site, slug: str) -> None:
    """One long-expired row in each table that has no live counterpart."""
    family = str(uuid.uuid4())
    statements = [
        "INSERT INTO iam_authorization_codes (tenant_id, code_hash, client_id, "
        "redirect_uri, subject, scope, code_challenge, auth_time, family_id, "
        "expires_at) VALUES (%(slug)s, 'old-code', 'web', 'https://x/cb', 's', "
        "'openid', 'c', 0, %(family)s, %(old)s)",
        "INSERT INTO iam_reset_tokens (tenant_id, token_hash, user_id, "
        "created_at, expires_at) VALUES (%(slug)s, 'old-reset', 'u', "
        "%(old)s, %(old)s)",
        "INSERT INTO iam_revoked_tokens (tenant_id, jti, expires_at) "
        "VALUES (%(slug)s, 'old-jti', %(old)s)",
        "INSERT INTO iam_login_failures (tenant_id, username_lower, failures, "
        "first_failed_at, locked_until) VALUES (%(slug)s, 'old-name', 9, "
        "%(old)s, %(old)s)",
    ]
    for statement in statements:
        params = {"slug": slug, "family": family, "old": long_ago()}
        await owner_sql(site, statement, params)


async def add_live_rows(site: Site, slug: str, user: User) -> None:
    """A revocation, a reset token and a failure counter that still count."""
    tokens = await site.token(slug, user.username, user.password)
    revoked = await site.client.post(
        f"{PROTOCOL.format(slug=slug)}/revoke",
        data={"token": tokens["access_token"], "client_id": "eaf-cli"},
    )
    assert revoked.status_code == 200
    await site.client.post(
        f"/api/v1/tenants/{slug}/password-reset", json={"username": user.username}
    )
    failed = await site.client.post(
        f"{PROTOCOL.format(slug=slug)}/token",
        data={
            "grant_type": "password",
            "client_id": "eaf-cli",
            "username": "someone-else",
            "password": "wrong-password",
        },
    )
    assert failed.status_code == 400


async def purge(site: Site, slug: str) -> dict[str, int]:
    answer = await site.client.post(
        f"/api/v1/tenants/{slug}/purge-expired", headers=site.admin
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_purge_deletes_expired_rows_and_keeps_live_ones(site: Site) -> None:
    slug = await site.new_tenant("purge")
    user = await site.new_user(slug)
    dead = await site.token(slug, user.username, user.password)
    await expire_refresh_token(site, dead["refresh_token"])
    rotated = await site.token(slug, user.username, user.password)
    await refresh(site, slug, rotated["refresh_token"])
    await expire_refresh_token(site, rotated["refresh_token"])
    await add_stale_rows(site, slug)
    await add_live_rows(site, slug, user)

    deleted = await purge(site, slug)

    assert deleted == {
        "refresh_tokens": 1,
        "authorization_codes": 1,
        "reset_tokens": 1,
        "revoked_tokens": 1,
        "login_failures": 1,
    }
    # The used token of the live family stays for reuse detection.
    assert await remaining(site, "iam_refresh_tokens", slug) == 3
    for table in ("iam_reset_tokens", "iam_revoked_tokens", "iam_login_failures"):
        assert await remaining(site, table, slug) == 1, table
    assert await remaining(site, "iam_authorization_codes", slug) == 0


async def test_reuse_is_still_detected_after_a_purge(site: Site) -> None:
    slug = await site.new_tenant("purge")
    user = await site.new_user(slug)
    first = await site.token(slug, user.username, user.password)
    second = await refresh(site, slug, first["refresh_token"])
    await expire_refresh_token(site, first["refresh_token"])

    await purge(site, slug)
    reuse = await site.client.post(
        f"{PROTOCOL.format(slug=slug)}/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "eaf-cli",
            "refresh_token": first["refresh_token"],
        },
    )
    after = await site.client.post(
        f"{PROTOCOL.format(slug=slug)}/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "eaf-cli",
            "refresh_token": second["refresh_token"],
        },
    )

    assert reuse.json()["error"] == "invalid_grant"
    assert after.json()["error"] == "invalid_grant"


async def test_purge_leaves_other_tenants_alone(site: Site) -> None:
    slug, other = await site.new_tenant("purge"), await site.new_tenant("purge")
    await add_stale_rows(site, other)

    await purge(site, slug)

    assert await remaining(site, "iam_revoked_tokens", other) == 1


async def test_purge_needs_a_superadmin(site: Site) -> None:
    slug = await site.new_tenant("purge")
    _, tenant_admin = await site.tenant_admin(slug)

    answer = await site.client.post(
        f"/api/v1/tenants/{slug}/purge-expired", headers=tenant_admin
    )

    assert answer.status_code == 403
