#!/usr/bin/env bash
# Build the wheelhouse and the EAF, PostgreSQL and NATS images with Podman.
#
# Usage: deploy/build-images.sh [VERSION[:TAG] ...]
#   e.g. deploy/build-images.sh 1.0.0:v1 2.0.0:v2
# builds localhost/eaf:v1 with EAF_VERSION=1.0.0, and so on. Without
# arguments it builds localhost/eaf:dev. The infrastructure images come from
# the local Debian base (deploy/build-base.sh); skip them with EAF_SKIP_INFRA=1.
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$DEPLOY_DIR")"
# shellcheck source=lib/podman-env.sh
source "$DEPLOY_DIR/lib/podman-env.sh"

BASE_IMAGE="${EAF_BASE_IMAGE:-localhost/eaf-base:bookworm}"
EAF_IMAGE_REPO="${EAF_IMAGE_REPO:-localhost/eaf}"
WORK_DIR="$DEPLOY_DIR/.work"
WHEELHOUSE="$WORK_DIR/wheelhouse"
PYTHON="${EAF_BUILD_PYTHON:-python3}"

build_wheelhouse() {
    # Build from a copy so that setuptools leaves no build/ or egg-info
    # behind in the working tree.
    local src="$WORK_DIR/src-copy"
    rm -rf "$src" "$WHEELHOUSE"
    mkdir -p "$src" "$WHEELHOUSE"
    tar -C "$REPO_DIR" --exclude='*.egg-info' --exclude='__pycache__' \
        -cf - pyproject.toml constraints.txt README.md src | tar -C "$src" -xf -
    "$PYTHON" -m pip wheel --quiet --disable-pip-version-check \
        -c "$REPO_DIR/constraints.txt" -w "$WHEELHOUSE" "$src" 2>&1 \
        | grep -v "^WARNING: Location 'file:" || true
    ls "$WHEELHOUSE"/eaf-*.whl > /dev/null
}

revision() {
    git -C "$REPO_DIR" rev-parse --short=12 HEAD 2>/dev/null || echo unknown
}

build_eaf_image() {
    local version="$1" tag="$2"
    # No network: the wheelhouse must hold everything the image needs.
    podman build --quiet --layers --format docker --network none \
        --file "$DEPLOY_DIR/docker/Dockerfile" \
        --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        --build-arg "WHEELHOUSE=deploy/.work/wheelhouse" \
        --build-arg "EAF_VERSION=$version" \
        --build-arg "EAF_REVISION=$(revision)" \
        --tag "$EAF_IMAGE_REPO:$tag" "$REPO_DIR" > /dev/null
    echo "[build-images] $EAF_IMAGE_REPO:$tag (EAF_VERSION=$version)"
}

build_infra_image() {
    local name="$1"
    # apt-get runs in the host's network namespace: containers on a bridge
    # may not reach the host's resolver.
    podman build --quiet --layers --format docker --network host \
        --file "$DEPLOY_DIR/docker/$name.Dockerfile" \
        --build-arg "BASE_IMAGE=$BASE_IMAGE" \
        --tag "localhost/eaf-$name:bookworm" "$DEPLOY_DIR/docker" > /dev/null
    echo "[build-images] localhost/eaf-$name:bookworm"
}

main() {
    local specs=("$@")
    [ "${#specs[@]}" -gt 0 ] || specs=("0.0.0-dev:dev")
    if [ "${EAF_SKIP_INFRA:-0}" != 1 ]; then
        build_infra_image postgres
        build_infra_image nats
        build_infra_image proxy
    fi
    if [ "${EAF_SKIP_WHEELS:-0}" != 1 ]; then
        build_wheelhouse
    fi
    for spec in "${specs[@]}"; do
        build_eaf_image "${spec%%:*}" "${spec#*:}"
    done
}

main "$@"
