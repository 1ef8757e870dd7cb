"""HAProxy overhead: sysbench through the collection's listener, through a common hand-written
single-writer listener on the same HAProxy host, and directly to the current writer, interleaved.

    .venv/bin/python benchmarks/haproxy_overhead.py [--reps 3] [--time 30] [--json FILE] [--keep]
        [--set VARIABLE=VALUE ...]

From the benchmarks' client host (benchlab.py): sysbench (Debian's package) oltp_point_select and
oltp_read_write on 4 tables x 10,000 rows with 4 threads, and oltp_point_select with 1 thread for
latency, over TLS (the nodes require it; BenchLab.sysbench); each repetition runs the three paths
back to back, rotating which goes first, so drift on the shared CPUs hits all alike. Certification
conflicts (wsrep_local_cert_failures + wsrep_local_bf_aborts on all nodes) are counted over each
read_write run.

The common listener is what many deployments write by hand: `balance first` with the other nodes
`backup`, plain TCP checks on the MariaDB port, run as a second haproxy service (port 3307) next to
the role's. A run that fails (sysbench exits non-zero, e.g. HAProxy closed its connections) is
repeated up to RETRIES times and reported per path; HAProxy's log of servers marked down by a check
timeout is read after the runs.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys


from benchlab import ACCOUNT, NODES, BenchLab, add_lab_options, bench_lab, role_settings, say, write_results
from labdb import wait_for, wsrep_status

TABLES, TABLE_SIZE = 4, 10_000
RUNS = (("oltp_point_select", 4), ("oltp_read_write", 4), ("oltp_point_select", 1))
NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
RETRIES = 2
CHECK_TIMEOUT_DOWN = "is DOWN, reason: Layer7 timeout"


class RunFailed(Exception):
    """sysbench exited non-zero; the message carries its output."""


COMMON_PORT = 3307
COMMON_CONFIG = """global
    log /dev/log local0 notice
    maxconn 4096

defaults
    mode tcp
    log global
    timeout connect 5s
    timeout client 1h
    timeout server 1h

listen galera_common
    bind 0.0.0.0:{port}
    balance first
    option tcpka
{servers}
"""


def start_common_listener(lab: BenchLab) -> None:
    servers = "\n".join(f"    server {node} {lab.ip(node)}:3306 check{' backup' if index else ''}"
                        for index, node in enumerate(NODES))
    config = COMMON_CONFIG.format(port=COMMON_PORT, servers=servers)
    lab.exec("haproxy1", "bash", "-c", f"cat > /etc/haproxy/common.cfg <<'CFG'\n{config}CFG\n"
             "haproxy -c -q -f /etc/haproxy/common.cfg && systemctl stop haproxy-common 2>/dev/null; "
             # A service of its own, as the role's haproxy is: the same scheduling for both.
             "systemd-run --unit haproxy-common --property Type=notify haproxy -Ws -f /etc/haproxy/common.cfg")


def sysbench(lab: BenchLab, test: str, host: str, *args: str, port: int = 3306) -> str:
    process = lab.exec("client1", *lab.sysbench(), test, f"--mysql-host={lab.ip(host)}", f"--mysql-port={port}",
                       f"--mysql-user={ACCOUNT['user']}", f"--mysql-password={ACCOUNT['password']}",
                       f"--mysql-db={ACCOUNT['database']}", f"--tables={TABLES}", f"--table-size={TABLE_SIZE}",
                       *args, check=False)
    if process.returncode != 0:
        raise RunFailed(f"sysbench {test} against {host} failed (exit {process.returncode}):\n"
                        f"{process.stdout[-3000:]}\n{process.stderr[-2000:]}")
    return process.stdout


def parse(output: str) -> dict:
    def grab(pattern):
        match = re.search(pattern, output)
        if not match:
            raise SystemExit(f"sysbench output without {pattern!r}:\n{output}")
        return float(match[1])
    return {"tps": grab(rf"transactions:\s+\d+\s+\({NUMBER} per sec"),
            "qps": grab(rf"queries:\s+\d+\s+\({NUMBER} per sec"),
            "p95_ms": grab(rf"95th percentile:\s+{NUMBER}")}


def measured_run(lab: BenchLab, test: str, host: str, threads: int, seconds: int,
                 port: int = 3306) -> tuple[dict, list[str]]:
    """One sysbench run, started once HAProxy has a writer; repeated if it fails. Returns the parsed
    result and the error of each failed attempt."""
    failures = []
    for _attempt in range(1 + RETRIES):
        wait_for(lab.writer, timeout=120, interval=1, what="HAProxy passing connections to a writer")
        try:
            return parse(sysbench(lab, test, host, f"--threads={threads}", f"--time={seconds}",
                                  "--percentile=95", "--report-interval=0", "run", port=port)), failures
        except RunFailed as error:
            lines = [line for line in str(error).splitlines() if line.strip()]
            failures.append(next((line for line in lines if "FATAL" in line), lines[-1])[:200])
            say(f"  {test} {threads}t against {host} failed, repeating: {failures[-1]}")
    raise SystemExit(f"sysbench {test} {threads}t against {host} failed {len(failures)} times: {failures}")


def check_timeouts_since(lab: BenchLab, since: str) -> list[str]:
    """HAProxy's log lines for servers it marked down because their health check timed out."""
    log = lab.exec("haproxy1", "journalctl", "--unit=haproxy", f"--since={since}", "--output=cat", "--no-pager").stdout
    # HAProxy logs each event twice here (to stderr with a [WARNING] prefix, and to syslog).
    return [line for line in log.splitlines() if CHECK_TIMEOUT_DOWN in line and "[WARNING]" not in line]


