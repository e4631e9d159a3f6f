#!/usr/bin/env bash
# Build the air-gapped installation bundle of EAF: one .tar.gz holding the
# wheelhouse, the EAF image and the infrastructure images as tars, the Compose
# files, the Ansible playbooks, roles and inventories, the smoke test, the
# certificate script, the operations guide, INSTALL.md and a SHA256SUMS
# manifest of every file. A site with no internet installs from it alone.
#
# Usage: deploy/bundle.sh [options]
#   --version V        version in the bundle's name (default: the EAF image's
#                      org.opencontainers.image.version label, else 0.0.0-dev)
#   --name NAME        top folder and archive name (default eaf-bundle-V)
#   --eaf-image REF    EAF image to ship (default $EAF_IMAGE or localhost/eaf:latest)
#   --image REF        an infrastructure image; repeat it. Without it: the
#                      locally built postgres, nats and proxy images that
#                      compose.prod.yml uses by default
#   --wheelhouse DIR   wheels that install eaf with --no-index
#                      (default deploy/.work/wheelhouse)
#   --output DIR       where the archive goes (default deploy/.work/bundle)
#   --engine CMD       image CLI with a "save" command: podman (default) or docker
#   --no-wheel-check   skip the offline resolve of eaf from the wheelhouse
#   --list             print the paths the bundle will hold, save nothing
#
# EAF_BUNDLE_GZIP_LEVEL (1-9, default 6) trades archive size for time.
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$DEPLOY_DIR")"
DEFAULT_INFRA_IMAGES=(
    localhost/eaf-postgres:bookworm
    localhost/eaf-nats:bookworm
    localhost/eaf-proxy:bookworm
)

VERSION=""
NAME=""
EAF_IMAGE_REF="${EAF_IMAGE:-localhost/eaf:latest}"
INFRA_IMAGES=()
WHEELHOUSE="$DEPLOY_DIR/.work/wheelhouse"
OUTPUT="$DEPLOY_DIR/.work/bundle"
ENGINE="${EAF_BUNDLE_ENGINE:-podman}"
CHECK_WHEELS=1
MODE=build
GZIP_LEVEL="${EAF_BUNDLE_GZIP_LEVEL:-6}"

fail() {
    echo "bundle.sh: $*" >&2
    exit 2
}

log() { printf '[bundle] %s\n' "$*"; }

parse_args() {
    while [ "$#" -gt 0 ]; do
        case "$1" in
            --version) VERSION="${2:?--version needs a value}"; shift ;;
            --name) NAME="${2:?--name needs a value}"; shift ;;
            --eaf-image) EAF_IMAGE_REF="${2:?--eaf-image needs a value}"; shift ;;
            --image) INFRA_IMAGES+=("${2:?--image needs a value}"); shift ;;
            --wheelhouse) WHEELHOUSE="${2:?--wheelhouse needs a value}"; shift ;;
            --output) OUTPUT="${2:?--output needs a value}"; shift ;;
            --engine) ENGINE="${2:?--engine needs a value}"; shift ;;
            --no-wheel-check) CHECK_WHEELS=0 ;;
            --list) MODE=list ;;
            -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
            *) fail "unknown argument: $1 (see --help)" ;;
        esac
        shift
    done
    [ "${#INFRA_IMAGES[@]}" -gt 0 ] || INFRA_IMAGES=("${DEFAULT_INFRA_IMAGES[@]}")
    [[ "$GZIP_LEVEL" =~ ^[1-9]$ ]] || fail "EAF_BUNDLE_GZIP_LEVEL must be 1-9"
    local ref
    for ref in "$EAF_IMAGE_REF" "${INFRA_IMAGES[@]}"; do
        image_file "$ref" > /dev/null
    done
    wheel_files > /dev/null
}

# --- what goes in -------------------------------------------------------------

# "repository path<TAB>bundle path" of every file copied as it is. Site
# secrets never go in: no config/, tls/ or vault files, and not the
# rehearsal inventory, which only serves deploy/rehearse.sh.
source_files() {
    local path
    (
        cd "$REPO_DIR"
        find deploy/ansible -type f \
            ! -path 'deploy/ansible/inventories/rehearsal/*' \
            ! -path '*/tls/*' ! -name 'vault*.yml' ! -name '*.retry' \
            ! -path '*/__pycache__/*'
        find deploy/compose -type f \
            \( -name 'compose.*.yml' -o -path 'deploy/compose/config.example/*' \
            -o -path 'deploy/compose/haproxy/*' -o -path 'deploy/compose/nats/*' \)
        find deploy/docker -type f
        printf '%s\n' deploy/smoke.py deploy/make-certs.sh constraints.txt \
            docs/operations.md .dockerignore
    ) | LC_ALL=C sort | while read -r path; do
        case "$path" in
            deploy/*) printf '%s\t%s\n' "$path" "${path#deploy/}" ;;
            *) printf '%s\t%s\n' "$path" "$path" ;;
        esac
    done
}

# File name of an image's tar: the last path part, ":" made "_".
image_file() {
    local ref="$1" name
    case "$ref" in
        *@*) fail "give $ref by tag, not by digest: a saved digest loses its name" ;;
    esac
    name="${ref##*/}"
    [[ "$name" == *:* ]] || name="$name:latest"
    printf 'images/%s.tar' "${name//:/_}"
}

