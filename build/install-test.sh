#!/usr/bin/env bash
# make test-install: what a user installs, checked as a user would.
#  1. make install into a temporary prefix: the files are there, the installed
#     binary runs; make uninstall leaves nothing behind.
#  2. the headless build (-tags nogui, CGO_ENABLED=0) is a static binary that
#     serves and bridges.
#  3. make package: the .deb reads with dpkg-deb, the archive lists, and a
#     second build gives the same bytes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d)
hub=""
cleanup() {
  [ -n "$hub" ] && "$hub" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A private user for the binaries run here.
user_env() {
  export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_DATA_HOME=$work/home/.local/share \
    XDG_STATE_HOME=$work/home/.local/state XDG_RUNTIME_DIR=$work/run MCPTRAY_CONFIG= \
    MCPTRAY_KEYRING_PASSWORD=install-test DISPLAY= WAYLAND_DISPLAY= LANG=C.UTF-8
  mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
}

echo "== make install PREFIX=<temporary>"
prefix=$work/prefix
make --no-print-directory install PREFIX="$prefix" >/dev/null
for f in bin/mcptray bin/mcptray-relay share/applications/io.github.mcptray.desktop; do
  [ -f "$prefix/$f" ] || fail "missing $f"
done
for s in 16 24 32 48 64 128 256 512; do
  [ -f "$prefix/share/icons/hicolor/${s}x${s}/apps/io.github.mcptray.png" ] || fail "missing the ${s}x${s} icon"
done
grep -qx "Exec=$prefix/bin/mcptray open" "$prefix/share/applications/io.github.mcptray.desktop" || fail "desktop entry Exec line"
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$prefix/share/applications/io.github.mcptray.desktop"; fi
(
  user_env
  "$prefix/bin/mcptray" version | grep -q '^mcptray ' || fail "installed mcptray version"
  set +e
  out=$("$prefix/bin/mcptray" status 2>&1); code=$?
  set -e
  [ "$code" = 1 ] && grep -q "No MCP Tray hub is running" <<<"$out" || fail "installed mcptray status: exit $code: $out"
)
make --no-print-directory uninstall PREFIX="$prefix" >/dev/null
if [ -e "$prefix" ] && [ -n "$(find "$prefix" -mindepth 1 -print -quit)" ]; then
  find "$prefix" >&2; fail "uninstall left files behind"
fi
echo "   installed, ran, uninstalled: nothing left behind"

echo "== headless build: CGO_ENABLED=0 go build -tags nogui"
CGO_ENABLED=0 go build -tags nogui -trimpath -o "$work/bin/mcptray" .
file "$work/bin/mcptray" 2>/dev/null | grep -q "statically linked" || ldd "$work/bin/mcptray" 2>&1 | grep -q "not a dynamic executable" || fail "the headless build is not static"
go version -m "$work/bin/mcptray" | grep -q "CGO_ENABLED=0" || fail "the headless build used cgo"
(
  user_env
  hub=$work/bin/mcptray
  mkdir -p "$XDG_CONFIG_HOME/mcptray"
  cat > "$XDG_CONFIG_HOME/mcptray/config.json" <<JSON
{"hub": {"bridge": {"port": 48950}}, "mcpServers": {"everything": {"command": "${MCPTRAY_PEERS:-$root/.cache/peers}/bin/everything-server"}}}
JSON
  "$hub" serve --detach 2>/dev/null
  "$hub" status --wait connected --timeout 60s >/dev/null || fail "the headless hub did not connect"
  # As an IDE does: requests in, answers out, stdin closed at the end
  # (which ends the bridge).
  coproc BRIDGE { timeout 30 "$hub" bridge 2>/dev/null; }
  printf '%s\n' \
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"install-test","version":"1"}}}' \
    '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
    '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' >&"${BRIDGE[1]}"
  out=""
  while IFS= read -r line <&"${BRIDGE[0]}"; do
    out+=$line$'\n'
    [[ $line == *'"id":2'* ]] && break
  done
  exec {BRIDGE[1]}>&-
  wait "$BRIDGE_PID" || true
  grep -q 'everything__' <<<"$out" || fail "the headless bridge did not list the tools: $out"
  "$hub" stop >/dev/null
)
echo "   static binary, serve --detach, bridge tools/list, stop: ok"

echo "== make package"
make --no-print-directory package >/dev/null
deb=$(ls dist/*.deb); tgz=$(ls dist/*.tar.gz)
info=$(dpkg-deb --info "$deb"); contents=$(dpkg-deb --contents "$deb"); listing=$(tar tzf "$tgz")
grep -q "Package: mcptray" <<<"$info" || fail "dpkg-deb --info: $info"
grep -q "./usr/bin/mcptray$" <<<"$contents" || fail "the .deb has no /usr/bin/mcptray"
grep -q "^./bin/mcptray$" <<<"$listing" || fail "the archive has no bin/mcptray"
first=$(sha256sum "$deb" "$tgz")
make --no-print-directory package >/dev/null
[ "$(sha256sum "$deb" "$tgz")" = "$first" ] || fail "a second package build gave different bytes"
echo "   $(basename "$deb"), $(basename "$tgz"): readable, and reproducible"
