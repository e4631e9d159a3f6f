# HAProxy from Debian's packages, for sites without an image registry. The
# configuration path matches the official haproxy image, so the Compose file
# mounts the same file into either.

ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

# Debian's security archive keeps only the newest build of a package, so
# exact version pins would break rebuilds; the base image fixes the release.
# hadolint ignore=DL3008
RUN groupadd --system --gid 997 haproxy \
    && useradd --system --uid 997 --gid haproxy --home-dir /var/lib/haproxy \
       --no-create-home --shell /usr/sbin/nologin haproxy \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       haproxy \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /usr/local/etc/haproxy

USER 997:997
EXPOSE 8080 9180
STOPSIGNAL SIGUSR1
ENTRYPOINT ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
