"""The audit trail: from the events, filtered and paged by position."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.iam.conftest import Site


async def audit(site: Site, slug: str, **params: Any) -> dict[str, Any]:
    answer = await site.client.get(
        f"/api/v1/tenants/{slug}/audit", params=params, headers=site.admin
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_trail_shows_who_did_what(site: Site) -> None:
    slug = await site.new_tenant("audit")
    admin, headers = await site.tenant_admin(slug)
    await site.client.post(
        f"/api/v1/tenants/{slug}/roles",
        json={"name": "viewer", "permissions": ["docs:read"]},
        headers=headers,
    )

    items = (await audit(site, slug))["items"]

    assert [item["type"] for item in items] == [
        "TenantCreated",
        "UserRegistered",
        "RoleDefined",
    ]
    assert items[-1]["actor"] == admin.id
    assert items[-1]["stream"] == "role-viewer"
    assert "payload" not in items[-1]


async def test_filters_by_actor_type_and_time(site: Site) -> None:
    slug = await site.new_tenant("audit")
    admin, headers = await site.tenant_admin(slug)
    await site.new_user(slug, headers=headers)
    now = datetime.now(UTC)

    by_actor = await audit(site, slug, actor=admin.id)
    by_type = await audit(site, slug, type=["UserRegistered"])
    future = await audit(site, slug, since=(now + timedelta(hours=1)).isoformat())
    past = await audit(site, slug, until=(now - timedelta(hours=1)).isoformat())

    assert [item["type"] for item in by_actor["items"]] == ["UserRegistered"]
    assert len(by_type["items"]) == 2
    assert future["items"] == past["items"] == []


async def test_time_filters_return_the_items_in_range(site: Site) -> None:
    slug = await site.new_tenant("audit")
    await site.tenant_admin(slug)
    await site.new_user(slug)
    items = (await audit(site, slug))["items"]
    first, middle, last = (item["time"] for item in items)
    hour = timedelta(hours=1)
    now = datetime.now(UTC)

    around = await audit(
        site, slug, since=(now - hour).isoformat(), until=(now + hour).isoformat()
    )
    from_middle = await audit(site, slug, since=middle)
    before_middle = await audit(site, slug, until=middle)
    between = await audit(site, slug, since=first, until=last)

    times = [datetime.fromisoformat(item["time"]) for item in items]
    assert times[0] < times[1] < times[2]
    assert around["items"] == items
    assert from_middle["items"] == items[1:]
    assert before_middle["items"] == items[:1]
    assert between["items"] == items[:2]


async def test_pages_follow_the_cursor(site: Site) -> None:
    slug = await site.new_tenant("audit")
    for _ in range(4):
        await site.new_user(slug)

    seen: list[int] = []
    cursor = None
    while True:
        page = await audit(
            site, slug, limit=2, **({"cursor": cursor} if cursor else {})
        )
        seen += [item["position"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == 5
    assert seen == sorted(seen)


async def test_trail_holds_only_the_tenant_own_events(site: Site) -> None:
    slug, other = await site.new_tenant("audit"), await site.new_tenant("audit")
    await site.new_user(other)

    streams = {item["stream"] for item in (await audit(site, slug))["items"]}

    assert streams == {f"tenant-{slug}"}
