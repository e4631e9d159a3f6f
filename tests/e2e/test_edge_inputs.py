"""Edge inputs at the HTTP edge: far-future expiries, absurd limits, NUL
characters and malformed client credentials on the OAuth endpoints."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.e2e.test_licensing_api import API, POLICY, post, set_up_catalog

PROBLEM = "application/problem+json"
PROTOCOL = "/realms/{slug}/protocol/openid-connect"
OAUTH_ENDPOINTS = ("token", "revoke", "token/introspect")

Headers = dict[str, str]


def assert_problem(response: httpx.Response, status: int = 422) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == error


async def issue_default(client: httpx.AsyncClient, admin: Headers) -> str:
    await set_up_catalog(client, admin)
    body = {"customer": "default", "policy": POLICY}
    response = await post(client, "/licenses", admin, body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# --- licensing: expiry bounds and limits ---------------------------------------


async def test_extend_past_the_maximum_expiry_is_rejected(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    license_id = await issue_default(client, admin_headers)
    path = f"{API}/licenses/{license_id}"
    before = (await client.get(path, headers=admin_headers)).json()["expires_at"]

    for expires_at in (
        "9999-12-31T23:59:59+00:00",
        "9999-12-31T23:00:00-05:00",  # past year 9999 once in UTC
        "9000-01-01T00:00:01+00:00",
    ):
        body = {"expires_at": expires_at}
        response = await post(
            client, f"/licenses/{license_id}/extend", admin_headers, body
        )
        assert_problem(response)

    after = (await client.get(path, headers=admin_headers)).json()["expires_at"]
    assert after == before


async def test_renew_at_the_maximum_expiry_answers_422_not_500(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    license_id = await issue_default(client, admin_headers)
    body = {"expires_at": "8999-12-31T00:00:00+00:00"}
    extended = await post(client, f"/licenses/{license_id}/extend", admin_headers, body)
    assert extended.status_code == 200, extended.text

    renewed = await post(client, f"/licenses/{license_id}/renew", admin_headers)

    assert_problem(renewed)
    assert renewed.json()["type"] == "urn:eaf:problem:expiry-out-of-range"
    shown = await client.get(f"{API}/licenses/{license_id}", headers=admin_headers)
    assert shown.json()["expires_at"].startswith("8999-12-31")


@pytest.mark.parametrize("value", [2**31, 2**63, 10**30])
async def test_absurd_policy_limits_are_rejected(
    client: httpx.AsyncClient, admin_headers: Headers, value: int
) -> None:
    await set_up_catalog(client, admin_headers)
    policy = {"id": "orbit-huge", "product": "orbit", "limits": {"users": value}}

    assert_problem(await post(client, "/policies", admin_headers, policy))
    largest = {**policy, "id": "orbit-largest", "limits": {"users": 2**31 - 1}}
    assert (await post(client, "/policies", admin_headers, largest)).status_code == 201


# --- OAuth endpoints: NUL characters -----------------------------------------------


async def test_nul_in_a_form_field_is_an_oauth_invalid_request(
    client: httpx.AsyncClient,
) -> None:
    token_path = PROTOCOL.format(slug="default") + "/token"
    form = {
        "grant_type": "password",
        "client_id": "eaf-cli",
        "username": "a\x00b",
        "password": "x",
    }
    assert_oauth_error(await client.post(token_path, data=form), 400, "invalid_request")

    for endpoint in ("revoke", "token/introspect"):
        path = PROTOCOL.format(slug="default") + f"/{endpoint}"
        form = {"client_id": "eaf-cli", "token": "a\x00b"}
        assert_oauth_error(await client.post(path, data=form), 400, "invalid_request")


@pytest.mark.parametrize("endpoint", OAUTH_ENDPOINTS)
@pytest.mark.parametrize("slug", ["ac%00me", "ACME", "a", "acme%0A"])
async def test_a_malformed_realm_is_an_oauth_error(
    client: httpx.AsyncClient, endpoint: str, slug: str
) -> None:
    path = PROTOCOL.format(slug=slug) + f"/{endpoint}"
    form = {"grant_type": "password", "client_id": "eaf-cli", "token": "x"}

    assert_oauth_error(await client.post(path, data=form), 404, "invalid_request")


# --- OAuth endpoints: client authentication via the Authorization header -------


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!",
        "Basic Zm9v",  # "foo": an unknown client
        "Basic ",
        "basic " + base64.b64encode(b"\xff\xfe:x").decode(),  # not UTF-8
        "Basic " + base64.b64encode(b"a%00b:x").decode(),  # NUL once unquoted
        "Basic " + base64.b64encode(b":secret").decode(),  # no client id
    ],
)
@pytest.mark.parametrize("endpoint", OAUTH_ENDPOINTS)
async def test_failed_basic_client_authentication_is_401(
    client: httpx.AsyncClient, authorization: str, endpoint: str
) -> None:
    path = PROTOCOL.format(slug="default") + f"/{endpoint}"
    form = {"grant_type": "client_credentials", "token": "x"}

    response = await client.post(
        path, data=form, headers={"Authorization": authorization}
    )

    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")
