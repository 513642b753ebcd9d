#!/usr/bin/env python3
"""Starts COUNT trivial services under a supervisor, times how long until every one answers
HTTP, then samples the supervisor's own CPU and memory at rest, stops it and checks that no
child is left. `bench/supervise-200.sh` installs the peers and calls this once per supervisor;
see that script and docs/performance.md.

The service is the same for every supervisor: `iza demo-service --port P --name izabench-...`.
A service is ready when `GET /healthz` on its port answers 200. Children are found again by
their `--name` (prefix `izabench-`), so that leftovers can be counted and killed.

Prints one JSON object per supervisor on stdout; progress goes to stderr.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time

NAME_PREFIX = "izabench-"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(message):
    print(message, file=sys.stderr, flush=True)


def answers(port):
    """Whether `GET /healthz` on 127.0.0.1:port answers 200 (one quick try)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            s.settimeout(2.0)
            head = s.recv(64)
            return head.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def children():
    """PIDs of benchmark services (any supervisor's), by the `--name` they were given."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"demo-service" in argv and any(a.startswith(NAME_PREFIX.encode()) for a in argv):
            found.append(int(entry))
    return found


def cpu_ticks(pid):
    """utime + stime of the process (all its threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # Fields after the command: state is [0]; utime is field 14 of stat, [11] here.
    return int(fields[11]) + int(fields[12])


def memory_kib(pid):
    """VmRSS and VmHWM of the process, in KiB."""
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


def wait_ready(ports, deadline_s):
    """Polls the ports not yet ready until all answer; returns the seconds it took from now
    (the caller adds what came before) or None at the deadline."""
    pending = list(ports)
    deadline = time.monotonic() + deadline_s
    while pending:
        pending = [p for p in pending if not answers(p)]
        if not pending:
            break
        if time.monotonic() > deadline:
            log(f"  {len(pending)} services never answered, e.g. port {pending[0]}")
            return None
        time.sleep(0.01)
    return True


def sample_at_rest(pid, seconds):
    """CPU (% of one core) and RSS (mean, max of samples, and VmHWM) over `seconds`."""
    ticks0 = cpu_ticks(pid)
    t0 = time.monotonic()
    samples = []
    while time.monotonic() - t0 < seconds:
        samples.append(memory_kib(pid)[0])
        time.sleep(1.0)
    ticks1 = cpu_ticks(pid)
    elapsed = time.monotonic() - t0
    rss, hwm = memory_kib(pid)
    samples.append(rss)
    return {
        "cpu_percent": 100.0 * (ticks1 - ticks0) / CLK_TCK / elapsed,
        "cpu_seconds": (ticks1 - ticks0) / CLK_TCK,
        "rss_mean_mb": sum(samples) / len(samples) * 1024 / 1e6,
        "rss_max_mb": max(samples) * 1024 / 1e6,
        "hwm_mb": hwm * 1024 / 1e6,
    }


def wait_gone(deadline_s):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        left = children()
        if not left:
            return []
        time.sleep(0.05)
    return children()


def kill_leftovers():
    left = children()
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left


# --- the supervisors -------------------------------------------------------------------------


class Supervisor:
    """Writes its configuration, starts it (returning the PID to measure), stops it."""

    name = "?"

    def __init__(self, work, iza, ports):
        self.work = work
        self.iza = iza
        self.ports = ports
        os.makedirs(work, exist_ok=True)

    def service_argv(self, index, port):
        return [self.iza, "demo-service", "--port", str(port), "--name", self.service_name(index)]

    def service_name(self, index):
        return f"{NAME_PREFIX}{self.name}-{index}"


class Iza(Supervisor):
    name = "iza"

    def __init__(self, work, iza, ports, listen, checks):
        super().__init__(work, iza, ports)
        self.listen = listen
        self.checks = checks
        self.proc = None

    def start(self):
        manifest = os.path.join(self.work, "iza.toml")
        with open(manifest, "w") as f:
            f.write('version = 1\n\n[ecosystem]\nname = "supervise-bench"\n')
            f.write('port_range = "1024-65535"\n')
            for i, port in enumerate(self.ports):
                argv = ["iza"] + self.service_argv(i, port)[1:]
                f.write(f"\n[services.s{i}]\nport = {port}\n")
                f.write("command = [" + ", ".join(json.dumps(a) for a in argv) + "]\n")
                if self.checks:
                    f.write(
                        f'check = {{ http = "http://127.0.0.1:{port}/healthz", every = "30s" }}\n'
                    )
        out = open(os.path.join(self.work, "iza-up.log"), "w")
        self.proc = subprocess.Popen(
            [self.iza, "up", manifest, "--listen", self.listen, "--db",
             os.path.join(self.work, "state.db")],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        return self.proc.pid

    def stop(self):
        if self.proc is None:
            return "not started"
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return "killed"


class Supervisord(Supervisor):
    name = "supervisord"
    proc = None

    def start(self):
        conf = os.path.join(self.work, "supervisord.conf")
        logs = os.path.join(self.work, "logs")
        os.makedirs(logs, exist_ok=True)
        sock = os.path.join(self.work, "supervisor.sock")
        lines = [
            "[unix_http_server]", f"file={sock}", "",
            "[supervisord]", f"logfile={self.work}/supervisord.log",
            f"pidfile={self.work}/supervisord.pid", f"childlogdir={logs}",
            "nodaemon=true", "minfds=4096", "loglevel=warn", "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
            "[supervisorctl]", f"serverurl=unix://{sock}", "",
        ]
        for i, port in enumerate(self.ports):
            lines += [
                f"[program:s{i}]",
                "command=" + " ".join(self.service_argv(i, port)),
                "autostart=true", "autorestart=true", "redirect_stderr=true",
                f"stdout_logfile={logs}/s{i}.log", "stopsignal=TERM", "",
            ]
        with open(conf, "w") as f:
            f.write("\n".join(lines))
        self.proc = subprocess.Popen(
            ["supervisord", "-c", conf],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.work, "stderr.log"), "w"),
            stdin=subprocess.DEVNULL,
        )
        return self.proc.pid

    def stop(self):
        if self.proc is None:
            return "not started"
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return "killed"


