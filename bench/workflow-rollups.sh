#!/usr/bin/env bash
# Before and after the hourly rollups of workflow executions: the workflow figures read from a
# SQLite store holding 30,000 and 300,000 executions of 2,056 workflows over seven days (the
# 7-day, 24-hour and 1-hour windows; `crates/iza-store/examples/workflow_stats_bench.rs` says
# exactly what it does), on this checkout ("after") and on BEFORE (a commit without the
# rollups, default 44c7228), into which the same example is copied; then the ratios.
#
#   bench/workflow-rollups.sh                  # debug builds, as recorded in docs/performance.md
#   SPANS=1 bench/workflow-rollups.sh          # the same counts within the last hour (dense)
#   SPANS="1 168" IZA_BENCH_REPEAT=3 bench/workflow-rollups.sh   # both, as recorded
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
SPANS=${SPANS:-168}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
flag=()
[ "$PROFILE" = release ] && flag=(--release)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

OLD=$(mktemp -d /tmp/iza-workflow-rollups-before.XXXXXX)
BIN=$(mktemp -d /tmp/iza-workflow-rollups-bin.XXXXXX)
cleanup() {
  git -C "$ROOT" worktree remove --force "$OLD" >/dev/null 2>&1 || rm -rf "$OLD"
  rm -rf "$BIN"
}
trap cleanup EXIT
git -C "$ROOT" worktree add --detach "$OLD" "$BEFORE" >/dev/null 2>&1
mkdir -p "$OLD/crates/iza-store/examples"
cp "$ROOT/crates/iza-store/examples/workflow_stats_bench.rs" "$OLD/crates/iza-store/examples/"

# Both checkouts build into one target directory, where the example and the store crate have one
# name and one fingerprint: cargo would take the other checkout's build as fresh, so the store's
# sources are touched first, and each binary is copied away as soon as it is built.
build() { # dir name
  find "$1/crates/iza-store" -name '*.rs' -exec touch {} +
  (cd "$1" && cargo build -q "${flag[@]}" -p iza-store --example workflow_stats_bench 2>/dev/null)
  local out=$CARGO_TARGET_DIR/debug
  [ "$PROFILE" = release ] && out=$CARGO_TARGET_DIR/release
  cp "$out/examples/workflow_stats_bench" "$BIN/$2"
}
run() { # name executions -> key=value line
  IZA_BENCH_EXECUTIONS=$2 "$BIN/$1"
}
field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

log "building before ($BEFORE) and after (this checkout)"
build "$OLD" before
build "$ROOT" after
if cmp -s "$BIN/before" "$BIN/after"; then
  echo "error: the builds of before and after are the same binary" >&2
  exit 1
fi
ratio() { awk -v b="$1" -v a="$2" 'BEGIN { if (a > 0) printf "%.1f", b / a; else print "-" }'; }
for span in $SPANS; do
export IZA_BENCH_SPAN_HOURS=$span
echo "executions spread over the last $span h, 2,056 workflows, $PROFILE build"
printf '%-10s %-7s %10s %24s %24s %24s\n' executions build write_us "7d ms wall/cpu" "24h ms wall/cpu" "1h ms wall/cpu"
for n in $SIZES; do
  log "before, $n executions"
  b=$(run before "$n")
  log "after, $n executions"
  a=$(run after "$n")
  for pair in "before:$b" "after:$a"; do
    line=${pair#*:}
    printf '%-10s %-7s %10s' "$n" "${pair%%:*}" "$(field write_per_execution_us "$line")"
    for w in 7d 24h 1h; do
      printf ' %24s' "$(field stats_${w}_ms "$line") / $(field cpu_${w}_ms "$line")"
    done
    printf '\n'
  done
  printf '%-10s %-7s %10s' "$n" ratio ""
  for w in 7d 24h 1h; do
    printf ' %24s' "$(ratio "$(field stats_${w}_ms "$b")" "$(field stats_${w}_ms "$a")") / $(ratio "$(field cpu_${w}_ms "$b")" "$(field cpu_${w}_ms "$a")")"
  done
  printf '\n'
done
done
