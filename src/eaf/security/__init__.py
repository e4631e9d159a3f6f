"""The SDK's security side: verifying access tokens and gating endpoints.

The caller's context (tenant, subject, roles, permissions) is the
``eaf.context.ExecutionContext`` of the request; commands and events inherit it.
"""

from eaf.security.claims import AUDIENCE, InvalidTokenError
from eaf.security.fastapi import (
    Principal,
    current_principal,
    requires_permission,
    requires_role,
)
from eaf.security.introspection import IntrospectingTokenVerifier
from eaf.security.jwks import JwksCache
from eaf.security.verifier import RemoteTokenVerifier, TokenVerifier

__all__ = [
    "AUDIENCE",
    "IntrospectingTokenVerifier",
    "InvalidTokenError",
    "JwksCache",
    "Principal",
    "RemoteTokenVerifier",
    "TokenVerifier",
    "current_principal",
    "requires_permission",
    "requires_role",
]
