# Sourced by generate.sh and check.sh: locate gen/ and install what is missing.
# Installs go only into gen/node_modules (npm ci, from package-lock.json) and
# gen/.venv (pip, from requirements.txt), and only when absent or out of date.
GEN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

_with_install_lock() {
  # Serialize installs when several checks start at once (e.g. parallel cargo tests).
  if command -v flock >/dev/null 2>&1; then
    (
      flock 9
      "$@"
    ) 9>"$GEN_DIR/.install.lock"
  else
    "$@"
  fi
}

_node_ready() {
  local stamp="$GEN_DIR/node_modules/.package-lock.json"
  [ -f "$stamp" ] && [ ! "$GEN_DIR/package-lock.json" -nt "$stamp" ] &&
    [ -f "$GEN_DIR/node_modules/@x402/evm/package.json" ] &&
    [ -f "$GEN_DIR/node_modules/@x402/core/package.json" ] &&
    [ -f "$GEN_DIR/node_modules/viem/package.json" ]
}

_install_node() {
  _node_ready && return 0
  echo "gen: installing npm packages into $GEN_DIR/node_modules (npm ci)" >&2
  (cd "$GEN_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
  # npm ci writes node_modules/.package-lock.json; make sure it is newer than the lock.
  touch "$GEN_DIR/node_modules/.package-lock.json"
}

ensure_node() {
  command -v node >/dev/null 2>&1 || { echo "gen: node (>= 20) is required" >&2; return 1; }
  _node_ready || _with_install_lock _install_node
}

_venv_ready() {
  local stamp="$GEN_DIR/.venv/.requirements.installed"
  [ -x "$GEN_DIR/.venv/bin/python" ] && [ -f "$stamp" ] && [ ! "$GEN_DIR/requirements.txt" -nt "$stamp" ]
}

_install_venv() {
  _venv_ready && return 0
  echo "gen: creating $GEN_DIR/.venv (pip install -r requirements.txt)" >&2
  [ -x "$GEN_DIR/.venv/bin/python" ] || python3 -m venv "$GEN_DIR/.venv"
  "$GEN_DIR/.venv/bin/python" -m pip install --disable-pip-version-check -q -r "$GEN_DIR/requirements.txt" >&2
  touch "$GEN_DIR/.venv/.requirements.installed"
}

ensure_venv() {
  command -v python3 >/dev/null 2>&1 || { echo "gen: python3 (>= 3.10) is required" >&2; return 1; }
  _venv_ready || _with_install_lock _install_venv
}
