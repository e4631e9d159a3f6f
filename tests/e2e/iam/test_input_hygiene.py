"""Free text without control characters, usable passwords, creation times
in every answer, and service account names unique within a tenant."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.iam.conftest import Site, new_slug

PROBLEM = "application/problem+json"
# ESC (a terminal escape), a C1 CSI, RIGHT-TO-LEFT OVERRIDE, a bidi isolate
UNSAFE = ["\x1b[2J", "\x9b", "\u202e", "\u2066"]


def assert_field_refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["field"] == field


@pytest.mark.parametrize("text", UNSAFE)
async def test_tenant_name_with_controls_is_refused(site: Site, text: str) -> None:
    slug = new_slug("cc")

    created = await site.client.post(
        "/api/v1/tenants",
        json={"slug": slug, "name": f"Evil{text}"},
        headers=site.admin,
    )

    assert_field_refused(created, "name")
    missing = await site.client.get(f"/api/v1/tenants/{slug}", headers=site.admin)
    assert missing.status_code == 404


@pytest.mark.parametrize("text", UNSAFE)
async def test_free_text_of_existing_things_refuses_controls(
    site: Site, text: str
) -> None:
    slug = await site.new_tenant("cc")
    user = await site.new_user(slug)
    base = f"/api/v1/tenants/{slug}"
    calls: list[tuple[str, str, dict[str, Any], str]] = [
        ("PATCH", base, {"name": f"Acme{text}"}, "name"),
        (
            "PATCH",
            f"{base}/users/{user.id}",
            {"display_name": f"A{text}"},
            "display_name",
        ),
        (
            "POST",
            f"{base}/roles",
            {"name": "viewer", "permissions": [], "description": f"d{text}"},
            "description",
        ),
        ("POST", f"{base}/service-accounts", {"name": f"sync{text}"}, "name"),
        (
            "POST",
            f"{base}/clients",
            {"name": f"app{text}", "redirect_uris": ["https://app.example/cb"]},
            "name",
        ),
        ("POST", f"{base}/suspend", {"reason": f"why{text}"}, "reason"),
    ]

    for method, path, body, field in calls:
        answer = await site.client.request(method, path, json=body, headers=site.admin)
        assert_field_refused(answer, field)

    tenant = (await site.client.get(base, headers=site.admin)).json()
    roles = (await site.client.get(f"{base}/roles", headers=site.admin)).json()
    assert (tenant["name"], tenant["status"]) == (slug, "active")
    assert "viewer" not in [role["name"] for role in roles]


@pytest.mark.parametrize("password", ["pass\x00word-1", "pass\x1bword-1"])
async def test_password_with_controls_is_refused(site: Site, password: str) -> None:
    slug = await site.new_tenant("pw")
    user = await site.new_user(slug)
    base = f"/api/v1/tenants/{slug}/users"

    created = await site.client.post(
        base,
        json={"username": "nul", "email": "nul@x.example", "password": password},
        headers=site.admin,
    )
    reset = await site.client.post(
        f"{base}/{user.id}/password",
        json={"new_password": password},
        headers=site.admin,
    )
    changed = await site.client.put(
        "/api/v1/me/password",
        json={"old_password": user.password, "new_password": password},
        headers=await site.login(user),
    )

    for answer in (created, reset, changed):
        assert_field_refused(answer, "password")
        assert "control characters" in answer.json()["detail"]
    await site.login(user)  # the old password still works
    again = await site.client.post(
        base,
        json={"username": "nul", "email": "nul@x.example", "password": "usable-pw-1"},
        headers=site.admin,
    )
    assert again.status_code == 201, again.text


async def test_user_answers_carry_the_creation_time(site: Site) -> None:
    slug = await site.new_tenant("at")
    created = await site.client.post(
        f"/api/v1/tenants/{slug}/users",
        json={"username": "dora", "email": "dora@x.example", "password": "dora-pw-1"},
        headers=site.admin,
    )
    path = f"/api/v1/tenants/{slug}/users/{created.json()['id']}"

    shown = await site.client.get(path, headers=site.admin)
    patched = await site.client.patch(
        path, json={"display_name": "Dora"}, headers=site.admin
    )
    member = await site.new_user(slug)
    me = await site.client.get("/api/v1/me", headers=await site.login(member))

    assert created.status_code == 201, created.text
    assert created.json()["created_at"] is not None
    assert shown.json()["created_at"] == created.json()["created_at"]
    assert patched.json()["created_at"] == created.json()["created_at"]
    assert me.json()["created_at"] is not None


async def test_service_account_answers_carry_the_creation_time(site: Site) -> None:
    slug = await site.new_tenant("at")
    base = f"/api/v1/tenants/{slug}/service-accounts"

    created = await site.client.post(base, json={"name": "sync"}, headers=site.admin)
    rotated = await site.client.post(
        f"{base}/{created.json()['id']}/secret", headers=site.admin
    )

    assert created.status_code == 201, created.text
    assert created.json()["created_at"] is not None
    assert rotated.json()["created_at"] == created.json()["created_at"]


async def test_service_account_names_are_unique_ignoring_case(site: Site) -> None:
    slug, other = await site.new_tenant("sa"), await site.new_tenant("sa")
    path = "/api/v1/tenants/{slug}/service-accounts"

    first = await site.client.post(
        path.format(slug=slug), json={"name": "Billing Sync"}, headers=site.admin
    )
    clash = await site.client.post(
        path.format(slug=slug), json={"name": "billing  SYNC"}, headers=site.admin
    )
    elsewhere = await site.client.post(
        path.format(slug=other), json={"name": "billing sync"}, headers=site.admin
    )
    listing = await site.client.get(path.format(slug=slug), headers=site.admin)

    assert first.status_code == 201, first.text
    assert clash.status_code == 409, clash.text
    assert clash.json()["field"] == "name"
    assert elsewhere.status_code == 201, elsewhere.text
    assert [item["name"] for item in listing.json()] == ["Billing Sync"]


async def test_a_deleted_service_account_frees_its_name(site: Site) -> None:
    slug = await site.new_tenant("sa")
    path = f"/api/v1/tenants/{slug}/service-accounts"
    first = await site.client.post(path, json={"name": "sync"}, headers=site.admin)

    await site.client.delete(f"{path}/{first.json()['id']}", headers=site.admin)
    second = await site.client.post(path, json={"name": "Sync"}, headers=site.admin)

    assert second.status_code == 201, second.text
