"""IAM over HTTP: the admin API and each tenant's OpenID Connect endpoints."""

from fastapi import APIRouter

from eaf.iam.http import access, login, oidc, tenants, users

router = APIRouter()
for _module in (tenants, users, access, oidc, login):
    router.include_router(_module.router)

__all__ = ["router"]
