"""The FastAPI dependency that gates endpoints on licensed features."""

from __future__ import annotations

import httpx
from fastapi import Depends, FastAPI

from eaf.http.problems import PROBLEM_JSON, install_problem_handlers
from eaf.licensing import LicenseValidator
from eaf.licensing.fastapi import requires_feature


def _app(validator: LicenseValidator | None) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.license_validator = validator

    @app.get("/reports", dependencies=[Depends(requires_feature("reports"))])
    def reports() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/audit", dependencies=[Depends(requires_feature("audit"))])
    def audit() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def _get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return await client.get(path)


async def test_licensed_feature_passes(validator: LicenseValidator) -> None:
    validator.validate()

    response = await _get(_app(validator), "/reports")

    assert response.status_code == 200


async def test_unlicensed_feature_answers_403_problem(
    validator: LicenseValidator,
) -> None:
    validator.validate()

    response = await _get(_app(validator), "/audit")

    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "urn:eaf:problem:feature-not-licensed",
        "title": "Feature not licensed",
        "status": 403,
        "detail": "the installed license does not grant the feature 'audit'",
        "feature": "audit",
    }


async def test_unvalidated_license_answers_403(validator: LicenseValidator) -> None:
    """Before any successful validation, nothing is licensed."""
    response = await _get(_app(validator), "/reports")

    assert response.status_code == 403
    assert response.json()["feature"] == "reports"


async def test_missing_validator_licenses_nothing() -> None:
    response = await _get(_app(None), "/reports")

    assert response.status_code == 403
    assert response.json()["type"] == "urn:eaf:problem:feature-not-licensed"


async def test_explicit_validator_wins_over_app_state(
    validator: LicenseValidator,
) -> None:
    validator.validate()
    app = FastAPI()
    gate = requires_feature("reports", validator)

    @app.get("/reports", dependencies=[Depends(gate)])
    def reports() -> dict[str, str]:
        return {"status": "ok"}

    response = await _get(app, "/reports")

    assert response.status_code == 200
