"""Every grant through Authlib's OAuth 2.0 client, from discovery alone."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.discovery import OpenIDProviderMetadata

from tests.e2e.iam.conftest import BASE_URL, Site, User, bearer
from tests.support.oauth_client import AsyncOAuth2Client, OAuthError

REDIRECT_URI = "http://127.0.0.1:8765/callback"


class _HiddenInputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("type") == "hidden":
            self.fields[str(values["name"])] = str(values.get("value") or "")


def hidden_fields(html: str) -> dict[str, str]:
    parser = _HiddenInputs()
    parser.feed(html)
    return parser.fields


async def discover(site: Site, slug: str) -> dict[str, Any]:
    response = await site.client.get(f"/realms/{slug}/.well-known/openid-configuration")
    assert response.status_code == 200
    return dict(response.json())


def oauth_client(site: Site, **options: Any) -> AsyncOAuth2Client:
    transport = site.client._transport  # the app under test, in-process
    return AsyncOAuth2Client(transport=transport, **options)


async def verify_with_jwks(
    site: Site, metadata: dict[str, Any], token: str, audience: str = "eaf"
) -> dict[str, Any]:
    """PyJWT alone, with nothing but the published metadata and key set."""
    keys = (await site.client.get(metadata["jwks_uri"])).json()
    key = jwt.PyJWKSet.from_dict(keys)[jwt.get_unverified_header(token)["kid"]]
    return dict(
        jwt.decode(
            token,
            key.key,
            algorithms=metadata["id_token_signing_alg_values_supported"],
            audience=audience,
            issuer=metadata["issuer"],
        )
    )


@pytest.fixture(scope="module")
async def realm(site: Site) -> tuple[str, User]:
    slug = await site.new_tenant("oauth")
    return slug, await site.new_user(slug, ["member"])


async def test_discovery_is_valid_openid_metadata(
    site: Site, realm: tuple[str, User]
) -> None:
    metadata = await discover(site, realm[0])

    OpenIDProviderMetadata(metadata).validate()
    assert metadata["issuer"] == f"{BASE_URL}/realms/{realm[0]}"
    assert set(metadata["grant_types_supported"]) >= {
        "password",
        "client_credentials",
        "refresh_token",
        "authorization_code",
    }


async def test_password_grant_token_verifies_with_pyjwt(
    site: Site, realm: tuple[str, User]
) -> None:
    slug, user = realm
    metadata = await discover(site, slug)

    async with oauth_client(
        site, client_id="eaf-cli", token_endpoint_auth_method="none"
    ) as client:
        token = await client.fetch_token(
            metadata["token_endpoint"],
            username=user.username,
            password=user.password,
            scope="openid profile",
        )

    claims = await verify_with_jwks(site, metadata, token["access_token"])
    id_claims = await verify_with_jwks(site, metadata, token["id_token"], "eaf-cli")
    assert claims["sub"] == user.id == id_claims["sub"]
    assert claims["tenant"] == slug
    assert claims["roles"] == ["member"]
    assert "refresh_token" in token


async def test_client_credentials_grant_for_service_account(
    site: Site, realm: tuple[str, User]
) -> None:
    slug = realm[0]
    created = await site.client.post(
        f"/api/v1/tenants/{slug}/service-accounts",
        json={"name": "sync job", "roles": ["member"]},
        headers=site.admin,
    )
    account = created.json()
    metadata = await discover(site, slug)

    async with oauth_client(
        site,
        client_id=account["client_id"],
        client_secret=account["client_secret"],
    ) as client:
        token = await client.fetch_token(
            metadata["token_endpoint"], grant_type="client_credentials"
        )

    claims = await verify_with_jwks(site, metadata, token["access_token"])
    assert claims["sub"] == f"service-account:{account['id']}"
    assert claims["client_id"] == account["client_id"]
    assert "refresh_token" not in token


async def test_refresh_grant_rotates_the_refresh_token(
    site: Site, realm: tuple[str, User]
) -> None:
    slug, user = realm
    metadata = await discover(site, slug)
    first = await site.token(slug, user.username, user.password)

    async with oauth_client(
        site, client_id="eaf-cli", token_endpoint_auth_method="none"
    ) as client:
        second = await client.refresh_token(
            metadata["token_endpoint"], refresh_token=first["refresh_token"]
        )

    claims = await verify_with_jwks(site, metadata, second["access_token"])
    assert claims["sub"] == user.id
    assert second["refresh_token"] != first["refresh_token"]


async def register_browser_client(site: Site, slug: str) -> str:
    response = await site.client.post(
        f"/api/v1/tenants/{slug}/clients",
        json={"name": "Portal", "redirect_uris": [REDIRECT_URI]},
        headers=site.admin,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["client_id"])


async def sign_in(site: Site, url: str, user: User) -> httpx.Response:
    """What a browser does: open the login form, fill it in, submit it."""
    form = await site.client.get(url)
    assert form.status_code == 200, form.text
    fields = hidden_fields(form.text)
    return await site.client.post(
        url.split("?")[0],
        data={**fields, "username": user.username, "password": user.password},
    )


async def test_authorization_code_grant_with_pkce(
    site: Site, realm: tuple[str, User]
) -> None:
    slug, user = realm
    client_id = await register_browser_client(site, slug)
    metadata = await discover(site, slug)
    verifier = generate_token(64)
    nonce = generate_token(16)

    async with oauth_client(
        site,
        client_id=client_id,
        token_endpoint_auth_method="none",
        redirect_uri=REDIRECT_URI,
        scope="openid profile email",
        code_challenge_method="S256",
    ) as client:
        url, state = client.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        answer = await sign_in(site, url, user)
        assert answer.status_code == 303, answer.text
        location = answer.headers["location"]
        token = await client.fetch_token(
            metadata["token_endpoint"],
            authorization_response=location,
            code_verifier=verifier,
            state=state,
        )

    assert parse_qs(urlsplit(location).query)["iss"] == [metadata["issuer"]]
    id_claims = await verify_with_jwks(site, metadata, token["id_token"], client_id)
    assert id_claims["nonce"] == nonce
    assert id_claims["email"] == user.email
    claims = await verify_with_jwks(site, metadata, token["access_token"])
    assert claims["azp"] == client_id


async def test_code_is_refused_with_wrong_verifier_and_when_reused(
    site: Site, realm: tuple[str, User]
) -> None:
    slug, user = realm
    client_id = await register_browser_client(site, slug)
    verifier = generate_token(64)
    query = httpx.QueryParams(
        response_type="code",
        client_id=client_id,
        redirect_uri=REDIRECT_URI,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
        state="s1",
    )
    answer = await sign_in(
        site, f"/realms/{slug}/protocol/openid-connect/auth?{query}", user
    )
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    exchange = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "redirect_uri": REDIRECT_URI,
    }
    token_url = f"/realms/{slug}/protocol/openid-connect/token"

    wrong = await site.client.post(
        token_url, data={**exchange, "code_verifier": generate_token(64)}
    )
    reused = await site.client.post(
        token_url, data={**exchange, "code_verifier": verifier}
    )

    assert wrong.json()["error"] == reused.json()["error"] == "invalid_grant"


async def test_unregistered_redirect_is_never_followed(
    site: Site, realm: tuple[str, User]
) -> None:
    slug = realm[0]
    client_id = await register_browser_client(site, slug)
    query = httpx.QueryParams(
        response_type="code",
        client_id=client_id,
        redirect_uri="https://evil.example/steal",
        code_challenge=create_s256_code_challenge(generate_token(64)),
        code_challenge_method="S256",
    )

    answer = await site.client.get(
        f"/realms/{slug}/protocol/openid-connect/auth?{query}"
    )

    assert answer.status_code == 400
    assert "location" not in answer.headers


async def test_missing_pkce_is_reported_to_the_client(
    site: Site, realm: tuple[str, User]
) -> None:
    slug = realm[0]
    client_id = await register_browser_client(site, slug)
    query = httpx.QueryParams(
        response_type="code",
        client_id=client_id,
        redirect_uri=REDIRECT_URI,
        state="xyz",
    )

    answer = await site.client.get(
        f"/realms/{slug}/protocol/openid-connect/auth?{query}"
    )

    params = parse_qs(urlsplit(answer.headers["location"]).query)
    assert answer.status_code == 302
    assert params["error"] == ["invalid_request"]
    assert params["state"] == ["xyz"]


async def test_revocation_ends_refresh_family_and_access_token(
    site: Site, realm: tuple[str, User]
) -> None:
    slug, user = realm
    metadata = await discover(site, slug)
    tokens = await site.token(slug, user.username, user.password)
    account = (
        await site.client.post(
            f"/api/v1/tenants/{slug}/service-accounts",
            json={"name": "introspector"},
            headers=site.admin,
        )
    ).json()
    inspector = oauth_client(
        site, client_id=account["client_id"], client_secret=account["client_secret"]
    )

    async with oauth_client(
        site, client_id="eaf-cli", revocation_endpoint_auth_method="none"
    ) as client:
        for kind in ("refresh_token", "access_token"):
            revoked = await client.revoke_token(
                metadata["revocation_endpoint"], tokens[kind], token_type_hint=kind
            )
            assert revoked.status_code == 200
        with pytest.raises(OAuthError, match="invalid_grant"):
            await client.refresh_token(
                metadata["token_endpoint"], refresh_token=tokens["refresh_token"]
            )
    async with inspector:
        answer = await inspector.introspect_token(
            metadata["introspection_endpoint"], tokens["access_token"]
        )

    assert answer.json() == {"active": False}


async def test_introspection_and_userinfo_describe_a_live_token(
    site: Site, realm: tuple[str, User]
) -> None:
    slug, user = realm
    metadata = await discover(site, slug)
    tokens = await site.token(slug, user.username, user.password, "openid email")
    account = (
        await site.client.post(
            f"/api/v1/tenants/{slug}/service-accounts",
            json={"name": "gateway"},
            headers=site.admin,
        )
    ).json()

    async with oauth_client(
        site, client_id=account["client_id"], client_secret=account["client_secret"]
    ) as inspector:
        answer = (
            await inspector.introspect_token(
                metadata["introspection_endpoint"], tokens["access_token"]
            )
        ).json()
        refresh = (
            await inspector.introspect_token(
                metadata["introspection_endpoint"],
                tokens["refresh_token"],
                token_type_hint="refresh_token",
            )
        ).json()
    info = await site.client.get(
        metadata["userinfo_endpoint"], headers=bearer(tokens["access_token"])
    )

    assert answer["active"] is True
    assert answer["sub"] == user.id
    assert answer["username"] == user.username
    assert refresh["active"] is True
    assert info.json()["email"] == user.email


async def test_introspection_needs_client_credentials(
    site: Site, realm: tuple[str, User]
) -> None:
    slug, user = realm
    tokens = await site.token(slug, user.username, user.password)

    answer = await site.client.post(
        f"/realms/{slug}/protocol/openid-connect/token/introspect",
        data={"token": tokens["access_token"]},
        auth=("sa-unknown", "wrong"),
    )

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert re.match(r"^Basic ", answer.headers["www-authenticate"])
