#!/usr/bin/env bash
# Scale-out on PostgreSQL (issue 14, docs/scale-out.md): 3,000 TCP checks at 1 s watched by one
# `iza serve` on SQLite, then by 1, 2 and 3 nodes sharing one fresh PostgreSQL database each.
# Prints per phase the CPU per probe result (and its ratio to the SQLite single node: target at
# most 1.2x), PostgreSQL transactions and inserted rows per result (writes are batched), and the
# failover time after `kill -9` of one of three nodes (target: under one lease period, 10 s).
#
#   bench/scale-out.sh                                  # 3,000 checks, 20 s per phase
#   CHECKS=1000 SECONDS_PER_PHASE=10 bench/scale-out.sh
#   IZA_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432 bench/scale-out.sh
#   IZA_BIN=target/debug/iza CHECKS=300 bench/scale-out.sh   # no build
#
# Then the queue's drain on PostgreSQL with three nodes, twice: the whole engine (three
# `iza serve` draining DRAIN_RUNS, 10,000, runs of an `http` task) and the store's share (three
# `pg_drain_node` processes claiming and finishing DRAIN_BATCH, 500, no-op runs at a time, as
# `queue_bench` does on SQLite), against graphile-worker's batched preset in the same run
# (through `ONLY=graphile bench/queue-peer.sh`, which installs Node 22 and graphile-worker 0.18
# into /tmp/iza-queue-peer when missing); target: the store's share at least its rate.
#   PHASES=drain IZA_BIN=target/release/iza bench/scale-out.sh   # only the drain
#   AGENT_WORKERS=32 PHASES=drain bench/scale-out.sh   # the engine with 32 slots per node
#
# Needs `psql` and `sqlite3`; the server must allow creating databases (it makes and drops
# `iza_bench_*`).
# Exit status: 0 when both targets are met, 1 when one is missed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
SERVER=${IZA_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432}

if [ -n "${IZA_BIN:-}" ]; then
    iza=$IZA_BIN   # a binary already built (the figures of a debug build are not comparable)
else
    echo "building \`iza\` (release)..." >&2
    cargo build --release --quiet --workspace --bin iza
    cargo build --release --quiet -p iza-store --example pg_drain_node
    iza="$root/target/release/iza"
fi
exec python3 bench/scale_out.py "$iza" "$SERVER"
