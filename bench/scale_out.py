#!/usr/bin/env python3
"""Driver of bench/scale-out.sh: CHECKS TCP checks at 1 s against one local listener, watched by
one `iza serve` on SQLite, then by 1, 2 and 3 nodes on one fresh PostgreSQL database each.

Per phase: the CPU seconds of the `iza` processes (utime + stime from /proc, after a warm-up),
the results they recorded (rows counted in the store), CPU per probe result, and on PostgreSQL
the committed transactions and inserted rows of the database per result (pg_stat_database).
Then, with three nodes, `kill -9` of one: the time until the two others hold every lease.
Prints a table and the ratios against the SQLite single node.

Then the queue's drain on PostgreSQL, with three nodes on a fresh database each time:
- the engine: three `iza serve` with one task whose action is one `http` GET to a local listener
  answering 200 at once (the cheapest action that leaves the process: `exec` forks, `check`
  records a result); DRAIN_RUNS (10,000) runs inserted in one transaction; the rate is runs /
  seconds from the commit until every run succeeded (each node works 8 runs at a time, the
  engine's default);
- the store's share: three `pg_drain_node` processes (next to IZA_BIN, in `examples/`; each its
  own connection pool) claim and finish DRAIN_BATCH (500) no-op runs at a time until the queue
  is empty, as `queue_bench` does on SQLite and graphile-worker's batched preset does;
and in the same run graphile-worker 0.18's drain of as many no-op jobs with its batched preset
(`bench/queue-peer.sh` with `ONLY=graphile`; concurrency 10). Target: the store's share at
least graphile-worker's rate (the engine's rate is printed beside it). `PHASES=drain` runs only
the drain.

Exit 1 when a target is missed.
"""

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

