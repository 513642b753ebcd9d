#!/usr/bin/env python3
"""Side by side: `iza serve` against Prometheus + blackbox_exporter, probing the same 1,000
local HTTP endpoints every second for 60 s (issue 3's benchmark). Run it through
`bench/probe-peer.sh`, which installs the peers and builds `iza`.

For each side in turn, on the same targets:

* start it, let it warm up (`--warmup` s), then measure for `--seconds` s;
* CPU seconds: user + system time of its processes over the window (from /proc/PID/stat);
* peak RSS: VmHWM of its processes at the end (for the peer, Prometheus + blackbox_exporter);
* probe rate: requests the targets received in the window, divided by its length (the targets
  count them, so both sides are measured the same way); for `iza` also its own count of probes
  that started late or were skipped, which says whether it kept to its schedule.

It prints one table and the ratios, and exits 1 when a target of the issue is missed: `iza` at
most a fifth of the peer's CPU, under 100 MB RSS, and never behind schedule. Everything listens
on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- targets


def run_targets(count: int, ready: threading.Event, ports: list[int], hits: list[int],
                stop: threading.Event) -> None:
    """Serves `count` HTTP endpoints on ephemeral ports, each answering 200 `ok` to every
    request (keep-alive or not), and counts the requests in `hits[0]`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                hits[0] += 1
                close = b"connection: close" in head.lower()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: 2\r\n"
                             + (b"Connection: close\r\n" if close else b"")
                             + b"\r\nok")
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        servers = []
        for _ in range(count):
            server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=64)
            ports.append(server.sockets[0].getsockname()[1])
            servers.append(server)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.2)
        for server in servers:
            server.close()

    asyncio.run(main())


# ---------------------------------------------------------------- measuring


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line; 12 and 13 after the command.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, deadline_s: float, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise SystemExit(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {deadline_s} s")


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Side:
    def __init__(self, name: str) -> None:
        self.name = name
        self.cpu = 0.0
        self.rss = 0.0
        self.rate = 0.0
        self.behind = 0


def measure(side: Side, procs: list[subprocess.Popen], hits: list[int], warmup: float,
            seconds: float) -> None:
    time.sleep(warmup)
    cpu0 = sum(cpu_seconds(p.pid) for p in procs)
    hits0, t0 = hits[0], time.monotonic()
    time.sleep(seconds)
    side.cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu0
    side.rate = (hits[0] - hits0) / (time.monotonic() - t0)
    side.rss = sum(peak_rss_mb(p.pid) for p in procs)


# ---------------------------------------------------------------- the two sides


def run_iza(iza: Path, ports: list[int], hits: list[int], work: Path, warmup: float,
            seconds: float) -> Side:
    manifest = work / "iza.toml"
    lines = ['version = 1', '[ecosystem]', 'name = "probe-bench"']
    for i, port in enumerate(ports):
        lines += [f"[services.t{i}]",
                  f'check = {{ http = "http://127.0.0.1:{port}/", every = "1s", timeout = "1s" }}']
    manifest.write_text("\n".join(lines) + "\n")
    listen = free_port()
    log = open(work / "iza.log", "w")
    proc = subprocess.Popen([str(iza), "serve", str(manifest), "--listen", f"127.0.0.1:{listen}",
                             "--db", str(work / "state.db")],
                            stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "IZA_LOG": "warn"})
    side = Side("iza serve")
    try:
        wait_http(f"http://127.0.0.1:{listen}/healthz", 30, [proc])
        metrics = f"http://127.0.0.1:{listen}/metrics"
        before = scrape_iza(metrics)
        measure(side, [proc], hits, warmup, seconds)
        after = scrape_iza(metrics)
        side.behind = int(after.get("iza_monitor_probes_late_total", 0)
                          + after.get("iza_monitor_probes_skipped_total", 0)
                          - before.get("iza_monitor_probes_late_total", 0)
                          - before.get("iza_monitor_probes_skipped_total", 0))
        side.lag_max = after.get("iza_monitor_lag_max_seconds", 0.0)
    finally:
        stop([proc])
    return side


def scrape_iza(url: str) -> dict[str, float]:
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    values = {}
    for line in text.splitlines():
        m = re.match(r"^(iza_monitor_[a-z_]+) ([0-9.e+-]+)$", line)
        if m:
            values[m.group(1)] = float(m.group(2))
    return values


