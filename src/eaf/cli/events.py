"""`eaf events`: look at stored events and append corrections."""

from __future__ import annotations

import json
import typing
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from eaf.application.aggregate import Aggregate
from eaf.cli._common import (
    DataDirOption,
    console,
    fail,
    handle_errors,
    run_async,
    settings_for,
)
from eaf.cli._platform import open_store
from eaf.context import ExecutionContext, use_context
from eaf.eventstore.model import RecordedEvent
from eaf.eventstore.repair import (
    CommandOnly,
    CommandOnlyError,
    Decision,
    StreamSchema,
    append_correction,
)
from eaf.iam.domain.clients import BrowserClient, ServiceAccount
from eaf.iam.domain.role import Role
from eaf.iam.domain.rules import SUPERADMIN, check_email, check_username
from eaf.iam.domain.tenant import Tenant
from eaf.iam.domain.user import (
    User,
    UserActivated,
    UserProfileUpdated,
    UserRoleRevoked,
)
from eaf.licensing._http_models import ExtendIn, ReasonIn
from eaf.licensing.adapters.postgres import STREAM_TYPE as LICENSE_STREAM_TYPE
from eaf.licensing.clock import utc_now
from eaf.licensing.domain._codec import to_utc_seconds
from eaf.licensing.domain.catalog import PolicyDefinition, Product
from eaf.licensing.domain.errors import LicenseFormatError
from eaf.licensing.domain.events import (
    EVENT_TYPES as LICENSE_EVENT_TYPES,
)
from eaf.licensing.domain.events import (
    LicenseEvent,
    LicenseReinstated,
    LicenseRenewed,
    LicenseRevoked,
    LicenseSuspended,
    event_from_payload,
    event_to_payload,
)
from eaf.licensing.domain.keyset import SigningKeySet
from eaf.licensing.domain.license import License

app = typer.Typer(help="Stored events: show and correct.", no_args_is_help=True)

TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant slug")]
MAX_POSITION = 2**63 - 1  # positions are PostgreSQL bigint
MAX_OPERATOR_LENGTH = 200

AGGREGATES: tuple[type[Aggregate], ...] = (
    Tenant,
    User,
    Role,
    ServiceAccount,
    BrowserClient,
    Product,
    PolicyDefinition,
    SigningKeySet,
)


# --- what a correction may add -------------------------------------------------
#
# An event type is correctable only if everything its command changes is
# rebuilt from events: the aggregate itself and projections. Every other type
# names the command to use instead. Each event type of each stream type is in
# exactly one of CORRECTABLE and COMMAND_ONLY.


def _activate_user(user: User, event: UserActivated) -> Sequence[object]:
    user.activate()
    return user.pending_events()


def _revoke_user_role(user: User, event: UserRoleRevoked) -> Sequence[object]:
    if event.role == SUPERADMIN:
        raise CommandOnlyError(LAST_SUPERADMIN)
    user.revoke_role(event.role)
    return user.pending_events()


def _update_profile(user: User, event: UserProfileUpdated) -> Sequence[object]:
    check_username(event.username)
    check_email(event.email)
    claims = (event.username.casefold(), event.email.casefold())
    if claims != (user.username.casefold(), user.email.casefold()):
        raise CommandOnlyError(PROFILE_CLAIMS)
    user.update_profile(
        username=event.username, email=event.email, display_name=event.display_name
    )
    return user.pending_events()


def _archive(aggregate: Product | PolicyDefinition, event: object) -> Sequence[object]:
    aggregate.archive()
    return aggregate.pending_events()


def _command_time(event: LicenseEvent) -> datetime:
    """``occurred_at``, if a command running now could have stamped it."""
    if to_utc_seconds(event.occurred_at) > utc_now():
        raise LicenseFormatError("occurred_at lies in the future")
    return event.occurred_at


def _renew_license(license_: License, event: LicenseRenewed) -> Sequence[object]:
    ExtendIn.model_validate({"expires_at": event.expires_at})
    license_.extend_to(event.expires_at, at=_command_time(event))
    return license_.pending_events


def _suspend_license(license_: License, event: LicenseSuspended) -> Sequence[object]:
    ReasonIn.model_validate({"reason": event.reason})
    license_.suspend(event.reason, at=_command_time(event))
    return license_.pending_events


