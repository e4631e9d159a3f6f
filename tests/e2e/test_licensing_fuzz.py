"""Schemathesis over the licensing API: no input makes it answer 5xx.

Like the IAM fuzz, operations come from the app's OpenAPI document and every
answer must be below 500 and match the schema documented for its status.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import schemathesis

from eaf.http.app import create_app
from eaf.licensing import ActivationRequest, Fingerprint
from tests.support.fuzz import check_operation
from tests.support.live_server import LiveSite, admin_headers_for, live_site
from tests.support.servers import Servers

LICENSING_PATHS = r"^/api/v1/licensing/"
EXAMPLES_PER_OPERATION = 10

SCHEMA = schemathesis.openapi.from_dict(create_app(None).openapi()).include(
    path_regex=LICENSING_PATHS
)
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


@pytest.fixture(scope="module")
def live(
    servers: Servers, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveSite]:
    with live_site(servers, template_database, tmp_path_factory.mktemp("lf")) as site:
        yield site


@pytest.fixture(scope="module")
def admin_headers(live: LiveSite) -> dict[str, str]:
    return admin_headers_for(live)


@pytest.fixture(scope="module")
def known(live: LiveSite, admin_headers: dict[str, str]) -> dict[str, str]:
    """Path values that exist, so that generated requests reach real data."""

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = httpx.post(
            f"{live.url}/api/v1/licensing{path}", json=body, headers=admin_headers
        )
        assert answer.status_code in (200, 201), answer.text
        return dict(answer.json())

    kid = post("/signing-keys", {})["kid"]
    post("/products", {"name": "fuzzed"})
    post("/policies", {"id": "fuzzed-std", "product": "fuzzed"})
    license_id = str(
        post("/licenses", {"customer": "acme", "policy": "fuzzed-std"})["id"]
    )
    machine = Fingerprint.from_values("fuzzed", {"machine_id": "ab" * 16})
    request = ActivationRequest.create(
        license_id, "fuzzed", machine, now=datetime.now(UTC)
    )
    activation = post(f"/licenses/{license_id}/activations", request.to_dict())
    return {
        "kid": kid,
        "name": "fuzzed",
        "policy_id": "fuzzed-std",
        "license_id": license_id,
        "activation_id": str(activation["activation_id"]),
    }


def test_fuzz_covers_the_licensing_api() -> None:
    assert len(OPERATIONS) >= 25
    assert "POST /api/v1/licensing/offline-activations" in OPERATIONS


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_licensing_operation_answers_within_its_schema(
    label: str, live: LiveSite, admin_headers: dict[str, str], known: dict[str, str]
) -> None:
    check_operation(
        OPERATIONS[label], known, live.url, admin_headers, EXAMPLES_PER_OPERATION
    )