def conflicts(lab: BenchLab) -> int:
    total = 0
    for node in NODES:
        status = wsrep_status(lab.ip(node), ACCOUNT)
        total += int(status.get("wsrep_local_cert_failures", 0)) + int(status.get("wsrep_local_bf_aborts", 0))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--time", type=int, default=30, help="seconds per sysbench run")
    add_lab_options(parser)
    parser.add_argument("--set", action="append", default=[], metavar="VARIABLE=VALUE",
                        help="a role variable on top of the shipped defaults, e.g. haproxy_writer_mode=multi_writer "
                             "(YAML value; repeatable)")
    args = parser.parse_args()
    settings = role_settings(parser, args.set)

    with bench_lab(args) as lab:
        lab.converge(args, settings)
        lab.install("client1", "sysbench")
        version = lab.exec("client1", "sysbench", "--version").stdout.strip()
        writer = lab.writer()
        say(f"{version}; writer {writer}; preparing {TABLES} x {TABLE_SIZE} rows")
        sysbench(lab, "oltp_common", writer, "cleanup")
        sysbench(lab, "oltp_common", writer, "prepare")

        start_common_listener(lab)
        paths = {"collection": ("haproxy1", 3306), "common": ("haproxy1", COMMON_PORT), "direct": (writer, 3306)}
        runs = []
        started = lab.exec("haproxy1", "date", "+%Y-%m-%d %H:%M:%S").stdout.strip()
        for rep in range(1, args.reps + 1):
            for test, threads in RUNS:
                order = list(paths)[rep % len(paths):] + list(paths)[:rep % len(paths)]
                for path in order:
                    host, port = paths[path]
                    before = conflicts(lab)
                    result, failures = measured_run(lab, test, host, threads, args.time, port=port)
                    result.update(rep=rep, test=test, threads=threads, path=path,
                                  conflicts=conflicts(lab) - before, failed_attempts=failures)
                    runs.append(result)
                    say(f"rep {rep} {test} {threads}t {path:<10} tps {result['tps']:9.1f} "
                        f"qps {result['qps']:9.1f} p95 {result['p95_ms']:6.2f} ms conflicts {result['conflicts']}")

        summary = []
        for test, threads in RUNS:
            row = {"test": test, "threads": threads}
            for path in paths:
                mine = [r for r in runs if (r["test"], r["threads"], r["path"]) == (test, threads, path)]
                row[path] = {key: statistics.median(r[key] for r in mine) for key in ("tps", "qps", "p95_ms")}
                row[path]["conflicts"] = sum(r["conflicts"] for r in mine)
                row[path]["failed_attempts"] = sum(len(r["failed_attempts"]) for r in mine)
            row["qps_vs_common"] = row["collection"]["qps"] / row["common"]["qps"]
            row["qps_vs_direct"] = row["collection"]["qps"] / row["direct"]["qps"]
            row["added_p95_ms"] = row["collection"]["p95_ms"] - row["direct"]["p95_ms"]
            summary.append(row)

        print(f"\nHAProxy overhead, medians of {args.reps} x {args.time} s, {TABLES}x{TABLE_SIZE} rows ({version})")
        print("| test | threads | direct QPS | common listener QPS | collection QPS | vs common | vs direct "
              "| collection p95 ms | added p95 ms | failed attempts (collection/common) |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in summary:
            print(f"| {row['test']} | {row['threads']} | {row['direct']['qps']:.0f} | {row['common']['qps']:.0f} | "
                  f"{row['collection']['qps']:.0f} | {row['qps_vs_common']:.2f}x | {row['qps_vs_direct']:.2f}x | "
                  f"{row['collection']['p95_ms']:.2f} | {row['added_p95_ms']:+.2f} | "
                  f"{row['collection']['failed_attempts']}/{row['common']['failed_attempts']} |")
        flaps = check_timeouts_since(lab, started)
        repeated = [r for r in runs if r["failed_attempts"]]
        print(f"\nServers the collection's HAProxy marked down by a check timeout during the runs: {len(flaps)}; "
              f"runs repeated after a failed attempt: {len(repeated)} of {len(runs)}")
        for run_ in repeated:
            print(f"  rep {run_['rep']} {run_['test']} {run_['threads']}t {run_['path']}: {run_['failed_attempts']}")
        write_results(args.json, {"sysbench": version, "settings": settings, "summary": summary, "runs": runs,
                                  "check_timeouts": flaps})
    return 0


if __name__ == "__main__":
    sys.exit(main())