class Pm2(Supervisor):
    name = "pm2"

    def __init__(self, work, iza, ports, pm2):
        super().__init__(work, iza, ports)
        self.pm2 = pm2
        self.env = dict(os.environ, PM2_HOME=os.path.join(work, "pm2-home"))

    def start(self):
        apps = [
            {
                "name": f"s{i}",
                "script": self.iza,
                "args": self.service_argv(i, port)[1:],
                "interpreter": "none",
                "autorestart": True,
                "out_file": os.path.join(self.work, "logs", f"s{i}.log"),
                "error_file": os.path.join(self.work, "logs", f"s{i}.log"),
            }
            for i, port in enumerate(self.ports)
        ]
        config = os.path.join(self.work, "ecosystem.config.js")
        with open(config, "w") as f:
            f.write("module.exports = " + json.dumps({"apps": apps}, indent=1) + ";\n")
        # `pm2 start` spawns the daemon and returns once it has sent the apps to it.
        subprocess.run(
            [self.pm2, "start", config], env=self.env, check=True,
            stdout=open(os.path.join(self.work, "pm2-start.log"), "w"), stderr=subprocess.STDOUT,
        )
        with open(os.path.join(self.env["PM2_HOME"], "pm2.pid")) as f:
            return int(f.read().strip())

    def stop(self):
        result = subprocess.run(
            [self.pm2, "kill"], env=self.env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, timeout=120,
        )
        return result.returncode


# --- one run ---------------------------------------------------------------------------------


def run(sup, rest_s, ready_deadline_s):
    log(f"{sup.name}: starting {len(sup.ports)} services")
    busy = [p for p in sup.ports if listening(p)]
    if busy:
        raise SystemExit(f"error: port {busy[0]} is in use; pass another BASE_PORT")
    if children():
        raise SystemExit("error: benchmark services from an earlier run are still running")
    result = {"supervisor": sup.name, "services": len(sup.ports), "all_ready_s": None,
              "load_before": os.getloadavg()[0]}
    started = time.monotonic()
    try:
        pid = sup.start()
        result["pid"] = pid
        if wait_ready(sup.ports, ready_deadline_s):
            result["all_ready_s"] = time.monotonic() - started
            log(f"{sup.name}: all ready after {result['all_ready_s']:.2f} s; "
                f"sampling at rest for {rest_s} s")
            result["children_running"] = len(children())
            result.update(sample_at_rest(pid, rest_s))
    finally:
        stopping = time.monotonic()
        result["stop_status"] = sup.stop()
        left = wait_gone(30)
        result["stop_s"] = time.monotonic() - stopping
        result["children_left"] = len(left)
        if left:
            log(f"{sup.name}: {len(left)} children left after stopping; killing them")
            kill_leftovers()
    log(f"{sup.name}: stopped, {result['children_left']} children left")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("supervisor", choices=["iza", "supervisord", "pm2"])
    parser.add_argument("--iza", required=True, help="the iza binary")
    parser.add_argument("--work", required=True, help="a scratch directory")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--base-port", type=int, default=20000)
    parser.add_argument("--rest", type=int, default=60, help="seconds sampled at rest")
    parser.add_argument("--ready-deadline", type=int, default=300)
    parser.add_argument("--listen", default="127.0.0.1:19999", help="iza up's API address")
    parser.add_argument("--checks", action="store_true", help="give iza an HTTP check per service")
    parser.add_argument("--pm2", default="pm2")
    args = parser.parse_args()
    ports = list(range(args.base_port, args.base_port + args.count))
    work = os.path.join(args.work, args.supervisor)
    if args.supervisor == "iza":
        sup = Iza(work, args.iza, ports, args.listen, args.checks)
    elif args.supervisor == "supervisord":
        sup = Supervisord(work, args.iza, ports)
    else:
        sup = Pm2(work, args.iza, ports, args.pm2)
    try:
        result = run(sup, args.rest, args.ready_deadline)
    finally:
        left = kill_leftovers()
        if left:
            log(f"killed {len(left)} leftover services")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
