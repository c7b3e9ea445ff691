# Sourced by generate.sh and check.sh: locate gen-batch/ and install what is
# missing. web-bot-auth comes from the repository's one lockfile for test
# tools (package-lock.json at the root; scripts/install-js.sh).
GEN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

ensure_node() {
  command -v node >/dev/null 2>&1 || { echo "gen-batch: node (>= 20) is required" >&2; return 1; }
  "$GEN_DIR/../../../../scripts/install-js.sh"
}
