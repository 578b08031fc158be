#!/usr/bin/env bash
# make screenshot: docs/screenshot.png, the MCP Tray window as a new user
# sees it: the demo server waiting for sign-in (key icon), a local server
# connected, and one that is down. Runs on a private X display (Xvfb) in a
# private home, inside the Makefile's network namespace.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin/mcptray
out=${1:-$root/docs/screenshot.png}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

go build -o "$work/demo-server" "$root/oauth/oauthtest/demo" # before HOME moves

export HOME=$work XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data XDG_STATE_HOME=$work/state \
  XDG_RUNTIME_DIR=$work/run MCPTRAY_KEYRING_PASSWORD=screenshot MCPTRAY_CONFIG= DBUS_SESSION_BUS_ADDRESS= LANG=C.UTF-8
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
cfg=$work/config.json

"$work/demo-server" --config "$work/demo.json" >/dev/null &
pids+=($!)
demo_url=http://127.0.0.1:48911/mcp
cat > "$cfg" <<JSON
{
  "hub": {"bridge": {"port": 48920}, "oauth": {"callbackPort": 48921}},
  "mcpServers": {
    "demo": {"url": "$demo_url"},
    "everything": {"command": "$root/.cache/peers/bin/everything-server"},
    "staging": {"url": "http://127.0.0.1:9/mcp"}
  }
}
JSON

# A virtual display; Xvfb names it on fd 3.
exec 3< <(exec Xvfb -displayfd 1 -screen 0 1000x640x24 -nolisten tcp 2>/dev/null)
pids+=($!)
read -r display <&3
export DISPLAY=:$display
"$bin" open --config "$cfg" >"$work/app.log" 2>&1 &
pids+=($!)
"$bin" status --config "$cfg" --wait connected --timeout 1s >/dev/null 2>&1 || true
timeout 30 xdotool search --sync --onlyvisible --name '^MCP Tray$' >/dev/null
# Until every server has shown its real state (connected, needs sign-in, error).
for _ in $(seq 100); do
  s=$("$bin" status --config "$cfg" 2>/dev/null || true)
  if grep -q 'demo *needs_auth' <<<"$s" && grep -q 'everything *connected' <<<"$s" && grep -q 'staging *error' <<<"$s"; then break; fi
  sleep 0.2
done
sleep 1 # let the window repaint after the last change
import -window root "$out"
echo "wrote $out"
