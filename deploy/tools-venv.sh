#!/usr/bin/env bash
# Create or refresh deploy/.venv with the pinned deploy tools.
#
# Re-running is cheap: the venv is rebuilt only when requirements-deploy.txt
# changed since the last successful install (its hash is kept in the venv).
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${EAF_DEPLOY_VENV:-$DEPLOY_DIR/.venv}"
REQUIREMENTS="$DEPLOY_DIR/requirements-deploy.txt"
PYTHON="${EAF_DEPLOY_PYTHON:-python3}"

wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
stamp="$VENV/.requirements.sha256"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    echo "[tools-venv] $VENV is up to date"
    exit 0
fi

echo "[tools-venv] installing deploy tools into $VENV"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$REQUIREMENTS"
echo "$wanted" > "$stamp"
