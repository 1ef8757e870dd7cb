"""HAProxy overhead: sysbench through HAProxy and directly to the current writer, interleaved.

    .venv/bin/python benchmarks/haproxy_overhead.py [--reps 3] [--time 30] [--json FILE] [--keep]

From the benchmarks' client host (benchlab.py): sysbench (Debian's package) oltp_point_select and
oltp_read_write on 4 tables x 10,000 rows with 4 threads, and oltp_point_select with 1 thread for
latency; each repetition runs both paths back to back, alternating which goes first, so drift on
the shared CPUs hits both alike. Certification conflicts (wsrep_local_cert_failures +
wsrep_local_bf_aborts on all nodes) are counted over each read_write run.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

from benchlab import ACCOUNT, BASE_VARS, NODES, BenchLab, say
from labdb import wsrep_status

TABLES, TABLE_SIZE = 4, 10_000
RUNS = (("oltp_point_select", 4), ("oltp_read_write", 4), ("oltp_point_select", 1))
NUMBER = r"([0-9]+(?:\.[0-9]+)?)"


def sysbench(lab: BenchLab, test: str, host: str, *args: str) -> str:
    process = lab.exec("client1", "sysbench", test, f"--mysql-host={lab.ip(host)}", "--mysql-port=3306",
                       f"--mysql-user={ACCOUNT['user']}", f"--mysql-password={ACCOUNT['password']}",
                       f"--mysql-db={ACCOUNT['database']}", f"--tables={TABLES}", f"--table-size={TABLE_SIZE}",
                       *args, check=False)
    if process.returncode != 0:
        raise SystemExit(f"sysbench {test} against {host} failed (exit {process.returncode}):\n"
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
    parser.add_argument("--release", choices=("bookworm", "trixie"), default="bookworm")
    parser.add_argument("--json", help="write every run and the summary to this file")
    parser.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    args = parser.parse_args()

    lab = BenchLab(args.release)
    lab.down()
    lab.up()
    try:
        say(f"site.yml: {lab.deploy(BASE_VARS):.0f} s")
        lab.exec("client1", "apt-get", "update", "-q")
        lab.exec("client1", "apt-get", "install", "-q", "-y", "--no-install-recommends", "sysbench")
        version = lab.exec("client1", "sysbench", "--version").stdout.strip()
        writer = lab.writer()
        say(f"{version}; writer {writer}; preparing {TABLES} x {TABLE_SIZE} rows")
        sysbench(lab, "oltp_common", writer, "cleanup")
        sysbench(lab, "oltp_common", writer, "prepare")

        runs = []
        for rep in range(1, args.reps + 1):
            for test, threads in RUNS:
                paths = ("haproxy1", writer) if rep % 2 else (writer, "haproxy1")
                for host in paths:
                    before = conflicts(lab)
                    result = parse(sysbench(lab, test, host, f"--threads={threads}", f"--time={args.time}",
                                            "--percentile=95", "--report-interval=0", "run"))
                    result.update(rep=rep, test=test, threads=threads,
                                  path="haproxy" if host == "haproxy1" else "direct",
                                  conflicts=conflicts(lab) - before)
                    runs.append(result)
                    say(f"rep {rep} {test} {threads}t {result['path']:<7} tps {result['tps']:9.1f} "
                        f"qps {result['qps']:9.1f} p95 {result['p95_ms']:6.2f} ms conflicts {result['conflicts']}")

        summary = []
        for test, threads in RUNS:
            row = {"test": test, "threads": threads}
            for path in ("haproxy", "direct"):
                mine = [r for r in runs if (r["test"], r["threads"], r["path"]) == (test, threads, path)]
                row[path] = {key: statistics.median(r[key] for r in mine) for key in ("tps", "qps", "p95_ms")}
                row[path]["conflicts"] = sum(r["conflicts"] for r in mine)
            row["qps_ratio"] = row["haproxy"]["qps"] / row["direct"]["qps"]
            row["added_p95_ms"] = row["haproxy"]["p95_ms"] - row["direct"]["p95_ms"]
            summary.append(row)

        print(f"\nHAProxy overhead, medians of {args.reps} x {args.time} s, {TABLES}x{TABLE_SIZE} rows ({version})")
        print("| test | threads | direct QPS | HAProxy QPS | ratio | direct p95 ms | HAProxy p95 ms | added p95 ms "
              "| conflicts (HAProxy/direct) |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in summary:
            print(f"| {row['test']} | {row['threads']} | {row['direct']['qps']:.0f} | {row['haproxy']['qps']:.0f} | "
                  f"{row['qps_ratio']:.2f}x | {row['direct']['p95_ms']:.2f} | {row['haproxy']['p95_ms']:.2f} | "
                  f"{row['added_p95_ms']:+.2f} | {row['haproxy']['conflicts']}/{row['direct']['conflicts']} |")
        if args.json:
            Path(args.json).write_text(json.dumps({"sysbench": version, "summary": summary, "runs": runs}, indent=1))
        return 0
    finally:
        if not args.keep:
            lab.down()


if __name__ == "__main__":
    sys.exit(main())
