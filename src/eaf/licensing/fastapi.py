"""FastAPI dependencies that gate endpoints on licensed features.

Usage::

    app.state.license_validator = validator
    @app.get("/reports", dependencies=[Depends(requires_feature("reports"))])
    def reports() -> ...: ...
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request, status

from eaf.licensing.validator import LicenseValidator

APP_STATE_ATTRIBUTE = "license_validator"
PROBLEM_TYPE = "urn:eaf:problem:feature-not-licensed"


def feature_problem(feature: str) -> dict[str, object]:
    """The RFC 9457 problem details for an unlicensed feature."""
    return {
        "type": PROBLEM_TYPE,
        "title": "Feature not licensed",
        "status": status.HTTP_403_FORBIDDEN,
        "detail": f"The installed license does not grant {feature!r}.",
        "feature": feature,
    }


def requires_feature(
    feature: str, validator: LicenseValidator | None = None
) -> Callable[[Request], None]:
    """A dependency that answers 403 unless the license grants ``feature``.

    Args:
        validator: the validator to ask; by default the one stored on
            ``app.state.license_validator``. With none at all, nothing is
            licensed.
    """

    def check_feature(request: Request) -> None:
        current = validator or getattr(request.app.state, APP_STATE_ATTRIBUTE, None)
        if isinstance(current, LicenseValidator) and current.has_feature(feature):
            return
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail=feature_problem(feature),
        )

    return check_feature
