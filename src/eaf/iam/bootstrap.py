"""First-run set-up: the platform tenant and its superadmin.

On a single-tenant site the platform tenant is also the one tenant people use,
so the superadmin is its tenant admin as well.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import structlog

from eaf.context import ExecutionContext, use_context
from eaf.iam.domain.rules import SUPERADMIN, TENANT_ADMIN
from eaf.iam.service import IamService
from eaf.iam.users import user_id_by_name

log = structlog.get_logger(__name__)

PASSWORD_FILE = "bootstrap-admin.txt"  # noqa: S105 - a file name, not a secret


ADMIN_ROLES = (SUPERADMIN, TENANT_ADMIN)


@dataclass(frozen=True)
class BootstrapResult:
    """What a bootstrap run found and did."""

    tenant: str
    username: str
    created_tenant: bool
    created_admin: bool
    password_file: Path | None


async def bootstrap_platform(
    iam: IamService,
    *,
    tenant: str,
    username: str,
    password: str | None,
    data_dir: Path,
) -> BootstrapResult:
    """Create what is missing; running it again changes nothing."""
    with use_context(ExecutionContext(tenant_id=tenant, actor="system:bootstrap")):
        created_tenant = False
        if not await iam.tenant_exists(tenant):
            await iam.create_tenant(tenant, "Platform")
            created_tenant = True
        if await iam.username_exists(tenant, username):
            await _ensure_roles(iam, tenant, username)
            return BootstrapResult(tenant, username, created_tenant, False, None)
        password_file = None
        if password is None:
            password = secrets.token_urlsafe(18)
            password_file = _write_secret(data_dir / PASSWORD_FILE, username, password)
        await iam.create_user(
            tenant,
            username,
            f"{username}@eaf.localhost",
            password,
            list(ADMIN_ROLES),
        )
    log.info("iam.bootstrapped", tenant=tenant, username=username)
    return BootstrapResult(tenant, username, created_tenant, True, password_file)


async def _ensure_roles(iam: IamService, tenant: str, username: str) -> None:
    """Give an existing admin any admin role it lacks (older set-ups)."""
    async with iam.db.transaction(tenant) as conn:
        user_id = await user_id_by_name(conn, username)
    user = await iam.users.load(tenant, user_id) if user_id else None
    if user is None:
        return
    changed = [role for role in ADMIN_ROLES if user.assign_role(role)]
    if changed:
        await iam.users.save(tenant, user)
        log.info("iam.bootstrap_roles_added", username=username, roles=changed)


def _write_secret(path: Path, username: str, password: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as stream:
        stream.write(f"username={username}\npassword={password}\n")
    os.chmod(path, 0o600)
    return path
