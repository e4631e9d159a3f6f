"""Event store: events, snapshots, checkpoints and parked messages.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from alembic import op

from eaf.db.migrations._roles import grant_rw, runtime_role, tenant_policy

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    role = runtime_role()
    op.execute(
        """
        CREATE TABLE events (
            position       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id       uuid        NOT NULL UNIQUE,
            tenant_id      text        NOT NULL,
            stream_id      text        NOT NULL,
            stream_type    text        NOT NULL,
            stream_version integer     NOT NULL CHECK (stream_version > 0),
            event_type     text        NOT NULL,
            schema_version integer     NOT NULL DEFAULT 1,
            payload        jsonb       NOT NULL,
            metadata       jsonb       NOT NULL DEFAULT '{}'::jsonb,
            recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
            CONSTRAINT events_stream_version_key
                UNIQUE (tenant_id, stream_id, stream_version)
        )
        """
    )
    op.execute("GRANT SELECT, INSERT ON events TO " + role)
    op.execute("GRANT USAGE ON SEQUENCE events_position_seq TO " + role)
    tenant_policy("events")
    # Events are facts: nobody, not even a buggy service, may change or drop one.
    op.execute(
        """
        CREATE FUNCTION eaf_refuse_event_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'events are immutable; append a corrective event';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON events "
        "FOR EACH ROW EXECUTE FUNCTION eaf_refuse_event_change()"
    )
    # The global feed crosses tenants on purpose (relay, rebuilds): it is one
    # audited entry point owned by the schema owner instead of a bypass role.
    op.execute(
        """
        CREATE FUNCTION eaf_read_all_events(after_position bigint, max_count integer)
        RETURNS SETOF events
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT * FROM events WHERE position > after_position
            ORDER BY position LIMIT max_count
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION eaf_head_position() RETURNS bigint
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
            SELECT coalesce(max(position), 0) FROM events
        $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION eaf_read_all_events FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION eaf_read_all_events TO {role}")
    op.execute(f"GRANT EXECUTE ON FUNCTION eaf_head_position TO {role}")

    op.execute(
        """
        CREATE TABLE snapshots (
            tenant_id        text        NOT NULL,
            stream_id        text        NOT NULL,
            stream_type      text        NOT NULL,
            stream_version   integer     NOT NULL,
            snapshot_version integer     NOT NULL,
            state            jsonb       NOT NULL,
            taken_at         timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, stream_id)
        )
        """
    )
    grant_rw("snapshots")
    tenant_policy("snapshots")

    op.execute(
        """
        CREATE TABLE checkpoints (
            name       text        PRIMARY KEY,
            position   bigint      NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    grant_rw("checkpoints")

    op.execute(
        """
        CREATE TABLE parked_messages (
            id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            consumer    text        NOT NULL,
            event_id    uuid        NOT NULL,
            position    bigint      NOT NULL,
            tenant_id   text        NOT NULL,
            event_type  text        NOT NULL,
            envelope    jsonb       NOT NULL,
            error       text        NOT NULL,
            attempts    integer     NOT NULL,
            parked_at   timestamptz NOT NULL DEFAULT now(),
            replayed_at timestamptz,
            CONSTRAINT parked_messages_consumer_event_key UNIQUE (consumer, event_id)
        )
        """
    )
    grant_rw("parked_messages")


def downgrade() -> None:
    op.execute("DROP TABLE parked_messages")
    op.execute("DROP TABLE checkpoints")
    op.execute("DROP TABLE snapshots")
    op.execute("DROP FUNCTION eaf_head_position()")
    op.execute("DROP FUNCTION eaf_read_all_events(bigint, integer)")
    op.execute("DROP TABLE events")
    op.execute("DROP FUNCTION eaf_refuse_event_change()")
