# Sourced by generate.sh and check.sh: locate gen-batch/ and install what is
# missing (npm ci from package-lock.json into gen-batch/node_modules), only
# when absent or older than the lock file.
GEN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

_node_ready() {
  local stamp="$GEN_DIR/node_modules/.package-lock.json"
  [ -f "$stamp" ] && [ ! "$GEN_DIR/package-lock.json" -nt "$stamp" ] &&
    [ -f "$GEN_DIR/node_modules/web-bot-auth/package.json" ]
}

_install_node() {
  _node_ready && return 0
  echo "gen-batch: installing npm packages into $GEN_DIR/node_modules (npm ci)" >&2
  (cd "$GEN_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
  touch "$GEN_DIR/node_modules/.package-lock.json"
}

ensure_node() {
  command -v node >/dev/null 2>&1 || { echo "gen-batch: node (>= 20) is required" >&2; return 1; }
  if _node_ready; then return 0; fi
  if command -v flock >/dev/null 2>&1; then
    ( flock 9; _install_node ) 9>"$GEN_DIR/.install.lock"
  else
    _install_node
  fi
}
