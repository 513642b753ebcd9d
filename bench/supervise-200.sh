#!/usr/bin/env bash
# Starts 200 trivial services under `iza up`, supervisord and PM2 in turn, and compares:
# the time until every service answers `GET /healthz`, then the supervisor's own CPU and
# memory at rest over 60 s. Targets: `iza` is the fastest to all-ready, and its own RSS stays
# under 50 MB (MB = 1,000,000 bytes).
#
#   bench/supervise-200.sh                          # all three, 200 services, 60 s at rest
#   SUPERVISORS="supervisord pm2" bench/supervise-200.sh
#   COUNT=50 REST=10 BASE_PORT=21000 bench/supervise-200.sh
#   CHECKS=1 bench/supervise-200.sh                 # give iza an HTTP check per service
#   ROUNDS=3 bench/supervise-200.sh                 # 3 rounds, interleaved; medians reported
#
# The service is the same for all three: `iza demo-service --port P` (release build), ports
# BASE_PORT.. (20000-20199 by default; they must be free). It installs what is missing:
# supervisord from the Debian package `supervisor` (apt-get, needs root), PM2 from npm into
# $WORK/tools/pm2 (not the repository). Each run starts the supervisor, polls every port until it
# answers, samples /proc/PID (utime+stime, VmRSS, VmHWM) of the supervisor's own process for
# REST seconds, stops it (SIGTERM; `pm2 kill`) and checks that no service is left running
# (leftovers are killed and reported). `bench/supervise.py` does the measuring.
#
# Exit status: 0 when every supervisor run brought all services up and left none behind and the
# targets hold (when `iza` was measured), 1 otherwise.
set -euo pipefail

COUNT=${COUNT:-200}
REST=${REST:-60}
BASE_PORT=${BASE_PORT:-20000}
SUPERVISORS=${SUPERVISORS:-"iza supervisord pm2"}
WORK=${WORK:-/tmp/iza-bench-supervise}
LISTEN=${LISTEN:-127.0.0.1:19999}
CHECKS=${CHECKS:-0}
ROUNDS=${ROUNDS:-1}
TARGET_MB=50

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

echo "building \`iza\` (release)..." >&2
cargo build --release --quiet -p iza
iza="$root/target/release/iza"

mkdir -p "$WORK"
pm2="$WORK/tools/pm2/node_modules/.bin/pm2"
for sup in $SUPERVISORS; do
    case "$sup" in
    iza) ;;
    supervisord)
        if ! command -v supervisord >/dev/null; then
            echo "installing supervisord (apt-get install supervisor)..." >&2
            apt-get install -y -q supervisor >/dev/null || {
                echo "error: cannot install \`supervisor\`" >&2
                echo "hint: run as root, or install it and run again" >&2
                exit 1
            }
        fi
        ;;
    pm2)
        if [ ! -x "$pm2" ]; then
            echo "installing pm2 into \`$WORK/tools/pm2\` (npm)..." >&2
            npm install --prefix "$WORK/tools/pm2" --no-audit --no-fund --silent pm2 >/dev/null
        fi
        ;;
    *)
        echo "error: unknown supervisor \`$sup\` in SUPERVISORS (iza, supervisord, pm2)" >&2
        exit 2
        ;;
    esac
done

checks_flag=()
[ "$CHECKS" = 1 ] && checks_flag=(--checks)
results="$WORK/results.jsonl"
: >"$results"
status=0
for round in $(seq "$ROUNDS"); do
    for sup in $SUPERVISORS; do
        echo "round $round of $ROUNDS" >&2
        rm -rf "${WORK:?}/runs/$sup"
        if ! python3 bench/supervise.py "$sup" --iza "$iza" --work "$WORK/runs" --count "$COUNT" \
            --base-port "$BASE_PORT" --rest "$REST" --listen "$LISTEN" --pm2 "$pm2" \
            "${checks_flag[@]}" >>"$results"; then
            echo "error: the $sup run failed (see \`$WORK/runs/$sup\`)" >&2
            status=1
        fi
    done
done

python3 - "$results" "$TARGET_MB" <<'PY' || status=1
import json, sys
import statistics
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
target_mb = float(sys.argv[2])
if not runs:
    sys.exit(1)
ok = all(r.get("all_ready_s") is not None and r.get("children_left") == 0 for r in runs)
# One row per supervisor: the median of its rounds (a failed round counts as missing figures).
rows = []
for name in dict.fromkeys(r["supervisor"] for r in runs):
    mine = [r for r in runs if r["supervisor"] == name]
    row = {"supervisor": name, "services": mine[0]["services"], "runs": len(mine),
           "children_left": sum(r.get("children_left", 0) for r in mine)}
    for key in ["all_ready_s", "cpu_percent", "rss_mean_mb", "rss_max_mb", "hwm_mb", "stop_s"]:
        values = [r[key] for r in mine if r.get(key) is not None]
        row[key] = statistics.median(values) if len(values) == len(mine) else None
    rows.append(row)
print(f"{'supervisor':<12} {'services':>8} {'runs':>4} {'all ready':>10} {'CPU at rest':>12} "
      f"{'RSS mean':>9} {'RSS max':>8} {'VmHWM':>8} {'stop':>7} {'left':>5}")
def num(v, fmt, unit=""):
    return "-" if v is None else format(v, fmt) + unit
for r in rows:
    print(f"{r['supervisor']:<12} {r['services']:>8} {r['runs']:>4} {num(r['all_ready_s'], '.2f', ' s'):>10} "
          f"{num(r['cpu_percent'], '.2f', ' %'):>12} {num(r['rss_mean_mb'], '.1f', ' MB'):>9} "
          f"{num(r['rss_max_mb'], '.1f', ' MB'):>8} {num(r['hwm_mb'], '.1f', ' MB'):>8} "
          f"{num(r['stop_s'], '.2f', ' s'):>7} {r['children_left']:>5}")
iza = next((r for r in rows if r["supervisor"] == "iza"), None)
if iza and iza["all_ready_s"] is not None:
    print()
    for r in rows:
        if r is iza or r["all_ready_s"] is None:
            continue
        cpu = r["cpu_percent"] / iza["cpu_percent"] if iza["cpu_percent"] else float("inf")
        print(f"{r['supervisor']}/iza: all ready x{r['all_ready_s'] / iza['all_ready_s']:.2f}, "
              f"RSS mean x{r['rss_mean_mb'] / iza['rss_mean_mb']:.2f}, CPU at rest x{cpu:.2f}")
    fastest = min((r for r in rows if r["all_ready_s"] is not None),
                  key=lambda r: r["all_ready_s"])
    lean = iza["hwm_mb"] < target_mb
    print(f"target: iza fastest to all-ready: {'met' if fastest is iza else 'MISSED'}; "
          f"iza peak RSS under {target_mb:.0f} MB: {'met' if lean else 'MISSED'} "
          f"({iza['hwm_mb']:.1f} MB)")
    ok = ok and fastest is iza and lean
sys.exit(0 if ok else 1)
PY
exit $status
