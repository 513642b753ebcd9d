#!/usr/bin/env bash
# The MCP hub's cost, side by side with IBM's ContextForge gateway (PyPI
# `mcp-contextforge-gateway` 1.1.x), on one demo MCP upstream (`iza demo-service --mcp`,
# streamable HTTP, both protocol generations), in one run:
#
#   1. the upstream called directly, in the stateless 2026-07-28 generation and in the session
#      generation (initialize, then calls with the negotiated MCP-Protocol-Version);
#   2. IZA's hub (`iza serve` federating the upstream; `up__echo`), in both generations;
#   3. ContextForge (installed by this script into a venv; SQLite in a temporary directory;
#      a JWT made with its own `create_jwt_token`; the upstream registered as a gateway and its
#      `echo` tool put in a virtual server, called at `/servers/<id>/mcp`), in the session
#      generation (it does not speak 2026-07-28).
#
# Every target is measured by the same load client (crates/iza-mcp/examples/mcp_load.rs,
# release build, reqwest on keep-alive connections): p50/p99 over N sequential calls after a
# warm-up, then calls/s with C in flight. A gateway's added latency is its figure minus the
# direct figure of the same generation. Prints the figures, the ratios and, per target of
# issue 11, met or missed:
#   - IZA adds under 1 ms at p99;
#   - IZA adds at most a tenth of what ContextForge adds (p99);
#   - at least 5,000 calls/s through IZA (C = 16).
#
# ContextForge runs as its own CLI starts it (`mcpgateway`: one uvicorn worker), with its
# defaults except what a standalone bench needs: fresh secrets; its SSRF protection off (with
# loopback allowed, its per-call check of the upstream URL still refused some calls under load:
# "Outbound URL blocked by URL policy"); its request rate limiting off (100 calls/min by
# default, which would refuse the bench); admin UI off; LOG_LEVEL=WARNING. Both only take work
# off ContextForge. Everything listens on 127.0.0.1; every
# process started is stopped at the end.
#
# Usage: bench/mcp-hub.sh [N=10000] [C=16]
#   IZA=path/to/iza        (default target/release/iza)
#   NO_CONTEXTFORGE=1      (skip ContextForge)
#   CF_N=calls             (ContextForge's N, default N: at tens of ms a call, 10,000 calls
#                           take minutes on a loaded machine)
#   CF_VENV=dir            (ContextForge's venv, default /tmp/iza-contextforge-venv)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10000}
c=${2:-16}
iza=${IZA:-$root/target/release/iza}
cf_venv=${CF_VENV:-/tmp/iza-contextforge-venv}
cf_n=${CF_N:-$n}
CF_VERSION='>=1.1,<1.2'
[ -x "$iza" ] || { echo "error: no iza binary at $iza (cargo build --release -p iza --bin iza, or IZA=...)" >&2; exit 1; }

echo "building the load client (release)" >&2
(cd "$root" && cargo build --release -q -p iza-mcp --example mcp_load)
load=$root/target/release/examples/mcp_load

# ContextForge 1.1 needs Python 3.12 or 3.13.
install_contextforge() {
  if "$cf_venv/bin/python" -c 'import sys; from importlib.metadata import version; sys.exit(0 if version("mcp-contextforge-gateway").startswith("1.1.") else 1)' 2>/dev/null; then
    return 0
  fi
  local py=""
  for cand in python3.13 python3.12 python3 /root/.pyenv/versions/3.13*/bin/python3 /root/.pyenv/versions/3.12*/bin/python3; do
    if "$cand" -c 'import sys; sys.exit(0 if (3, 12) <= sys.version_info[:2] < (3, 14) else 1)' 2>/dev/null; then
      py=$cand
      break
    fi
  done
  [ -n "$py" ] || { echo "error: ContextForge 1.1 needs Python 3.12 or 3.13; none found" >&2; return 1; }
  echo "installing mcp-contextforge-gateway$CF_VERSION into $cf_venv ($py)" >&2
  rm -rf "$cf_venv"
  "$py" -m venv "$cf_venv"
  "$cf_venv/bin/pip" install --quiet --disable-pip-version-check "mcp-contextforge-gateway$CF_VERSION" >&2
}
if [ -z "${NO_CONTEXTFORGE:-}" ]; then install_contextforge; fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -- "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # wait_for WHAT SECONDS COMMAND...
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@" > /dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "error: $what did not come up" >&2; return 1; }
    sleep 0.2
  done
}

