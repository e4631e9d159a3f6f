"""The licensing API over HTTP: vendor, customers, and EAF's own license."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from eaf.http.app import create_app
from eaf.licensing import (
    ActivationRequest,
    Fingerprint,
    KeyRing,
    verify_license,
    verify_machine_certificate,
)
from eaf.runtime.platform import Platform
from tests.e2e.conftest import BASE_URL, password_token
from tests.support.projections import wait_until

API = "/api/v1/licensing"
PROBLEM = "application/problem+json"
PRODUCT = "orbit"
POLICY = "orbit-standard"
CUSTOMER_PASSWORD = "customer-password-1"

Headers = dict[str, str]


def machine(number: int) -> Fingerprint:
    return Fingerprint.from_values(
        PRODUCT, {"machine_id": f"{number:032x}", "hostname": f"host-{number}"}
    )


def request_body(license_id: str, number: int) -> dict[str, Any]:
    request = ActivationRequest.create(
        license_id, PRODUCT, machine(number), now=datetime.now(UTC)
    )
    return request.to_dict()


async def post(
    client: httpx.AsyncClient, path: str, headers: Headers, body: object = None
) -> httpx.Response:
    return await client.post(f"{API}{path}", json=body or {}, headers=headers)


async def set_up_catalog(client: httpx.AsyncClient, admin: Headers) -> None:
    assert (await post(client, "/signing-keys", admin)).status_code == 201
    product = {"name": PRODUCT, "display_name": "Orbit"}
    assert (await post(client, "/products", admin, product)).status_code == 201
    policy = {
        "id": POLICY,
        "product": PRODUCT,
        "duration_days": 365,
        "grace_days": 14,
        "entitlements": ["reports"],
        "limits": {"machines": 2, "users": 25},
    }
    assert (await post(client, "/policies", admin, policy)).status_code == 201


async def issue(client: httpx.AsyncClient, admin: Headers, customer: str) -> str:
    body = {"customer": customer, "policy": POLICY}
    response = await post(client, "/licenses", admin, body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def tenant_admin(
    client: httpx.AsyncClient, admin: Headers, tenant: str
) -> Headers:
    """Create ``tenant`` with an admin user and return that admin's headers."""
    response = await client.post(
        "/api/v1/tenants", json={"slug": tenant, "name": tenant}, headers=admin
    )
    assert response.status_code == 201, response.text
    user = {
        "username": f"{tenant}-admin",
        "email": f"admin@{tenant}.example",
        "password": CUSTOMER_PASSWORD,
        "roles": ["tenant_admin"],
    }
    response = await client.post(
        f"/api/v1/tenants/{tenant}/users", json=user, headers=admin
    )
    assert response.status_code == 201, response.text
    token = await password_token(client, tenant, f"{tenant}-admin", CUSTOMER_PASSWORD)
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["status"] == status


