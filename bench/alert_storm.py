#!/usr/bin/env python3
"""The alert storm (driven by bench/alert-storm.sh): 10,000 services behind 10 roots under a
real `iza up`, the roots go down together, a webhook receiver counts what arrives.

Prints one JSON line of figures and a human summary; exit 1 when a target is missed:
  * alerts notified: one per root (10), none for a dependent (a per-service monitor would
    send 10,000); HTTP requests received (group_wait folds simultaneous roots into fewer);
  * latency, per root, from the status change (`started_at` of the alert in the message, the
    monitor's clock) to the webhook's arrival (the receiver's clock, same machine): p99 under
    100 ms + group_wait;
  * CPU seconds and RSS of `iza` at rest and during the storm (/proc/PID).
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

received: list[tuple[float, dict]] = []
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("content-length", 0))
        body = self.rfile.read(length)
        arrived = time.time() * 1000
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}
        with lock:
            received.append((arrived, doc))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stat(pid: int) -> tuple[float, int, int]:
    """CPU seconds (utime+stime), RSS and peak RSS (bytes) of `pid`."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    return cpu, rss, hwm


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def wait(what: str, deadline_s: float, probe):
    end = time.time() + deadline_s
    while time.time() < end:
        try:
            value = probe()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"error: timed out waiting for {what}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1) + 0.4999)))
    return ordered[k]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iza", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--roots", type=int, default=10)
    ap.add_argument("--group-wait-ms", type=int, default=1000)
    ap.add_argument("--every-ms", type=int, default=250)
    args = ap.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    flags = os.path.join(args.work, "flags")
    os.makedirs(flags)
    for r in range(args.roots):
        open(os.path.join(flags, f"root-{r}"), "w").close()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"

    lines = ["version = 1", "[ecosystem]", 'name = "alert storm"', ""]
    for r in range(args.roots):
        lines += [
            f"[services.root-{r}]",
            'kind = "database"',
            f'check = {{ exec = ["test", "-e", "{flags}/root-{r}"], every = "{args.every_ms}ms" }}',
            "",
        ]
    for i in range(args.services):
        lines += [f"[services.svc-{i}]", f'depends_on = ["root-{i % args.roots}"]', ""]
    lines += [
        "[notifiers.storm]",
        'kind = "webhook"',
        f'url = "{hook}"',
        "",
        "[[alerts]]",
        'name = "down"',
        'notify = ["storm"]',
        f'group_wait = "{args.group_wait_ms}ms"',
        "",
    ]
    with open(os.path.join(args.work, "iza.toml"), "w") as f:
        f.write("\n".join(lines))

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(args.work, "iza.log"), "w")
    iza = subprocess.Popen(
        [args.iza, "up", args.work, "--listen", f"127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "IZA_LOG": "warn"},
    )
    try:
        started = time.time()
        wait("the server", 120, lambda: urllib.request.urlopen(f"{base}/healthz", timeout=5).status == 200)

        def roots_up():
            return all(get(f"{base}/api/v1/services/root-{r}")["service"]["status"] == "up" for r in range(args.roots))

        wait("the roots to be up", 120, roots_up)
        ready_s = time.time() - started
        cpu0, rss0, _ = proc_stat(iza.pid)
        time.sleep(5)
        cpu1, rss_rest, hwm_rest = proc_stat(iza.pid)
        rest_cpu = (cpu1 - cpu0) / 5

        # The storm: every root goes down at once.
        t0 = time.time()
        for r in range(args.roots):
            os.remove(os.path.join(flags, f"root-{r}"))
        peak_rss = rss_rest

        def alerts_in(transition):
            with lock:
                return [a for _, d in received for a in d.get("alerts", []) if a.get("transition") == transition]

        while time.time() - t0 < 60 and len(alerts_in("firing")) < args.roots:
            peak_rss = max(peak_rss, proc_stat(iza.pid)[1])
            time.sleep(0.05)
        # Anything else that would come (updates re-sent, a notification per dependent): wait
        # for the dependents to be seen impacted and a few group_waits more.
        settle_until = time.time() + 5 + 3 * args.group_wait_ms / 1000
        while time.time() < settle_until:
            peak_rss = max(peak_rss, proc_stat(iza.pid)[1])
            time.sleep(0.1)
        cpu2, _, hwm = proc_stat(iza.pid)
        storm_s = time.time() - t0
        with lock:
            firing_msgs = [(t, d) for t, d in received if any(a.get("transition") == "firing" for a in d.get("alerts", []))]
            latencies = [t - a["started_at"] for t, d in received for a in d.get("alerts", []) if a.get("transition") == "firing"]
            requests_storm = len(received)
            services_alerted = sorted({a["service"] for _, d in received for a in d.get("alerts", [])})
            impacted_listed = sum(len(a.get("impacted", [])) for _, d in received for a in d.get("alerts", []) if a.get("transition") == "firing")

        # Recovery.
        t1 = time.time()
        for r in range(args.roots):
            open(os.path.join(flags, f"root-{r}"), "w").close()
        while time.time() - t1 < 60 and len(alerts_in("resolved")) < args.roots:
            time.sleep(0.05)
        resolved = len(alerts_in("resolved"))
    finally:
        iza.send_signal(signal.SIGINT)
        try:
            iza.wait(timeout=60)
        except subprocess.TimeoutExpired:
            iza.kill()
        server.shutdown()

    p50 = percentile(latencies, 50) if latencies else None
    p99 = percentile(latencies, 99) if latencies else None
    target_ms = 100 + args.group_wait_ms
    figures = {
        "services": args.services + args.roots,
        "roots": args.roots,
        "group_wait_ms": args.group_wait_ms,
        "check_every_ms": args.every_ms,
        "ready_s": round(ready_s, 1),
        "alerts_firing_notified": len(latencies),
        "services_alerted": len(services_alerted),
        "dependents_listed_as_impacted": impacted_listed,
        "http_requests_in_storm": requests_storm,
        "firing_messages": len(firing_msgs),
        "resolved_notified": resolved,
        "latency_ms_p50": round(p50, 1) if p50 is not None else None,
        "latency_ms_p99": round(p99, 1) if p99 is not None else None,
        "latency_ms_max": round(max(latencies), 1) if latencies else None,
        "latency_target_ms": target_ms,
        "cpu_rest_cores": round(rest_cpu, 3),
        "cpu_storm_s": round(cpu2 - cpu1, 2),
        "storm_window_s": round(storm_s, 1),
        "rss_rest_mb": round(rss_rest / 1e6, 1),
        "rss_storm_peak_mb": round(max(peak_rss, hwm) / 1e6, 1),
    }
    print(json.dumps(figures))
    ok_count = len(latencies) == args.roots and set(services_alerted) == {f"root-{r}" for r in range(args.roots)}
    ok_latency = p99 is not None and p99 < target_ms
    print(f"alerts notified: {len(latencies)} (target {args.roots}, one per root; a per-service monitor: "
          f"{args.services + args.roots}) in {requests_storm} HTTP request(s); "
          f"{impacted_listed} dependents listed as impacted; {resolved} resolved", file=sys.stderr)
    print(f"latency status change -> webhook: p50 {figures['latency_ms_p50']} ms, p99 {figures['latency_ms_p99']} ms "
          f"(target < {target_ms} ms = 100 ms + group_wait) — {'met' if ok_latency else 'MISSED'}", file=sys.stderr)
    print(f"iza: {figures['cpu_rest_cores']} cores at rest, {figures['cpu_storm_s']} CPU s over the {figures['storm_window_s']} s storm, "
          f"RSS {figures['rss_rest_mb']} MB at rest, peak {figures['rss_storm_peak_mb']} MB", file=sys.stderr)
    return 0 if ok_count and ok_latency else 1


if __name__ == "__main__":
    sys.exit(main())