def _reinstate_license(license_: License, event: LicenseReinstated) -> Sequence[object]:
    license_.reinstate(at=_command_time(event))
    return license_.pending_events


def _revoke_license(license_: License, event: LicenseRevoked) -> Sequence[object]:
    ReasonIn.model_validate({"reason": event.reason})
    license_.revoke(event.reason, at=_command_time(event))
    return license_.pending_events


CORRECTABLE: dict[str, dict[str, Decision]] = {
    "iam.user": {
        "UserProfileUpdated": _update_profile,
        "UserActivated": _activate_user,
        "UserRoleRevoked": _revoke_user_role,
    },
    "licensing.product": {"ProductArchived": _archive},
    "licensing.policy": {"PolicyArchived": _archive},
    LICENSE_STREAM_TYPE: {
        "LicenseRenewed": _renew_license,
        "LicenseSuspended": _suspend_license,
        "LicenseReinstated": _reinstate_license,
        "LicenseRevoked": _revoke_license,
    },
}

_TENANT_ROW = (
    "logins and listings read it from iam_tenants, which only the command updates"
)
_ROLES = "custom roles are read from iam_roles, which only the role commands write"
_ACCOUNTS = (
    "service accounts sign in from iam_service_accounts, which only the "
    "account commands write"
)
_CLIENTS = "browser clients are read from iam_clients, which only their commands write"
_KEYS = (
    "key statuses and private keys live in licensing_signing_keys, which only "
    "the key commands write"
)
_SEATS = "seats are counted in licensing_seats, which only activations write"
_USER = "--tenant {tenant}"

PROFILE_CLAIMS = CommandOnly(
    "logins find users by username and email in iam_usernames and iam_emails, "
    "which only the command moves",
    f"use `eaf users update {{id}} {_USER} --username NAME --email ADDRESS`",
)

LAST_SUPERADMIN = CommandOnly(
    "the command keeps one active superadmin, counting all users under a lock",
    f"use `eaf users revoke-role {{id}} superadmin {_USER}`",
)

