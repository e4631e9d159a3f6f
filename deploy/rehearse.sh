#!/usr/bin/env bash
# Rehearse a production-like EAF deployment on this machine, end to end:
# host tools, base and service images, the air-gapped bundle (built,
# unpacked, checked, its images loaded), install from the unpacked bundle
# with Ansible, smoke test, rolling upgrade v1 -> v2, a NATS node killed under
# write load, rollback with a schema downgrade, teardown. Runs as root;
# everything listens on 127.0.0.1 only.
#
#   deploy/rehearse.sh              full rehearsal
#   EAF_REHEARSAL_KEEP=1 ...        leave the stack running at the end
#   EAF_REHEARSAL_MAX_FAILED=N      requests allowed to fail while the
#                                   services are replaced (default 4)
#
# Each step prints its elapsed time; a summary follows at the end. Whatever
# happens, the trap takes the stack down again.
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="${EAF_REHEARSAL_DIR:-$DEPLOY_DIR/.work/rehearsal}"
VENV="$DEPLOY_DIR/.venv"
# Until the bundle is unpacked; from then on its copies are used.
ANSIBLE_DIR="$DEPLOY_DIR/ansible"
SMOKE_SCRIPT="$DEPLOY_DIR/smoke.py"

export EAF_REHEARSAL_DIR="$WORK"
export EAF_REHEARSAL_PROJECT="${EAF_REHEARSAL_PROJECT:-eafrehearsal}"
export EAF_REHEARSAL_HTTPS_PORT="${EAF_REHEARSAL_HTTPS_PORT:-18443}"
export EAF_REHEARSAL_METRICS_PORT="${EAF_REHEARSAL_METRICS_PORT:-19180}"
export EAF_REHEARSAL_COMPOSE="$VENV/bin/podman-compose"
export ANSIBLE_CONFIG="$ANSIBLE_DIR/ansible.cfg"
export ANSIBLE_FORCE_COLOR=0
export PYTHONUNBUFFERED=1

URL="https://127.0.0.1:$EAF_REHEARSAL_HTTPS_PORT"
INVENTORY="$ANSIBLE_DIR/inventories/rehearsal/hosts.yml"
PROJECT_DIR="$WORK/project"
SITE_DIR="$WORK/site"
V1_VERSION="${EAF_REHEARSAL_V1:-1.0.0}"
V2_VERSION="${EAF_REHEARSAL_V2:-2.0.0}"
# Requests (GETs, two a second, about 160 per upgrade or rollback) allowed to
# go unanswered while services are replaced. Across four runs, each replaced
# HTTP replica (iam-1/2, licensing-1/2) cost at most one request, answered
# by the entry with a closed connection ("Remote end closed connection
# without response") and never more than two per phase. Four, one per
# replica, allows that and still fails a real gap in service, which costs
# several requests in a row.
# TODO: remove the allowance. HAProxy's on-marked-down shutdown-sessions
# cutting a request in flight to a replica that is stopping is the main
# suspect; draining the replica through HAProxy's runtime API before it
# stops would avoid it.
MAX_FAILED="${EAF_REHEARSAL_MAX_FAILED:-4}"
BUDGET_S=$((25 * 60))

START_S=$SECONDS
STEP_NAMES=()
STEP_TIMES=()
STEP_RESULTS=()
CURRENT_STEP=""
STEP_START=0
LOAD_PID=""
LAST_LOG=""

# --- reporting ------------------------------------------------------------------

step() {
    finish_step ok
    CURRENT_STEP="$1"
    STEP_START=$SECONDS
    printf '\n==> [%4ds] %s\n' "$((SECONDS - START_S))" "$CURRENT_STEP"
}

finish_step() {
    [ -n "$CURRENT_STEP" ] || return 0
    local took=$((SECONDS - STEP_START))
    STEP_NAMES+=("$CURRENT_STEP")
    STEP_TIMES+=("$took")
    STEP_RESULTS+=("$1")
    printf '<== %s: %s in %ds\n' "$CURRENT_STEP" "$1" "$took"
    CURRENT_STEP=""
}

