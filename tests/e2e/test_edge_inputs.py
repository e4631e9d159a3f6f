"""Edge inputs at the HTTP edge: far-future expiries, absurd limits, NUL
characters, malformed client credentials on the OAuth endpoints, and unusual
passwords."""

from __future__ import annotations

import base64

import httpx
import psycopg
import pytest

from tests.e2e.conftest import password_token
from tests.e2e.test_iam_slice_http import create_tenant, create_user
from tests.e2e.test_licensing_api import API, POLICY, post, set_up_catalog
from tests.support.servers import ClonedDatabase

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


# --- passwords: unusual ones are hashed with argon2id like any other ----------


def stored_hash(owner_dsn: str, user_id: str) -> str:
    with psycopg.connect(owner_dsn) as conn:
        row = conn.execute(
            "SELECT password_hash FROM iam_credentials WHERE user_id = %s", (user_id,)
        ).fetchone()
    assert row is not None
    return str(row[0])


async def test_reset_and_changed_passwords_are_stored_as_argon2id(
    client: httpx.AsyncClient, admin_headers: Headers, database: ClonedDatabase
) -> None:
    await create_tenant(client, admin_headers, "acme")
    created = await create_user(client, admin_headers, "acme", "alice")
    assert created.status_code == 201, created.text
    user_id = str(created.json()["id"])
    first = stored_hash(database.owner_dsn, user_id)
    reset_to = "pässwörd \u00e9\u0301 🔑 " + "x" * 900  # combining mark, emoji, long

    reset = await client.post(
        f"/api/v1/tenants/acme/users/{user_id}/password",
        json={"new_password": reset_to},
        headers=admin_headers,
    )
    assert reset.status_code == 204, reset.text
    second = stored_hash(database.owner_dsn, user_id)
    token = await password_token(client, "acme", "alice", reset_to)
    changed = await client.put(
        "/api/v1/me/password",
        json={"old_password": reset_to, "new_password": "another-secret-pw"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert changed.status_code == 204, changed.text
    third = stored_hash(database.owner_dsn, user_id)

    assert len({first, second, third}) == 3
    for stored in (first, second, third):
        assert stored.startswith("$argon2id$"), stored
        assert "pässwörd" not in stored
    await password_token(client, "acme", "alice", "another-secret-pw")
