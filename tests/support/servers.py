"""Real PostgreSQL and NATS for the test suite.

By default the suite starts embedded servers of its own; with
``EAF_TEST_DATABASE_URL`` and ``EAF_TEST_NATS_URL`` it uses external ones. Each
test that needs isolation gets a database cloned from a migrated template and a
JetStream stream and subject prefix of its own.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from eaf.db import migrate

RUNTIME_ROLE = "eaf_app"
RUNTIME_PASSWORD = "eaf-test-runtime"  # noqa: S105 - a throwaway test role


@dataclass
class Servers:
    admin_dsn: str
    nats_url: str
    embedded: object | None = None

    def dsn_for(self, dbname: str) -> str:
        params = conninfo_to_dict(self.admin_dsn)
        params["dbname"] = dbname
        return make_conninfo("", **params)


@dataclass(frozen=True)
class ClonedDatabase:
    name: str
    owner_dsn: str
    runtime_dsn: str


def start_servers(tmp: Path) -> Servers:
    database_url = os.environ.get("EAF_TEST_DATABASE_URL")
    nats_url = os.environ.get("EAF_TEST_NATS_URL")
    if database_url and nats_url:
        return Servers(admin_dsn=database_url, nats_url=nats_url)
    from eaf.runtime.embedded import EmbeddedNats, EmbeddedPostgres

    postgres = EmbeddedPostgres(tmp / "pg", database="postgres")
    postgres.start()
    nats = EmbeddedNats(tmp / "nats")
    nats.start()
    return Servers(
        admin_dsn=database_url or postgres.admin_url,
        nats_url=nats_url or nats.url,
        embedded=(postgres, nats),
    )


def stop_servers(servers: Servers) -> None:
    if servers.embedded is not None:
        postgres, nats = servers.embedded  # type: ignore[misc]
        nats.stop()
        postgres.stop()


def create_template(servers: Servers) -> str:
    name = f"eaf_tmpl_{uuid.uuid4().hex[:10]}"
    _create_database(servers, name)
    migrate.upgrade(servers.dsn_for(name), RUNTIME_ROLE, RUNTIME_PASSWORD)
    return name


def clone_database(servers: Servers, template: str) -> ClonedDatabase:
    name = f"eaf_t_{uuid.uuid4().hex[:12]}"
    _create_database(servers, name, template=template)
    owner_dsn = servers.dsn_for(name)
    return ClonedDatabase(
        name=name,
        owner_dsn=owner_dsn,
        runtime_dsn=migrate.runtime_dsn(owner_dsn, RUNTIME_ROLE, RUNTIME_PASSWORD),
    )


def drop_database(servers: Servers, name: str) -> None:
    with psycopg.connect(servers.admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )


def _create_database(servers: Servers, name: str, template: str | None = None) -> None:
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        statement = sql.SQL("{} TEMPLATE {}").format(
            statement, sql.Identifier(template)
        )
    with psycopg.connect(servers.admin_dsn, autocommit=True) as conn:
        conn.execute(statement)
