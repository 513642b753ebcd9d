#!/usr/bin/env bash
# Event outputs (docs/events.md) against the machine's brokers on 127.0.0.1: NATS 4222,
# RabbitMQ 5672 (guest/guest), Mosquitto 1883. For each broker,
# `cargo run --release -p iza-outputs --example bus_bench` (its module docs say exactly what it
# measures) prints:
#   - throughput and p50/p99/max latency from IZA's bus to a subscriber's receipt, with events
#     published at RATE (10,000) per second for N (50,000) events, through the outbox (SQLite);
#   - CPU (user+system of the whole process: bus, outputs, store, subscriber) per 1,000 events;
#   - the catch-up time of CATCHUP (100,000) events outboxed during an outage.
# Target: p99 under 10 ms at 10,000 events/s on loopback. Names are unique per run and the
# bench's exchange is deleted afterwards.
#
#   bench/bus.sh
#   KINDS=nats N=20000 bench/bus.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export N=${N:-50000} RATE=${RATE:-10000} CATCHUP=${CATCHUP:-100000}
KINDS=${KINDS:-"nats amqp mqtt"}
cargo build --release -q -p iza-outputs --example bus_bench
for kind in $KINDS; do
  KIND=$kind target/release/examples/bus_bench
done
