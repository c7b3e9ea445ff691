# Sourced: a local Hardhat network on 127.0.0.1 for the run, with the test
# contracts compiled (pinned solc), bounded in time and stopped by its PID.
#
#   start_hardhat DIR   compiles into DIR/contracts.json, starts the chain, and
#                       exports HARDHAT_URL and HARDHAT_CONTRACTS
#   stop_hardhat        stops what start_hardhat started

hardhat_pid=""

start_hardhat() {
  local dir=$1 chain port ready
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  chain="$root/x402-core/tests/chain"
  node "$chain/compile.mjs" "$dir/contracts.json"
  port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  (
    cd "$chain"
    HARDHAT_DISABLE_TELEMETRY_PROMPT=true exec timeout "${HARDHAT_SECONDS:-3600}" node "$root/node_modules/hardhat/internal/cli/cli.js" \
      --config hardhat.config.cjs node --hostname 127.0.0.1 --port "$port"
  ) >"$dir/chain.log" 2>&1 &
  hardhat_pid=$!
  ready=""
  for _ in $(seq 1 120); do
    if node -e 'fetch(process.argv[1],{method:"POST",headers:{"content-type":"application/json"},body:JSON.stringify({jsonrpc:"2.0",id:1,method:"eth_chainId",params:[]})}).then(r=>r.json()).then(j=>process.exit(j.result?0:1),()=>process.exit(1))' "http://127.0.0.1:$port" 2>/dev/null; then
      ready=1
      break
    fi
    kill -0 "$hardhat_pid" 2>/dev/null || break
    sleep 0.5
  done
  if [ -z "$ready" ]; then
    echo "hardhat: the local chain did not start" >&2
    cat "$dir/chain.log" >&2
    return 1
  fi
  export HARDHAT_URL="http://127.0.0.1:$port" HARDHAT_CONTRACTS="$dir/contracts.json"
  echo "hardhat: $HARDHAT_URL (pid $hardhat_pid)" >&2
}

stop_hardhat() {
  if [ -n "$hardhat_pid" ] && kill -0 "$hardhat_pid" 2>/dev/null; then
    kill "$hardhat_pid" 2>/dev/null || true
    wait "$hardhat_pid" 2>/dev/null || true
  fi
  hardhat_pid=""
}
