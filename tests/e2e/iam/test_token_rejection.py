"""Bad tokens are refused by the platform's API and by the SDK verifier alike."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from eaf.security import InvalidTokenError, RemoteTokenVerifier
from tests.e2e.iam.conftest import BASE_URL, Site, User, bearer


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    pad = lambda part: part + "=" * (-len(part) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str) -> str:
    encoded = [b64(json.dumps(part).encode()) for part in (header, claims)]
    return ".".join([*encoded, signature])


@pytest.fixture(scope="module")
async def member(site: Site) -> User:
    slug = await site.new_tenant("rej")
    return await site.new_user(slug)


@pytest.fixture(scope="module")
async def good_token(site: Site, member: User) -> str:
    tokens = await site.token(member.tenant, member.username, member.password)
    return str(tokens["access_token"])


@pytest.fixture(scope="module")
async def sdk(site: Site) -> AsyncIterator[RemoteTokenVerifier]:
    transport = site.client._transport
    async with httpx.AsyncClient(transport=transport) as http:
        yield RemoteTokenVerifier(BASE_URL, http=http, leeway_s=5)


async def resign(site: Site, token: str, **changes: Any) -> str:
    """The token's claims with ``changes``, signed with the tenant's real key."""
    header, claims, _ = segments(token)
    key = await site.platform.keys.active_key(claims["tenant"])
    claims.update(changes)
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers=header)


async def assert_refused(site: Site, sdk: RemoteTokenVerifier, token: str) -> None:
    answer = await site.client.get("/api/v1/me", headers=bearer(token))
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")
    with pytest.raises(InvalidTokenError):
        await sdk.verify(token)


async def test_good_token_is_accepted_by_api_and_sdk(
    site: Site, sdk: RemoteTokenVerifier, member: User, good_token: str
) -> None:
    answer = await site.client.get("/api/v1/me", headers=bearer(good_token))
    context = await sdk.verify(good_token)

    assert answer.json()["id"] == member.id == context.subject
    assert context.tenant_id == member.tenant


async def test_alg_none_is_refused(
    site: Site, sdk: RemoteTokenVerifier, good_token: str
) -> None:
    header, claims, _ = segments(good_token)
    await assert_refused(site, sdk, unsigned({**header, "alg": "none"}, claims, ""))


async def test_hs256_signed_with_public_key_is_refused(
    site: Site, sdk: RemoteTokenVerifier, good_token: str
) -> None:
    header, claims, _ = segments(good_token)
    key = await site.platform.keys.active_key(claims["tenant"])
    public_pem = key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = unsigned({**header, "alg": "HS256"}, claims, "")[:-1]
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()

    await assert_refused(site, sdk, f"{signing_input}.{b64(mac)}")


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param(lambda now: {"exp": now - 3600, "iat": now - 7200}, id="expired"),
        pytest.param(lambda now: {"nbf": now + 3600}, id="not-yet-valid"),
        pytest.param(lambda now: {"iss": "https://evil.example/realms/x"}, id="issuer"),
        pytest.param(lambda now: {"aud": "another-api"}, id="audience"),
    ],
)
async def test_bad_claims_are_refused(
    site: Site,
    sdk: RemoteTokenVerifier,
    good_token: str,
    changes: Callable[[int], dict[str, Any]],
) -> None:
    token = await resign(site, good_token, **changes(int(time.time())))

    await assert_refused(site, sdk, token)


async def test_unknown_kid_is_refused(
    site: Site, sdk: RemoteTokenVerifier, good_token: str
) -> None:
    header, claims, _ = segments(good_token)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(
        claims, stranger, algorithm="RS256", headers={**header, "kid": "not-ours"}
    )

    await assert_refused(site, sdk, token)


async def test_tampered_payload_is_refused(
    site: Site, sdk: RemoteTokenVerifier, good_token: str
) -> None:
    header, claims, signature = segments(good_token)
    claims["roles"] = ["tenant_admin"]

    await assert_refused(site, sdk, unsigned(header, claims, signature))


async def test_token_of_tenant_a_cannot_use_tenant_b_api(
    site: Site, member: User
) -> None:
    other = await site.new_tenant("rej-b")
    _, admin_a = await site.tenant_admin(member.tenant)

    answers = [
        await site.client.get(f"/api/v1/tenants/{other}/users", headers=admin_a),
        await site.client.get(f"/api/v1/tenants/{other}/roles", headers=admin_a),
        await site.client.get(f"/api/v1/tenants/{other}/audit", headers=admin_a),
    ]

    assert [answer.status_code for answer in answers] == [403, 403, 403]


async def test_suspended_tenant_token_stops_working_at_once(
    site: Site, sdk: RemoteTokenVerifier
) -> None:
    slug = await site.new_tenant("susp")
    user = await site.new_user(slug)
    headers = await site.login(user)
    assert (await site.client.get("/api/v1/me", headers=headers)).status_code == 200

    suspended = await site.client.post(
        f"/api/v1/tenants/{slug}/suspend", json={"reason": "unpaid"}, headers=site.admin
    )
    refused = await site.client.get("/api/v1/me", headers=headers)
    login = await site.client.post(
        f"/realms/{slug}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "eaf-cli",
            "username": user.username,
            "password": user.password,
        },
    )

    assert suspended.json()["status"] == "suspended"
    assert refused.status_code == 401
    assert login.json()["error"] == "invalid_grant"


async def test_reused_refresh_token_revokes_the_family(
    site: Site, member: User
) -> None:
    first = await site.token(member.tenant, member.username, member.password)
    url = f"/realms/{member.tenant}/protocol/openid-connect/token"

    async def refresh(token: str) -> httpx.Response:
        return await site.client.post(
            url,
            data={
                "grant_type": "refresh_token",
                "client_id": "eaf-cli",
                "refresh_token": token,
            },
        )

    second = (await refresh(first["refresh_token"])).json()
    reuse = await refresh(first["refresh_token"])
    after = await refresh(second["refresh_token"])

    assert reuse.json()["error"] == "invalid_grant"
    assert after.json()["error"] == "invalid_grant"
    audit = await site.client.get(
        f"/api/v1/tenants/{member.tenant}/audit",
        params={"type": "RefreshTokenReuseDetected"},
        headers=site.admin,
    )
    assert len(audit.json()["items"]) >= 1


def reset_tokens(site: Site) -> list[str]:
    log = site.settings.data_dir / "logs" / "mail.log"
    lines = log.read_text().splitlines()
    return [
        json.loads(line)["body"].split("Reset token: ")[1].strip() for line in lines
    ]


async def test_used_reset_token_is_refused(site: Site) -> None:
    slug = await site.new_tenant("reset")
    user = await site.new_user(slug)
    requested = await site.client.post(
        f"/api/v1/tenants/{slug}/password-reset", json={"username": user.email}
    )
    token = reset_tokens(site)[-1]
    confirm = f"/api/v1/tenants/{slug}/password-reset/confirm"

    first = await site.client.post(
        confirm, json={"token": token, "new_password": "brand-new-pw-1"}
    )
    again = await site.client.post(
        confirm, json={"token": token, "new_password": "brand-new-pw-2"}
    )

    assert [requested.status_code, first.status_code] == [202, 204]
    assert again.status_code == 400
    assert again.json()["type"] == "urn:eaf:problem:invalid-reset-token"
    await site.token(slug, user.username, "brand-new-pw-1")


async def test_expired_reset_token_is_refused(site: Site) -> None:
    slug = await site.new_tenant("reset")
    user = await site.new_user(slug)
    await site.client.post(
        f"/api/v1/tenants/{slug}/password-reset", json={"username": user.username}
    )
    token = reset_tokens(site)[-1]
    owner = site.database.owner_dsn
    async with await psycopg.AsyncConnection.connect(owner) as conn:
        await conn.execute(
            "UPDATE iam_reset_tokens SET expires_at = now() - interval '1 second' "
            "WHERE tenant_id = %s",
            (slug,),
        )

    answer = await site.client.post(
        f"/api/v1/tenants/{slug}/password-reset/confirm",
        json={"token": token, "new_password": "brand-new-pw-3"},
    )

    assert answer.status_code == 400
    await site.token(slug, user.username, user.password)
