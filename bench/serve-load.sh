#!/usr/bin/env bash
# Load test of `iza serve`: GET /api/v1/services on an ecosystem of N services (10,000 by
# default) under wrk, and the p99 latency against the target (20 ms).
#
#   bench/serve-load.sh [SERVICES] [SECONDS]
#
# Installs wrk from Debian's packages when it is missing. Talks only to 127.0.0.1 and stops
# by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
services=${1:-10000}
seconds=${2:-20}
target_ms=20

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p iza

work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
# Checks of the generated manifest point at closed local ports: probing goes on during the
# load, as it does in production, and every service has a status to report.
python3 bench/gen-manifest.py --services "$services" --edges $((services * 3)) \
  --ported "$services" --out "$work/iza.toml"

target/release/iza serve "$work/iza.toml" --listen 127.0.0.1:0 --db "$work/state.db" \
  2>"$work/serve.log" &
server=$!
url=""
for _ in $(seq 1 300); do
  url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -n 1 || true)
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log"; exit 2; }
  sleep 0.1
done
[ -n "$url" ] || { echo "iza serve did not start"; cat "$work/serve.log"; exit 2; }
bytes=$(curl -s "$url/api/v1/services" | wc -c)
gzipped=$(curl -s -H 'Accept-Encoding: gzip' "$url/api/v1/services" | wc -c)
echo "iza serve: $services services, GET /api/v1/services answers $bytes bytes ($gzipped gzipped)"

# Twice: as browsers and `curl --compressed` ask (gzip), and as plain `curl` asks (identity).
to_ms() {
  python3 -c "
v='$1'
scale={'us':0.001,'ms':1,'s':1000}
for unit in ('us','ms','s'):
    if v.endswith(unit):
        print(round(float(v[:-len(unit)])*scale[unit],2)); break
"
}
verdict=0
for encoding in gzip identity; do
  echo "--- Accept-Encoding: $encoding"
  wrk -t 2 -c 16 -d "${seconds}s" --latency -H "Accept-Encoding: $encoding" \
    "$url/api/v1/services" | tee "$work/wrk-$encoding.txt"
  p99_ms=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$work/wrk-$encoding.txt")")
  echo "$encoding: p99 ${p99_ms} ms (target < ${target_ms} ms)"
  python3 -c "import sys; sys.exit(0 if $p99_ms < $target_ms else 1)" || verdict=1
done
rss=$(awk '/VmHWM/ { print $2 }' "/proc/$server/status")
echo "iza serve peak RSS $((rss / 1024)) MB; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$verdict" = 0 ]; then echo "target met"; else echo "target missed"; exit 1; fi
