"""Tenant lifecycle and user management through the admin API."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest

from tests.e2e.iam.conftest import Site, User, bearer
from tests.support.projections import wait_until

TOKEN = "/realms/{slug}/protocol/openid-connect/token"


@pytest.fixture(scope="module")
def site_settings() -> dict[str, Any]:
    return {"password_min_length": 10}


async def password_grant(site: Site, user: User, password: str) -> httpx.Response:
    return await site.client.post(
        TOKEN.format(slug=user.tenant),
        data={
            "grant_type": "password",
            "client_id": "eaf-cli",
            "username": user.username,
            "password": password,
        },
    )


async def listed(site: Site, slug: str) -> dict[str, dict[str, Any]]:
    answer = await site.client.get(f"/api/v1/tenants/{slug}/users", headers=site.admin)
    return {user["id"]: user for user in answer.json()}


async def eventually(site: Site, slug: str, user_id: str, **expected: Any) -> None:
    """Wait until the users read model shows ``expected`` for the user."""

    async def shows_expected() -> bool:
        row = (await listed(site, slug)).get(user_id, {})
        return all(row.get(key) == value for key, value in expected.items())

    await wait_until(shows_expected, timeout_s=60)


async def test_tenant_lifecycle(site: Site) -> None:
    slug = await site.new_tenant("life")
    user = await site.new_user(slug)
    base = f"/api/v1/tenants/{slug}"

    renamed = await site.client.patch(
        base, json={"name": "Life Ltd"}, headers=site.admin
    )
    suspended = await site.client.post(f"{base}/suspend", headers=site.admin)
    again = await site.client.post(f"{base}/suspend", headers=site.admin)
    refused = await password_grant(site, user, user.password)
    reactivated = await site.client.post(f"{base}/reactivate", headers=site.admin)
    shown = await site.client.get(base, headers=site.admin)
    listing = await site.client.get("/api/v1/tenants", headers=site.admin)

    assert renamed.json()["name"] == "Life Ltd"
    assert suspended.json()["status"] == "suspended"
    assert again.status_code == 409
    assert refused.json()["error"] == "invalid_grant"
    assert reactivated.json()["status"] == "active"
    assert shown.json() | {"created_at": None} == {
        "slug": slug,
        "name": "Life Ltd",
        "status": "active",
        "created_at": None,
    }
    assert slug in [tenant["slug"] for tenant in listing.json()]
    assert (await password_grant(site, user, user.password)).status_code == 200


async def test_platform_tenant_cannot_be_suspended(site: Site) -> None:
    answer = await site.client.post(
        "/api/v1/tenants/default/suspend", headers=site.admin
    )

    assert answer.status_code == 409


async def test_tenant_admin_cannot_suspend_own_tenant(site: Site) -> None:
    slug = await site.new_tenant("life")
    _, admin = await site.tenant_admin(slug)

    answer = await site.client.post(f"/api/v1/tenants/{slug}/suspend", headers=admin)
    own = await site.client.get(f"/api/v1/tenants/{slug}", headers=admin)

    assert [answer.status_code, own.status_code] == [403, 200]


async def test_usernames_and_emails_are_unique_ignoring_case(site: Site) -> None:
    slug, other = await site.new_tenant("names"), await site.new_tenant("names")

    async def create(tenant: str, username: str, email: str) -> httpx.Response:
        return await site.client.post(
            f"/api/v1/tenants/{tenant}/users",
            json={"username": username, "email": email, "password": "long-pw-123"},
            headers=site.admin,
        )

    first = await create(slug, "Carol", "Carol@Example.COM")
    same_email = await create(slug, "carol2", "carol@example.com")
    same_name = await create(slug, "CAROL", "carol2@example.com")
    elsewhere = await create(other, "carol", "CAROL@example.com")

    assert first.status_code == 201, first.text
    assert same_email.status_code == 409
    assert same_email.json()["field"] == "email"
    assert same_name.status_code == 409
    assert same_name.json()["field"] == "username"
    assert elsewhere.status_code == 201, elsewhere.text


async def test_rename_moves_username_and_email_claims(site: Site) -> None:
    slug = await site.new_tenant("names")
    alice = await site.new_user(slug)
    path = f"/api/v1/tenants/{slug}/users/{alice.id}"

    renamed = await site.client.patch(
        path,
        json={"username": "Renamed", "email": "new@x.example", "display_name": "A"},
        headers=site.admin,
    )
    reuse_old = await site.client.post(
        f"/api/v1/tenants/{slug}/users",
        json={
            "username": alice.username,
            "email": alice.email,
            "password": "long-enough-pw",
        },
        headers=site.admin,
    )
    clash = await site.client.patch(
        f"/api/v1/tenants/{slug}/users/{reuse_old.json()['id']}",
        json={"username": "RENAMED"},
        headers=site.admin,
    )

    assert renamed.json()["username"] == "Renamed"
    assert reuse_old.status_code == 201, reuse_old.text
    assert clash.status_code == 409
    moved = User(slug, alice.id, "renamed", alice.password, "new@x.example")
    assert (await password_grant(site, moved, alice.password)).status_code == 200
    await eventually(site, slug, alice.id, username="Renamed", display_name="A")


async def test_deactivated_user_cannot_log_in_or_refresh(site: Site) -> None:
    slug = await site.new_tenant("status")
    user = await site.new_user(slug)
    tokens = await site.token(slug, user.username, user.password)
    path = f"/api/v1/tenants/{slug}/users/{user.id}"

    deactivated = await site.client.post(f"{path}/deactivate", headers=site.admin)
    login = await password_grant(site, user, user.password)
    refresh = await site.client.post(
        TOKEN.format(slug=slug),
        data={
            "grant_type": "refresh_token",
            "client_id": "eaf-cli",
            "refresh_token": tokens["refresh_token"],
        },
    )
    activated = await site.client.post(f"{path}/activate", headers=site.admin)

    assert deactivated.json()["status"] == "inactive"
    assert login.json()["error"] == refresh.json()["error"] == "invalid_grant"
    assert activated.json()["status"] == "active"
    assert (await password_grant(site, user, user.password)).status_code == 200
    await eventually(site, slug, user.id, status="active")


async def test_own_password_change_needs_the_old_one(site: Site) -> None:
    slug = await site.new_tenant("pw")
    user = await site.new_user(slug)
    tokens = await site.token(slug, user.username, user.password)
    headers = bearer(tokens["access_token"])

    wrong = await site.client.put(
        "/api/v1/me/password",
        json={"old_password": "not-it-at-all", "new_password": "changed-pw-123"},
        headers=headers,
    )
    changed = await site.client.put(
        "/api/v1/me/password",
        json={"old_password": user.password, "new_password": "changed-pw-123"},
        headers=headers,
    )
    refresh = await site.client.post(
        TOKEN.format(slug=slug),
        data={
            "grant_type": "refresh_token",
            "client_id": "eaf-cli",
            "refresh_token": tokens["refresh_token"],
        },
    )

    assert [wrong.status_code, changed.status_code] == [422, 204]
    assert refresh.json()["error"] == "invalid_grant"
    assert (await password_grant(site, user, user.password)).status_code == 400
    assert (await password_grant(site, user, "changed-pw-123")).status_code == 200


async def test_admin_resets_a_password(site: Site) -> None:
    slug = await site.new_tenant("pw")
    user = await site.new_user(slug)

    answer = await site.client.post(
        f"/api/v1/tenants/{slug}/users/{user.id}/password",
        json={"new_password": "set-by-admin-1"},
        headers=site.admin,
    )

    assert answer.status_code == 204
    assert (await password_grant(site, user, "set-by-admin-1")).status_code == 200


@pytest.mark.parametrize(
    ("username", "password"),
    [("shorty", "short-pw"), ("long-user-name", "LONG-USER-NAME")],
    ids=["shorter-than-minimum", "equal-to-username"],
)
async def test_password_policy_refuses(
    site: Site, username: str, password: str
) -> None:
    slug = await site.new_tenant("policy")

    answer = await site.client.post(
        f"/api/v1/tenants/{slug}/users",
        json={"username": username, "email": "p@x.example", "password": password},
        headers=site.admin,
    )

    assert answer.status_code == 422
    assert answer.json()["field"] == "password"


async def test_reset_mail_goes_to_the_mail_log_only(
    site: Site, capfd: pytest.CaptureFixture[str]
) -> None:
    slug = await site.new_tenant("mail")
    user = await site.new_user(slug)
    log = site.settings.data_dir / "logs" / "mail.log"

    for name in (user.username, "nobody-by-that-name"):
        answer = await site.client.post(
            f"/api/v1/tenants/{slug}/password-reset", json={"username": name}
        )
        assert answer.status_code == 202

    mails = [json.loads(line) for line in log.read_text().splitlines()]
    mine = [mail for mail in mails if mail["tenant"] == slug]
    assert [mail["to"] for mail in mine] == [user.email]
    assert f"/realms/{slug}/reset-password?token=" in mine[0]["body"]
    assert os.stat(log).st_mode & 0o777 == 0o600
    token = mine[0]["body"].split("Reset token: ")[1].strip()
    printed = capfd.readouterr()
    assert token not in printed.out
    assert token not in printed.err


async def test_reset_page_sets_a_new_password(site: Site) -> None:
    slug = await site.new_tenant("mail")
    user = await site.new_user(slug)
    await site.client.post(
        f"/api/v1/tenants/{slug}/password-reset", json={"username": user.username}
    )
    log = site.settings.data_dir / "logs" / "mail.log"
    last = json.loads(log.read_text().splitlines()[-1])
    token = last["body"].split("Reset token: ")[1].strip()

    page = await site.client.get(f"/realms/{slug}/reset-password?token={token}")
    done = await site.client.post(
        f"/realms/{slug}/reset-password",
        data={"token": token, "new_password": "from-the-page-1"},
    )

    assert page.headers["x-frame-options"] == "DENY"
    assert done.status_code == 200
    assert (await password_grant(site, user, "from-the-page-1")).status_code == 200
