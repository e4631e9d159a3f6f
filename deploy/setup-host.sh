#!/usr/bin/env bash
# Prepare a Debian/Ubuntu host to build and run EAF containers with Podman.
#
# Idempotent; run as root. Installs the container tools from the distribution
# (no Docker engine needed) and the pinned Python deploy tools into
# deploy/.venv. CI calls this script before the rehearsal and the lint tests.
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
APT_PACKAGES=(podman buildah runc netavark aardvark-dns iptables debootstrap uidmap slirp4netns
              fuse-overlayfs ca-certificates python3-venv)

log() { printf '[setup-host] %s\n' "$*"; }

install_apt_packages() {
    local missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null \
            | grep -q 'install ok installed' || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "apt packages already installed"
        return
    fi
    log "installing: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "${missing[@]}"
}

main() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup-host.sh must run as root" >&2
        exit 1
    fi
    install_apt_packages
    "$DEPLOY_DIR/tools-venv.sh"
}

main "$@"