# The upstream.
up=$(free_port)
"$iza" demo-service --mcp --port "$up" --name upstream > "$work/upstream.log" 2>&1 &
pids+=($!)
wait_for "the upstream" 30 curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
  -H 'Accept: application/json, text/event-stream' \
  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}' \
  "http://127.0.0.1:$up/mcp"

# IZA's hub.
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
address=""
hub_up() {
  address=$(grep -o 'listening on http://[0-9.:]*' "$work/serve.log" 2>/dev/null | head -1 | sed 's/listening on http:\/\///')
  [ -n "$address" ] && curl -sf "http://$address/api/v1/hub" | grep -q '"up":1'
}
wait_for "IZA's hub" 60 hub_up || { cat "$work/serve.log" >&2; exit 1; }

args='{"text":"bench-echo-7"}'
measure() { # measure LABEL CALLS URL TOOL [client options]
  local label=$1 calls=$2 url=$3 tool=$4
  shift 4
  echo "measuring $label ($calls sequential, then $calls at C=$c)" >&2
  "$load" "$url" "$tool" "$args" "$calls" "$c" --expect bench-echo-7 "$@" > "$work/$label.json" \
    || { rm -f "$work/$label.json"; echo "error: the $label run failed" >&2; return 1; }
  echo "$label: $(cat "$work/$label.json")"
}
measure direct-stateless "$n" "http://127.0.0.1:$up/mcp" echo
measure direct-session "$n" "http://127.0.0.1:$up/mcp" echo --session
measure iza-stateless "$n" "http://$address/mcp" up__echo --token "$token"
measure iza-session "$n" "http://$address/mcp" up__echo --token "$token" --session

# ContextForge, started only now so that it is idle-free while IZA is measured.
if [ -z "${NO_CONTEXTFORGE:-}" ]; then
  cf_port=$(free_port)
  mkdir -p "$work/cf"
  secret() { python3 -c 'import secrets; print(secrets.token_hex(32))'; }
  cat > "$work/cf/env" <<ENV
