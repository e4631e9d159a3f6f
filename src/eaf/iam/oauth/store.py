"""Protocol state of the token endpoint: refresh tokens, codes, revocations.

Refresh tokens and authorization codes are random strings; only their SHA-256
digests are stored. Every refresh token belongs to a family (one login); using
a refresh token replaces it with a new one of the same family, and presenting
a replaced one again revokes the whole family (OAuth 2.0 Security BCP 4.14).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from eaf.db.pool import Connection, Database
from eaf.iam.adapters.passwords import digest_secret, new_secret

# Expired rows of these tables are deleted by ``eaf.iam.purge``.


@dataclass(frozen=True)
class RefreshRecord:
    """What a refresh token was issued for."""

    family_id: str
    subject: str
    client_id: str
    scope: str


class RefreshOutcome(Enum):
    """What happened to a refresh token presented for rotation."""

    ROTATED = "rotated"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    WRONG_CLIENT = "wrong_client"
    REUSED = "reused"


@dataclass(frozen=True)
class Rotation:
    """The outcome of a rotation and, if it worked, the new token."""

    outcome: RefreshOutcome
    record: RefreshRecord | None = None
    new_token: str | None = None


async def save_refresh_token(
    conn: Connection, record: RefreshRecord, ttl_s: int
) -> str:
    """Store a new refresh token of ``record.family_id``; return the token."""
    token = new_secret()
    await conn.execute(
        "INSERT INTO iam_refresh_tokens (tenant_id, token_hash, family_id, subject, "
        "client_id, scope, expires_at) VALUES (current_setting('eaf.tenant_id'), "
        "%s, %s, %s, %s, %s, now() + make_interval(secs => %s))",
        (
            digest_secret(token),
            record.family_id,
            record.subject,
            record.client_id,
            record.scope,
            ttl_s,
        ),
    )
    return token


async def rotate_refresh_token(
    db: Database, slug: str, token: str, client_id: str, ttl_s: int
) -> Rotation:
    """Exchange ``token`` for a new one of its family, detecting reuse."""
    async with db.transaction(slug) as conn:
        cur = await conn.execute(
            "SELECT family_id, subject, client_id, scope, used_at, revoked_at, "
            "expires_at <= now() AS is_expired FROM iam_refresh_tokens "
            "WHERE token_hash = %s FOR UPDATE",
            (digest_secret(token),),
        )
        row = await cur.fetchone()
        if row is None:
            return Rotation(RefreshOutcome.UNKNOWN)
        record = RefreshRecord(
            str(row["family_id"]),
            str(row["subject"]),
            str(row["client_id"]),
            str(row["scope"]),
        )
        if row["revoked_at"] is not None:
            return Rotation(RefreshOutcome.REVOKED, record)
        if row["used_at"] is not None:
            await revoke_family(conn, record.family_id)
            return Rotation(RefreshOutcome.REUSED, record)
        if record.client_id != client_id:
            return Rotation(RefreshOutcome.WRONG_CLIENT, record)
        if row["is_expired"]:
            return Rotation(RefreshOutcome.EXPIRED, record)
        await conn.execute(
            "UPDATE iam_refresh_tokens SET used_at = now() WHERE token_hash = %s",
            (digest_secret(token),),
        )
        new_token = await save_refresh_token(conn, record, ttl_s)
    return Rotation(RefreshOutcome.ROTATED, record, new_token)


async def revoke_family(conn: Connection, family_id: str) -> int:
    """End every refresh token of one login."""
    cur = await conn.execute(
        "UPDATE iam_refresh_tokens SET revoked_at = now() "
        "WHERE family_id = %s AND revoked_at IS NULL",
        (family_id,),
    )
    return cur.rowcount


async def revoke_subject_tokens(conn: Connection, subject: str) -> int:
    """End every refresh token of ``subject`` (password change, deactivation)."""
    cur = await conn.execute(
        "UPDATE iam_refresh_tokens SET revoked_at = now() "
        "WHERE subject = %s AND revoked_at IS NULL",
        (subject,),
    )
    return cur.rowcount


async def find_refresh_token(
    db: Database, slug: str, token: str
) -> tuple[RefreshRecord, bool, datetime] | None:
    """A refresh token's record, whether it is still usable, and its expiry."""
    async with db.transaction(slug) as conn:
        cur = await conn.execute(
            "SELECT family_id, subject, client_id, scope, expires_at, "
            "(used_at IS NULL AND revoked_at IS NULL AND expires_at > now()) "
            "AS is_active FROM iam_refresh_tokens WHERE token_hash = %s",
            (digest_secret(token),),
        )
        row = await cur.fetchone()
    if row is None:
        return None
    record = RefreshRecord(
        str(row["family_id"]), str(row["subject"]), row["client_id"], row["scope"]
    )
    return record, bool(row["is_active"]), row["expires_at"]