async def test_customer_activates_a_license_issued_to_it(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    await set_up_catalog(client, admin_headers)
    license_id = await issue(client, admin_headers, "acme")
    acme = await tenant_admin(client, admin_headers, "acme")
    keyring = KeyRing.from_jwks((await client.get(f"{API}/keys")).json())

    file = await client.get(f"{API}/licenses/{license_id}/file", headers=acme)
    online = await post(
        client, f"/licenses/{license_id}/activations", acme, request_body(license_id, 1)
    )
    offline = await post(
        client, "/offline-activations", acme, request_body(license_id, 2)
    )

    assert file.headers["content-type"] == "application/jose"
    assert verify_license(file.text, keyring).document.customer == "acme"
    assert online.status_code == 200, online.text
    assert offline.status_code == 200, offline.text
    certificate = verify_machine_certificate(
        offline.text,
        keyring,
        license_id=license_id,
        product=PRODUCT,
        fingerprint=machine(2),
        now=datetime.now(UTC),
    )
    assert certificate.expires_at is None
    third = await post(
        client, f"/licenses/{license_id}/activations", acme, request_body(license_id, 3)
    )
    assert_problem(third, 409)
    activation_id = online.json()["activation_id"]
    freed = await client.delete(
        f"{API}/licenses/{license_id}/activations/{activation_id}", headers=acme
    )
    assert freed.status_code == 204
    shown = await client.get(f"{API}/licenses/{license_id}", headers=acme)
    assert shown.json()["seats_used"] == 1


async def test_licenses_list_from_the_read_model(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    await set_up_catalog(client, admin_headers)
    acme_license = await issue(client, admin_headers, "acme")
    await issue(client, admin_headers, "globex")
    acme = await tenant_admin(client, admin_headers, "acme")

    async def listed(headers: Headers) -> list[str]:
        response = await client.get(f"{API}/licenses", headers=headers)
        assert response.status_code == 200, response.text
        return [row["id"] for row in response.json()]

    async def both_listed() -> bool:
        return len(await listed(admin_headers)) == 2

    await wait_until(both_listed, timeout_s=20)
    assert await listed(acme) == [acme_license]
    policies = await client.get(f"{API}/policies", headers=admin_headers)
    assert [policy["id"] for policy in policies.json()] == [POLICY]


async def test_other_tenants_cannot_reach_a_license(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    await set_up_catalog(client, admin_headers)
    license_id = await issue(client, admin_headers, "acme")
    globex = await tenant_admin(client, admin_headers, "globex")
    body = request_body(license_id, 1)

    shown = await client.get(f"{API}/licenses/{license_id}", headers=globex)
    file = await client.get(f"{API}/licenses/{license_id}/file", headers=globex)
    online = await post(client, f"/licenses/{license_id}/activations", globex, body)
    offline = await post(client, "/offline-activations", globex, body)
    listed = await client.get(f"{API}/licenses?customer=acme", headers=globex)
    issued = await post(
        client, "/licenses", globex, {"customer": "globex", "policy": POLICY}
    )
    revoked = await post(client, f"/licenses/{license_id}/revoke", globex)

    for response in (shown, file, online, offline):
        assert_problem(response, 404)
    for response in (listed, issued, revoked):
        assert_problem(response, 403)


async def test_bad_input_answers_problem_details(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    await set_up_catalog(client, admin_headers)
    license_id = await issue(client, admin_headers, "acme")
    activations = f"/licenses/{license_id}/activations"
    perpetual_trial = {"id": "bad", "product": PRODUCT, "duration_days": None}
    json_headers = {**admin_headers, "content-type": "application/json"}

    cases = [
        (
            await client.post(
                f"{API}{activations}", content=b"{", headers=json_headers
            ),
            400,
        ),
        (await post(client, activations, admin_headers, {"format": "x"}), 422),
        (await post(client, activations, admin_headers, [1, 2]), 422),
        (await post(client, "/products", admin_headers, {"name": "Bad Name"}), 422),
        (await post(client, "/products", admin_headers, {"name": PRODUCT}), 409),
        (
            await post(
                client, "/policies", admin_headers, {**perpetual_trial, "trial": True}
            ),
            422,
        ),
        (
            await post(
                client, "/policies", admin_headers, {"id": "x", "product": "nope"}
            ),
            404,
        ),
        (await post(client, "/licenses", admin_headers, {"customer": "acme"}), 422),
        (
            await post(
                client,
                "/licenses",
                admin_headers,
                {"customer": "Not A Slug", "policy": POLICY},
            ),
            422,
        ),
        (
            await post(
                client,
                f"/licenses/{license_id}/extend",
                admin_headers,
                {"expires_at": "2099-01-01T00:00:00"},
            ),
            422,
        ),
        (await post(client, "/licenses/nope/renew", admin_headers), 404),
        (await post(client, "/signing-keys/nope/revoke", admin_headers), 404),
        (await client.get(f"{API}/licenses/x%20y/file", headers=admin_headers), 404),
        (
            await client.put(
                f"{API}/platform-license",
                json={"license": "not.a.license"},
                headers=admin_headers,
            ),
            422,
        ),
    ]

    for response, status in cases:
        assert_problem(response, status)
    assert_problem(await client.get(f"{API}/licenses"), 401)


async def test_activation_body_for_another_license_is_refused(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    await set_up_catalog(client, admin_headers)
    first = await issue(client, admin_headers, "acme")
    second = await issue(client, admin_headers, "acme")

    response = await post(
        client, f"/licenses/{first}/activations", admin_headers, request_body(second, 1)
    )

    assert_problem(response, 422)


async def test_platform_license_limits_users(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    await post(client, "/signing-keys", admin_headers)
    await post(client, "/products", admin_headers, {"name": "eaf"})
    policy = {"id": "eaf-small", "product": "eaf", "limits": {"users": 2}}
    await post(client, "/policies", admin_headers, policy)
    license_id = await issue_for_policy(client, admin_headers, "eaf-small")
    file = await client.get(f"{API}/licenses/{license_id}/file", headers=admin_headers)
    installed = await client.put(
        f"{API}/platform-license", json={"license": file.text}, headers=admin_headers
    )
    assert installed.status_code == 200, installed.text
    assert installed.json()["limits"] == {"users": 2}

    second = await create_user(client, admin_headers, "default", "second")
    third = await create_user(client, admin_headers, "default", "third")

    assert second.status_code == 201, second.text
    assert_problem(third, 403)
    assert "allows 2 users" in third.json()["detail"]
    assert "eaf license install" in third.json()["detail"]


async def issue_for_policy(
    client: httpx.AsyncClient, admin: Headers, policy: str
) -> str:
    response = await post(
        client, "/licenses", admin, {"customer": "default", "policy": policy}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def create_user(
    client: httpx.AsyncClient, admin: Headers, tenant: str, username: str
) -> httpx.Response:
    user = {
        "username": username,
        "email": f"{username}@{tenant}.example",
        "password": "user-password-1",
        "roles": ["member"],
    }
    return await client.post(
        f"/api/v1/tenants/{tenant}/users", json=user, headers=admin
    )


async def test_licensing_role_serves_only_licensing_routes(
    platform: Platform,
) -> None:
    app = create_app(platform, ["licensing"])
    transport = httpx.ASGITransport(app=app)

    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        keys = await http.get(f"{API}/keys")
        tenants = await http.get("/api/v1/tenants")

    assert keys.status_code == 200
    assert tenants.status_code == 404


@pytest.mark.parametrize("path", ["/products", "/licenses", "/platform-license"])
async def test_members_cannot_use_the_vendor_api(
    client: httpx.AsyncClient, admin_headers: Headers, path: str
) -> None:
    await create_user(client, admin_headers, "default", "member")
    token = await password_token(client, "default", "member", "user-password-1")

    response = await client.get(
        f"{API}{path}", headers={"Authorization": f"Bearer {token}"}
    )

    assert_problem(response, 403)


async def install_platform_license(
    client: httpx.AsyncClient, admin: Headers, policy: dict[str, Any]
) -> None:
    """Sign and install a license for product ``eaf`` under ``policy``."""
    await post(client, "/signing-keys", admin)
    await post(client, "/products", admin, {"name": "eaf"})
    response = await post(client, "/policies", admin, {"product": "eaf", **policy})
    assert response.status_code == 201, response.text
    license_id = await issue_for_policy(client, admin, policy["id"])
    file = await client.get(f"{API}/licenses/{license_id}/file", headers=admin)
    installed = await client.put(
        f"{API}/platform-license", json={"license": file.text}, headers=admin
    )
    assert installed.status_code == 200, installed.text


async def test_users_limit_holds_for_concurrent_creations(
    platform: Platform, client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    """Ten users allowed, the bootstrap admin among them: nine of fifteen pass."""
    policy = {"id": "eaf-ten", "limits": {"users": 10}}
    await install_platform_license(client, admin_headers, policy)

    responses = await asyncio.gather(
        *(
            create_user(client, admin_headers, "default", f"user-{number}")
            for number in range(15)
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * 9 + [403] * 6
    for refused in (r for r in responses if r.status_code == 403):
        assert_problem(refused, 403)
        problem = refused.json()
        assert problem["type"] == "urn:eaf:problem:license-user-limit-reached"
        assert "allows 10 users and 10 exist" in problem["detail"]
    async with platform.db.transaction() as conn:
        cur = await conn.execute("SELECT licensing_count_users() AS users")
        assert await cur.fetchone() == {"users": 10}


async def test_expired_platform_license_refuses_users_after_grace(
    platform: Platform, client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    policy = {"id": "eaf-month", "duration_days": 30, "grace_days": 7}
    await install_platform_license(client, admin_headers, policy)
    installed_at = datetime.now(UTC)
    quota = platform.licensing.user_quota

    quota.clock = lambda: installed_at + timedelta(days=36)
    in_grace = await create_user(client, admin_headers, "default", "in-grace")
    quota.clock = lambda: installed_at + timedelta(days=38)
    after_grace = await create_user(client, admin_headers, "default", "too-late")

    assert in_grace.status_code == 201, in_grace.text
    assert_problem(after_grace, 403)
    assert "grace period is over" in after_grace.json()["detail"]
    assert after_grace.json()["license_id"]


async def test_license_status_follows_its_lifecycle(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    await set_up_catalog(client, admin_headers)
    license_id = await issue(client, admin_headers, "acme")
    path = f"/licenses/{license_id}"

    async def status_now() -> str:
        shown = await client.get(f"{API}{path}", headers=admin_headers)
        return str(shown.json()["status"])

    assert await status_now() == "valid"
    suspended = await post(client, f"{path}/suspend", admin_headers, {"reason": "x"})
    assert suspended.json()["status"] == "suspended"
    assert await status_now() == "suspended"
    reinstated = await post(client, f"{path}/reinstate", admin_headers)
    assert reinstated.json()["status"] == "valid"
    revoked = await post(client, f"{path}/revoke", admin_headers, {"reason": "x"})
    assert revoked.json()["status"] == "revoked"
    assert await status_now() == "revoked"


async def test_catalog_items_carry_their_creation_time(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    before = datetime.now(UTC)
    await set_up_catalog(client, admin_headers)

    product = await client.get(f"{API}/products/{PRODUCT}", headers=admin_headers)
    policy = await client.get(f"{API}/policies/{POLICY}", headers=admin_headers)
    created = await post(client, "/products", admin_headers, {"name": "nova"})

    for response in (product, policy, created):
        created_at = datetime.fromisoformat(response.json()["created_at"])
        assert before - timedelta(seconds=5) < created_at <= datetime.now(UTC)
    archived = await post(client, f"/products/{PRODUCT}/archive", admin_headers)
    assert archived.json()["created_at"] == product.json()["created_at"]


@pytest.mark.parametrize("text", ["Orbit\x1b[2J", "Orbit\u202etxt", "Or\x85bit"])
async def test_unsafe_display_name_is_refused_unstored(
    client: httpx.AsyncClient, admin_headers: Headers, text: str
) -> None:
    body = {"name": "nova", "display_name": text}

    response = await post(client, "/products", admin_headers, body)

    assert_problem(response, 422)
    locations = [error["location"] for error in response.json()["errors"]]
    assert locations == ["body.display_name"]
    shown = await client.get(f"{API}/products/nova", headers=admin_headers)
    assert_problem(shown, 404)


async def test_unsafe_reason_is_refused(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    await set_up_catalog(client, admin_headers)
    license_id = await issue(client, admin_headers, "acme")
    body = {"reason": "paid\u2066late"}

    response = await post(client, f"/licenses/{license_id}/revoke", admin_headers, body)

    assert_problem(response, 422)
    assert response.json()["errors"][0]["location"] == "body.reason"
    shown = await client.get(f"{API}/licenses/{license_id}", headers=admin_headers)
    assert shown.json()["state"] == "active"


@pytest.mark.parametrize(
    ("terms", "location"),
    [
        ({"limits": {"machines": True}}, "body.limits.machines"),
        ({"limits": {f"l{n}": 1 for n in range(101)}}, "body.limits"),
        ({"entitlements": [f"e{n}" for n in range(101)]}, "body.entitlements"),
    ],
)
async def test_bad_policy_terms_are_refused_unstored(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    terms: dict[str, Any],
    location: str,
) -> None:
    await set_up_catalog(client, admin_headers)
    body = {"id": "orbit-bad", "product": PRODUCT, **terms}

    response = await post(client, "/policies", admin_headers, body)

    assert_problem(response, 422)
    assert location in [error["location"] for error in response.json()["errors"]]
    shown = await client.get(f"{API}/policies/orbit-bad", headers=admin_headers)
    assert_problem(shown, 404)