COMMAND_ONLY: dict[str, dict[str, CommandOnly]] = {
    "iam.tenant": {
        "TenantCreated": CommandOnly(
            "creating a tenant also writes its iam_tenants row and signing key",
            "use `eaf tenants create` for a new tenant",
        ),
        "TenantRenamed": CommandOnly(
            f"the name is mirrored: {_TENANT_ROW}", "use `eaf tenants rename {id} NAME`"
        ),
        "TenantSuspended": CommandOnly(
            f"the status is mirrored: {_TENANT_ROW}",
            "use `eaf tenants suspend {id} --reason TEXT`",
        ),
        "TenantReactivated": CommandOnly(
            f"the status is mirrored: {_TENANT_ROW}",
            "use `eaf tenants reactivate {id}`",
        ),
        "SigningKeyRotated": CommandOnly(
            "the keys live in iam_signing_keys, which only the command writes",
            "use `eaf tenants rotate-keys {id}`",
        ),
    },
    "iam.user": {
        "UserRegistered": CommandOnly(
            "registering also claims the username and email and stores the "
            "password (iam_usernames, iam_emails, iam_credentials)",
            "use `eaf users create` for a new user",
        ),
        "UserDeactivated": CommandOnly(
            "deactivating also ends the user's refresh tokens",
            f"use `eaf users deactivate {{id}} {_USER}`",
        ),
        "UserRoleAssigned": CommandOnly(
            "the command checks the role against the tenant's custom roles "
            "in iam_roles and the platform tenant",
            f"use `eaf users assign-role {{id}} ROLE {_USER}`",
        ),
        "UserPasswordChanged": CommandOnly(
            "the password hash lives in iam_credentials, which only the command writes",
            f"use `eaf users set-password {{id}} {_USER}`",
        ),
        "PasswordResetRequested": CommandOnly(
            "the reset token lives in iam_reset_tokens and is mailed by the command",
            "use POST /api/v1/tenants/{tenant}/password-reset",
        ),
        "UserLockedOut": CommandOnly(
            "failed logins are counted in iam_login_failures, not in events",
            "wait for the lockout window to pass or set a new password",
        ),
        "RefreshTokenReuseDetected": CommandOnly(
            "only the token endpoint records it, as it revokes the token family",
            "leave it: it is an audit fact",
        ),
    },
    "iam.role": {
        "RoleDefined": CommandOnly(
            _ROLES, f"use `eaf roles create {{id}} --permission P {_USER}`"
        ),
        "RolePermissionsChanged": CommandOnly(
            _ROLES, f"use `eaf roles update {{id}} --permission P {_USER}`"
        ),
        "RoleDeleted": CommandOnly(_ROLES, f"use `eaf roles delete {{id}} {_USER}`"),
    },
    "iam.service_account": {
        "ServiceAccountCreated": CommandOnly(
            _ACCOUNTS, "use `eaf service-accounts create` for a new account"
        ),
        "ServiceAccountSecretRotated": CommandOnly(
            _ACCOUNTS, f"use `eaf service-accounts rotate {{id}} {_USER}`"
        ),
        "ServiceAccountDeleted": CommandOnly(
            _ACCOUNTS, "use DELETE /api/v1/tenants/{tenant}/service-accounts/{id}"
        ),
    },
    "iam.client": {
        "BrowserClientRegistered": CommandOnly(
            _CLIENTS, "use POST /api/v1/tenants/{tenant}/clients for a new client"
        ),
        "BrowserClientRemoved": CommandOnly(
            _CLIENTS, "use DELETE /api/v1/tenants/{tenant}/clients/{id}"
        ),
    },
    "licensing.product": {
        "ProductCreated": CommandOnly(
            "a product is created once and this one exists",
            "use `eaf license product create` for a new product",
        ),
    },
    "licensing.policy": {
        "PolicyCreated": CommandOnly(
            "a policy is created once and this one exists",
            "use `eaf license policy create` for a new policy",
        ),
    },
    "licensing.keys": {
        "SigningKeyGenerated": CommandOnly(_KEYS, "use `eaf license keygen`"),
        "SigningKeyRetired": CommandOnly(
            _KEYS, "use `eaf license keygen`, which retires the active key"
        ),
        "SigningKeyRevoked": CommandOnly(_KEYS, "use `eaf license revoke-key KID`"),
    },
    LICENSE_STREAM_TYPE: {
        "LicenseIssued": CommandOnly(
            "issuing also opens the license's row in licensing_seat_limits",
            "use `eaf license issue` for a new license",
        ),
        "MachineActivated": CommandOnly(
            _SEATS, "use POST /api/v1/licensing/licenses/{id}/activations"
        ),
        "MachineDeactivated": CommandOnly(
            _SEATS,
            "use DELETE /api/v1/licensing/licenses/{id}/activations/ACTIVATION-ID",
        ),
    },
}


def known_streams() -> dict[str, StreamSchema]:
    """Every stream type this release writes, with the events it accepts."""
    schemas = {
        aggregate.stream_type: StreamSchema.of_aggregate(
            aggregate,
            correctable=CORRECTABLE.get(aggregate.stream_type),
            command_only=COMMAND_ONLY.get(aggregate.stream_type),
        )
        for aggregate in AGGREGATES
    }
    schemas[LICENSE_STREAM_TYPE] = StreamSchema(
        stream_type=LICENSE_STREAM_TYPE,
        schema_versions={
            name: event.schema_version for name, event in LICENSE_EVENT_TYPES.items()
        },
        decode=_decode_license_event,
        encode=_encode_license_event,
        rebuild=_rebuild_license,
        correctable=CORRECTABLE[LICENSE_STREAM_TYPE],
        command_only=COMMAND_ONLY[LICENSE_STREAM_TYPE],
    )
    return schemas


def _decode_license_event(event_type: str, payload: Mapping[str, Any]) -> object:
    """A license event, refusing unknown fields and non-text where text belongs."""
    event_class = LICENSE_EVENT_TYPES.get(event_type)
    if event_class is not None:
        hints = typing.get_type_hints(event_class)
        names = {item.name for item in fields(event_class)}
        unknown = sorted(payload.keys() - names)
        if unknown:
            raise ValueError(f"unknown fields {unknown}")
        for name in names & payload.keys():
            if hints[name] is str and not isinstance(payload[name], str):
                raise ValueError(f"{name}: must be a string")
    return event_from_payload(event_type, payload)