summary() {
    printf '\n%-66s %8s  %s\n' "step" "seconds" "result"
    local i
    for i in "${!STEP_NAMES[@]}"; do
        printf '%-66s %8d  %s\n' "${STEP_NAMES[$i]}" "${STEP_TIMES[$i]}" \
            "${STEP_RESULTS[$i]}"
    done
    printf '%-66s %8d\n' "total" "$((SECONDS - START_S))"
}

# --- teardown -----------------------------------------------------------------

compose() {
    (cd "$PROJECT_DIR" && "$EAF_REHEARSAL_COMPOSE" -f compose.yml "$@")
}

teardown() {
    local rc=$?
    [ -n "$CURRENT_STEP" ] && finish_step "FAILED (exit $rc)"
    [ "$rc" -eq 0 ] || collect_logs
    if [ -n "$LOAD_PID" ] && kill -0 "$LOAD_PID" 2>/dev/null; then
        kill "$LOAD_PID" 2>/dev/null || true
    fi
    if [ "${EAF_REHEARSAL_KEEP:-0}" = 1 ]; then
        echo "EAF_REHEARSAL_KEEP=1: the stack stays up ($URL)"
    else
        CURRENT_STEP="teardown"
        STEP_START=$SECONDS
        remove_stack
        finish_step ok
    fi
    summary
    if [ $((SECONDS - START_S)) -gt "$BUDGET_S" ]; then
        echo "rehearsal took longer than the budget of ${BUDGET_S}s" >&2
        [ "$rc" -ne 0 ] || rc=1
    fi
    exit "$rc"
}

# Keep every container's log and state for the post-mortem; print the tail
# of the ones that are not running or not healthy.
collect_logs() {
    local dir="$WORK/logs" name status health
    mkdir -p "$dir"
    while read -r name; do
        [ -n "$name" ] || continue
        status="$(podman inspect --format '{{.State.Status}}' "$name" 2>/dev/null || true)"
        podman logs "$name" < /dev/null > "$dir/$name.log" 2>&1 || true
        podman inspect "$name" < /dev/null > "$dir/$name.json" 2>/dev/null || true
        # 1: unhealthy; 125: no health check (the workers).
        health=0
        # Podman reads stdin here: without </dev/null it swallows the rest of
        # the container list and only the first container's log is kept.
        podman healthcheck run "$name" < /dev/null > /dev/null 2>&1 || health=$?
        if [ "$status" != running ] || [ "$health" -eq 1 ]; then
            echo "--- $name ($status), last lines of its log:"
            tail -n 15 "$dir/$name.log"
        fi
    done < <(podman ps -a --format '{{.Names}}' \
        --filter "label=com.docker.compose.project=$EAF_REHEARSAL_PROJECT")
    echo "container logs kept in $dir"
}

remove_stack() {
    if [ -f "$PROJECT_DIR/compose.yml" ]; then
        compose down -v -t 10 > "$WORK/down.log" 2>&1 || true
    fi
    # Whatever compose left behind, found by this project's label only.
    local label="label=com.docker.compose.project=$EAF_REHEARSAL_PROJECT"
    local ids
    mapfile -t ids < <(podman container ls -a -q --filter "$label")
    [ "${#ids[@]}" -eq 0 ] || podman container rm -f "${ids[@]}" > /dev/null
    mapfile -t ids < <(podman volume ls -q --filter "$label")
    [ "${#ids[@]}" -eq 0 ] || podman volume rm -f "${ids[@]}" > /dev/null
    mapfile -t ids < <(podman network ls -q --filter "$label")
    [ "${#ids[@]}" -eq 0 ] || podman network rm -f "${ids[@]}" > /dev/null
    rm -rf "$PROJECT_DIR" "$SITE_DIR" "$WORK/bundle"
}

# --- helpers ------------------------------------------------------------------

