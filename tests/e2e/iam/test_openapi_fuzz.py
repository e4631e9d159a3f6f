"""Schemathesis over the IAM part of /openapi.json, against a live server.

Every answer must be below 500 and match the schema documented for its status.
Operations come from the app's own OpenAPI document at collection time, one
test each; Hypothesis drives Schemathesis' strategies directly because the
``schemathesis.pytest.from_fixture`` integration fails under pytest 9.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis

from eaf.http.app import create_app
from tests.conftest import new_tenant
from tests.support.fuzz import check_operation
from tests.support.live_server import LiveSite, admin_headers_for, live_site
from tests.support.servers import Servers

IAM_PATHS = r"^/(api/v1/(tenants|me)|realms/)"
EXAMPLES_PER_OPERATION = 20

SCHEMA = schemathesis.openapi.from_dict(create_app(None).openapi()).include(
    path_regex=IAM_PATHS
)
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


@pytest.fixture(scope="module")
def live(
    servers: Servers, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveSite]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    with live_site(servers, template_database, data_dir) as site:
        yield site


@pytest.fixture(scope="module")
def admin_headers(live: LiveSite) -> dict[str, str]:
    return admin_headers_for(live)


@pytest.fixture(scope="module")
def known(live: LiveSite, admin_headers: dict[str, str]) -> dict[str, str]:
    """Path values that exist, so that generated requests reach real data."""
    slug = new_tenant()
    base = f"{live.url}/api/v1/tenants/{slug}"

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = httpx.post(f"{base}{path}", json=body, headers=admin_headers)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    httpx.post(
        f"{live.url}/api/v1/tenants",
        json={"slug": slug, "name": "fuzzed"},
        headers=admin_headers,
    )
    user = post(
        "/users",
        {"username": "fuzzy", "email": "f@x.example", "password": "fuzzy-pw-1"},
    )
    post("/roles", {"name": "fuzz-role", "permissions": ["docs:read"]})
    account = post("/service-accounts", {"name": "fuzz"})
    client = post(
        "/clients", {"name": "fuzz", "redirect_uris": ["https://app.example/cb"]}
    )
    return {
        "slug": slug,
        "user_id": str(user["id"]),
        "name": "fuzz-role",
        "role": "fuzz-role",
        "account_id": str(account["id"]),
        "client_id": str(client["client_id"]),
    }


def test_fuzz_covers_the_iam_api() -> None:
    assert len(OPERATIONS) >= 35
    assert "POST /realms/{slug}/protocol/openid-connect/token" in OPERATIONS


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_iam_operation_answers_within_its_schema(
    label: str, live: LiveSite, admin_headers: dict[str, str], known: dict[str, str]
) -> None:
    check_operation(
        OPERATIONS[label], known, live.url, admin_headers, EXAMPLES_PER_OPERATION
    )
