"""Signing keys rotate with overlap: older tokens verify until they expire."""

from __future__ import annotations

import httpx
import jwt
import psycopg

from eaf.security import InvalidTokenError, JwksCache, RemoteTokenVerifier
from tests.e2e.iam.conftest import BASE_URL, Site, bearer


async def published_kids(site: Site, slug: str) -> set[str]:
    keys = await site.client.get(f"/realms/{slug}/protocol/openid-connect/certs")
    return {key["kid"] for key in keys.json()["keys"]}


async def test_tokens_signed_before_rotation_still_verify(site: Site) -> None:
    slug = await site.new_tenant("rot")
    user = await site.new_user(slug)
    async with httpx.AsyncClient(transport=site.client._transport) as http:
        # No refetch throttle here: the new token comes milliseconds after
        # the first fetch. The throttle has unit tests of its own.
        sdk = RemoteTokenVerifier(BASE_URL, jwks=JwksCache(http, min_refetch_s=0))
        old_token = (await site.token(slug, user.username, user.password))[
            "access_token"
        ]
        await sdk.verify(old_token)  # the SDK now caches the old key set

        rotated = await site.client.post(
            f"/api/v1/tenants/{slug}/keys/rotate", headers=site.admin
        )
        new_token = (await site.token(slug, user.username, user.password))[
            "access_token"
        ]
        old_context = await sdk.verify(old_token)
        new_context = await sdk.verify(new_token)

    body = rotated.json()
    assert jwt.get_unverified_header(old_token)["kid"] == body["retired"][0]
    assert jwt.get_unverified_header(new_token)["kid"] == body["kid"]
    assert await published_kids(site, slug) == {body["kid"], *body["retired"]}
    assert old_context.subject == new_context.subject == user.id
    for token in (old_token, new_token):
        answer = await site.client.get("/api/v1/me", headers=bearer(token))
        assert answer.status_code == 200


async def test_retired_key_leaves_jwks_after_its_window(site: Site) -> None:
    slug = await site.new_tenant("rot")
    user = await site.new_user(slug)
    old_token = (await site.token(slug, user.username, user.password))["access_token"]
    body = (
        await site.client.post(
            f"/api/v1/tenants/{slug}/keys/rotate", headers=site.admin
        )
    ).json()
    # Let the publication window end now instead of in access_token_ttl_s.
    async with await psycopg.AsyncConnection.connect(site.database.owner_dsn) as conn:
        await conn.execute(
            "UPDATE iam_signing_keys SET publish_until = now() "
            "WHERE tenant_id = %s AND retired_at IS NOT NULL",
            (slug,),
        )
    site.platform.keys.forget(slug)

    async with httpx.AsyncClient(transport=site.client._transport) as http:
        sdk = RemoteTokenVerifier(BASE_URL, http=http)
        try:
            await sdk.verify(old_token)
            refused = False
        except InvalidTokenError:
            refused = True
    answer = await site.client.get("/api/v1/me", headers=bearer(old_token))

    assert await published_kids(site, slug) == {body["kid"]}
    assert refused
    assert answer.status_code == 401


async def test_rotation_is_listed_and_audited(site: Site) -> None:
    slug = await site.new_tenant("rot")
    await site.client.post(f"/api/v1/tenants/{slug}/keys/rotate", headers=site.admin)

    keys = await site.client.get(f"/api/v1/tenants/{slug}/keys", headers=site.admin)
    audit = await site.client.get(
        f"/api/v1/tenants/{slug}/audit",
        params={"type": "SigningKeyRotated"},
        headers=site.admin,
    )

    listed = keys.json()
    assert [key["retired_at"] is None for key in listed] == [True, False]
    assert all(key["is_published"] for key in listed)
    assert len(audit.json()["items"]) == 1
