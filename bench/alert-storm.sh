#!/usr/bin/env bash
# The alert storm: 10,000 services behind 10 roots (each root a `database` with an exec check,
# each dependent `depends_on` one root, no check of its own) under `iza up` (release build),
# one webhook notifier to a local receiver, one `down` rule. The roots go down together.
# Measured (bench/alert_storm.py does it): notifications (target: 10 alerts, one per root, none
# for a dependent; a per-service monitor would send 10,000), the time from each root's status
# change to the webhook's arrival (target: p99 under 100 ms + group_wait), `iza`'s CPU and RSS
# at rest and during the storm, and the 10 resolved notifications when the roots come back.
#
#   bench/alert-storm.sh
#   SERVICES=1000 ROOTS=10 GROUP_WAIT_MS=500 bench/alert-storm.sh
#
# Exit status: 0 when the targets hold, 1 otherwise. Figures go in docs/performance.md.
set -euo pipefail

SERVICES=${SERVICES:-10000}
ROOTS=${ROOTS:-10}
GROUP_WAIT_MS=${GROUP_WAIT_MS:-1000}
EVERY_MS=${EVERY_MS:-250}
WORK=${WORK:-/tmp/iza-bench-alert-storm}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
iza="${IZA:-}"
if [ -z "$iza" ]; then
    echo "building \`iza\` (release)..." >&2
    cargo build --release --quiet -p iza
    iza="$root/target/release/iza"
fi
exec python3 bench/alert_storm.py --iza "$iza" --work "$WORK" --services "$SERVICES" \
    --roots "$ROOTS" --group-wait-ms "$GROUP_WAIT_MS" --every-ms "$EVERY_MS"
