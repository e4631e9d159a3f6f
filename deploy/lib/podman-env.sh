# shellcheck shell=bash
# Source this file to point podman, buildah and podman-compose at the EAF
# engine settings and an overlay store of their own.
#
#   EAF_PODMAN_ROOT     image and container store (default /var/lib/eaf-rehearsal)
#   EAF_PODMAN_RUNROOT  runtime state (default /run/eaf-rehearsal)

_eaf_deploy_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EAF_PODMAN_ROOT="${EAF_PODMAN_ROOT:-/var/lib/eaf-rehearsal}"
EAF_PODMAN_RUNROOT="${EAF_PODMAN_RUNROOT:-/run/eaf-rehearsal}"
mkdir -p "$EAF_PODMAN_ROOT/storage" "$EAF_PODMAN_RUNROOT"

cat > "$EAF_PODMAN_ROOT/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$EAF_PODMAN_ROOT/storage"
runroot = "$EAF_PODMAN_RUNROOT"
CONF

export CONTAINERS_CONF="$_eaf_deploy_dir/podman/containers.conf"
export CONTAINERS_STORAGE_CONF="$EAF_PODMAN_ROOT/storage.conf"
export EAF_PODMAN_ROOT EAF_PODMAN_RUNROOT
unset _eaf_deploy_dir
