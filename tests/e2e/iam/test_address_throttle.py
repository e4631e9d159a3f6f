"""Failed logins from one client address, whatever the usernames, block it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from eaf.http.app import create_app
from tests.e2e.iam.conftest import BASE_URL, Site, User

ADDRESS_THRESHOLD = 3

ClientAt = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(scope="module")
def site_settings() -> dict[str, Any]:
    return {
        "login_address_threshold": ADDRESS_THRESHOLD,
        "login_lockout_threshold": 100,
        "login_lockout_window_s": 600.0,
    }


@pytest.fixture
def client_at(site: Site) -> ClientAt:
    """An HTTP client for the app whose requests come from ``address``."""
    app = create_app(site.platform)

    @asynccontextmanager
    async def connect(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield http

    return connect


async def attempt(http: httpx.AsyncClient, slug: str, name: str, pw: str) -> Any:
    answer = await http.post(
        f"/realms/{slug}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "eaf-cli",
            "username": name,
            "password": pw,
        },
    )
    return answer.status_code, answer.json().get("error_description", "")


async def spray(http: httpx.AsyncClient, slug: str, count: int) -> None:
    for number in range(count):
        await attempt(http, slug, f"guess-{number}", "wrong-password")


async def test_guessing_many_usernames_blocks_the_address(
    site: Site, client_at: ClientAt
) -> None:
    slug = await site.new_tenant("addr")
    user: User = await site.new_user(slug)

    async with client_at("203.0.113.7") as attacker:
        await spray(attacker, slug, ADDRESS_THRESHOLD)
        blocked = await attempt(attacker, slug, user.username, user.password)
    async with client_at("198.51.100.9") as elsewhere:
        allowed = await attempt(elsewhere, slug, user.username, user.password)

    assert blocked[0] == 400
    assert "from this address" in blocked[1]
    assert allowed[0] == 200


async def test_success_does_not_reset_the_address_count(
    site: Site, client_at: ClientAt
) -> None:
    slug = await site.new_tenant("addr")
    user = await site.new_user(slug)

    async with client_at("203.0.113.8") as http:
        await spray(http, slug, ADDRESS_THRESHOLD - 1)
        success = await attempt(http, slug, user.username, user.password)
        await spray(http, slug, 1)
        after = await attempt(http, slug, user.username, user.password)

    assert success[0] == 200
    assert "from this address" in after[1]


async def test_fewer_failures_than_the_threshold_do_not_block(
    site: Site, client_at: ClientAt
) -> None:
    slug = await site.new_tenant("addr")
    user = await site.new_user(slug)

    async with client_at("203.0.113.9") as http:
        await spray(http, slug, ADDRESS_THRESHOLD - 1)
        answer = await attempt(http, slug, user.username, user.password)

    assert answer[0] == 200
