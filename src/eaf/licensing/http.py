"""Licensing over HTTP, under ``/api/v1/licensing``.

Superadmins of the platform tenant (the vendor) manage keys, products,
policies and licenses (see :mod:`eaf.licensing._http_admin`). A customer
tenant's admin sees the licenses issued to that tenant, downloads their files
and activates machines; another tenant's license answers 404 exactly like a
missing one.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response, status

from eaf.errors import PermissionDeniedError
from eaf.http.problems import problem_responses
from eaf.http.security import Caller
from eaf.licensing._http_admin import router as admin_router
from eaf.licensing._http_common import (
    JOSE,
    PREFIX,
    customer_scope,
    jose_response,
    licensing_of,
    run_as,
    vendor_of,
    view_now,
)
from eaf.licensing._http_models import (
    ActivationListOut,
    ActivationOut,
    ExtendIn,
    LicenseIn,
    LicenseOut,
    LicenseSummaryOut,
    ReasonIn,
)
from eaf.licensing.activation import ActivationRequest
from eaf.licensing.application import activation_views
from eaf.licensing.domain.errors import LicenseFormatError

_licenses = APIRouter(prefix=PREFIX, responses=problem_responses())

RequestBody = Annotated[
    dict[str, Any],
    Body(description="An activation request file's content (JSON)"),
]


# --- licenses -----------------------------------------------------------------


@_licenses.post(
    "/licenses",
    status_code=status.HTTP_201_CREATED,
    response_model=LicenseOut,
    summary="Issue a license to a customer tenant (superadmin)",
)
async def issue_license(body: LicenseIn, caller: Caller, request: Request) -> Any:
    """Superadmin only; the product comes from the policy, 409 for a taken id."""
    licensing = vendor_of(caller, request)
    license_ = await run_as(
        caller,
        lambda: licensing.licenses.issue(body.customer, body.policy, body.id),
    )
    return view_now(licensing, license_)


@_licenses.get(
    "/licenses",
    response_model=list[LicenseSummaryOut],
    summary="List licenses: all for the vendor, a tenant admin's own otherwise",
)
async def list_licenses(
    caller: Caller,
    request: Request,
    customer: str | None = None,
    product: str | None = None,
) -> Any:
    """A tenant admin lists only their own tenant's licenses; others are 403."""
    scope = customer_scope(caller, request)
    if scope is not None and customer not in (None, scope):
        raise PermissionDeniedError("a tenant admin lists only their own licenses")
    licenses = licensing_of(request).licenses
    return await licenses.list_licenses(customer=scope or customer, product=product)


@_licenses.get("/licenses/{license_id}", response_model=LicenseOut, summary="Show one")
async def get_license(license_id: str, caller: Caller, request: Request) -> Any:
    """The license as stored, with its ``status`` (valid, in_grace, expired) now."""
    scope = customer_scope(caller, request)
    licensing = licensing_of(request)
    license_ = await licensing.licenses.get(license_id, as_customer=scope)
    return view_now(licensing, license_)


@_licenses.get(
    "/licenses/{license_id}/file",
    response_class=Response,
    responses={200: {"content": {JOSE: {}}}},
    summary="A freshly signed license file (compact JWS)",
)
async def license_file(license_id: str, caller: Caller, request: Request) -> Response:
    """Signed with the active key now; 409 for a suspended or revoked license."""
    scope = customer_scope(caller, request)
    licenses = licensing_of(request).licenses
    return jose_response(await licenses.license_file(license_id, as_customer=scope))


@_licenses.post(
    "/licenses/{license_id}/renew",
    response_model=LicenseOut,
    summary="Renew by one policy term",
)
async def renew_license(license_id: str, caller: Caller, request: Request) -> Any:
    """Superadmin only; 409 for a perpetual or revoked license."""
    licensing = vendor_of(caller, request)
    license_ = await run_as(caller, lambda: licensing.licenses.renew(license_id))
    return view_now(licensing, license_)


@_licenses.post(
    "/licenses/{license_id}/extend",
    response_model=LicenseOut,
    summary="Move the expiry to a later moment",
)
async def extend_license(
    license_id: str, body: ExtendIn, caller: Caller, request: Request
) -> Any:
    """Superadmin only; the new expiry must be later and carry a time zone."""
    licensing = vendor_of(caller, request)
    license_ = await run_as(
        caller, lambda: licensing.licenses.extend(license_id, body.expires_at)
    )
    return view_now(licensing, license_)


