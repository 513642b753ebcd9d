#!/usr/bin/env bash
# Fuzzes the HTTP API with schemathesis against a real `iza serve` of fixtures/api-fuzz/, once
# without and once with the bearer token. Fails on any 5xx, an answer that does not match the
# OpenAPI document (`/api/v1/openapi.json`: body schema, status code, content type, headers), or
# an unsupported method that is not refused with 405.
#
# Usage: scripts/api-fuzz.sh            (API_FUZZ_EXAMPLES=N: examples per operation, default 50)
# The two event streams are left out (they never end; tests/api.rs covers them). Installs
# schemathesis (pinned, from PyPI) into a venv under target/api-fuzz/ on its first run;
# the server's log is kept in target/api-fuzz/serve.log. Needs python3 with venv.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
examples=${API_FUZZ_EXAMPLES:-50}
target_dir=${CARGO_TARGET_DIR:-target}
mkdir -p "$target_dir/api-fuzz"
out=$(cd "$target_dir/api-fuzz" && pwd)
venv=$out/venv
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# The binary the README's test command builds: `cargo build -p iza` alone resolves other
# features and would build a second copy of most crates (CI's disk once ran out on it).
cargo test --workspace --locked --no-run --quiet
iza=$target_dir/debug/iza

# The manifest in a scratch directory: the server writes `.iza/` (database, token, its
# announcement) beside it.
work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
cp fixtures/api-fuzz/iza.toml "$work/iza.toml"
log=$out/serve.log
IZA_LOG=info "$iza" serve "$work" --listen 127.0.0.1:0 >"$log" 2>&1 &
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
token=$(cat "$work/.iza/token")
echo "fuzzing $url ($examples examples per operation)"

config=$PWD/scripts/api-fuzz.toml
fuzz() { # extra schemathesis arguments...
  # From `$out`: schemathesis keeps its cache (`.schemathesis/`) in the working directory.
  (cd "$out" && "$venv/bin/schemathesis" --config-file "$config" run "$url/api/v1/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,unsupported_method,allow_header_conformance \
    --max-examples "$examples" \
    --exclude-path-regex '/stream$' \
    --request-timeout 10 \
    --no-color \
    "$@")
}

failed=0
echo "== without the token"
fuzz || failed=1
echo "== with the token"
fuzz --header "Authorization: Bearer $token" || failed=1

if grep -q 'panicked' "$log"; then
  echo "error: the server panicked; see \`$log\`" >&2
  failed=1
fi
if ! kill -0 "$server" 2>/dev/null; then
  echo "error: the server stopped during the run; see \`$log\`" >&2
  failed=1
fi
if [ "$failed" -ne 0 ]; then
  echo "error: the API fuzzing found problems (above)" >&2
  echo "hint: rerun with \`scripts/api-fuzz.sh\`; the server's log is \`$log\`" >&2
  exit 1
fi
echo "api-fuzz: no problems found"
