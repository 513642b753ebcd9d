#!/usr/bin/env bash
# Measures `iza check` on a large generated manifest and compares it with the targets:
# under 1 s wall time and under 500 MB peak resident memory (MB = 1,000,000 bytes).
#
#   bench/check-scale.sh                      # 100,000 services, 300,000 edges, TOML
#   SYNTAX=yaml RUNS=3 bench/check-scale.sh   # the same manifest as YAML, 3 runs
#   SERVICES=10000 EDGES=30000 bench/check-scale.sh
#
# It builds `iza` with `--release`, writes the manifest with `bench/gen-manifest.py`
# (to $OUT, `/tmp/iza-scale-<services>.<syntax>` by default), runs `iza check` $RUNS
# times (5 by default) and reports the median wall and CPU times and the highest peak RSS
# (the CPU time says how much of the wall time is waiting when other jobs share the machine).
# Exit status: 0 when both targets are met, 1 when one is missed, 2 when `iza check`
# does not accept the manifest (the figures would measure an error path).
set -euo pipefail

SERVICES=${SERVICES:-100000}
EDGES=${EDGES:-300000}
RUNS=${RUNS:-5}
SYNTAX=${SYNTAX:-toml}
SEED=${SEED:-1}
OUT=${OUT:-/tmp/iza-scale-${SERVICES}.${SYNTAX}}
TARGET_SECONDS=1.0
TARGET_MB=500

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

case "$SYNTAX" in
toml) yaml_flag=() ;;
yaml) yaml_flag=(--yaml) ;;
*)
    echo "error: SYNTAX is \`$SYNTAX\`; it must be \`toml\` or \`yaml\`" >&2
    exit 2
    ;;
esac

echo "building \`iza\` (release)..." >&2
cargo build --release --quiet -p iza
iza="$root/target/release/iza"

echo "generating $SERVICES services, $EDGES edges ($SYNTAX) into \`$OUT\`..." >&2
python3 bench/gen-manifest.py --services "$SERVICES" --edges "$EDGES" --seed "$SEED" \
    "${yaml_flag[@]}" --out "$OUT"

# One run: prints "<wall seconds> <CPU seconds> <peak RSS KiB> <exit code>". /usr/bin/time -v when it is
# there; otherwise Python's os.wait4, which reports the child's own peak RSS the same way.
measure() {
    if [ -x /usr/bin/time ]; then
        local report status
        report=$(mktemp)
        status=0
        /usr/bin/time -v -o "$report" "$iza" check "$OUT" >/dev/null 2>&1 || status=$?
        python3 - "$report" "$status" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
seconds = 0.0
for part in clock.split(":"):
    seconds = seconds * 60 + float(part)
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
cpu = sum(float(re.search(rf"{kind} time \(seconds\): (\S+)", text).group(1)) for kind in ("User", "System"))
# time(1) reports the command's status in its own; "Exit status" is the command's.
status = re.search(r"Exit status: (\d+)", text)
print(f"{seconds:.3f} {cpu:.3f} {rss} {status.group(1) if status else sys.argv[2]}")
EOF
        rm -f "$report"
    else
        python3 - "$iza" "$OUT" <<'EOF'
import os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen([sys.argv[1], "check", sys.argv[2]],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - start
cpu = usage.ru_utime + usage.ru_stime
print(f"{wall:.3f} {cpu:.3f} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
EOF
    fi
}

walls=()
cpus=()
peak_kib=0
for run in $(seq "$RUNS"); do
    read -r wall cpu rss status < <(measure)
    if [ "$status" != 0 ]; then
        echo "error: \`iza check $OUT\` exited with $status; the manifest is not accepted" >&2
        "$iza" check "$OUT" 2>&1 | head -20 >&2 || true
        exit 2
    fi
    echo "run $run: ${wall} s wall, ${cpu} s CPU, peak RSS ${rss} KiB" >&2
    walls+=("$wall")
    cpus+=("$cpu")
    if [ "$rss" -gt "$peak_kib" ]; then peak_kib=$rss; fi
done

bytes=$(wc -c <"$OUT")
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
python3 - "$(median "${walls[@]}")" "$(median "${cpus[@]}")" "$peak_kib" "$bytes" "$SERVICES" "$EDGES" "$SYNTAX" "$RUNS" \
    "$TARGET_SECONDS" "$TARGET_MB" <<'EOF'
import os, sys
median, cpu_time, peak_kib, size, services, edges, syntax, runs, target_s, target_mb = sys.argv[1:]
median, cpu_time, peak_mb = float(median), float(cpu_time), int(peak_kib) * 1024 / 1e6
target_s, target_mb = float(target_s), float(target_mb)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"machine:   {os.cpu_count()} CPUs, {cpu}, load average {os.getloadavg()[0]:.2f}")
print(f"input:     {int(services):,} services, {int(edges):,} edges, {syntax}, {int(size) / 1e6:.1f} MB")
print(f"wall time: {median:.2f} s (median of {runs})  target < {target_s:g} s  "
      + ("met" if median < target_s else "MISSED"))
print(f"CPU time:  {cpu_time:.2f} s user+system (median of {runs})")
print(f"peak RSS:  {peak_mb:.0f} MB (highest of {runs})  target < {target_mb:g} MB  "
      + ("met" if peak_mb < target_mb else "MISSED"))
sys.exit(0 if median < target_s and peak_mb < target_mb else 1)
EOF