wheel_files() {
    compgen -G "$WHEELHOUSE/eaf-*.whl" > /dev/null \
        || fail "no eaf wheel in $WHEELHOUSE: pip wheel . -c constraints.txt -w $WHEELHOUSE"
    find "$WHEELHOUSE" -maxdepth 1 -type f \( -name '*.whl' -o -name '*.tar.gz' \) \
        -printf '%f\n' | LC_ALL=C sort
}

bundle_paths() {
    local ref
    {
        printf '%s\n' INSTALL.md SHA256SUMS images/IMAGES
        source_files | cut -f2
        for ref in "$EAF_IMAGE_REF" "${INFRA_IMAGES[@]}"; do
            image_file "$ref"
            echo
        done
        wheel_files | sed 's|^|wheelhouse/|'
    } | LC_ALL=C sort
}

# --- building -----------------------------------------------------------------

default_version() {
    local label
    label="$("$ENGINE" image inspect --format \
        '{{ index .Config.Labels "org.opencontainers.image.version" }}' \
        "$EAF_IMAGE_REF" 2>/dev/null || true)"
    [ -n "$label" ] && [ "$label" != "<no value>" ] && echo "$label" || echo 0.0.0-dev
}

copy_sources() {
    local stage="$1" from to
    while IFS=$'\t' read -r from to; do
        mkdir -p "$stage/$(dirname "$to")"
        cp -p "$REPO_DIR/$from" "$stage/$to"
    done < <(source_files)
}

copy_wheels() {
    local stage="$1" wheel
    mkdir -p "$stage/wheelhouse"
    while read -r wheel; do
        cp -p "$WHEELHOUSE/$wheel" "$stage/wheelhouse/"
    done < <(wheel_files)
    [ "$CHECK_WHEELS" = 1 ] || return 0
    # Resolve eaf and every dependency from the wheelhouse alone, as a site
    # without an index would.
    local target
    target="$(mktemp -d)"
    python3 -m pip install --quiet --disable-pip-version-check --dry-run \
        --ignore-installed --no-index --find-links "$stage/wheelhouse" \
        --target "$target" eaf \
        || fail "the wheelhouse does not install eaf offline (--no-wheel-check skips this)"
    rm -rf "$target"
}

save_images() {
    local stage="$1" ref file
    local format=()
    [ "$(basename "${ENGINE%% *}")" != podman ] || format=(--format docker-archive)
    mkdir -p "$stage/images"
    : > "$stage/images/IMAGES"
    for ref in "$EAF_IMAGE_REF" "${INFRA_IMAGES[@]}"; do
        file="$(image_file "$ref")"
        log "saving $ref as $file"
        # shellcheck disable=SC2086  # the engine may be a command with options
        $ENGINE save "${format[@]}" -o "$stage/$file" "$ref" > /dev/null
        printf '%s\t%s\n' "${file#images/}" "$ref" >> "$stage/images/IMAGES"
    done
}

write_install() {
    local stage="$1" images
    # shellcheck disable=SC2016  # the backticks are Markdown, not a command
    images="$(awk -F'\t' '{ printf "| `images/%s` | `%s` |\n", $1, $2 }' \
        "$stage/images/IMAGES")"
    {
        sed -e "s|@VERSION@|$VERSION|g" -e "s|@NAME@|$NAME|g" \
            -e "s|@EAF_IMAGE@|$EAF_IMAGE_REF|g" "$DEPLOY_DIR/bundle/INSTALL.md.in" \
            | awk -v images="$images" '$0 == "@IMAGES@" { print images; next } { print }'
    } > "$stage/INSTALL.md"
}

write_manifest() {
    local stage="$1"
    (
        cd "$stage"
        find . -type f -printf '%P\n' | LC_ALL=C sort \
            | xargs -d '\n' sha256sum > ../SHA256SUMS.tmp
    )
    mv "$stage/../SHA256SUMS.tmp" "$stage/SHA256SUMS"
}

build() {
    local stage="$OUTPUT/$NAME" archive="$OUTPUT/$NAME.tar.gz"
    rm -rf "$stage" "$archive" "$archive.sha256"
    mkdir -p "$stage"
    copy_sources "$stage"
    copy_wheels "$stage"
    save_images "$stage"
    write_install "$stage"
    write_manifest "$stage"
    # What was built must be what --list promises.
    diff <(cd "$stage" && find . -type f -printf '%P\n' | LC_ALL=C sort) \
        <(bundle_paths) > /dev/null || fail "bundle content differs from --list"
    log "packing $archive"
    tar -C "$OUTPUT" --owner=0 --group=0 --numeric-owner -cf - "$NAME" \
        | gzip "-$GZIP_LEVEL" > "$archive.tmp"
    mv "$archive.tmp" "$archive"
    (cd "$OUTPUT" && sha256sum "$NAME.tar.gz" > "$NAME.tar.gz.sha256")
    rm -rf "$stage"
    log "$archive ($(du -h "$archive" | cut -f1))"
}

main() {
    parse_args "$@"
    if [ "$MODE" = list ]; then
        bundle_paths
        return
    fi
    [ -n "$VERSION" ] || VERSION="$(default_version)"
    [ -n "$NAME" ] || NAME="eaf-bundle-$VERSION"
    [[ "$NAME" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || fail "unusable bundle name: $NAME"
    mkdir -p "$OUTPUT"
    OUTPUT="$(cd "$OUTPUT" && pwd)"
    build
}

main "$@"