export DATABASE_URL=sqlite:///$work/cf/mcp.db
export JWT_SECRET_KEY=$(secret)
export AUTH_ENCRYPTION_SECRET=$(secret)
export PLATFORM_ADMIN_EMAIL=admin@example.com
export PLATFORM_ADMIN_PASSWORD=Aa1!$(secret)
export DEFAULT_USER_PASSWORD=Aa1!$(secret)
export SSRF_PROTECTION_ENABLED=false
export RATE_LIMITING_ENABLED=false
export MCPGATEWAY_UI_ENABLED=false
export MCPGATEWAY_ADMIN_API_ENABLED=true
export LOG_LEVEL=WARNING
ENV
  # Its own process group (setsid), stopped whole: it forks worker processes.
  setsid bash -c 'cd "$1" && . ./env && exec "$2" --host 127.0.0.1 --port "$3"' _ \
    "$work/cf" "$cf_venv/bin/mcpgateway" "$cf_port" > "$work/cf/log" 2>&1 &
  pids+=(-$!)
  wait_for ContextForge 120 curl -sf "http://127.0.0.1:$cf_port/health" || { tail -30 "$work/cf/log" >&2; exit 1; }
  cf_token=$(cd "$work/cf" && . ./env && "$cf_venv/bin/python" -m mcpgateway.utils.create_jwt_token \
    --username admin@example.com --admin --exp 240 --secret "$JWT_SECRET_KEY" 2>/dev/null | head -1)
  cf() { curl -sf -H "Authorization: Bearer $cf_token" -H 'Content-Type: application/json' "$@"; }
  cf -X POST -d "{\"name\":\"up\",\"url\":\"http://127.0.0.1:$up/mcp\",\"transport\":\"STREAMABLEHTTP\"}" \
    "http://127.0.0.1:$cf_port/gateways" > "$work/cf/gateway.json" \
    || { echo "error: ContextForge refused the upstream" >&2; tail -30 "$work/cf/log" >&2; exit 1; }
  read -r cf_tool_id cf_tool < <(cf "http://127.0.0.1:$cf_port/tools" | python3 -c '
import json, sys
tools = json.load(sys.stdin)
tools = tools if isinstance(tools, list) else tools.get("items", [])
print(*next(((t["id"], t["name"]) for t in tools if t.get("originalName") == "echo"), ()))')
  [ -n "${cf_tool:-}" ] || { echo "error: ContextForge lists no echo tool of the upstream" >&2; exit 1; }
  cf_server=$(cf -X POST -d "{\"server\":{\"name\":\"bench\",\"associated_tools\":[\"$cf_tool_id\"]}}" \
    "http://127.0.0.1:$cf_port/servers" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
  measure contextforge-session "$cf_n" "http://127.0.0.1:$cf_port/servers/$cf_server/mcp" "$cf_tool" --token "$cf_token" --session \
    || { echo "ContextForge's log (last lines):" >&2; tail -5 "$work/cf/log" >&2; }
fi

python3 - "$work" "$n" "$c" <<'PY'
import json, os, sys
work, n, c = sys.argv[1], sys.argv[2], sys.argv[3]
fig = {}
for name in ("direct-stateless", "direct-session", "iza-stateless", "iza-session", "contextforge-session"):
    path = os.path.join(work, name + ".json")
    if os.path.exists(path):
        fig[name] = json.load(open(path))

def added(via, direct):
    v, d = fig[via], fig[direct]
    return v["p50_ms"] - d["p50_ms"], v["p99_ms"] - d["p99_ms"]

print(f"\nN = {n} (ContextForge: {fig.get('contextforge-session', {}).get('n', '-')}), C = {c}")
print(f"{'':28} {'p50 ms':>9} {'p99 ms':>9} {'calls/s':>9}")
for name, f in fig.items():
    print(f"{name:28} {f['p50_ms']:9.3f} {f['p99_ms']:9.3f} {f['calls_per_s']:9.0f}")
rows = [("IZA (2026-07-28)", "iza-stateless", "direct-stateless"),
        ("IZA (session)", "iza-session", "direct-session")]
if "contextforge-session" in fig:
    rows.append(("ContextForge (session)", "contextforge-session", "direct-session"))
print("\nadded by the gateway (its figure minus the direct one, same generation):")
for label, via, direct in rows:
    p50, p99 = added(via, direct)
    ratio = fig[via]["calls_per_s"] / fig[direct]["calls_per_s"]
    print(f"  {label:24} p50 {p50:+8.3f} ms  p99 {p99:+8.3f} ms  calls/s {fig[via]['calls_per_s']:.0f} ({ratio:.2f} of direct)")

iza_p99 = added("iza-stateless", "direct-stateless")[1]
iza_rate = fig["iza-stateless"]["calls_per_s"]
verdict = lambda ok: "met" if ok else "MISSED"
print("\ntargets (issue 11):")
print(f"  IZA adds < 1 ms at p99: {iza_p99:+.3f} ms -> {verdict(iza_p99 < 1.0)}")
if "contextforge-session" in fig:
    cf_p50, cf_p99 = added("contextforge-session", "direct-session")
    iza_s_p99 = added("iza-session", "direct-session")[1]
    share = max(iza_p99, 0) / cf_p99 if cf_p99 > 0 else float("inf")
    share_s = max(iza_s_p99, 0) / cf_p99 if cf_p99 > 0 else float("inf")
    print(f"  IZA adds <= 1/10 of ContextForge's p99: {iza_p99:+.3f} vs {cf_p99:+.3f} ms = {share:.3f} "
          f"(same session generation: {iza_s_p99:+.3f} ms = {share_s:.3f}) -> {verdict(share <= 0.1 and share_s <= 0.1)}")
    print(f"  calls/s IZA / ContextForge: {iza_rate / fig['contextforge-session']['calls_per_s']:.1f}x")
else:
    print("  IZA adds <= 1/10 of ContextForge's p99: not measured (NO_CONTEXTFORGE)")
print(f"  >= 5,000 calls/s through IZA (C = {c}): {iza_rate:.0f} -> {verdict(iza_rate >= 5000)}")
PY
