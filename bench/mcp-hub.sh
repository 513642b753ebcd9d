#!/usr/bin/env bash
# The MCP hub's cost, side by side: one demo MCP upstream (`iza demo-service --mcp`), called
# directly and through IZA's hub (`iza serve` federating it), with the same load client
# (bench/mcp_load.py, the Python SDK's venv from scripts/mcp-clients.sh): p50/p99 latency over
# N sequential calls, and calls/s with C in flight. Prints the figures and the hub's added
# latency. Everything on 127.0.0.1; every process started is stopped at the end.
#
# ContextForge (PyPI `mcp-contextforge-gateway`) is not run by this script yet: see
# docs/performance.md.
#
# Usage: bench/mcp-hub.sh [N=10000] [C=16]   (IZA=path/to/iza, default target/release/iza)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10000}
c=${2:-16}
iza=${IZA:-$root/target/release/iza}
[ -x "$iza" ] || { echo "error: no iza binary at $iza (cargo build --release, or IZA=...)" >&2; exit 1; }
python=$(bash "$root/scripts/mcp-clients.sh" | tail -1)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

up=$(free_port)
"$iza" demo-service --mcp --port "$up" --name upstream > "$work/upstream.log" 2>&1 &
pids+=($!)
cat > "$work/iza.toml" <<TOML
version = 1
[ecosystem]
name = "mcp hub bench"
[services.up]
kind = "mcp-server"
mcp = { url = "http://127.0.0.1:$up/mcp" }
TOML
"$iza" token "$work" > "$work/token"
token=$(cat "$work/token")
IZA_LOG=info "$iza" serve "$work" --listen 127.0.0.1:0 > /dev/null 2> "$work/serve.log" &
pids+=($!)
deadline=$((SECONDS + 60))
until address=$(grep -o 'listening on http://[0-9.:]*' "$work/serve.log" 2>/dev/null | head -1 | sed 's/listening on http:\/\///') && [ -n "$address" ] \
  && curl -sf "http://$address/api/v1/hub" | grep -q '"up":1'; do
  [ $SECONDS -lt $deadline ] || { echo "error: the hub did not come up" >&2; cat "$work/serve.log" >&2; exit 1; }
  sleep 0.2
done
args='{"text":"bench"}'
direct=$("$python" "$root/bench/mcp_load.py" "http://127.0.0.1:$up/mcp" echo "$args" "$n" "$c")
hub=$("$python" "$root/bench/mcp_load.py" "http://$address/mcp" up__echo "$args" "$n" "$c" "$token")
echo "direct : $direct"
echo "via hub: $hub"
"$python" - "$direct" "$hub" <<'PY'
import json, sys
d, h = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"hub added latency: p50 {h['p50_ms'] - d['p50_ms']:+.3f} ms, p99 {h['p99_ms'] - d['p99_ms']:+.3f} ms; "
      f"calls/s ratio hub/direct {h['calls_per_s'] / d['calls_per_s']:.2f}")
PY
