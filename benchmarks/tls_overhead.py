"""TLS overhead: what client TLS costs through the collection's listener (haproxy1), TLS against plain,
interleaved.

    .venv/bin/python benchmarks/tls_overhead.py [--reps 3] [--time 30] [--json FILE] [--keep] [--reuse]

Every client runs on the benchmarks' client host (client1, benchlab.py), inside the lab like an
application host, so both legs share its CPUs and network path; nothing runs on this machine. Each
repetition runs every test twice back to back, once over TLS and once plain, alternating which goes
first:

- new connections per second: 4 threads of one python3 process (Debian's python3-pymysql), each
  connecting, running `SELECT 1` and closing in a loop for --time seconds. TLS checks the server's
  certificate against the lab's CA bundle (PyMySQL ssl={'ca': bundle}, as labdb.py and the smoke app
  do); plain uses ssl_disabled=True. The p95 is of one whole connect + SELECT 1 + close;
- point-select throughput: sysbench (Debian's package) oltp_point_select, 4 threads, 4 tables x
  10,000 rows;
- latency: the same with 1 thread, its 95th percentile.

sysbench 1.0.20 connects over TLS with --mysql-ssl=on and files in its working directory, one of them a
client certificate (BenchLab.sysbench): its handshake also proves the client, which the PyMySQL leg does
not; sysbench connects once per thread, so the QPS and latency legs measure the encrypted traffic, not
the handshake.

The nodes require TLS (require_secure_transport=ON, the roles' default): for each plain leg it is
turned off at runtime on all three nodes and on again afterwards (and at the end, whatever happens).
Each leg is checked on the nodes: the sessions opened during it (Connections) against those that were
TLS (Ssl_accepts), summed over the nodes, and one more session with the same client and options reports
its Ssl_cipher. A TLS leg with a plain session or a plain leg with a TLS one stops the benchmark.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter

from benchlab import ACCOUNT, NODES, SYSBENCH_TLS_DIR, BenchLab, add_lab_options, bench_lab, say, write_results
from haproxy_overhead import TABLE_SIZE, TABLES, RunFailed, parse
from labdb import wait_for

TESTS = (("connect", 4), ("oltp_point_select", 4), ("oltp_point_select", 1))
MODES = ("tls", "plain")
RETRIES = 2
PROXY = "haproxy1"

# Runs on client1 with its own python3: argv[1] is a JSON object of the settings. Prints JSON.
CONNECT_LOOP = r"""
import json, sys, threading, time
import pymysql

settings = json.loads(sys.argv[1])
options = dict(host=settings["host"], port=3306, user=settings["user"], password=settings["password"],
               database=settings["database"], connect_timeout=5, read_timeout=10, write_timeout=10)
options.update({"ssl": {"ca": settings["ca"]}} if settings["tls"] else {"ssl_disabled": True})
times, errors, lock = [], [], threading.Lock()
start = threading.Barrier(settings["threads"] + 1)

def client():
    mine, failed = [], []
    start.wait()
    while time.monotonic() < deadline:
        began = time.perf_counter()
        try:
            connection = pymysql.connect(**options)
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchall()
            connection.close()
            mine.append(time.perf_counter() - began)
        except Exception as error:
            failed.append(repr(error)[:200])
    with lock:
        times.extend(mine)
        errors.extend(failed)

threads = [threading.Thread(target=client) for _number in range(settings["threads"])]
for thread in threads:
    thread.start()
deadline = time.monotonic() + settings["seconds"]
began = time.monotonic()
start.wait()
for thread in threads:
    thread.join()
elapsed = time.monotonic() - began
connection = pymysql.connect(**options)
with connection.cursor() as cursor:
    cursor.execute("SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_cipher', 'Ssl_version')")
    probe = dict(cursor.fetchall())