@_licenses.post(
    "/licenses/{license_id}/suspend",
    response_model=LicenseOut,
    summary="Suspend: no new files or activations",
)
async def suspend_license(
    license_id: str, body: ReasonIn, caller: Caller, request: Request
) -> Any:
    """Superadmin only; 409 unless the license is active."""
    licensing = vendor_of(caller, request)
    license_ = await run_as(
        caller, lambda: licensing.licenses.suspend(license_id, body.reason)
    )
    return view_now(licensing, license_)


@_licenses.post(
    "/licenses/{license_id}/reinstate",
    response_model=LicenseOut,
    summary="Lift a suspension",
)
async def reinstate_license(license_id: str, caller: Caller, request: Request) -> Any:
    """Superadmin only; 409 unless the license is suspended."""
    licensing = vendor_of(caller, request)
    license_ = await run_as(caller, lambda: licensing.licenses.reinstate(license_id))
    return view_now(licensing, license_)


@_licenses.post(
    "/licenses/{license_id}/revoke",
    response_model=LicenseOut,
    summary="Revoke for good",
)
async def revoke_license(
    license_id: str, body: ReasonIn, caller: Caller, request: Request
) -> Any:
    """Superadmin only; revocation is final."""
    licensing = vendor_of(caller, request)
    license_ = await run_as(
        caller, lambda: licensing.licenses.revoke(license_id, body.reason)
    )
    return view_now(licensing, license_)


# --- activations --------------------------------------------------------------


def _activation_request(body: dict[str, Any]) -> ActivationRequest:
    return ActivationRequest.from_json(json.dumps(body))


@_licenses.get(
    "/licenses/{license_id}/activations",
    response_model=list[ActivationListOut],
    summary="Machines holding seats of a license",
)
async def list_activations(license_id: str, caller: Caller, request: Request) -> Any:
    """Superadmin, or the admin of the licensee tenant."""
    scope = customer_scope(caller, request)
    license_ = await licensing_of(request).licenses.get(license_id, as_customer=scope)
    return activation_views(license_)


@_licenses.post(
    "/licenses/{license_id}/activations",
    response_model=ActivationOut,
    summary="Activate a machine online; answers a short-lived certificate",
)
async def activate_online(
    license_id: str,
    caller: Caller,
    request: Request,
    body: RequestBody,
) -> Any:
    """The same machine asking again keeps its seat; 409 when every seat is taken."""
    scope = customer_scope(caller, request)
    activation = _activation_request(body)
    if activation.license_id != license_id:
        raise LicenseFormatError(
            f"the request is for license {activation.license_id!r}, not {license_id!r}"
        )
    licenses = licensing_of(request).licenses
    return await run_as(
        caller, lambda: licenses.activate(activation, as_customer=scope)
    )


@_licenses.delete(
    "/licenses/{license_id}/activations/{activation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Deactivate a machine, freeing its seat",
)
async def deactivate(
    license_id: str, activation_id: str, caller: Caller, request: Request
) -> Response:
    """Superadmin or the licensee's admin; 404 for an unknown activation."""
    scope = customer_scope(caller, request)
    licenses = licensing_of(request).licenses
    await run_as(
        caller,
        lambda: licenses.deactivate(license_id, activation_id, as_customer=scope),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@_licenses.post(
    "/offline-activations",
    response_class=Response,
    responses={200: {"content": {JOSE: {}}}},
    summary="Answer an offline request file with a machine certificate file",
)
async def activate_offline(
    caller: Caller,
    request: Request,
    body: RequestBody,
) -> Response:
    """The request file names the license; the answer is the file to install."""
    scope = customer_scope(caller, request)
    activation = _activation_request(body)
    licenses = licensing_of(request).licenses
    result = await run_as(
        caller,
        lambda: licenses.activate(activation, as_customer=scope, offline=True),
    )
    return jose_response(result.certificate)


router = APIRouter(tags=["licensing"])
"""Every licensing route; the app includes it as the ``licensing`` service."""
router.include_router(admin_router)
router.include_router(_licenses)
