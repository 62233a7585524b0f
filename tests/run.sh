#!/usr/bin/env bash
# The test command of the README: bash tests/run.sh [pytest args...]
#
# On a fresh Debian/Ubuntu machine with Python 3.11+: installs the system packages the
# tests need (mosquitto, chromium; python3-venv if venv cannot bootstrap pip) with apt
# only when something is missing, creates or reuses .venv in the repo, installs the
# package with its test extra (again only when pyproject.toml changed), then runs pytest
# with the given arguments. pytest's exit status is this script's exit status.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
VENV=".venv"

have() { command -v "$1" >/dev/null 2>&1; }

missing_packages() {
    have mosquitto || [ -x /usr/sbin/mosquitto ] || echo mosquitto
    have chromium || have chromium-browser || echo chromium
    if [ ! -x "$VENV/bin/python" ] && ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        echo python3-venv
    fi
}

install_packages() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        have sudo || { echo "tests/run.sh: need root or sudo to install: $*" >&2; exit 1; }
        sudo=(sudo)
    fi
    have apt-get || { echo "tests/run.sh: no apt-get; install these yourself: $*" >&2; exit 1; }
    echo "tests/run.sh: installing $* with apt-get" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    local pkgs=() pkg
    for pkg in "$@"; do
        # Ubuntu names the browser chromium-browser; Debian calls it chromium.
        if [ "$pkg" = chromium ] && ! apt-cache show chromium >/dev/null 2>&1; then
            pkg=chromium-browser
        fi
        pkgs+=("$pkg")
    done
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}"
}

check_python() {
    have "$PYTHON" || { echo "tests/run.sh: $PYTHON not found; Python 3.11+ is required" >&2; exit 1; }
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "tests/run.sh: $("$PYTHON" --version 2>&1) is too old; Python 3.11+ is required (set PYTHON=...)" >&2; exit 1; }
}

editable_install() {
    "$VENV/bin/python" -I - <<'PY' >/dev/null 2>&1
import importlib.metadata, json, sys
url = json.loads(importlib.metadata.distribution("sargas").read_text("direct_url.json") or "{}")
sys.exit(0 if url.get("dir_info", {}).get("editable") else 1)
PY
}

main() {
    [ -x "$VENV/bin/python" ] || check_python
    mapfile -t need < <(missing_packages)
    if [ "${#need[@]}" -gt 0 ]; then
        install_packages "${need[@]}"
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv "$VENV"
    fi
    # Reinstall only when pyproject.toml changed since the last install, or when the venv
    # holds a non-editable install (e.g. from the README's run command).
    local stamp="$VENV/.sargas-installed" digest
    digest="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ] || ! editable_install; then
        "$VENV/bin/python" -m pip install -q -e '.[test]'
        echo "$digest" > "$stamp"
    fi
    exec "$VENV/bin/python" -m pytest "$@"
}

main "$@"