connection.close()
times.sort()
print(json.dumps({"connections": len(times), "seconds": elapsed, "errors": len(errors), "error_samples": errors[:3],
                  "p50_ms": 1000 * times[len(times) // 2] if times else None,
                  "p95_ms": 1000 * times[min(len(times) - 1, int(len(times) * 0.95))] if times else None,
                  "probe": probe, "pymysql": pymysql.__version__}))
"""

# sysbench's own session reports whether it is TLS: run with --events=1 --threads=1.
CHECK_SCRIPT = "/root/tls_overhead_check.lua"
CHECK_LUA = """function event()
  local con = sysbench.sql.driver():connect()
  local rs = con:query("SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_cipher', 'Ssl_version')")
  for i = 1, rs.nrows do
    local row = rs:fetch_row()
    print("probe " .. row[1] .. "=" .. (row[2] or ""))
  end
  con:disconnect()
end
"""


def require_tls(lab: BenchLab, on: bool) -> None:
    """require_secure_transport at runtime on every node (new sessions only; the config file keeps ON)."""
    value = "ON" if on else "OFF"
    for node in NODES:
        now = lab.exec(node, "mariadb", "-N", "-B", "-e",
                       f"SET GLOBAL require_secure_transport = {value}; SELECT @@GLOBAL.require_secure_transport").stdout
        if now.strip() != ("1" if on else "0"):
            raise SystemExit(f"{node}: require_secure_transport is {now.strip()!r} after setting it {value}")


def session_counters(lab: BenchLab) -> Counter:
    """Connections (attempts) and Ssl_accepts (TLS handshakes) summed over the nodes. Read over each node's
    unix socket with --skip-ssl (Debian's mariadb client uses TLS even there by default): the reading
    counts one connection per node, never a TLS one."""
    total: Counter = Counter()
    for node in NODES:
        output = lab.exec(node, "mariadb", "--skip-ssl", "-N", "-B", "-e",
                          "SHOW GLOBAL STATUS WHERE Variable_name IN ('Connections', 'Ssl_accepts')").stdout
        for line in output.splitlines():
            name, value = line.split("\t")
            total[name] += int(value)
    return total


def sysbench(lab: BenchLab, tls: bool, test: str, *args: str) -> str:
    """sysbench on client1 through HAProxy: over TLS (BenchLab.sysbench) or plain (no --mysql-ssl)."""
    command = lab.sysbench() if tls else ["sysbench"]
    process = lab.exec("client1", *command, test, f"--mysql-host={lab.ip(PROXY)}", f"--mysql-user={ACCOUNT['user']}",
                       f"--mysql-password={ACCOUNT['password']}", f"--mysql-db={ACCOUNT['database']}",
                       f"--tables={TABLES}", f"--table-size={TABLE_SIZE}", *args, check=False)
    if process.returncode != 0:
        raise RunFailed(f"sysbench {test} ({'TLS' if tls else 'plain'}) failed (exit {process.returncode}):\n"
                        f"{process.stdout[-3000:]}\n{process.stderr[-2000:]}")
    return process.stdout


def connect_loop(lab: BenchLab, tls: bool, threads: int, seconds: int) -> dict:
    settings = {**ACCOUNT, "host": lab.ip(PROXY), "tls": tls, "threads": threads, "seconds": seconds,
                "ca": f"{SYSBENCH_TLS_DIR}/cacert.pem"}
    process = lab.exec("client1", "python3", "-c", CONNECT_LOOP, json.dumps(settings), check=False)
    if process.returncode != 0:
        raise RunFailed(f"connect loop ({'TLS' if tls else 'plain'}) failed (exit {process.returncode}):\n"
                        f"{process.stdout[-2000:]}\n{process.stderr[-3000:]}")
    result = json.loads(process.stdout)
    if not result["connections"]:
        raise RunFailed(f"connect loop ({'TLS' if tls else 'plain'}): no connection succeeded: {result['error_samples']}")
    result["rate"] = result["connections"] / result["seconds"]
    return result


def measure(lab: BenchLab, test: str, threads: int, tls: bool, seconds: int) -> dict:
    """One leg: the measurement, then the nodes' count of its sessions and one probe session's cipher."""
    before = session_counters(lab)
    if test == "connect":
        result = connect_loop(lab, tls, threads, seconds)
        clients, probe = result["connections"], result.pop("probe")
    else:
        result = parse(sysbench(lab, tls, test, f"--threads={threads}", f"--time={seconds}", "--percentile=95",
                                "--report-interval=0", "run"))
        result["rate"] = result["qps"]
        clients = threads
    after = session_counters(lab)
    if test != "connect":
        output = sysbench(lab, tls, CHECK_SCRIPT, "--events=1", "--threads=1", "run")
        probe = dict(line.split(" ", 1)[1].split("=", 1) for line in output.splitlines() if line.startswith("probe "))
    sessions = after["Connections"] - before["Connections"] - len(NODES)  # less the second reading's own
    tls_sessions = after["Ssl_accepts"] - before["Ssl_accepts"]
    result.update(sessions=sessions, tls_sessions=tls_sessions, cipher=probe.get("Ssl_cipher", ""),
                  tls_version=probe.get("Ssl_version", ""))
    if tls and (tls_sessions < clients or not result["cipher"]) or not tls and (tls_sessions or result["cipher"]):
        raise SystemExit(f"{test} {threads}t {'TLS' if tls else 'plain'}: {tls_sessions} TLS sessions of {sessions} "
                         f"on the nodes for {clients} client sessions, probe cipher {result['cipher']!r}")
    return result


def measured_leg(lab: BenchLab, test: str, threads: int, tls: bool, seconds: int) -> tuple[dict, list[str]]:
    """One leg, started once HAProxy has a writer; repeated if it fails. Returns the result and the error of
    each failed attempt."""
    failures = []
    for _attempt in range(1 + RETRIES):
        wait_for(lab.writer, timeout=120, interval=1, what="HAProxy passing connections to a writer")
        try:
            return measure(lab, test, threads, tls, seconds), failures
        except RunFailed as error:
            lines = [line for line in str(error).splitlines() if line.strip()]
            failures.append(next((line for line in lines if "FATAL" in line or "Error" in line), lines[-1])[:200])
            say(f"  {test} {threads}t {'TLS' if tls else 'plain'} failed, repeating: {failures[-1]}")
    raise SystemExit(f"{test} {threads}t {'TLS' if tls else 'plain'} failed {len(failures)} times: {failures}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--time", type=int, default=30, help="seconds per leg")
    add_lab_options(parser)
    args = parser.parse_args()

    with bench_lab(args) as lab:
        lab.converge(args)
        lab.install("client1", "sysbench", "python3-pymysql")
        lab.exec("client1", "bash", "-c", f"cat > {CHECK_SCRIPT} <<'LUA'\n{CHECK_LUA}LUA\n")
        version = lab.exec("client1", "sysbench", "--version").stdout.strip()
        pymysql_version = lab.exec("client1", "python3", "-c", "import pymysql; print(pymysql.__version__)").stdout.strip()
        writer = lab.writer()
        say(f"{version}, PyMySQL {pymysql_version}; writer {writer}; preparing {TABLES} x {TABLE_SIZE} rows")
        sysbench(lab, True, "oltp_common", "cleanup")
        sysbench(lab, True, "oltp_common", "prepare")

        runs = []
        try:
            for rep in range(1, args.reps + 1):
                for test, threads in TESTS:
                    for mode in MODES if rep % 2 else MODES[::-1]:
                        require_tls(lab, mode == "tls")
                        result, failures = measured_leg(lab, test, threads, mode == "tls", args.time)
                        result.update(rep=rep, test=test, threads=threads, mode=mode, failed_attempts=failures)
                        runs.append(result)
                        say(f"rep {rep} {test:<17} {threads}t {mode:<5} {result['rate']:9.1f}/s "
                            f"p95 {result['p95_ms']:6.2f} ms; TLS sessions {result['tls_sessions']} of "
                            f"{result['sessions']}, probe {result['cipher'] or 'no TLS'}")
        finally:
            require_tls(lab, True)

        summary = []
        for test, threads in TESTS:
            row = {"test": test, "threads": threads, "unit": "connections/s" if test == "connect" else "queries/s"}
            for mode in MODES:
                mine = [r for r in runs if (r["test"], r["threads"], r["mode"]) == (test, threads, mode)]
                row[mode] = {key: statistics.median(r[key] for r in mine) for key in ("rate", "p95_ms")}
                row[mode]["failed_attempts"] = sum(len(r["failed_attempts"]) for r in mine)
                row[mode]["tls_sessions"] = sum(r["tls_sessions"] for r in mine)
                row[mode]["sessions"] = sum(r["sessions"] for r in mine)
            row["rate_tls_vs_plain"] = row["tls"]["rate"] / row["plain"]["rate"]
            row["p95_tls_vs_plain"] = row["tls"]["p95_ms"] / row["plain"]["p95_ms"]
            row["added_p95_ms"] = row["tls"]["p95_ms"] - row["plain"]["p95_ms"]
            summary.append(row)
        cipher = next(f"{r['tls_version']} {r['cipher']}" for r in runs if r["mode"] == "tls")

        print(f"\nTLS overhead through {PROXY}, medians of {args.reps} x {args.time} s, clients on client1 "
              f"({version}, PyMySQL {pymysql_version}; TLS: {cipher})")
        print("| test | threads | unit | plain | TLS | TLS/plain | p95 ms plain | p95 ms TLS | added p95 ms "
              "| TLS sessions on the nodes (TLS legs / plain legs) | failed attempts (TLS/plain) |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in summary:
            tls, plain = row["tls"], row["plain"]
            print(f"| {row['test']} | {row['threads']} | {row['unit']} | {plain['rate']:.0f} | {tls['rate']:.0f} | "
                  f"{row['rate_tls_vs_plain']:.2f}x | {plain['p95_ms']:.2f} | {tls['p95_ms']:.2f} | "
                  f"{row['added_p95_ms']:+.2f} | {tls['tls_sessions']}/{tls['sessions']} / "
                  f"{plain['tls_sessions']}/{plain['sessions']} | {tls['failed_attempts']}/{plain['failed_attempts']} |")
        write_results(args.json, {"sysbench": version, "pymysql": pymysql_version, "client": "client1",
                                  "endpoint": PROXY, "seconds": args.time, "cipher": cipher, "summary": summary,
                                  "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
