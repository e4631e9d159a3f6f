#!/usr/bin/env bash
# Make a private CA and the server certificates of the production-like stack:
#   ca.crt                    the CA every client verifies against
#   postgres.crt/.key         SAN postgres (and EAF_TLS_DB_NAMES)
#   nats.crt/.key             SAN nats-1, nats-2, nats-3 (clients and routes)
#   entry.pem                 certificate + key of the HTTPS entry,
#                             SAN localhost, 127.0.0.1 and EAF_TLS_ENTRY_NAMES
#
# Usage: deploy/make-certs.sh DIR
# Existing files are kept, so re-running is harmless. Sites with their own PKI
# put their files under the same names instead.
set -euo pipefail

DIR="${1:?usage: make-certs.sh DIR}"
DAYS="${EAF_TLS_DAYS:-825}"
ENTRY_NAMES="${EAF_TLS_ENTRY_NAMES:-}"
DB_NAMES="${EAF_TLS_DB_NAMES:-}"

mkdir -p "$DIR"
cd "$DIR"
umask 077

new_key() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

make_ca() {
    [ -f ca.crt ] && return
    new_key ca.key
    openssl req -x509 -new -key ca.key -sha256 -days "$DAYS" \
        -subj "/CN=EAF deployment CA" -out ca.crt
}

# make_cert NAME SUBJECT_ALT_NAMES
make_cert() {
    local name="$1" sans="$2"
    [ -f "$name.crt" ] && return
    new_key "$name.key"
    openssl req -new -key "$name.key" -subj "/CN=$name" -out "$name.csr"
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$sans" \
        > "$name.ext"
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -days "$DAYS" -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}

with_extra() {
    local sans="$1" extra="$2" name
    for name in ${extra//,/ }; do
        sans="$sans,DNS:$name"
    done
    printf '%s' "$sans"
}

make_ca
make_cert postgres "$(with_extra DNS:postgres "$DB_NAMES")"
make_cert nats "DNS:nats-1,DNS:nats-2,DNS:nats-3"
make_cert entry "$(with_extra "DNS:localhost,IP:127.0.0.1" "$ENTRY_NAMES")"
[ -f entry.pem ] || cat entry.crt entry.key > entry.pem
chmod 644 ca.crt
echo "[make-certs] CA and certificates in $DIR"
