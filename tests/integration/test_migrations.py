"""Every migration goes down and up again to the same schema."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
from alembic.script import ScriptDirectory
from psycopg import sql
from psycopg.types.json import Jsonb

from eaf.db import migrate
from eaf.db.migrations._compat import CONTRACT_MARKER
from eaf.runtime.embedded import free_port
from tests.support.servers import RUNTIME_PASSWORD, RUNTIME_ROLE, Servers, drop_database

SCHEMA_QUERY = """
SELECT 'column', table_name || '.' || column_name || ' ' || data_type
       || ' ' || is_nullable || ' ' || coalesce(column_default, '')
       || ' ' || is_identity || ' ' || coalesce(identity_generation, '')
  FROM information_schema.columns
 WHERE table_schema = 'public' AND table_name <> 'alembic_version'
UNION ALL
SELECT 'index', indexdef FROM pg_indexes
 WHERE schemaname = 'public' AND tablename <> 'alembic_version'
UNION ALL
SELECT 'constraint', conrelid::regclass::text || ' ' || conname || ' '
       || pg_get_constraintdef(oid)
  FROM pg_constraint
 WHERE connamespace = 'public'::regnamespace
   AND conrelid::regclass::text <> 'alembic_version'
UNION ALL
SELECT 'trigger', pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
UNION ALL
SELECT 'table', relname || ' kind=' || relkind::text || ' rls=' || relrowsecurity
       || ' force=' || relforcerowsecurity || ' acl=' || coalesce(relacl::text, '')
  FROM pg_class
 WHERE relnamespace = 'public'::regnamespace AND relname NOT LIKE 'alembic_version%%'
UNION ALL
SELECT 'policy', tablename || ' ' || policyname || ' ' || permissive || ' '
       || array_to_string(roles, ',') || ' ' || cmd || ' '
       || coalesce(qual, '') || ' ' || coalesce(with_check, '')
  FROM pg_policies WHERE schemaname = 'public'
UNION ALL
SELECT 'function', pg_get_functiondef(oid) || ' acl=' || coalesce(proacl::text, '')
  FROM pg_proc WHERE pronamespace = 'public'::regnamespace
UNION ALL
SELECT 'grant', table_name || ' ' || privilege_type
  FROM information_schema.role_table_grants WHERE grantee = %s
ORDER BY 1, 2
"""


@pytest.fixture
def empty_database(servers: Servers) -> Iterator[str]:
    name = f"eaf_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(servers.admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield servers.dsn_for(name)
    drop_database(servers, name)


def schema_of(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(SCHEMA_QUERY, (RUNTIME_ROLE,)).fetchall()  # type: ignore[return-value]


def revisions() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql://", "x"))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def test_every_revision_downgrades_and_upgrades_to_same_schema(
    empty_database: str,
) -> None:
    schemas_up: dict[str, list[tuple[str, str]]] = {}
    for revision in revisions():
        migrate.upgrade(empty_database, RUNTIME_ROLE, RUNTIME_PASSWORD, revision)
        schemas_up[revision] = schema_of(empty_database)

    for previous, revision in reversed(
        list(zip(["base", *revisions()], revisions(), strict=False))
    ):
        migrate.downgrade(empty_database, RUNTIME_ROLE, previous)
        expected = [] if previous == "base" else schemas_up[previous]
        assert schema_of(empty_database) == expected, f"downgrade of {revision}"

    migrate.upgrade(empty_database, RUNTIME_ROLE, RUNTIME_PASSWORD)
    head = schema_of(empty_database)
    assert head == schemas_up[revisions()[-1]]
    kinds = {kind for kind, _ in head}
    assert kinds >= {"column", "constraint", "trigger", "table", "policy", "function"}
    assert any("rls=true" in entry for kind, entry in head if kind == "table")
    assert any("CHECK" in entry for kind, entry in head if kind == "constraint")
    assert any("FOREIGN KEY" in entry for kind, entry in head if kind == "constraint")
    assert any(
        "SECURITY DEFINER" in entry for kind, entry in head if kind == "function"
    )


def test_upgrade_sql_is_printed_for_review(empty_database: str) -> None:
    text = migrate.upgrade_sql(empty_database, RUNTIME_ROLE)

    assert "CREATE TABLE events" in text
    assert "ENABLE ROW LEVEL SECURITY" in text
    assert migrate.current_revision(empty_database) is None


@dataclass(frozen=True)
class TableUse:
    """How a release uses one table: its columns and the role's privileges."""

    table: str
    columns: tuple[tuple[str, str], ...]
    privileges: frozenset[str]


@dataclass(frozen=True)
class ReleaseUse:
    """Everything the runtime role could do at one revision."""

    tables: tuple[TableUse, ...]
    functions: tuple[tuple[str, tuple[str, ...]], ...]


