"""Vendor administration over HTTP: signing keys, catalog, EAF's own license."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status

from eaf.http.problems import problem_responses
from eaf.http.security import Caller
from eaf.licensing._http_common import PREFIX, licensing_of, run_as, vendor_of
from eaf.licensing._http_models import (
    KeyOut,
    PlatformLicenseIn,
    PlatformLicenseOut,
    PolicyIn,
    PolicyOut,
    ProductIn,
    ProductOut,
    ReasonIn,
)
from eaf.licensing.application import policy_view, product_view
from eaf.licensing.domain.policy import Policy

router = APIRouter(prefix=PREFIX, responses=problem_responses())


# --- keys ---------------------------------------------------------------------


@router.get("/keys", summary="Published license signing keys (JWKS), no auth")
async def published_keys(request: Request) -> dict[str, Any]:
    """Active, retired and revoked keys with their status; products pin this set."""
    return await licensing_of(request).keys.published_keys()


@router.post(
    "/signing-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyOut,
    summary="Generate a signing key; the active one is retired (rotation)",
)
async def generate_key(caller: Caller, request: Request) -> Any:
    """Superadmin only. The first call creates the key; later calls rotate."""
    licensing = vendor_of(caller, request)
    return await run_as(caller, licensing.keys.generate_key)


@router.post(
    "/signing-keys/{kid}/revoke",
    response_model=KeyOut,
    summary="Revoke a signing key: nothing it signed verifies any more",
)
async def revoke_key(kid: str, body: ReasonIn, caller: Caller, request: Request) -> Any:
    """Superadmin only; 404 for an unknown key, 409 if already revoked."""
    licensing = vendor_of(caller, request)
    return await run_as(caller, lambda: licensing.keys.revoke_key(kid, body.reason))


# --- catalog ------------------------------------------------------------------


@router.post(
    "/products",
    status_code=status.HTTP_201_CREATED,
    response_model=ProductOut,
    summary="Add a product (superadmin)",
)
async def create_product(body: ProductIn, caller: Caller, request: Request) -> Any:
    """Superadmin only; 409 if the name is taken, 422 for an invalid name."""
    catalog = vendor_of(caller, request).catalog
    product = await run_as(
        caller, lambda: catalog.create_product(body.name, body.display_name)
    )
    return product_view(product, await catalog.created_at(product))


@router.get("/products", response_model=list[ProductOut], summary="List products")
async def list_products(caller: Caller, request: Request) -> Any:
    """Superadmin only; from the read model."""
    return await vendor_of(caller, request).catalog.list_products()


@router.get("/products/{name}", response_model=ProductOut, summary="Show a product")
async def get_product(name: str, caller: Caller, request: Request) -> Any:
    """Superadmin only."""
    catalog = vendor_of(caller, request).catalog
    product = await catalog.get_product(name)
    return product_view(product, await catalog.created_at(product))


@router.post(
    "/products/{name}/archive",
    response_model=ProductOut,
    summary="Archive a product: no new policies or licenses",
)
async def archive_product(name: str, caller: Caller, request: Request) -> Any:
    """Superadmin only; archiving twice changes nothing."""
    catalog = vendor_of(caller, request).catalog
    product = await run_as(caller, lambda: catalog.archive_product(name))
    return product_view(product, await catalog.created_at(product))


@router.post(
    "/policies",
    status_code=status.HTTP_201_CREATED,
    response_model=PolicyOut,
    summary="Add a policy to a product (superadmin)",
)
async def create_policy(body: PolicyIn, caller: Caller, request: Request) -> Any:
    """Superadmin only; 422 when the terms contradict each other."""
    catalog = vendor_of(caller, request).catalog
    policy = Policy(
        body.id,
        duration_days=body.duration_days,
        grace_days=body.grace_days,
        entitlements=frozenset(body.entitlements),
        limits=body.limits,
        node_locked=body.node_locked,
        is_trial=body.trial,
    )
    definition = await run_as(
        caller, lambda: catalog.create_policy(policy, body.product)
    )
    return policy_view(definition, await catalog.created_at(definition))


@router.get("/policies", response_model=list[PolicyOut], summary="List policies")
async def list_policies(
    caller: Caller, request: Request, product: str | None = None
) -> Any:
    """Superadmin only; from the read model."""
    return await vendor_of(caller, request).catalog.list_policies(product)


@router.get("/policies/{policy_id}", response_model=PolicyOut, summary="Show a policy")
async def get_policy(policy_id: str, caller: Caller, request: Request) -> Any:
    """Superadmin only."""
    catalog = vendor_of(caller, request).catalog
    definition = await catalog.get_policy(policy_id)
    return policy_view(definition, await catalog.created_at(definition))


@router.post(
    "/policies/{policy_id}/archive",
    response_model=PolicyOut,
    summary="Archive a policy: issued licenses keep their terms",
)
async def archive_policy(policy_id: str, caller: Caller, request: Request) -> Any:
    """Superadmin only; archiving twice changes nothing."""
    catalog = vendor_of(caller, request).catalog
    definition = await run_as(caller, lambda: catalog.archive_policy(policy_id))
    return policy_view(definition, await catalog.created_at(definition))


# --- EAF's own license --------------------------------------------------------


@router.get(
    "/platform-license",
    response_model=PlatformLicenseOut | None,
    summary="The license this installation runs under, if any",
)
async def platform_license(caller: Caller, request: Request) -> Any:
    """Superadmin only; ``null`` when none is installed."""
    return await vendor_of(caller, request).platform_license.current()


@router.put(
    "/platform-license",
    response_model=PlatformLicenseOut,
    summary="Install the license this installation runs under",
)
async def install_platform_license(
    body: PlatformLicenseIn, caller: Caller, request: Request
) -> Any:
    """Superadmin only; 422 unless it verifies, is for ``eaf`` and is not expired."""
    service = vendor_of(caller, request).platform_license
    return await run_as(
        caller, lambda: service.install(body.license, installed_by=caller.actor)
    )