playbook() {
    local name="$1"
    shift
    LAST_LOG="$WORK/ansible-${name%.yml}-$((SECONDS - START_S)).log"
    "$VENV/bin/ansible-playbook" -i "$INVENTORY" "$ANSIBLE_DIR/$name" "$@" \
        | tee "$LAST_LOG"
}

smoke() {
    python3 "$SMOKE_SCRIPT" "$@" --url "$URL" --ca-file "$WORK/tls/ca.crt" \
        --admin-password-file "$WORK/admin_password"
}

# Run a command while smoke.py watches IAM and Licensing through the entry;
# fail when more than MAX_FAILED requests went unanswered meanwhile.
with_watch() {
    local label="$1"
    shift
    rm -f "$WORK/watch.stop"
    smoke watch --stop-file "$WORK/watch.stop" --max-seconds 900 \
        --max-failed "$MAX_FAILED" > "$WORK/watch-$label.log" 2>&1 &
    local watch_pid=$! rc=0 watch_rc=0
    "$@" || rc=$?
    touch "$WORK/watch.stop"
    wait "$watch_pid" || watch_rc=$?
    echo "availability during $label: $(cat "$WORK/watch-$label.log")"
    [ "$rc" -eq 0 ] || return "$rc"
    if [ "$watch_rc" -ne 0 ]; then
        echo "more than $MAX_FAILED requests failed during $label" >&2
        return 1
    fi
}

