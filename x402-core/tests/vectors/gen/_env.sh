# Sourced by generate.sh and check.sh: locate gen/ and install what is missing.
# The npm packages are the repository's test tools (scripts/install-js.sh);
# the Python ones go into gen/.venv (pip, from requirements.txt), only when
# absent or out of date.
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

# The npm packages come from the repository's one lockfile for test tools
# (package-lock.json at the root; scripts/install-js.sh installs them).
ensure_node() {
  command -v node >/dev/null 2>&1 || { echo "gen: node (>= 20) is required" >&2; return 1; }
  "$GEN_DIR/../../../../scripts/install-js.sh"
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
