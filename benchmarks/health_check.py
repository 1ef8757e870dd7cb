"""Health check answer time, measured from the HAProxy host, idle and with the database hosts saturated.

    .venv/bin/python benchmarks/health_check.py [--seconds 30] [--json FILE] [--keep] [--reuse]

On the benchmarks' lab (benchlab.py), benchmarks/check_probe.py makes HTTP checks like HAProxy's
against every node's health endpoint, 10 rounds per second, in four phases:

- idle: from the HAProxy host alone;
- two HAProxy hosts: from the HAProxy host and the client host at once (the endpoint's cost per
  checker: its CPU time and its connections to MariaDB, which stay at one however many ask);
- sysbench flood: oltp_point_select at full speed (one thread per node, the highest total rate on 2
  CPUs) directly against every node from the client host, over TLS (BenchLab.sysbench);
- CPU stress: three busy loops on each database host.

Prints p50/p99/max per phase and node, the checks that did not answer 200, and the endpoint's CPU
use; --json writes everything for report.py. Targets: p99 <= 5 ms idle and <= 50 ms saturated.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time

from benchlab import ACCOUNT, NODES, REPO, BenchLab, add_lab_options, bench_lab, say, write_results

PROBE = REPO / "benchmarks" / "check_probe.py"
RATE = 10
TABLES, TABLE_SIZE = 4, 10_000


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def endpoint_cpu_seconds(lab: BenchLab, node: str) -> float:
    """CPU time (user + system) the node's health endpoint has used since it started."""
    pid = lab.exec(node, "systemctl", "show", "-p", "MainPID", "--value", "dbstack-galera-health").stdout.strip()
    fields = lab.exec(node, "cat", f"/proc/{pid}/stat").stdout.rsplit(")", 1)[1].split()
    ticks = int(lab.exec(node, "getconf", "CLK_TCK").stdout)
    return (int(fields[11]) + int(fields[12])) / ticks


def endpoint_connections(lab: BenchLab, node: str) -> int:
    sql = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'galera-health'"
    return int(lab.exec(node, "mariadb", "-N", "-B", "-e", sql).stdout)


def probe(lab: BenchLab, host: str, seconds: float) -> dict:
    targets = ",".join(lab.ip(node) for node in NODES)
    output = lab.exec(host, "python3", "/tmp/check_probe.py", "--targets", targets, "--seconds", str(seconds),
                      "--rate", str(RATE)).stdout
    data = json.loads(output)
    by_ip = {lab.ip(node): node for node in NODES}
    return {"ms": {by_ip[ip]: values for ip, values in data["ms"].items()},
            "not_ok": {by_ip[ip]: count for ip, count in data["not_ok"].items()}}


def summarise(phase: str, checker: str, measured: dict) -> dict:
    every = [value for values in measured["ms"].values() for value in values]
    row = {"phase": phase, "checker": checker, "checks": len(every), "not_ok": sum(measured["not_ok"].values()),
           "p50_ms": statistics.median(every), "p99_ms": percentile(every, 0.99), "max_ms": max(every),
           "per_node_p99_ms": {node: percentile(values, 0.99) for node, values in measured["ms"].items()}}
    say(f"  {phase:<16} from {checker:<8} {row['checks']} checks: p50 {row['p50_ms']:.2f} ms, "
        f"p99 {row['p99_ms']:.2f} ms, max {row['max_ms']:.2f} ms, not 200: {row['not_ok']}")
    return row


def in_background(function, *args) -> tuple[threading.Thread, dict]:
    box = {}
    thread = threading.Thread(target=lambda: box.update(result=function(*args)), daemon=True)
    thread.start()
    return thread, box


def sysbench_flood(lab: BenchLab, seconds: int) -> dict:
    options = [f"--mysql-user={ACCOUNT['user']}", f"--mysql-password={ACCOUNT['password']}",
               f"--mysql-db={ACCOUNT['database']}", f"--tables={TABLES}", f"--table-size={TABLE_SIZE}"]
    sysbench = " ".join(lab.sysbench())
    runs = " & ".join(f"{sysbench} oltp_point_select --mysql-host={lab.ip(node)} {' '.join(options)} --threads=1 "
                      f"--time={seconds} --report-interval=0 run > /tmp/flood-{node}.txt 2>&1" for node in NODES)
    lab.exec("client1", "bash", "-c", f"{runs} & wait")
    rates = {}
    for node in NODES:
        text = lab.exec("client1", "cat", f"/tmp/flood-{node}.txt").stdout
        line = next((line for line in text.splitlines() if "queries:" in line), None)
        if line is None:
            raise SystemExit(f"sysbench against {node} did not complete:\n{text[-1500:]}")
        rates[node] = float(line.split("(")[1].split()[0])
    return rates


