#!/usr/bin/env bash
# Following a workflow engine: a real `iza serve` (release build) against the n8n stand-in of
# `iza demo-service --engine n8n` (n8n 2.x's API shapes over generated data, not n8n).
# Measured (bench/workflows.py does it): the first sync of 100,000 executions (time, pages,
# CPU, peak RSS, then the pages a caught-up round reads: target one); then, with 2,056
# workflows and 200 executions/s and a round every second, IZA's CPU and RSS while following,
# and the lag from an execution's end to its appearance in IZA's store (target: p99 under
# 2 s at a 1 s poll), and that every generated execution is stored.
#
#   bench/workflows.sh                      # about 2 minutes, plus the release build
#   RATE=500 FOLLOW_S=120 bench/workflows.sh
#   IZA=target/release/iza bench/workflows.sh
#
# Exit status: 0 when the targets hold, 1 otherwise. Figures go in docs/performance.md.
# Talks only to 127.0.0.1; stops everything it starts.
set -euo pipefail

WORKFLOWS=${WORKFLOWS:-2056}
RATE=${RATE:-200}
HISTORY=${HISTORY:-100000}
EVERY_S=${EVERY_S:-1}
FOLLOW_S=${FOLLOW_S:-60}
WORK=${WORK:-/tmp/iza-bench-workflows}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
iza="${IZA:-}"
if [ -z "$iza" ]; then
    echo "building \`iza\` (release)..." >&2
    cargo build --release --quiet --locked -p iza --bin iza
    iza="$root/${CARGO_TARGET_DIR:-target}/release/iza"
fi
exec python3 bench/workflows.py --iza "$iza" --work "$WORK" --workflows "$WORKFLOWS" \
    --rate "$RATE" --history "$HISTORY" --every-s "$EVERY_S" --follow-s "$FOLLOW_S"