# --- authorization codes ------------------------------------------------------


@dataclass(frozen=True)
class CodeRecord:
    """An authorization code's binding: client, redirect, user and PKCE."""

    client_id: str
    redirect_uri: str
    subject: str
    scope: str
    nonce: str | None
    code_challenge: str
    auth_time: int
    family_id: str = ""


async def save_code(db: Database, slug: str, record: CodeRecord, ttl_s: int) -> str:
    """Store an authorization code; return the code."""
    code = new_secret()
    async with db.transaction(slug) as conn:
        await conn.execute(
            "INSERT INTO iam_authorization_codes (tenant_id, code_hash, client_id, "
            "redirect_uri, subject, scope, nonce, code_challenge, auth_time, "
            "family_id, expires_at) VALUES (current_setting('eaf.tenant_id'), "
            "%s, %s, %s, %s, %s, %s, %s, %s, %s, now() + make_interval(secs => %s))",
            (
                digest_secret(code),
                record.client_id,
                record.redirect_uri,
                record.subject,
                record.scope,
                record.nonce,
                record.code_challenge,
                record.auth_time,
                str(uuid.uuid4()),
                ttl_s,
            ),
        )
    return code


async def consume_code(db: Database, slug: str, code: str) -> CodeRecord | None:
    """The code's record if it is unused and unexpired; marks it used.

    A code presented twice revokes the refresh tokens issued for it (RFC 6749
    section 4.1.2) and yields nothing.
    """
    async with db.transaction(slug) as conn:
        cur = await conn.execute(
            "SELECT client_id, redirect_uri, subject, scope, nonce, code_challenge, "
            "auth_time, family_id, used_at, expires_at <= now() AS is_expired "
            "FROM iam_authorization_codes WHERE code_hash = %s FOR UPDATE",
            (digest_secret(code),),
        )
        row = await cur.fetchone()
        if row is None:
            return None
        if row["used_at"] is not None:
            await revoke_family(conn, str(row["family_id"]))
            return None
        await conn.execute(
            "UPDATE iam_authorization_codes SET used_at = now() WHERE code_hash = %s",
            (digest_secret(code),),
        )
    if row["is_expired"]:
        return None
    return CodeRecord(
        client_id=row["client_id"],
        redirect_uri=row["redirect_uri"],
        subject=row["subject"],
        scope=row["scope"],
        nonce=row["nonce"],
        code_challenge=row["code_challenge"],
        auth_time=int(row["auth_time"]),
        family_id=str(row["family_id"]),
    )


# --- revoked access tokens -----------------------------------------------------


async def revoke_access_token(
    db: Database, slug: str, jti: str, expires_at: int
) -> None:
    """Refuse the access token ``jti`` until it expires anyway."""
    async with db.transaction(slug) as conn:
        await conn.execute(
            "INSERT INTO iam_revoked_tokens (tenant_id, jti, expires_at) "
            "VALUES (current_setting('eaf.tenant_id'), %s, to_timestamp(%s)) "
            "ON CONFLICT DO NOTHING",
            (jti, expires_at),
        )


async def is_access_token_revoked(db: Database, slug: str, jti: str) -> bool:
    """Whether the access token ``jti`` was revoked."""
    async with db.transaction(slug) as conn:
        cur = await conn.execute(
            "SELECT 1 FROM iam_revoked_tokens WHERE jti = %s", (jti,)
        )
        return await cur.fetchone() is not None
