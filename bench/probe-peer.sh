#!/usr/bin/env bash
# Side by side: `iza serve` and Prometheus + blackbox_exporter probing the same 1,000 local
# HTTP endpoints every second for 60 s; prints CPU seconds, peak RSS, probe rate and ratios
# (bench/probe_peer.py says how each is measured).
#
#   bench/probe-peer.sh [--endpoints N] [--seconds S] [--warmup S]
#
# Installs the peers from Debian's packages when they are missing. Talks only to 127.0.0.1
# and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v prometheus >/dev/null || ! command -v prometheus-blackbox-exporter >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-blackbox-exporter >/dev/null
fi
cargo build --release -q -p iza
exec python3 bench/probe_peer.py "$@"