TENANT = "acme"
SAMPLE_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def release_use(owner_dsn: str) -> ReleaseUse:
    """What the runtime role may do now: the previous release's queries later."""
    with psycopg.connect(owner_dsn) as conn:
        tables = [
            TableUse(name, _columns(conn, name), _privileges(conn, name))
            for name in _tables_parents_first(conn)
        ]
        functions = conn.execute(
            "SELECT proname, coalesce(array_agg(format_type(t, NULL) ORDER BY n) "
            "       FILTER (WHERE t IS NOT NULL), '{}') "
            "  FROM pg_proc LEFT JOIN LATERAL unnest(proargtypes::oid[]) "
            "       WITH ORDINALITY AS a(t, n) ON true "
            " WHERE pronamespace = 'public'::regnamespace "
            "   AND prokind = 'f' AND prorettype <> 'trigger'::regtype "
            "   AND has_function_privilege(%s, pg_proc.oid, 'EXECUTE') "
            " GROUP BY pg_proc.oid, proname ORDER BY proname",
            (RUNTIME_ROLE,),
        ).fetchall()
    return ReleaseUse(
        tuple(tables), tuple((name, tuple(args)) for name, args in functions)
    )


def _tables_parents_first(conn: psycopg.Connection[tuple[str, ...]]) -> list[str]:
    names = [
        row[0]
        for row in conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind = 'r' AND relname <> 'alembic_version' ORDER BY relname"
        )
    ]
    parents: dict[str, set[str]] = {name: set() for name in names}
    for child, parent in conn.execute(
        "SELECT conrelid::regclass::text, confrelid::regclass::text "
        "FROM pg_constraint WHERE contype = 'f' "
        "AND connamespace = 'public'::regnamespace"
    ):
        if child != parent:
            parents[child].add(parent)
    ordered: list[str] = []
    while parents:
        ready = sorted(name for name, needs in parents.items() if needs <= {*ordered})
        ordered += ready
        for name in ready:
            del parents[name]
    return ordered


def _columns(
    conn: psycopg.Connection[tuple[str, ...]], table: str
) -> tuple[tuple[str, str], ...]:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = %s "
        "AND coalesce(identity_generation, '') <> 'ALWAYS' "
        "AND is_generated = 'NEVER' ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return tuple((name, data_type) for name, data_type in rows)


def _privileges(
    conn: psycopg.Connection[tuple[str, ...]], table: str
) -> frozenset[str]:
    verbs = ("SELECT", "INSERT", "UPDATE", "DELETE")
    return frozenset(
        verb
        for verb in verbs
        if conn.execute(
            "SELECT has_table_privilege(%s, %s, %s)", (RUNTIME_ROLE, table, verb)
        ).fetchone()
        == (True,)
    )


def sample_value(column: str, data_type: str) -> object:
    """A value the previous release could have written into ``column``."""
    if column == "tenant_id":
        return TENANT
    if column == "status":
        return "active"
    samples: dict[str, object] = {
        "text": "sample",
        "character varying": "sample",
        "uuid": SAMPLE_ID,
        "jsonb": Jsonb({}),
        "json": Jsonb({}),
        "bigint": 1,
        "integer": 1,
        "smallint": 1,
        "boolean": True,
        "bytea": b"sample",
        "timestamp with time zone": datetime.now(UTC),
    }
    if data_type not in samples:
        pytest.fail(f"add a sample value for {data_type} ({column})")
    return samples[data_type]


def exercise(runtime: str, use: ReleaseUse) -> None:
    """Write, read, update and delete through every table as the runtime role.

    Everything runs in one transaction that is rolled back, so the database
    stays empty for the next revision.
    """
    with psycopg.connect(runtime) as conn:
        conn.execute("SELECT set_config('eaf.tenant_id', %s, true)", (TENANT,))
        for table in use.tables:
            _exercise_table(conn, table)
        for table in reversed(use.tables):
            if "DELETE" in table.privileges:
                conn.execute(
                    sql.SQL("DELETE FROM {}").format(sql.Identifier(table.table))
                )
        for name, args in use.functions:
            call = sql.SQL("SELECT * FROM {}({})").format(
                sql.Identifier(name),
                sql.SQL(", ").join(
                    sql.SQL("NULL::{}").format(sql.SQL(a)) for a in args
                ),
            )
            conn.execute(call).fetchall()
        conn.rollback()


def _exercise_table(
    conn: psycopg.Connection[tuple[object, ...]], use: TableUse
) -> None:
    table = sql.Identifier(use.table)
    names = [sql.Identifier(name) for name, _ in use.columns]
    if "INSERT" in use.privileges:
        conn.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                table,
                sql.SQL(", ").join(names),
                sql.SQL(", ").join(sql.Placeholder() * len(names)),
            ),
            [sample_value(name, data_type) for name, data_type in use.columns],
        )
    if "SELECT" in use.privileges:
        rows = conn.execute(
            sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(names), table)
        ).fetchall()
        assert rows or "INSERT" not in use.privileges, f"{use.table}: row not read"
    if "UPDATE" in use.privileges:
        conn.execute(
            sql.SQL("UPDATE {} SET {} = {}").format(table, names[-1], names[-1])
        )


