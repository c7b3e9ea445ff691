#!/usr/bin/env bash
# Installs what the facilitator's interop test needs beyond the JavaScript
# tools (scripts/install-js.sh): the official Python x402 client, pinned in
# x402-server/tests/interop/requirements.txt, into that folder's .venv.
# Skips whatever is present.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=x402-server/tests/interop

scripts/install-js.sh
ready() {
  [ -x "$dir/.venv/bin/python" ] && [ -f "$dir/.venv/.installed" ] && [ ! "$dir/requirements.txt" -nt "$dir/.venv/.installed" ]
}
ready && exit 0
echo "install-interop: $dir/.venv (pip install -r requirements.txt)" >&2
[ -x "$dir/.venv/bin/python" ] || python3 -m venv "$dir/.venv"
"$dir/.venv/bin/python" -m pip install --disable-pip-version-check -q -r "$dir/requirements.txt" >&2
touch "$dir/.venv/.installed"
