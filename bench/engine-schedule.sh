#!/usr/bin/env bash
# The agents engine against the issue's targets (docs/performance.md, "The agents engine"):
#   (a) TASKS (10,000) tasks on `every = EVERY` ("1s") for RUN_SECONDS (60) on the real engine:
#       schedule lag (enqueue - tick), start lag (claim - tick), peak RSS; prints met/missed
#       for p99 schedule lag < 50 ms, p99 start lag < 50 ms and peak RSS < 150 MB;
#   (b) idle dispatch through the engine: LAT_N (2,000) runs queued by `run_now` at LAT_RATE
#       (200)/s, latency to the claim and to the action's request (target p99 < 1 ms).
# ACTION=external measures the scheduler alone in (a) (runs only queued).
#
#   bench/engine-schedule.sh
#   TASKS=1000 RUN_SECONDS=20 bench/engine-schedule.sh
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
log "building the engine benchmark (release)"
cargo build --release -q -p iza-runtime --example engine_bench
log "schedule: ${TASKS:-10000} tasks on every = \"${EVERY:-1s}\" for ${RUN_SECONDS:-60} s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
target/release/examples/engine_bench
log "idle dispatch through the engine; load average $(cut -d' ' -f1-3 /proc/loadavg)"
MODE=dispatch target/release/examples/engine_bench
