"""Driver of bench/browser-checks.sh: the demo site, IZA and the Playwright peer, measured.

CPU share: the CPU seconds (user + system, from /proc/<pid>/stat) of the process and every
descendant (its Chromium, renderers and helpers) over the wall time of the run, in percent of
one core; each process's last seen figure is kept, so processes that end mid-run still count.
Peak RSS: the largest sum of VmRSS over the same process tree, sampled every 0.5 s (shared
pages counted once per process, the same way for both). p95: the check durations IZA recorded
(SQLite `results.latency_ms`) and the ones the peer timed.
"""
import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def processes():
    """pid -> (ppid, cpu ticks, rss bytes) of every process."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            rest = stat[stat.rfind(")") + 2 :].split()
            ppid, ticks = int(rest[1]), int(rest[11]) + int(rest[12])
            rss = 0
            with open(f"/proc/{name}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) * 1024
            out[int(name)] = (ppid, ticks, rss)
        except (OSError, ValueError, IndexError):
            pass
    return out


def tree(root, table):
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    seen, stack = [], [root]
    while stack:
        pid = stack.pop()
        if pid in table:
            seen.append(pid)
            stack.extend(children.get(pid, []))
    return seen


class Meter:
    def __init__(self, root):
        self.root, self.ticks, self.peak = root, {}, 0

    def sample(self, table):
        pids = tree(self.root, table)
        for pid in pids:
            self.ticks[pid] = max(self.ticks.get(pid, 0), table[pid][1])
        self.peak = max(self.peak, sum(table[p][2] for p in pids))

    def cpu_seconds(self):
        return sum(self.ticks.values()) / HZ


def p95(values):
    values = sorted(values)
    return values[min(len(values) - 1, int(0.95 * len(values)))] if values else float("nan")


def main():
    a = argparse.ArgumentParser()
    for flag in ("--iza", "--peer", "--work"):
        a.add_argument(flag, required=True)
    a.add_argument("--seconds", type=int, default=300)
    a.add_argument("--checks", type=int, default=60)
    a.add_argument("--period", type=int, default=60)
    args = a.parse_args()
    work = os.path.join(args.work, f"run-{os.getpid()}")
    os.makedirs(work)
    end_ms = float("inf")
    site = subprocess.Popen(
        [args.iza, "demo-service", "--port", "0", "--web", "--name", "bench-site"],
        stdout=subprocess.PIPE, text=True,
    )
    base = "http://" + site.stdout.readline().split("listening on http://")[1].strip()
    manifest = os.path.join(work, "iza.toml")
    with open(manifest, "w") as f:
        f.write("version = 1\n")
        for n in range(args.checks):
            f.write(
                f'[services.page-{n:03}]\ncheck = {{ browser = "{base}/site/?n={n}", '
                f'wait_for = "h1", every = "{args.period}s", timeout = "30s", '
                f'conditions = ["[STATUS] == 200"] }}\n'
            )
    db = os.path.join(work, "state.db")
    env = dict(os.environ, IZA_LOG="warn")
    iza = subprocess.Popen(
        [args.iza, "serve", manifest, "--listen", "127.0.0.1:0", "--db", db],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    out = os.path.join(work, "peer.json")
    peer = subprocess.Popen(
        ["node", args.peer, base, str(args.checks), str(args.period), str(args.seconds), out],
        cwd=os.path.dirname(args.peer),
    )
    meters = {"iza": Meter(iza.pid), "playwright": Meter(peer.pid)}
    started = time.monotonic()
    try:
        while time.monotonic() - started < args.seconds:
            table = processes()
            for m in meters.values():
                m.sample(table)
            time.sleep(0.5)
        wall = time.monotonic() - started
        table = processes()
        for m in meters.values():
            m.sample(table)
        end_ms = time.time() * 1000
        # The checks running at the end finish (the peer's, then IZA's shutdown): not measured.
        iza.send_signal(signal.SIGINT)
        peer.wait(timeout=120)
    finally:
        iza.send_signal(signal.SIGINT)
        try:
            iza.wait(timeout=30)
        except subprocess.TimeoutExpired:
            iza.kill()
        if peer.poll() is None:
            peer.kill()
        site.terminate()
        site.wait()
    with sqlite3.connect(db) as c:
        rows = c.execute(
            "SELECT latency_ms, up FROM results WHERE at <= ?", (end_ms,)
        ).fetchall()
    with open(out) as f:
        theirs = json.load(f)
    figures = {
        "iza": (meters["iza"], [r[0] for r in rows], sum(1 for r in rows if not r[1])),
        "playwright": (meters["playwright"], theirs["durations"], theirs["failed"]),
    }
    print(f"{args.checks} browser checks every {args.period} s for {wall:.0f} s "
          f"(iza: {os.path.basename(args.iza)} at {args.iza})")
    print(f"{'':12}{'checks':>8}{'failed':>8}{'CPU %':>8}{'peak RSS MiB':>14}{'p95 ms':>9}")
    for name, (m, durations, failed) in figures.items():
        print(f"{name:12}{len(durations):>8}{failed:>8}{100 * m.cpu_seconds() / wall:>8.1f}"
              f"{m.peak / 2**20:>14.0f}{p95(durations):>9.0f}")
    (mi, di, _), (mp, dp, _) = figures["iza"], figures["playwright"]
    print(f"ratios iza/playwright: CPU {mi.cpu_seconds() / max(mp.cpu_seconds(), 1e-9):.2f}, "
          f"peak RSS {mi.peak / max(mp.peak, 1):.2f}, p95 {p95(di) / p95(dp):.2f}")


if __name__ == "__main__":
    sys.exit(main())