def run_peer(ports: list[int], hits: list[int], work: Path, warmup: float,
             seconds: float) -> Side:
    bb_port, prom_port = free_port(), free_port()
    (work / "blackbox.yml").write_text(
        "modules:\n  http_2xx:\n    prober: http\n    timeout: 1s\n"
        "    http:\n      preferred_ip_protocol: ip4\n")
    targets = ",".join(f"'http://127.0.0.1:{p}/'" for p in ports)
    (work / "prometheus.yml").write_text(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params: {{ module: [http_2xx] }}
    static_configs:
      - targets: [{targets}]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:{bb_port}
""")
    blackbox = subprocess.Popen(
        ["prometheus-blackbox-exporter", f"--config.file={work / 'blackbox.yml'}",
         f"--web.listen-address=127.0.0.1:{bb_port}"],
        stdout=subprocess.DEVNULL, stderr=open(work / "blackbox.log", "w"))
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={work / 'prometheus.yml'}",
         f"--storage.tsdb.path={work / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=open(work / "prometheus.log", "w"))
    side = Side("Prometheus + blackbox_exporter")
    try:
        wait_http(f"http://127.0.0.1:{bb_port}/metrics", 30, [blackbox, prometheus])
        wait_http(f"http://127.0.0.1:{prom_port}/-/ready", 60, [blackbox, prometheus])
        measure(side, [blackbox, prometheus], hits, warmup, seconds)
        side.lag_max = float("nan")
    finally:
        stop([prometheus, blackbox])
    return side


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iza", type=Path, default=ROOT / "target/release/iza")
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--only-iza", action="store_true",
                        help="measure iza alone (to study it; prints no ratio)")
    args = parser.parse_args()
    for tool in ("prometheus", "prometheus-blackbox-exporter"):
        if not shutil.which(tool):
            print(f"error: `{tool}` is not installed; run bench/probe-peer.sh", file=sys.stderr)
            return 2

    ready, halt = threading.Event(), threading.Event()
    ports: list[int] = []
    hits = [0]
    targets = threading.Thread(target=run_targets, args=(args.endpoints, ready, ports, hits, halt),
                               daemon=True)
    targets.start()
    if not ready.wait(60):
        print("error: the targets did not start", file=sys.stderr)
        return 2
    print(f"{args.endpoints} endpoints on 127.0.0.1, probed every 1 s; "
          f"warm-up {args.warmup:.0f} s, measured over {args.seconds:.0f} s\n", flush=True)

    with tempfile.TemporaryDirectory(prefix="iza-probe-bench-") as tmp:
        work = Path(tmp)
        (work / "iza").mkdir()
        (work / "peer").mkdir()
        iza = run_iza(args.iza, ports, hits, work / "iza", args.warmup, args.seconds)
        if args.only_iza:
            print(f"iza serve: {iza.cpu:.1f} CPU s, peak RSS {iza.rss:.0f} MB, "
                  f"{iza.rate:.0f} probes/s, {iza.behind} behind")
            return 0
        peer = run_peer(ports, hits, work / "peer", args.warmup, args.seconds)
    halt.set()

    expected = args.endpoints
    def per_probe(side: Side) -> float:
        probes = side.rate * args.seconds
        return side.cpu * 1000 / probes if probes else float("inf")

    print(f"{'':32} {'CPU s':>8} {'peak RSS':>10} {'probes/s':>9} {'CPU ms/probe':>13} {'behind':>7}")
    for side in (iza, peer):
        behind = "-" if side is peer else str(side.behind)
        print(f"{side.name:32} {side.cpu:8.1f} {side.rss:8.0f} MB {side.rate:9.0f} "
              f"{per_probe(side):13.3f} {behind:>7}")
    cpu_ratio = peer.cpu / iza.cpu if iza.cpu else float("inf")
    print(f"\nCPU: iza uses 1/{cpu_ratio:.1f} of the peer's "
          f"(1/{per_probe(peer) / per_probe(iza):.1f} per probe); "
          f"RSS: {peer.rss / iza.rss:.1f}x less; "
          f"largest scheduling lag of iza: {iza.lag_max * 1000:.0f} ms")
    if peer.rate < expected * 0.98:
        print(f"note: the peer fell behind ({peer.rate:.0f} of {expected} probes/s): "
              "its scrapes timed out")

    missed = []
    if cpu_ratio < 5:
        missed.append("iza must spend at most a fifth of the peer's CPU")
    if iza.rss >= 100:
        missed.append("iza must stay under 100 MB RSS")
    if iza.behind or iza.rate < expected * 0.98:
        missed.append(f"iza must keep to its schedule ({expected}/s)")
    for m in missed:
        print(f"target missed: {m}")
    if not missed:
        print("targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
