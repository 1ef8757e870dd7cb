"""HAProxy overhead: sysbench through HAProxy and directly to the current writer, interleaved.

    .venv/bin/python benchmarks/haproxy_overhead.py [--reps 3] [--time 30] [--json FILE] [--keep]
        [--set VARIABLE=VALUE ...]

From the benchmarks' client host (benchlab.py): sysbench (Debian's package) oltp_point_select and
oltp_read_write on 4 tables x 10,000 rows with 4 threads, and oltp_point_select with 1 thread for
latency; each repetition runs both paths back to back, alternating which goes first, so drift on
the shared CPUs hits both alike. Certification conflicts (wsrep_local_cert_failures +
wsrep_local_bf_aborts on all nodes) are counted over each read_write run.

On this lab a saturating run can starve the health checks for seconds: HAProxy then marks every
node down and, with `on-marked-down shutdown-sessions`, closes sysbench's connections. Each run
therefore starts only once HAProxy passes a connection to the writer again, a run cut short that
way is repeated (up to RETRIES times), and the checks HAProxy logged as failed by timeout are
counted and reported beside the results rather than hidden.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

import yaml

from benchlab import ACCOUNT, BASE_VARS, NODES, BenchLab, say
from labdb import wait_for, wsrep_status

TABLES, TABLE_SIZE = 4, 10_000
RUNS = (("oltp_point_select", 4), ("oltp_read_write", 4), ("oltp_point_select", 1))
NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
RETRIES = 2
CHECK_TIMEOUT_DOWN = "is DOWN, reason: Layer7 timeout"


class RunFailed(Exception):
    """sysbench exited non-zero; the message carries its output."""


def sysbench(lab: BenchLab, test: str, host: str, *args: str) -> str:
    process = lab.exec("client1", "sysbench", test, f"--mysql-host={lab.ip(host)}", "--mysql-port=3306",
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


def measured_run(lab: BenchLab, test: str, host: str, threads: int, seconds: int) -> tuple[dict, list[str]]:
    """One sysbench run, started once HAProxy has a writer; repeated if it fails. Returns the parsed
    result and the error of each failed attempt."""
    failures = []
    for _attempt in range(1 + RETRIES):
        wait_for(lab.writer, timeout=120, interval=1, what="HAProxy passing connections to a writer")
        try:
            return parse(sysbench(lab, test, host, f"--threads={threads}", f"--time={seconds}",
                                  "--percentile=95", "--report-interval=0", "run")), failures
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
    parser.add_argument("--release", choices=("bookworm", "trixie"), default="bookworm")
    parser.add_argument("--json", help="write every run and the summary to this file")
    parser.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    parser.add_argument("--set", action="append", default=[], metavar="VARIABLE=VALUE",
                        help="a role variable on top of the shipped defaults, e.g. haproxy_writer_mode=multi_writer "
                             "(YAML value; repeatable)")
    args = parser.parse_args()
    settings = {}
    for item in args.set:
        name, separator, value = item.partition("=")
        if not separator or not name:
            parser.error(f"--set {item!r}: write VARIABLE=VALUE")
        settings[name] = yaml.safe_load(value)

    lab = BenchLab(args.release)
    lab.down()
    lab.up()
    try:
        say(f"site.yml{' with ' + str(settings) if settings else ''}: {lab.deploy({**BASE_VARS, **settings}):.0f} s")
        lab.exec("client1", "apt-get", "update", "-q")
        lab.exec("client1", "apt-get", "install", "-q", "-y", "--no-install-recommends", "sysbench")
        version = lab.exec("client1", "sysbench", "--version").stdout.strip()
        writer = lab.writer()
        say(f"{version}; writer {writer}; preparing {TABLES} x {TABLE_SIZE} rows")
        sysbench(lab, "oltp_common", writer, "cleanup")
        sysbench(lab, "oltp_common", writer, "prepare")

        runs = []
        started = lab.exec("haproxy1", "date", "+%Y-%m-%d %H:%M:%S").stdout.strip()
        for rep in range(1, args.reps + 1):
            for test, threads in RUNS:
                paths = ("haproxy1", writer) if rep % 2 else (writer, "haproxy1")
                for host in paths:
                    before = conflicts(lab)
                    result, failures = measured_run(lab, test, host, threads, args.time)
                    result.update(rep=rep, test=test, threads=threads,
                                  path="haproxy" if host == "haproxy1" else "direct",
                                  conflicts=conflicts(lab) - before, failed_attempts=failures)
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
        flaps = check_timeouts_since(lab, started)
        repeated = [r for r in runs if r["failed_attempts"]]
        print(f"\nHealth checks HAProxy failed by timeout during the runs: {len(flaps)} "
              f"(server marked down); runs repeated after a failed attempt: {len(repeated)} of {len(runs)}")
        for run_ in repeated:
            print(f"  rep {run_['rep']} {run_['test']} {run_['threads']}t {run_['path']}: {run_['failed_attempts']}")
        if args.json:
            Path(args.json).write_text(json.dumps({"sysbench": version, "settings": settings, "summary": summary, "runs": runs,
                                                   "check_timeouts": flaps}, indent=1))
        return 0
    finally:
        if not args.keep:
            lab.down()


if __name__ == "__main__":
    sys.exit(main())