def test_each_revision_keeps_the_previous_release_working(empty_database: str) -> None:
    """Queries of revision N-1, as the runtime role, still work at revision N.

    A revision that declares itself a contract step is exempt: it runs only
    after the release that used what it removes is gone.
    """
    runtime = migrate.runtime_dsn(empty_database, RUNTIME_ROLE, RUNTIME_PASSWORD)
    previous: ReleaseUse | None = None
    checked = 0
    for _, revision in migrate.revision_chain():
        migrate.upgrade(empty_database, RUNTIME_ROLE, RUNTIME_PASSWORD, revision)
        is_contract = hasattr(migrate.revision_module(revision), CONTRACT_MARKER)
        if previous is not None and not is_contract:
            exercise(runtime, previous)
            checked += 1
        previous = release_use(empty_database)
        exercise(runtime, previous)

    assert previous is not None
    assert {table.table for table in previous.tables} >= {"events", "iam_users"}
    assert checked >= 1


def test_previous_release_check_catches_incompatible_change(
    empty_database: str,
) -> None:
    """The check fails when a change breaks the old queries (a NOT NULL column)."""
    runtime = migrate.runtime_dsn(empty_database, RUNTIME_ROLE, RUNTIME_PASSWORD)
    migrate.upgrade(empty_database, RUNTIME_ROLE, RUNTIME_PASSWORD)
    before = release_use(empty_database)
    with psycopg.connect(empty_database) as conn:
        conn.execute("ALTER TABLE iam_roles ADD COLUMN scope text NOT NULL")

    with pytest.raises(psycopg.errors.NotNullViolation):
        exercise(runtime, before)


def eaf_migrate(owner_dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`eaf migrate` with the owner DSN as its only setting: no NATS, no password."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("EAF_")
    }
    env.update(EAF_DATABASE_URL=owner_dsn, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "eaf", "migrate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_sql_needs_only_owner_dsn(empty_database: str) -> None:
    result = eaf_migrate(empty_database, "sql")

    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE events" in result.stdout
    assert "Running upgrade 0003 -> 0004" in result.stdout
    assert migrate.current_revision(empty_database) is None


def test_cli_sql_prints_downgrade_without_running_it(empty_database: str) -> None:
    migrate.upgrade(empty_database, RUNTIME_ROLE, RUNTIME_PASSWORD)
    head = migrate.head_revision()
    [(previous, _)] = [pair for pair in migrate.revision_chain() if pair[1] == head]
    assert previous is not None

    result = eaf_migrate(empty_database, "sql", "--downgrade-to", previous)

    assert result.returncode == 0, result.stderr
    assert f"Running downgrade {head} -> {previous}" in result.stdout
    assert "DROP TABLE" in result.stdout
    assert "Running downgrade" not in result.stdout.split(previous, 2)[-1]
    assert migrate.current_revision(empty_database) == head


def test_cli_sql_from_named_revision_skips_earlier_ones(empty_database: str) -> None:
    result = eaf_migrate(empty_database, "sql", "0003", "--from", "0002")

    assert result.returncode == 0, result.stderr
    assert "Running upgrade 0002 -> 0003" in result.stdout
    assert "CREATE TABLE events" not in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("upgrade", "--downgrade-to", "0001"),
        ("sql", "0004", "--downgrade-to", "0001"),
        ("current", "--from", "0001"),
    ],
)
def test_cli_refuses_options_that_do_not_fit(
    empty_database: str, args: tuple[str, ...]
) -> None:
    result = eaf_migrate(empty_database, *args)

    assert result.returncode == 2
    assert "error:" in result.stderr


@pytest.mark.parametrize(
    "args",
    [("sql", "9999"), ("sql", "--from", "0004", "--downgrade-to", "9999")],
)
def test_cli_reports_unknown_revision(
    empty_database: str, args: tuple[str, ...]
) -> None:
    result = eaf_migrate(empty_database, *args)

    assert result.returncode == 1
    assert "9999" in result.stderr


def test_cli_reports_unreachable_database_without_traceback() -> None:
    dsn = f"postgresql://eaf:secret-pw@127.0.0.1:{free_port()}/eaf"

    result = eaf_migrate(dsn, "sql")

    assert result.returncode == 1
    assert "cannot read the schema revision" in result.stderr
    assert "Traceback" not in result.stderr
    assert "secret-pw" not in result.stderr


def test_cli_upgrade_needs_only_owner_dsn(empty_database: str) -> None:
    result = eaf_migrate(empty_database, "upgrade")

    assert result.returncode == 0, result.stderr
    assert migrate.current_revision(empty_database) == migrate.head_revision()
