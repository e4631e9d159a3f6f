"""The platform purges expired protocol rows by itself, on a schedule."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.iam.conftest import Site
from tests.e2e.iam.test_purge import add_stale_rows, remaining
from tests.support.projections import wait_until


@pytest.fixture(scope="module")
def site_settings() -> dict[str, Any]:
    return {"iam_purge_interval_s": 0.3}


async def test_expired_rows_go_without_anyone_asking(site: Site) -> None:
    slug = await site.new_tenant("sched")
    user = await site.new_user(slug)
    live = await site.token(slug, user.username, user.password)
    await add_stale_rows(site, slug)
    tables = (
        "iam_authorization_codes",
        "iam_reset_tokens",
        "iam_revoked_tokens",
        "iam_login_failures",
    )

    async def stale_rows_gone() -> bool:
        counts = [await remaining(site, table, slug) for table in tables]
        return sum(counts) == 0

    await wait_until(stale_rows_gone, timeout_s=60)

    # The live refresh token was left alone and still works.
    assert await remaining(site, "iam_refresh_tokens", slug) == 1
    answer = await site.client.post(
        f"/realms/{slug}/protocol/openid-connect/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "eaf-cli",
            "refresh_token": live["refresh_token"],
        },
    )
    assert answer.status_code == 200, answer.text
