# PostgreSQL 15 from Debian's packages, for sites without an image registry.
# It accepts the environment of the official postgres image (POSTGRES_USER,
# POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, POSTGRES_DB, PGDATA), so the
# Compose files can use either.

ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

# uid/gid 999 as in the official image, so data volumes move between both.
# Debian's security archive keeps only the newest build of a package, so
# exact version pins would break rebuilds; the base image fixes the release.
# The package must not create a cluster of its own.
# hadolint ignore=DL3008
RUN groupadd --system --gid 999 postgres \
    && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql \
       --shell /bin/sh postgres \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       postgresql-common \
    && echo "create_main_cluster = false" >> /etc/postgresql-common/createcluster.conf \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql \
    && chmod 700 /var/lib/postgresql/data

COPY --chmod=755 postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh

ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8

USER 999:999
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=5 \
    CMD ["pg_isready", "--host=127.0.0.1", "--quiet"]
ENTRYPOINT ["postgres-entrypoint.sh"]
CMD ["postgres"]