def _encode_license_event(event: object) -> dict[str, Any]:
    assert isinstance(event, LicenseEvent)
    return event_to_payload(event)


def _rebuild_license(stream_id: str, events: list[object]) -> object:
    license_events = [event for event in events if isinstance(event, LicenseEvent)]
    ids = {event.license_id for event in license_events}
    if len(ids) > 1:
        raise ValueError(f"events name several licenses: {sorted(ids)}")
    return License.from_events(license_events)


def _operator_name(operator: str) -> str:
    name = operator.strip()
    if not name or len(name) > MAX_OPERATOR_LENGTH:
        raise fail(f"--operator must be 1 to {MAX_OPERATOR_LENGTH} characters", 2)
    if not name.isprintable():
        raise fail("--operator must be printable text", 2)
    return name


@app.command()
@handle_errors
def show(
    tenant: Annotated[str | None, typer.Option(help="Tenant of --stream")] = None,
    stream: Annotated[str | None, typer.Option(help="A stream id")] = None,
    after: Annotated[
        int,
        typer.Option(min=0, max=MAX_POSITION, help="Global position to start after"),
    ] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Events of one stream (--tenant and --stream) or of all, by position."""
    if (tenant is None) != (stream is None):
        raise fail("give --tenant and --stream together, or neither", 2)
    settings = settings_for(data_dir)

    async def collect() -> list[RecordedEvent]:
        async with open_store(settings) as (_, _db, store):
            if tenant and stream:
                return [
                    event
                    async for event in store.read_stream(tenant, stream)
                    if event.position > after
                ][:limit]
            return await store.read_all(after, limit)

    events = run_async(collect())
    if as_json:
        for event in events:
            typer.echo(json.dumps(event.to_envelope(), default=str))
        return
    table = Table("position", "tenant", "stream", "ver", "type", "actor", "payload")
    for event in events:
        table.add_row(
            str(event.position),
            event.tenant_id,
            event.stream_id,
            str(event.stream_version),
            event.event_type,
            str(event.metadata.get("actor", "")),
            json.dumps(event.payload)[:60],
        )
    console.print(table)


@app.command()
@handle_errors
def correct(
    tenant: TenantOption,
    stream: Annotated[str, typer.Option(help="Stream to append the correction to")],
    event_type: Annotated[str, typer.Option("--type", help="Corrective event type")],
    data: Annotated[str, typer.Option(help="Payload as a JSON object")],
    reason: Annotated[str, typer.Option(help="Why; kept in the audit trail")],
    operator: Annotated[
        str, typer.Option(help="Who decides the correction; kept in the audit trail")
    ],
    corrects: Annotated[
        str | None, typer.Option(help="Event id being corrected")
    ] = None,
    expected_version: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=MAX_POSITION,
            help="Refuse if the stream moved past this version",
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Append a corrective event; stored events are never edited or deleted.

    Only event types whose effects are all rebuilt from events are accepted;
    for the others the message names the command to use. The aggregate's own
    command must accept the change and record exactly this event; otherwise
    nothing is written.
    """
    operator_name = _operator_name(operator)
    try:
        payload = json.loads(data)
    except json.JSONDecodeError as exc:
        raise fail(f"--data is not valid JSON: {exc}", 2) from None
    if not isinstance(payload, dict):
        raise fail("--data must be a JSON object", 2)
    try:
        corrected = uuid.UUID(corrects) if corrects else None
    except ValueError:
        raise fail(f"--corrects {corrects!r} is not an event id", 2) from None
    settings = settings_for(data_dir)
    actor = f"operator:{operator_name}"

    async def run() -> RecordedEvent:
        async with open_store(settings) as (_, _db, store):
            with use_context(ExecutionContext(tenant_id=tenant, actor=actor)):
                return await append_correction(
                    store,
                    known_streams(),
                    tenant_id=tenant,
                    stream_id=stream,
                    event_type=event_type,
                    payload=payload,
                    reason=reason,
                    operator=operator_name,
                    corrects=corrected,
                    expected_version=expected_version,
                )

    recorded = run_async(run())
    console.print(
        f"[green]appended[/] {recorded.event_type} at position {recorded.position} "
        f"(stream version {recorded.stream_version}, event {recorded.event_id})"
    )
