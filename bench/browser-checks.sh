#!/usr/bin/env bash
# Side by side: 60 browser checks every minute run by `iza serve` (its own CDP client, one
# shared Chromium) and by a Playwright script (npm `playwright-core`, the same Debian
# Chromium) in the same run, against the demo site of `iza demo-service --web`. Prints each
# side's CPU share, peak RSS (the process and all its descendants: IZA or node, plus their
# Chromium), p95 check duration, and the ratios (bench/browser_checks.py says how).
#
#   bench/browser-checks.sh                  # 60 checks a minute for 5 minutes
#   BENCH_SECONDS=70 bench/browser-checks.sh # a quick try: about one round
#
# Env: BENCH_SECONDS (300), BENCH_CHECKS (60), BENCH_PERIOD (60 s), IZA_BIN (a prebuilt iza;
# by default the release build is built and used). Installs Chromium with
# scripts/browser-deps.sh and playwright-core into $BENCH_WORK (/tmp/iza-bench-browser) when
# they are missing. Talks only to 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "${IZA_CHROMIUM:-/usr/bin/chromium}" ] || bash scripts/browser-deps.sh
WORK=${BENCH_WORK:-/tmp/iza-bench-browser}
mkdir -p "$WORK/tools/pw"
if [ ! -d "$WORK/tools/pw/node_modules/playwright-core" ]; then
  echo "installing playwright-core into \`$WORK/tools/pw\` (npm)..." >&2
  npm install --prefix "$WORK/tools/pw" --no-audit --no-fund --silent playwright-core >/dev/null
fi
# The peer script imports `playwright-core`: run it from beside its node_modules.
cp bench/browser-checks-peer.mjs "$WORK/tools/pw/peer.mjs"
if [ -z "${IZA_BIN:-}" ]; then
  cargo build --release -q -p iza
  IZA_BIN=target/release/iza
fi
exec python3 bench/browser_checks.py --iza "$IZA_BIN" --peer "$WORK/tools/pw/peer.mjs" \
  --work "$WORK" --seconds "${BENCH_SECONDS:-300}" --checks "${BENCH_CHECKS:-60}" \
  --period "${BENCH_PERIOD:-60}"