def cpu_stress(lab: BenchLab, seconds: int) -> None:
    loops = f'for i in 1 2 3; do timeout {seconds} sh -c "while :; do :; done" & done; wait'
    for node in NODES:
        subprocess.run(["podman", "exec", "-d", lab.container(node), "bash", "-c", loops], check=True,
                       capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--seconds", type=int, default=30, help="length of each phase")
    add_lab_options(parser)
    args = parser.parse_args()
    with bench_lab(args) as lab:
        lab.converge(args)
        lab.install("client1", "sysbench")
        for host in ("haproxy1", "client1"):
            subprocess.run(["podman", "cp", str(PROBE), f"{lab.container(host)}:/tmp/check_probe.py"], check=True)
        writer = lab.writer()
        options = [f"--mysql-host={lab.ip(writer)}", f"--mysql-user={ACCOUNT['user']}",
                   f"--mysql-password={ACCOUNT['password']}", f"--mysql-db={ACCOUNT['database']}",
                   f"--tables={TABLES}", f"--table-size={TABLE_SIZE}"]
        lab.exec("client1", *lab.sysbench(), "oltp_point_select", *options, "cleanup")
        lab.exec("client1", *lab.sysbench(), "oltp_point_select", *options, f"--threads={TABLES}", "prepare")
        rows, cpu = [], {}

        say(f"idle, {args.seconds} s")
        before = {node: endpoint_cpu_seconds(lab, node) for node in NODES}
        rows.append(summarise("idle", "haproxy1", probe(lab, "haproxy1", args.seconds)))
        cpu["one checker"] = {node: (endpoint_cpu_seconds(lab, node) - before[node]) / args.seconds for node in NODES}

        say(f"two HAProxy hosts checking at once, {args.seconds} s")
        before = {node: endpoint_cpu_seconds(lab, node) for node in NODES}
        other, box = in_background(probe, lab, "client1", args.seconds)
        rows.append(summarise("two checkers", "haproxy1", probe(lab, "haproxy1", args.seconds)))
        other.join()
        rows.append(summarise("two checkers", "client1", box["result"]))
        cpu["two checkers"] = {node: (endpoint_cpu_seconds(lab, node) - before[node]) / args.seconds for node in NODES}
        connections = {node: endpoint_connections(lab, node) for node in NODES}

        say(f"sysbench flood on every node, {args.seconds} s")
        flood, box = in_background(sysbench_flood, lab, args.seconds + 4)
        time.sleep(2)
        rows.append(summarise("sysbench flood", "haproxy1", probe(lab, "haproxy1", args.seconds)))
        flood.join()
        flood_rates = box.get("result", {})
        say(f"  direct point selects/s: {flood_rates}")

        say(f"CPU stress on every database host, {args.seconds} s")
        cpu_stress(lab, args.seconds + 4)
        time.sleep(2)
        rows.append(summarise("CPU stress", "haproxy1", probe(lab, "haproxy1", args.seconds)))
        time.sleep(3)

        for label, usage in cpu.items():
            say(f"endpoint CPU with {label}: " + ", ".join(f"{node} {1000 * value:.1f} ms/s" for node, value in usage.items()))
        say(f"endpoint connections to MariaDB with two checkers: {connections}")
        lab.exec("client1", *lab.sysbench(), "oltp_point_select", *options, "cleanup")
        write_results(args.json, {
            "seconds": args.seconds, "rate": RATE, "rows": rows,
            "endpoint_cpu_ms_per_s": {label: {node: 1000 * value for node, value in usage.items()}
                                      for label, usage in cpu.items()},
            "endpoint_connections": connections, "flood_qps": flood_rates})
    return 0


if __name__ == "__main__":
    sys.exit(main())
