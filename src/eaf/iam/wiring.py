"""Assembling the IAM's services from settings, for the platform runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eaf.db.pool import Database
from eaf.eventstore.postgres import PostgresEventStore
from eaf.iam.access import AccessService
from eaf.iam.adapters.keys import KeyStore
from eaf.iam.adapters.mail import FileMailSender, MailSender
from eaf.iam.adapters.passwords import Passwords
from eaf.iam.credentials import CredentialService, LockoutPolicy
from eaf.iam.domain.rules import PasswordPolicy
from eaf.iam.oauth.grants import OAuthServer
from eaf.iam.oauth.introspection import TokenInspector
from eaf.iam.purge import PurgePolicy
from eaf.iam.tenants import TenantService
from eaf.iam.tokens import TenantStatusCache, TokenIssuer, TokenVerifier
from eaf.iam.users import UserService
from eaf.settings import Settings

# Leeway beyond a token's lifetime before a retired key leaves the JWKS: covers
# verifiers' clock skew and the time they cache the key set.
KEY_PUBLISH_SLACK_S = 120


def passwords_from(settings: Settings) -> Passwords:
    """The password hasher with the configured argon2 cost."""
    return Passwords(
        memory_kib=settings.password_hash_memory_kib,
        time_cost=settings.password_hash_time_cost,
    )


def password_policy_from(settings: Settings) -> PasswordPolicy:
    """The configured password policy."""
    return PasswordPolicy(settings.password_min_length)


@dataclass(frozen=True)
class IamServices:
    """The IAM beyond tenant and user creation (which ``IamService`` keeps)."""

    tenants: TenantService
    users: UserService
    credentials: CredentialService
    access: AccessService
    oauth: OAuthServer
    inspector: TokenInspector
    mail: MailSender
    purge_policy: PurgePolicy


def build_iam_services(
    db: Database,
    store: PostgresEventStore,
    keys: KeyStore,
    issuer: TokenIssuer,
    verifier: TokenVerifier,
    settings: Settings,
    issuer_for: Callable[[str], str],
    *,
    passwords: Passwords,
    mail: MailSender | None = None,
) -> IamServices:
    """Wire the IAM services for one platform process."""
    status_cache = verifier.tenant_status
    every = settings.snapshot_every
    platform_tenant = settings.bootstrap_tenant
    mail = mail or FileMailSender(settings.data_dir / "logs" / "mail.log")
    access = AccessService(
        db, store, platform_tenant=platform_tenant, snapshot_every=every
    )
    credentials = CredentialService(
        db,
        store,
        status_cache,
        mail,
        passwords=passwords,
        policy=password_policy_from(settings),
        lockout=LockoutPolicy(
            settings.login_lockout_threshold,
            settings.login_lockout_window_s,
            settings.login_address_threshold,
        ),
        reset_ttl_s=settings.password_reset_ttl_s,
        reset_interval_s=settings.password_reset_interval_s,
        reset_url_for=lambda slug: f"{issuer_for(slug)}/reset-password",
        snapshot_every=every,
    )
    oauth = OAuthServer(
        db,
        store,
        issuer,
        credentials,
        access,
        status_cache,
        refresh_ttl_s=settings.refresh_token_ttl_s,
        snapshot_every=every,
    )
    return IamServices(
        tenants=TenantService(
            db,
            store,
            keys,
            status_cache,
            platform_tenant=platform_tenant,
            key_publish_s=settings.access_token_ttl_s + KEY_PUBLISH_SLACK_S,
            snapshot_every=every,
        ),
        users=UserService(
            db, store, access, platform_tenant=platform_tenant, snapshot_every=every
        ),
        credentials=credentials,
        access=access,
        oauth=oauth,
        inspector=TokenInspector(db, store, verifier, oauth, every),
        mail=mail,
        purge_policy=PurgePolicy(
            revocation_slack_s=verifier.leeway_s + KEY_PUBLISH_SLACK_S,
            reset_interval_s=settings.password_reset_interval_s,
            lockout_window_s=settings.login_lockout_window_s,
        ),
    )


def tenant_status_cache(db: Database, settings: Settings) -> TenantStatusCache:
    """The tenant status cache shared by verifier and services."""
    return TenantStatusCache(db, settings.tenant_status_cache_s)