# The air-gapped path: build the bundle with v1, unpack it into a fresh
# folder, check every file against SHA256SUMS, drop v1 from the store and
# load every image from the bundle's tars. The playbooks and the smoke test
# then run from the unpacked copy.
install_bundle() {
    local name="eaf-bundle-$V1_VERSION" site label
    EAF_BUNDLE_GZIP_LEVEL=1 "$DEPLOY_DIR/bundle.sh" --version "$V1_VERSION" \
        --eaf-image localhost/eaf:v1 --output "$WORK/bundle"
    rm -rf "$SITE_DIR"
    mkdir -p "$SITE_DIR"
    tar -C "$SITE_DIR" -xzf "$WORK/bundle/$name.tar.gz"
    site="$SITE_DIR/$name"
    (cd "$site" && sha256sum -c --quiet SHA256SUMS)
    echo "all $(wc -l < "$site/SHA256SUMS") files match SHA256SUMS"
    podman rmi localhost/eaf:v1 > /dev/null
    if podman image exists localhost/eaf:v1; then
        echo "localhost/eaf:v1 still present after podman rmi" >&2
        return 1
    fi
    local tar
    for tar in "$site"/images/*.tar; do
        podman load --quiet --input "$tar"
    done
    label="$(podman image inspect --format \
        '{{ index .Config.Labels "org.opencontainers.image.version" }}' localhost/eaf:v1)"
    [ "$label" = "$V1_VERSION" ] || { echo "loaded v1 labelled $label" >&2; return 1; }
    echo "localhost/eaf:v1 loaded from the bundle (version label $label)"
    rm -rf "$WORK/bundle"
    ANSIBLE_DIR="$site/ansible"
    SMOKE_SCRIPT="$site/smoke.py"
    export ANSIBLE_CONFIG="$ANSIBLE_DIR/ansible.cfg"
}

# Head revision of the newer image's migrations, read from the image alone.
head_revision() {
    podman run --rm --network none --entrypoint python3 "$1" -c \
        'from eaf.db import migrate; print(migrate.head_revision())'
}

container_of() {
    podman ps -a --format '{{.Names}}' \
        --filter "label=com.docker.compose.project=$EAF_REHEARSAL_PROJECT" \
        --filter "label=com.docker.compose.service=$1" | head -n1
}

wait_healthy() {
    local name="$1" tries="${2:-60}"
    until podman healthcheck run "$name" > /dev/null 2>&1; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || { echo "$name not healthy" >&2; return 1; }
        sleep 2
    done
}

make_secrets() {
    umask 077
    mkdir -p "$WORK"
    local name
    for name in owner runtime admin secret; do
        # Hex: 48 characters that can never spell "dev" or "example", which
        # the staging and production profiles refuse as development values.
        python3 -c 'import secrets; print(secrets.token_hex(24))' \
            > "$WORK/${name}_password"
    done
    EAF_REHEARSAL_OWNER_PASSWORD="$(cat "$WORK/owner_password")"
    EAF_REHEARSAL_RUNTIME_PASSWORD="$(cat "$WORK/runtime_password")"
    EAF_REHEARSAL_ADMIN_PASSWORD="$(cat "$WORK/admin_password")"
    EAF_REHEARSAL_SECRET_KEY="$(cat "$WORK/secret_password")"
    export EAF_REHEARSAL_OWNER_PASSWORD EAF_REHEARSAL_RUNTIME_PASSWORD \
        EAF_REHEARSAL_ADMIN_PASSWORD EAF_REHEARSAL_SECRET_KEY
}

# Stream state of every NATS node from its monitoring port (not published:
# read from inside the container). A node that was down catches up from the
# others: wait up to two minutes until every replica holds the same messages
# and the stream leader reports every peer as current. A replica that makes
# no progress fails the step, with the lagging node's log in the output.
check_streams() {
    local deadline=$((SECONDS + 120)) out last=""
    until out="$(compare_replicas 2>&1)"; do
        # Print a changed picture only: one line per poll drowns the log.
        [ "$out" = "$last" ] || echo "$out"
        last="$out"
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "stream replicas still disagree after 120s" >&2
            nats_diagnostics
            return 1
        fi
        sleep 2
    done
    echo "$out"
    # Every committed event reaches the stream exactly once (the relay's
    # message ids and the duplicate window): stream size == events rows.
    local events stream
    events="$(podman exec "$(container_of postgres)" \
        psql --username=eaf --dbname=eaf -Atc 'SELECT count(*) FROM events' < /dev/null)"
    stream="$(python3 -c 'import json, sys
data = json.load(open(sys.argv[1]))
print(sum(s["state"]["messages"] for a in data.get("account_details", [])
          for s in a.get("stream_detail", [])))' "$WORK/jsz-nats-1.json")"
    echo "events in PostgreSQL: $events, messages in JetStream: $stream"
    [ "$events" = "$stream" ] || { echo "stream and event store differ" >&2; return 1; }
}

compare_replicas() {
    local node out
    for node in nats-1 nats-2 nats-3; do
        out="$(podman exec "$(container_of "$node")" python3 -c \
            "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8222/jsz?streams=true&consumers=false', timeout=5).read().decode())" \
            < /dev/null)" || return 1
        echo "$out" > "$WORK/jsz-$node.json"
    done
    python3 - "$WORK"/jsz-nats-*.json <<'PY'
import json, sys
seen, behind = {}, []
for path in sys.argv[1:]:
    node = path.rsplit("/", 1)[-1][len("jsz-"):-len(".json")]
    data = json.load(open(path))
    streams = {}
    for account in data.get("account_details", []):
        for stream in account.get("stream_detail", []):
            state = stream["state"]
            streams[stream["name"]] = (state["messages"], state["last_seq"])
            cluster = stream.get("cluster") or {}
            # Only the stream leader knows whether its followers are current.
            if cluster.get("leader") == node:
                behind += [f"{stream['name']}@{peer['name']}"
                           for peer in cluster.get("replicas", [])
                           if not peer.get("current")]
    seen[node] = streams
print("streams per node:", seen, "not current on the leader:", behind or "none")
values = list(seen.values())
if not any(values):
    sys.exit("no stream found on any node")
if any(v != values[0] for v in values) or behind:
    sys.exit("replicas disagree")
PY
}

# The JetStream warnings and errors of every node, for the post-mortem of a
# replica that did not catch up (collect_logs keeps the full logs).
nats_diagnostics() {
    local node
    for node in nats-1 nats-2 nats-3; do
        echo "--- $node: last JetStream/RAFT warnings and errors"
        podman logs "$(container_of "$node")" < /dev/null 2>&1 \
            | grep -E '\[(WRN|ERR)\]|[Cc]atchup|snapshot|RAFT' \
            | grep -v 'connect to route' | tail -n 25 || true
    done
}

ansible_recap_changed() {
    grep -E '^localhost +:' "$1" | sed -E 's/.*changed=([0-9]+).*/\1/'
}

