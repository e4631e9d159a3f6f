#!/usr/bin/env bash
# Build the local Debian base image (default localhost/eaf-base:bookworm)
# with debootstrap, for hosts that reach a Debian mirror but no image registry.
#
# The rootfs tarball is cached under EAF_CACHE_DIR, keyed on a hash of this
# script and its inputs, so the slow debootstrap runs once per host; the image
# is re-imported from the tarball only when the store lost it.
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/podman-env.sh
source "$DEPLOY_DIR/lib/podman-env.sh"

SUITE="${EAF_BASE_SUITE:-bookworm}"
IMAGE="${EAF_BASE_IMAGE:-localhost/eaf-base:$SUITE}"
CACHE_DIR="${EAF_CACHE_DIR:-/var/cache/eaf-rehearsal}"
PACKAGES="python3,python3-venv,ca-certificates"

find_mirror() {
    # First Debian archive URI of the host's apt sources (not -security).
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | grep -E '^(deb|URIs:)[[:space:]]' | grep -v security \
        | grep -oE 'https?://[^ ]+/debian/?' | head -n1 || true
}

MIRROR="${EAF_DEBIAN_MIRROR:-$(find_mirror)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
KEY="$( { cat "$0"; echo "$SUITE $PACKAGES $MIRROR"; } | sha256sum | cut -c1-16)"
TARBALL="$CACHE_DIR/eaf-base-$SUITE-$KEY.tar"

image_key() {
    podman image inspect --format '{{ index .Labels "org.eaf.base.key" }}' \
        "$IMAGE" 2>/dev/null || true
}

make_tarball() {
    local rootfs
    rootfs="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
    echo "[build-base] debootstrap $SUITE from $MIRROR"
    debootstrap --variant=minbase --include="$PACKAGES" \
        "$SUITE" "$rootfs" "$MIRROR" > "$CACHE_DIR/debootstrap.log"
    # Keep the image small: no package cache, no apt lists, no docs.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
    tar --numeric-owner -C "$rootfs" -cf "$TARBALL.tmp" .
    mv "$TARBALL.tmp" "$TARBALL"
    rm -rf "$rootfs"
    # Drop tarballs of older keys.
    find "$CACHE_DIR" -maxdepth 1 -name "eaf-base-$SUITE-*.tar" \
        ! -name "${TARBALL##*/}" -delete
}

main() {
    mkdir -p "$CACHE_DIR"
    if [ "$(image_key)" = "$KEY" ]; then
        echo "[build-base] $IMAGE is current (key $KEY)"
        return
    fi
    [ -f "$TARBALL" ] || make_tarball
    echo "[build-base] importing $TARBALL as $IMAGE"
    podman import --quiet \
        --change "LABEL org.eaf.base.key=$KEY" \
        --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        --change "ENV LANG=C.UTF-8" \
        --change 'CMD ["/bin/bash"]' \
        "$TARBALL" "$IMAGE" > /dev/null
}

main "$@"