IZA, SERVER = sys.argv[1], sys.argv[2]
CHECKS = int(os.environ.get("CHECKS", "3000"))
SECONDS = float(os.environ.get("SECONDS_PER_PHASE", "20"))
WARMUP = float(os.environ.get("WARMUP", "8"))
LEASE = os.environ.get("LEASE", "10s")
PHASES = os.environ.get("PHASES", "checks,drain").split(",")
DRAIN_RUNS = int(os.environ.get("DRAIN_RUNS", "10000"))
DRAIN_BATCH = int(os.environ.get("DRAIN_BATCH", "500"))
AGENT_WORKERS = int(os.environ.get("AGENT_WORKERS", "8"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")


def listener():
    """One TCP listener that accepts and closes; returns its port."""
    ready = threading.Event()
    port = []

    async def serve():
        async def handle(reader, writer):
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()
        await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()
    ready.wait()
    return port[0]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def psql(database, sql):
    out = subprocess.run(
        ["psql", f"{SERVER}/{database}", "-At", "-c", sql],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    return out


def start(manifest_text, store):
    d = tempfile.mkdtemp(prefix="iza-scale-")
    with open(os.path.join(d, "iza.toml"), "w") as f:
        f.write(manifest_text)
    args = [IZA, "serve", d, "--listen", "127.0.0.1:0", "--lease", LEASE,
            "--agent-workers", str(AGENT_WORKERS)]
    if store:
        args += ["--store", store]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "IZA_LOG": "warn"})
    return proc, d


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def phase(manifest_text, nodes):
    """Returns (cpu seconds, results, xacts, inserted rows, database or None, procs)."""
    if nodes == 0:
        proc, d = start(manifest_text, None)
        db = os.path.join(d, ".iza", "state.db")
        time.sleep(WARMUP)

        def count():
            out = subprocess.run(["sqlite3", db, "SELECT COUNT(*) FROM results"],
                                 capture_output=True, text=True).stdout.strip()
            return int(out or 0)

        c0, r0 = cpu_seconds(proc.pid), count()
        time.sleep(SECONDS)
        c1, r1 = cpu_seconds(proc.pid), count()
        stop([proc])
        return c1 - c0, r1 - r0, None, None, None, []
    database = f"iza_bench_{os.getpid()}_{nodes}"
    psql("test", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    psql("test", f"CREATE DATABASE {database}")
    url = f"{SERVER}/{database}"
    procs = []
    for _ in range(nodes):
        proc, _d = start(manifest_text, url)
        procs.append(proc)
    time.sleep(WARMUP)
    stats = "SELECT xact_commit, tup_inserted FROM pg_stat_database WHERE datname = current_database()"

    def snapshot():
        x, t = psql(database, stats).split("|")
        return (sum(cpu_seconds(p.pid) for p in procs),
                int(psql(database, "SELECT COUNT(*) FROM results")), int(x), int(t))

    c0, r0, x0, t0 = snapshot()
    time.sleep(SECONDS)
    c1, r1, x1, t1 = snapshot()
    return c1 - c0, r1 - r0, x1 - x0, t1 - t0, database, procs


def failover(database, procs):
    """kill -9 of one of the nodes; seconds until the others hold every check's lease."""
    victim = procs[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed = time.monotonic()
    pattern = f"node-{victim.pid}-%"
    while time.monotonic() - killed < 60:
        now_ms = int(time.time() * 1000)
        held = int(psql(database, "SELECT COUNT(*) FROM check_leases WHERE lease_until > "
                        f"{now_ms} AND node NOT LIKE '{pattern}'"))
        if held == CHECKS:
            return time.monotonic() - killed
        time.sleep(0.1)
    return float("inf")


def http_listener():
    """A local HTTP/1.1 listener answering every request 200 at once; returns its port."""
    ready = threading.Event()
    port = []

    async def serve():
        async def handle(reader, writer):
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":", 1)[1])
                    if length:
                        await reader.readexactly(length)
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()
        await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()
    ready.wait()
    return port[0]


def drain_iza():
    """Three nodes drain DRAIN_RUNS runs of an `http` task; returns (runs/s, seconds, CPU s of
    the iza processes)."""
    port = http_listener()
    manifest_text = (
        "version = 1\n[agents.bench]\ntier = 3\n"
        f"tasks = [ {{ name = \"noop\", concurrency = 1000, run = {{ http = \"GET http://127.0.0.1:{port}/\" }} }} ]\n"
    )
    database = f"iza_bench_{os.getpid()}_drain"
    psql("test", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    psql("test", f"CREATE DATABASE {database}")
    url = f"{SERVER}/{database}"
    procs = [start(manifest_text, url)[0] for _ in range(3)]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if int(psql(database, "SELECT COUNT(*) FROM nodes")) == 3:
                break
        except subprocess.CalledProcessError:
            pass  # not migrated yet
        time.sleep(0.2)
    time.sleep(2)
    now_ms = int(time.time() * 1000)
    c0 = sum(cpu_seconds(p.pid) for p in procs)
    t0 = time.monotonic()
    psql(database, "INSERT INTO runs (task, agent, priority, state, max_attempts, concurrency, "
         "external, trigger, enqueued_at, run_at) SELECT 'bench/noop', 'bench', 1, 0, 1, 1000, "
         f"false, '{{\"kind\":\"manual\"}}', {now_ms}, {now_ms} "
         f"FROM generate_series(1, {DRAIN_RUNS})")
    while True:
        left = int(psql(database, "SELECT COUNT(*) FROM runs WHERE state < 2"))
        if left == 0:
            break
        if time.monotonic() - t0 > 1800:
            raise SystemExit("the drain did not end within 30 minutes")
        time.sleep(0.2)
    seconds = time.monotonic() - t0
    cpu = sum(cpu_seconds(p.pid) for p in procs) - c0
    failed = int(psql(database, "SELECT COUNT(*) FROM runs WHERE state <> 2"))
    if failed:
        print(f"warning: {failed} runs did not succeed", flush=True)
    stop(procs)
    psql("test", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    return DRAIN_RUNS / seconds, seconds, cpu


def drain_store():
    """The store's share: three node processes (`pg_drain_node`, each its own connection pool)
    claim and finish DRAIN_BATCH runs at a time from one fresh database, the way graphile-worker's
    batched preset drains no-op jobs; returns (runs/s, seconds, CPU s of the node processes)."""
    database = f"iza_bench_{os.getpid()}_store"
    psql("test", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    psql("test", f"CREATE DATABASE {database}")
    env = {**os.environ, "STORE_URL": f"{SERVER}/{database}", "DRAIN_BATCH": str(DRAIN_BATCH)}
    node = os.path.join(os.path.dirname(IZA), "examples", "pg_drain_node")
    if not os.access(node, os.X_OK):
        raise SystemExit(f"{node} is missing: build it with the profile of IZA_BIN, e.g. "
                         "`cargo build --release -p iza-store --example pg_drain_node`")
    procs = []
    for _ in range(3):
        proc = subprocess.Popen([node], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit("a drain node did not start")
        procs.append(proc)
    now_ms = int(time.time() * 1000)
    # Ten tasks, the three priorities, as queue_bench's no-op runs.
    psql(database, "INSERT INTO runs (task, agent, priority, state, max_attempts, concurrency, "
         "external, trigger, enqueued_at, run_at) SELECT 'bench/noop-' || (i % 10), 'bench', "
         f"i % 3, 0, 1, 1000000, false, '{{\"kind\":\"manual\"}}', {now_ms}, {now_ms} "
         f"FROM generate_series(1, {DRAIN_RUNS}) AS i")
    t0 = time.monotonic()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    lines = [proc.communicate(timeout=1800)[0].strip() for proc in procs]
    seconds = time.monotonic() - t0
    fields = [dict(w.split("=", 1) for w in line.split()[1:]) for line in lines]
    runs = sum(int(f["runs"]) for f in fields)
    cpu = sum(float(f["cpu_s"]) for f in fields)
    left = int(psql(database, "SELECT COUNT(*) FROM runs WHERE state <> 2"))
    psql("test", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    if runs != DRAIN_RUNS or left:
        raise SystemExit(f"the nodes finished {runs} of {DRAIN_RUNS} runs; {left} not succeeded")
    for line in lines:
        print(f"  {line}", flush=True)
    return DRAIN_RUNS / seconds, seconds, cpu


def drain_graphile():
    """graphile-worker's batched drain of DRAIN_RUNS no-op jobs (bench/queue-peer.sh); runs/s."""
    env = {**os.environ, "ONLY": "graphile", "DATABASE_URL": f"{SERVER}/test",
           "N_BULK": str(DRAIN_RUNS), "BULK_BATCH": str(min(DRAIN_RUNS, 10000)),
           "N_SINGLE": "1", "LAT_N": "10", "DRAIN_CONFIGS": "batched"}
    out = subprocess.run([os.path.join(ROOT, "bench", "queue-peer.sh")], env=env, check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        words = line.split()
        if words and words[0] == "drain_batched":
            fields = dict(w.split("=", 1) for w in words[1:])
            return float(fields["per_s"])
    raise SystemExit(f"no drain figure from graphile-worker:\n{out}")


def drain():
    """The drain phase; whether its target is met."""
    rate, seconds, cpu = drain_iza()
    print(f"queue drain on PostgreSQL, 3 nodes: {DRAIN_RUNS} runs in {seconds:.1f} s = "
          f"{rate:.0f} runs/s ({cpu / DRAIN_RUNS * 1000:.2f} CPU ms of the iza processes per run)",
          flush=True)
    store_rate, store_seconds, store_cpu = drain_store()
    print(f"queue drain on PostgreSQL, the store's share, 3 nodes claiming and finishing "
          f"{DRAIN_BATCH} at a time: {DRAIN_RUNS} runs in {store_seconds:.1f} s = "
          f"{store_rate:.0f} runs/s ({store_cpu / DRAIN_RUNS * 1000:.3f} CPU ms per run)",
          flush=True)
    peer = drain_graphile()
    print(f"graphile-worker 0.18, batched preset, same run: {peer:.0f} jobs/s")
    print(f"ratio IZA engine / graphile-worker batched: {rate / peer:.2f}")
    print(f"ratio IZA store / graphile-worker batched: {store_rate / peer:.2f} "
          f"(target: at least 1)")
    return store_rate >= peer


def main():
    missed = False
    if "checks" in PHASES:
        missed = checks()
    if "drain" in PHASES:
        missed = (not drain()) or missed
    print("targets: " + ("MISSED" if missed else "met"))
    sys.exit(1 if missed else 0)


def checks():
    """The check phases; whether a target is missed."""
    port = listener()
    manifest_text = "version = 1\n" + "".join(
        f"[services.s{i:05}]\ncheck = {{ tcp = \"127.0.0.1:{port}\", every = \"1s\" }}\n"
        for i in range(CHECKS)
    )
    print(f"{CHECKS} TCP checks at 1 s; {SECONDS:.0f} s measured per phase after {WARMUP:.0f} s;"
          f" lease {LEASE}", flush=True)
    rows = []
    cpu, results, _, _, _, _ = phase(manifest_text, 0)
    base = cpu / max(results, 1)
    rows.append(("sqlite, 1 node", cpu, results, None, None))
    failover_s = None
    for nodes in (1, 2, 3):
        cpu, results, xacts, inserted, database, procs = phase(manifest_text, nodes)
        rows.append((f"postgres, {nodes} node{'s' if nodes > 1 else ''}", cpu, results,
                     xacts, inserted))
        if nodes == 3:
            failover_s = failover(database, procs)
        stop(procs)
        psql("test", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    print(f"{'phase':<20} {'CPU s':>7} {'results':>8} {'CPU ms/probe':>13} {'ratio':>6}"
          f" {'xacts/result':>13} {'rows/result':>12}")
    worst = 0.0
    for name, cpu, results, xacts, inserted in rows:
        per = cpu / max(results, 1)
        ratio = per / base if base else float("nan")
        if name.startswith("postgres"):
            worst = max(worst, ratio)
        x = f"{xacts / max(results, 1):.3f}" if xacts is not None else "-"
        t = f"{inserted / max(results, 1):.3f}" if inserted is not None else "-"
        print(f"{name:<20} {cpu:>7.2f} {results:>8} {per * 1000:>13.3f} {ratio:>6.2f} {x:>13} {t:>12}")
    lease_s = float(LEASE.rstrip("s"))
    print(f"failover after kill -9 of one of 3 nodes: {failover_s:.1f} s (target: under the "
          f"lease, {lease_s:.0f} s)")
    print(f"worst PostgreSQL CPU per probe against SQLite: {worst:.2f}x (target: at most 1.2x)",
          flush=True)
    return worst > 1.2 or failover_s >= lease_s


if __name__ == "__main__":
    main()
