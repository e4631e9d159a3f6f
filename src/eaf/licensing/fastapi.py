"""FastAPI dependencies that gate endpoints on licensed features.

Usage::

    app.state.license_validator = validator
    @app.get("/reports", dependencies=[Depends(requires_feature("reports"))])
    def reports() -> ...: ...

The dependency raises :class:`FeatureNotLicensedError`, a domain error that
EAF's problem handlers (:func:`eaf.http.problems.install_problem_handlers`,
installed by every EAF app) answer with ``403 application/problem+json``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from eaf.licensing.domain.errors import FeatureNotLicensedError
from eaf.licensing.validator import LicenseValidator

APP_STATE_ATTRIBUTE = "license_validator"
PROBLEM_TYPE = f"urn:eaf:problem:{FeatureNotLicensedError.code}"


def requires_feature(
    feature: str, validator: LicenseValidator | None = None
) -> Callable[[Request], None]:
    """A dependency that refuses the request unless the license grants ``feature``.

    Args:
        validator: the validator to ask; by default the one stored on
            ``app.state.license_validator``. With none at all, nothing is
            licensed.

    Raises:
        FeatureNotLicensedError: from the dependency, rendered as a 403 problem.
    """

    def check_feature(request: Request) -> None:
        current = validator or getattr(request.app.state, APP_STATE_ATTRIBUTE, None)
        if isinstance(current, LicenseValidator) and current.has_feature(feature):
            return
        raise FeatureNotLicensedError(feature)

    return check_feature
