#!/usr/bin/env bash
# Before and after the hourly rollups of workflow executions: the workflow figures read from a
# SQLite store holding 30,000 and 300,000 executions of 2,056 workflows over seven days (the
# 7-day, 24-hour and 1-hour windows; `crates/iza-store/examples/workflow_stats_bench.rs` says
# exactly what it does), on this checkout ("after") and on BEFORE (a commit without the
# rollups, default 44c7228), into which the same example is copied; then the ratios.
#
#   bench/workflow-rollups.sh                  # debug builds, as recorded in docs/performance.md
#   PROFILE=release SIZES="30000 300000 3000000" bench/workflow-rollups.sh
#
# The older commit is checked out into a temporary git worktree (removed at the end) and built
# with this checkout's target directory, so only the workspace's own crates compile again.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BEFORE=${BEFORE:-44c7228}
SIZES=${SIZES:-30000 300000}
PROFILE=${PROFILE:-dev}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
flag=()
[ "$PROFILE" = release ] && flag=(--release)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

OLD=$(mktemp -d /tmp/iza-workflow-rollups-before.XXXXXX)
cleanup() { git -C "$ROOT" worktree remove --force "$OLD" >/dev/null 2>&1 || rm -rf "$OLD"; }
trap cleanup EXIT
git -C "$ROOT" worktree add --detach "$OLD" "$BEFORE" >/dev/null 2>&1
mkdir -p "$OLD/crates/iza-store/examples"
cp "$ROOT/crates/iza-store/examples/workflow_stats_bench.rs" "$OLD/crates/iza-store/examples/"

run() { # dir executions -> key=value line
  (cd "$1" && IZA_BENCH_EXECUTIONS=$2 cargo run -q "${flag[@]}" -p iza-store \
    --example workflow_stats_bench 2>/dev/null)
}
field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

printf '%-10s %-7s %14s %12s %12s %12s\n' executions build write_us_each 7d_ms 24h_ms 1h_ms
for n in $SIZES; do
  log "before ($BEFORE), $n executions"
  b=$(run "$OLD" "$n")
  log "after (this checkout), $n executions"
  a=$(run "$ROOT" "$n")
  for pair in "before:$b" "after:$a"; do
    line=${pair#*:}
    printf '%-10s %-7s %14s %12s %12s %12s\n' "$n" "${pair%%:*}" "$(field write_per_execution_us "$line")" \
      "$(field stats_7d_ms "$line")" "$(field stats_24h_ms "$line")" "$(field stats_1h_ms "$line")"
  done
  for w in 7d 24h 1h; do
    printf '%-10s ratio   %s window: before/after = %s\n' "$n" "$w" \
      "$(awk -v b="$(field stats_${w}_ms "$b")" -v a="$(field stats_${w}_ms "$a")" 'BEGIN { printf "%.1f", b / a }')"
  done
done
