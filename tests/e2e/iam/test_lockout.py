"""Repeated failed logins lock a username for a configurable window.

The window is long; instead of waiting for it, the tests move the recorded
failures back in time, so they do not depend on how fast the machine is.
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from tests.e2e.iam.conftest import Site, User

THRESHOLD = 3
WINDOW_S = 600.0


@pytest.fixture(scope="module")
def site_settings() -> dict[str, Any]:
    return {"login_lockout_threshold": THRESHOLD, "login_lockout_window_s": WINDOW_S}


async def let_window_pass(site: Site, slug: str) -> None:
    """Age the tenant's failure records by one window and a second."""
    async with await psycopg.AsyncConnection.connect(site.database.owner_dsn) as conn:
        cur = await conn.execute(
            "UPDATE iam_login_failures SET "
            "first_failed_at = first_failed_at - make_interval(secs => %(age)s), "
            "locked_until = locked_until - make_interval(secs => %(age)s) "
            "WHERE tenant_id = %(slug)s",
            {"age": WINDOW_S + 1, "slug": slug},
        )
        assert cur.rowcount >= 1


async def attempt(site: Site, user: User, password: str) -> httpx.Response:
    return await site.client.post(
        f"/realms/{user.tenant}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "eaf-cli",
            "username": user.username,
            "password": password,
        },
    )


async def test_lockout_after_failures_and_release_after_window(site: Site) -> None:
    slug = await site.new_tenant("lock")
    user = await site.new_user(slug)

    failures = [await attempt(site, user, "wrong-password") for _ in range(THRESHOLD)]
    locked = await attempt(site, user, user.password)
    await let_window_pass(site, slug)
    released = await attempt(site, user, user.password)

    assert {answer.json()["error"] for answer in failures} == {"invalid_grant"}
    assert locked.status_code == 400
    assert "too many failed logins" in locked.json()["error_description"]
    assert released.status_code == 200, released.text


async def test_failures_spread_beyond_window_do_not_lock(site: Site) -> None:
    slug = await site.new_tenant("lock")
    user = await site.new_user(slug)

    for _ in range(THRESHOLD - 1):
        await attempt(site, user, "wrong-password")
    await let_window_pass(site, slug)
    late = await attempt(site, user, "wrong-password")
    answer = await attempt(site, user, user.password)

    assert late.json()["error"] == "invalid_grant"
    assert "too many" not in late.json()["error_description"]
    assert answer.status_code == 200, answer.text


async def test_unknown_username_locks_like_a_known_one(site: Site) -> None:
    slug = await site.new_tenant("lock")
    ghost = User(slug, "none", "nobody-here", "x", "nobody@example.com")

    answers = [await attempt(site, ghost, "guess") for _ in range(THRESHOLD + 1)]

    assert "too many failed logins" in answers[-1].json()["error_description"]


async def test_lockout_is_recorded_in_the_audit_trail(site: Site) -> None:
    slug = await site.new_tenant("lock")
    user = await site.new_user(slug)

    for _ in range(THRESHOLD):
        await attempt(site, user, "wrong-password")
    audit = await site.client.get(
        f"/api/v1/tenants/{slug}/audit",
        params={"type": "UserLockedOut"},
        headers=site.admin,
    )

    assert [item["stream"] for item in audit.json()["items"]] == [f"user-{user.id}"]
