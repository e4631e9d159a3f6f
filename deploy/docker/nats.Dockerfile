# NATS server from Debian's packages, for sites without an image registry.
# Like the official nats image, the entrypoint is the server itself, so the
# Compose files pass the same arguments to either.

ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

# Debian's security archive keeps only the newest build of a package, so
# exact version pins would break rebuilds; the base image fixes the release.
# hadolint ignore=DL3008
RUN groupadd --system --gid 998 nats \
    && useradd --system --uid 998 --gid nats --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin nats \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       nats-server \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data \
    && chown nats:nats /data

USER 998:998
VOLUME ["/data"]
# client, cluster routes, monitoring
EXPOSE 4222 6222 8222
ENTRYPOINT ["nats-server"]
CMD ["--jetstream", "--store_dir=/data", "--http_port=8222"]
