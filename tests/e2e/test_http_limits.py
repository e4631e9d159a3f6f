"""Request bodies over the size limit are refused before they are parsed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx

PROBLEM_JSON = "application/problem+json"
LIMIT = 1024 * 1024


def oversized_tenant() -> bytes:
    return json.dumps({"slug": "big-one", "name": "x" * (LIMIT + 10)}).encode()


async def tenant_slugs(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    answer = await client.get("/api/v1/tenants", headers=headers)
    assert answer.status_code == 200
    return {tenant["slug"] for tenant in answer.json()}


async def test_declared_oversized_body_gets_413(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    answer = await client.post(
        "/api/v1/tenants",
        content=oversized_tenant(),
        headers={**admin_headers, "content-type": "application/json"},
    )

    assert answer.status_code == 413
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.json()["status"] == 413
    assert "big-one" not in await tenant_slugs(client, admin_headers)


async def test_streamed_oversized_body_gets_413(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = oversized_tenant()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    answer = await client.post(
        "/api/v1/tenants",
        content=chunks(),
        headers={**admin_headers, "content-type": "application/json"},
    )

    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert "big-one" not in await tenant_slugs(client, admin_headers)


async def test_body_under_the_limit_is_parsed(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    answer = await client.post(
        "/api/v1/tenants",
        json={"slug": "small-one", "name": "x" * (LIMIT // 2)},
        headers=admin_headers,
    )

    # Parsed and judged by the API's own rules (the name is too long), not 413.
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM_JSON