# --- the rehearsal ------------------------------------------------------------

main() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "rehearse.sh must run as root (podman, debootstrap)" >&2
        exit 1
    fi
    mkdir -p "$WORK"
    trap teardown EXIT
    trap 'exit 130' INT TERM

    step "set up host tools (apt, deploy venv)"
    "$DEPLOY_DIR/setup-host.sh"
    # shellcheck source=lib/podman-env.sh
    source "$DEPLOY_DIR/lib/podman-env.sh"

    step "base image (debootstrap, cached)"
    "$DEPLOY_DIR/build-base.sh"

    step "images: postgres, nats, proxy, wheelhouse, eaf v1 and v2"
    "$DEPLOY_DIR/build-images.sh" "$V1_VERSION:v1" "$V2_VERSION:v2"

    step "clear leftovers of an earlier rehearsal; secrets and certificates"
    remove_stack
    make_secrets
    "$DEPLOY_DIR/make-certs.sh" "$WORK/tls"

    step "air-gapped bundle: build, unpack, check SHA256SUMS, load images"
    install_bundle

    step "install v1 with site.yml from the unpacked bundle (podman-compose)"
    playbook site.yml -e eaf_image=localhost/eaf:v1

    step "site.yml again: must change nothing"
    playbook site.yml
    local changed
    changed="$(ansible_recap_changed "$LAST_LOG")"
    [ "$changed" = 0 ] || { echo "second site.yml run: changed=$changed" >&2; exit 1; }

    step "smoke test v1 (token, tenant, user) and seed data"
    smoke check
    smoke version --expect "$V1_VERSION"
    smoke seed --users 10 --state "$WORK/seed.json"

    step "rolling upgrade to v2 with upgrade.yml"
    with_watch upgrade playbook upgrade.yml -e eaf_image=localhost/eaf:v2 \
        -e eaf_expected_version="$V2_VERSION"

    step "after upgrade: data survived, version changed"
    smoke verify --state "$WORK/seed.json"
    smoke version --expect "$V2_VERSION"

    step "kill a NATS node under write load, count events"
    rm -f "$WORK/load.stop"
    smoke load --state "$WORK/load.json" --stop-file "$WORK/load.stop" \
        --max-seconds 240 > "$WORK/load.log" 2>&1 &
    LOAD_PID=$!
    sleep 10
    local victim
    victim="$(container_of nats-2)"
    echo "killing $victim"
    podman kill "$victim" > /dev/null
    sleep 15
    echo "starting $victim again"
    podman start "$victim" > /dev/null
    wait_healthy "$victim"
    sleep 10
    touch "$WORK/load.stop"
    local load_rc=0
    wait "$LOAD_PID" || load_rc=$?
    LOAD_PID=""
    cat "$WORK/load.log"
    [ "$load_rc" -eq 0 ] || { echo "load check failed" >&2; exit 1; }
    check_streams

    # v1 and v2 share one schema, so downgrading to the head revision changes
    # nothing, yet runs the whole path: services back on v1 first, then
    # "eaf migrate downgrade" with v2, then the served version checked.
    step "roll back to v1 with rollback.yml (downgrade run with v2)"
    local head
    head="$(head_revision localhost/eaf:v2)"
    with_watch rollback playbook rollback.yml -e eaf_downgrade_revision="$head"
    grep -q "ran with localhost/eaf:v2" "$LAST_LOG" \
        || { echo "the downgrade did not run with v2" >&2; exit 1; }
    grep -q "schema at $head" "$LAST_LOG" \
        || { echo "no 'schema at $head' after the downgrade" >&2; exit 1; }

    step "after rollback: data survived, version is v1 again"
    smoke verify --state "$WORK/seed.json"
    smoke version --expect "$V1_VERSION"

    finish_step ok
}

main "$@"
