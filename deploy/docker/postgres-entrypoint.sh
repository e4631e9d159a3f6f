#!/bin/sh
# Initialise PGDATA on first start, then run the server in the foreground.
set -eu

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
fi

init_cluster() {
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "postgres: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE" >&2
        exit 1
    fi
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 > /dev/null
    rm -f "$pwfile"
    # Containers on the Compose network connect over TCP with a password.
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != "postgres" ]; then
        pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" \
            --wait --silent start
        # psql expands :"db" (a quoted identifier) only in script input.
        echo 'CREATE DATABASE :"db";' | psql --username="$POSTGRES_USER" \
            --dbname=postgres --quiet --set=ON_ERROR_STOP=1 \
            --set=db="$POSTGRES_DB" > /dev/null
        pg_ctl --pgdata="$PGDATA" --wait --silent stop
    fi
    echo "postgres: initialised $PGDATA"
}

if [ "${1:-postgres}" = "postgres" ]; then
    [ -s "$PGDATA/PG_VERSION" ] || init_cluster
    [ "$#" -gt 0 ] && shift
    exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
fi
exec "$@"
