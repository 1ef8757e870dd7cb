"""Backups (the mariadb_backup role) on a dataset of at least 1 GB: how long a full and an incremental
take and how large they are, what a backup running on the backup node costs the writer, and a
point-in-time restore of the whole cluster after a dropped table.

    .venv/bin/python benchmarks/backup_restore.py [--tables 8] [--table-size 600000] [--pairs 3]
        [--window SECONDS] [--threads 4] [--json FILE] [--keep] [--reuse]

On the benchmarks' lab (benchlab.py; client1 is also the `backup` host, so each run copies off-host):

1. Dataset: sysbench (Debian's package, on client1) prepares --tables x --table-size oltp rows in the
   bench database, straight to the writer node (the load is not what is measured; HAProxy would only
   add a hop on the shared CPUs). Its size is read on galera3: InnoDB's data_length + index_length of
   the bench tables (information_schema) and `du` of the datadir. The run stops unless it is >= 1 GB.
2. Backups as their timers take them: `systemctl start dbstack-mariadb-backup@full.service` on galera3
   (the last Galera host, the role's default backup node), then 30 s of oltp_write_only through
   HAProxy and an `@incremental` the same way. For each: wall time of the unit, the phases from its
   journal and manifest (mariabackup copy while desynced, compression, proof by restore, off-host
   copy), data_bytes (the mariabackup directory), bytes (stored, zstd) and verified.seconds.
3. Writer throughput with a backup running: sysbench oltp_write_only, --threads threads, through
   haproxy1's own address (HAProxy sends writes to galera1) for fixed windows, in --pairs pairs of one
   window without a backup and one with a full backup started on galera3 (`systemctl start
   --no-block`) as the window starts; which one goes first alternates. The window is --window seconds,
   by default twice the full backup's wall time of step 2, so that a window covers a whole backup
   (one under load takes longer).
   Reported: each window's tps, the ratio of the medians (target >= 0.9), and, from sysbench's
   per-second reports placed on the unit's journal, the tps during each phase of the backup; the
   machine's CPU busy share (/proc/stat) per window says whether the host was saturated.
4. Point-in-time restore: ContinuousWriter (molecule/shared/writer.py, 20 acknowledged INSERTs/s
   through haproxy1, TLS) writes; an incremental is taken meanwhile; writes go on; the accident is a
   DROP TABLE of the writer's table through HAProxy; the writer stops. `dbstack-mariadb-backup
   binlog-find 'DROP TABLE'` on galera3 gives the accident's GTID; playbooks/restore.yml with that stop
   GTID and mariadb_backup_restore_confirm=true (mariadb_backup_restore_new_full_backup=false, so the
   restore is timed alone) restores the cluster; the new full backup the playbook would take is then
   run and timed apart. Recovery point: the acknowledged writes missing on each node afterwards (must
   be 0) and the rows present that were never acknowledged (in-doubt ones counted apart).

The lab is removed afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymysql

from benchlab import ACCOUNT, BASE_VARS, NODES, REPO, BenchLab, add_lab_options, bench_lab, say, write_results
from labdb import wait_for
from writer import TABLE, ContinuousWriter

BACKUP_NODE = NODES[-1]
BACKUP_DIR = "/var/backups/dbstack-mariadb"
NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
GB = 10**9
UNIT = "dbstack-mariadb-backup@{kind}.service"


def sql(lab: BenchLab, host: str, statement: str, args=None, database: str | None = ACCOUNT["database"]):
    """A statement over TLS (the nodes require it), the server's certificate checked against the lab's CA."""
    with pymysql.connect(host=lab.ip(host), port=3306, user=ACCOUNT["user"], password=ACCOUNT["password"],
                         database=database, autocommit=True, connect_timeout=5, read_timeout=600,
                         ssl={"ca": str(lab.ca_bundle)}) as connection, connection.cursor() as cursor:
        cursor.execute(statement, args)
        return cursor.fetchall()


def sysbench(lab: BenchLab, test: str, host: str, tables: int, table_size: int, *args: str) -> str:
    process = lab.exec("client1", *lab.sysbench(), test, f"--mysql-host={lab.ip(host)}", "--mysql-port=3306",
                       f"--mysql-user={ACCOUNT['user']}", f"--mysql-password={ACCOUNT['password']}",
                       f"--mysql-db={ACCOUNT['database']}", f"--tables={tables}", f"--table-size={table_size}",
                       # ids 1..N written by sysbench: with AUTO_INCREMENT, Galera's auto_increment_increment=3
                       # would spread them over 1..3N and two thirds of the run's point writes would miss.
                       "--auto-inc=off", *args, check=False)
    if process.returncode != 0:
        raise SystemExit(f"sysbench {test} against {host} failed (exit {process.returncode}):\n"
                         f"{process.stdout[-3000:]}\n{process.stderr[-2000:]}")
    return process.stdout


def node_clock(lab: BenchLab) -> float:
    """The containers share the host's kernel clock; read on galera3 anyway, as the journal has it."""
    return float(lab.exec(BACKUP_NODE, "date", "+%s.%N").stdout)


def cpu_counters() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    return (after[0] - before[0]) / max(1, after[1] - before[1])


# --- dataset ----------------------------------------------------------------------------------------

def dataset_size(lab: BenchLab) -> dict:
    rows = sql(lab, BACKUP_NODE, "SELECT COALESCE(SUM(data_length + index_length), 0), COUNT(*), "
                                 "COALESCE(SUM(table_rows), 0) FROM information_schema.tables "
                                 "WHERE table_schema = %s AND engine = 'InnoDB'", (ACCOUNT["database"],))
    innodb_bytes, tables, approx_rows = (int(value) for value in rows[0])
    def du(path: str) -> int:
        return int(lab.exec(BACKUP_NODE, "du", "-sb", path).stdout.split()[0])

    return {"innodb_bytes": innodb_bytes, "tables": tables, "approx_rows": approx_rows,
            "bench_dir_bytes": du(f"/var/lib/mysql/{ACCOUNT['database']}"), "datadir_bytes": du("/var/lib/mysql")}


def loaded(lab: BenchLab, tables: int, table_size: int) -> bool:
    try:
        count, highest = sql(lab, BACKUP_NODE, f"SELECT COUNT(*), MAX(id) FROM sbtest{tables}")[0]
        return count == highest == table_size
    except pymysql.err.MySQLError:
        return False


def load_dataset(lab: BenchLab, tables: int, table_size: int) -> float:
    writer = lab.writer()
    say(f"loading {tables} x {table_size:,} rows straight into {writer} ({tables} sysbench threads)")
    sysbench(lab, "oltp_common", writer, tables, table_size, "cleanup")
    started = time.monotonic()
    sysbench(lab, "oltp_common", writer, tables, table_size, f"--threads={tables}", "prepare")
    seconds = time.monotonic() - started
    # galera3 applies what galera1 committed; wait until it has all of it.
    wait_for(lambda: loaded(lab, tables, table_size), timeout=600, interval=2, what=f"sbtest{tables} complete on "
             f"{BACKUP_NODE}")
    sql(lab, BACKUP_NODE, "ANALYZE TABLE " + ", ".join(f"sbtest{n}" for n in range(1, tables + 1)))
    return seconds


# --- backups ----------------------------------------------------------------------------------------

def journal(lab: BenchLab, kind: str, since: float) -> list[tuple[float, str]]:
    """(time, message) of the unit's journal since `since` (epoch seconds)."""
    out = lab.exec(BACKUP_NODE, "journalctl", f"--unit={UNIT.format(kind=kind)}", f"--since=@{since - 1:.0f}",
                   "--output=json", "--no-pager").stdout
    lines = []
    for line in out.splitlines():
        entry = json.loads(line)
        message = entry.get("MESSAGE")
        if isinstance(message, list):  # journald gives non-UTF-8 messages as byte lists
            message = bytes(message).decode(errors="replace")
        lines.append((int(entry["__REALTIME_TIMESTAMP"]) / 1e6, message or ""))
    return [line for line in lines if line[0] >= since - 1]


def unit_state(lab: BenchLab, kind: str) -> dict:
    out = lab.exec(BACKUP_NODE, "systemctl", "show", UNIT.format(kind=kind), "--property=ActiveState,Result,"
                   "ExecMainStartTimestampMonotonic,ExecMainExitTimestampMonotonic").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def manifest(lab: BenchLab) -> dict:
    newest = json.loads(lab.exec(BACKUP_NODE, "dbstack-mariadb-backup", "status").stdout)["newest_verified"]
    path = f"{BACKUP_DIR}/chains/{newest['chain']}/{newest['file'].replace('.xb.zst', '.json')}"
    return json.loads(lab.exec(BACKUP_NODE, "cat", path).stdout)


def phases(lab: BenchLab, kind: str, since: float, entry: dict) -> dict:
    """The unit's run split at its journal lines: start, stored (after mariabackup and zstd), verified,
    copied off-host, finished. The copy itself (mariabackup, node desynced) is the manifest's started ..
    finished (whole seconds)."""
    lines = journal(lab, kind, since)

    def at(pattern: str) -> float | None:
        return next((t for t, message in lines if re.search(pattern, message)), None)

    started, stored = at(r"^Start(ing|ed) dbstack"), at(r"\.xb\.zst of chain")
    verified, copied = at(r"^verified by restoring it"), at(r"^copied to ")
    finished = at(r"^(Finished|dbstack-mariadb-backup@.*: Deactivated successfully)") or (lines[-1][0] if lines else None)
    copy_end = time.mktime(time.strptime(entry["finished"][:19], "%Y-%m-%dT%H:%M:%S"))
    copy_start = time.mktime(time.strptime(entry["started"][:19], "%Y-%m-%dT%H:%M:%S"))
    marks = {"start": started, "copy_start": copy_start, "copy_end": copy_end, "stored": stored,
             "verified": verified, "offhost_copied": copied, "finished": finished}
    if None in (started, stored, verified, finished):
        raise SystemExit(f"unexpected journal of {UNIT.format(kind=kind)}: {lines}")
    return marks


def take_backup(lab: BenchLab, kind: str) -> dict:
    since = node_clock(lab)
    started = time.monotonic()
    process = lab.exec(BACKUP_NODE, "systemctl", "start", UNIT.format(kind=kind), check=False)
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"{UNIT.format(kind=kind)} failed:\n" + "\n".join(m for _t, m in journal(lab, kind, since)))
    return describe(lab, kind, since, wall)


def describe(lab: BenchLab, kind: str, since: float, wall: float) -> dict:
    entry = manifest(lab)
    if entry["kind"] != kind:
        raise SystemExit(f"asked for a {kind} backup, the newest verified one is {entry['kind']}: {entry['file']}")
    marks = phases(lab, kind, since, entry)
    return {
        "kind": kind, "chain": entry["chain"], "file": entry["file"], "wall_seconds": round(wall, 1),
        "data_bytes": entry["data_bytes"], "bytes": entry["bytes"], "verify_seconds": entry["verified"]["seconds"],
        "tables_verified": sum(entry["verified"]["tables"].values()),
        "copy_seconds": round(marks["copy_end"] - marks["copy_start"]),
        "compress_seconds": round(marks["stored"] - marks["copy_end"], 1),
        "offhost_seconds": round(marks["offhost_copied"] - marks["verified"], 1) if marks["offhost_copied"] else None,
        "marks": marks,
    }


def print_backup(result: dict) -> None:
    say(f"{result['kind']:<11} {result['wall_seconds']:6.1f} s wall: copy {result['copy_seconds']} s, compress "
        f"{result['compress_seconds']} s, verify {result['verify_seconds']} s, off-host {result['offhost_seconds']} s; "
        f"{result['data_bytes'] / GB:.2f} GB of data, {result['bytes'] / GB:.3f} GB stored "
        f"({result['data_bytes'] / max(1, result['bytes']):.1f}x)")


# --- writer throughput with and without a backup --------------------------------------------------

INTERVAL = re.compile(rf"^\[\s*{NUMBER}s \] thds: \d+ tps: {NUMBER}")


def write_window(lab: BenchLab, tables: int, table_size: int, threads: int, seconds: int) -> dict:
    """oltp_write_only through haproxy1 for `seconds`, with its per-second tps placed on the clock."""
    cpu = cpu_counters()
    started = node_clock(lab)
    output = sysbench(lab, "oltp_write_only", "haproxy1", tables, table_size, f"--threads={threads}",
                      f"--time={seconds}", "--report-interval=1", "--percentile=95", "run")
    tps = float(re.search(rf"transactions:\s+\d+\s+\({NUMBER} per sec", output)[1])
    p95 = float(re.search(rf"95th percentile:\s+{NUMBER}", output)[1])
    per_second = [(started + float(m[1]), float(m[2])) for m in map(INTERVAL.match, output.splitlines()) if m]
    return {"tps": tps, "p95_ms": p95, "cpu_busy": round(busy_share(cpu, cpu_counters()), 3),
            "started": started, "per_second": per_second}


def tps_between(per_second: list[tuple[float, float]], start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    inside = [tps for at, tps in per_second if start < at <= end]
    return round(statistics.mean(inside), 1) if inside else None


def phase_tps(window: dict, marks: dict) -> dict:
    """Mean of sysbench's per-second tps during each phase of the backup that ran in the window."""
    return {
        "copy": tps_between(window["per_second"], marks["copy_start"], marks["copy_end"]),
        "compress": tps_between(window["per_second"], marks["copy_end"], marks["stored"]),
        "verify": tps_between(window["per_second"], marks["stored"], marks["verified"]),
        "offhost": tps_between(window["per_second"], marks["verified"], marks["offhost_copied"]),
        "after": tps_between(window["per_second"], marks["finished"], float("inf")),
    }


def throughput(lab: BenchLab, args, window_seconds: int) -> dict:
    windows = []
    for pair in range(1, args.pairs + 1):
        order = ("without", "with") if pair % 2 else ("with", "without")
        for mode in order:
            backup = None
            if mode == "with":
                since = node_clock(lab)
                launched = time.monotonic()
                lab.exec(BACKUP_NODE, "systemctl", "start", "--no-block", UNIT.format(kind="full"))
            window = write_window(lab, args.tables, args.table_size, args.threads, window_seconds)
            if mode == "with":
                wait_for(lambda: unit_state(lab, "full")["ActiveState"] in ("inactive", "failed"), timeout=1800,
                         interval=1, what="the full backup to finish")
                state = unit_state(lab, "full")
                if state["Result"] != "success":
                    raise SystemExit(f"the full backup under load failed: {journal(lab, 'full', since)}")
                wall = (int(state["ExecMainExitTimestampMonotonic"]) - int(state["ExecMainStartTimestampMonotonic"])) / 1e6
                backup = describe(lab, "full", since, wall)
                backup["launch_to_end_seconds"] = round(time.monotonic() - launched, 1)
                window["phase_tps"] = phase_tps(window, backup["marks"])
                window["backup_covered"] = backup["marks"]["finished"] <= window["started"] + window_seconds
            window.update(pair=pair, mode=mode, backup=backup)
            windows.append(window)
            extra = ""
            if backup:
                extra = (f"; backup {backup['wall_seconds']:.0f} s (copy {backup['copy_seconds']} s, verify "
                         f"{backup['verify_seconds']} s), tps by phase {window['phase_tps']}")
            say(f"pair {pair} {mode:<7} backup: {window['tps']:7.1f} tps, p95 {window['p95_ms']:.1f} ms, "
                f"CPU busy {100 * window['cpu_busy']:.0f} %{extra}")
    without = [w["tps"] for w in windows if w["mode"] == "without"]
    with_ = [w["tps"] for w in windows if w["mode"] == "with"]
    summary = {"window_seconds": window_seconds, "threads": args.threads, "test": "oltp_write_only",
               "median_without": statistics.median(without), "median_with": statistics.median(with_)}
    summary["ratio"] = round(summary["median_with"] / summary["median_without"], 3)
    no_backup = statistics.median(statistics.mean(t for _at, t in w["per_second"]) for w in windows
                                  if w["mode"] == "without")
    by_phase = {}
    for phase in ("copy", "compress", "verify", "offhost", "after"):
        values = [w["phase_tps"][phase] for w in windows if w["mode"] == "with" and w["phase_tps"][phase] is not None]
        if values:
            by_phase[phase] = {"tps": statistics.median(values), "ratio": round(statistics.median(values) / no_backup, 3)}
    summary["by_phase"] = by_phase
    return {"summary": summary, "windows": windows}


# --- point-in-time restore ------------------------------------------------------------------------

def restore_playbook(lab: BenchLab, *extra: str) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(BASE_VARS, handle)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0")
    started = time.monotonic()
    process = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory),
                              "-e", f"@{handle.name}", *extra, str(REPO / "playbooks" / "restore.yml")],
                             cwd=REPO, env=env, capture_output=True, text=True, check=False)
    took = time.monotonic() - started
    os.unlink(handle.name)
    if process.returncode != 0:
        raise SystemExit(f"restore.yml failed:\n{process.stdout[-6000:]}\n{process.stderr[-2000:]}")
    return took


def whole(lab: BenchLab) -> bool:
    for node in NODES:
        status = dict(sql(lab, node, "SHOW GLOBAL STATUS LIKE 'wsrep_%'", database=None))
        if (status.get("wsrep_local_state_comment"), status.get("wsrep_cluster_size")) != ("Synced", str(len(NODES))):
            return False
    return bool(sql(lab, "haproxy1", "SELECT @@wsrep_node_name"))


def point_in_time(lab: BenchLab) -> dict:
    writer = ContinuousWriter(lab.ip("haproxy1"), 3306, ACCOUNT["user"], ACCOUNT["password"], ACCOUNT["database"],
                              rate=20, ssl={"ca": str(lab.ca_bundle)}).start()
    time.sleep(3)
    incremental = take_backup(lab, "incremental")
    print_backup(incremental)
    time.sleep(5)
    sql(lab, "haproxy1", f"DROP TABLE {TABLE}")
    dropped_at = time.monotonic()
    time.sleep(1)
    report = writer.stop()
    acknowledged = {seq for seq, _at in report.acknowledged}
    late = [seq for seq, at in report.acknowledged if at > dropped_at]
    other_failures = [f for f in report.failed if f[2] != 1146]
    say(f"writer: {len(acknowledged)} acknowledged, {len(report.failed)} failed ({len(other_failures)} other than "
        f"1146 no such table), {len(report.in_doubt)} in doubt; longest gap {report.longest_gap:.2f} s")

    found = [json.loads(line) for line in
             lab.exec(BACKUP_NODE, "dbstack-mariadb-backup", "binlog-find", "DROP TABLE").stdout.splitlines()]
    accident = [event for event in found if TABLE in (event.get("statement") or "")]
    if len(accident) != 1:
        raise SystemExit(f"binlog-find found {len(accident)} drops of {TABLE}: {found}")
    gtid = accident[0]["gtid"]
    say(f"the accident is GTID {gtid} ({accident[0]['statement']}); restoring up to it")

    restore_seconds = restore_playbook(lab, "-e", f"mariadb_backup_restore_stop_gtid={gtid}",
                                       "-e", "mariadb_backup_restore_confirm=true",
                                       "-e", "mariadb_backup_restore_new_full_backup=false")
    started = time.monotonic()
    wait_for(lambda: whole(lab), timeout=300, interval=1, what="the restored cluster whole, HAProxy passing")
    settle_seconds = time.monotonic() - started
    say(f"restore.yml: {restore_seconds:.1f} s (+{settle_seconds:.1f} s until HAProxy passed connections)")
    new_full = take_backup(lab, "full")
    print_backup(new_full)

    per_node = {}
    for node in NODES:
        stored = {row[0] for row in sql(lab, node, f"SELECT seq FROM {TABLE}")}
        per_node[node] = {"rows": len(stored), "missing_acknowledged": len(acknowledged - stored),
                          "never_acknowledged": len(stored - acknowledged),
                          "never_acknowledged_in_doubt": len((stored - acknowledged) & set(report.in_doubt)),
                          "missing_first": sorted(acknowledged - stored)[:10]}
    say(f"recovery point: {per_node}")
    return {"gtid": gtid, "statement": accident[0]["statement"], "incremental": incremental,
            "restore_seconds": round(restore_seconds, 1), "settle_seconds": round(settle_seconds, 1),
            "new_full_backup": new_full, "acknowledged": len(acknowledged), "failed": len(report.failed),
            "failed_other_than_1146": len(other_failures), "in_doubt": len(report.in_doubt),
            "acknowledged_after_drop": len(late), "longest_gap_seconds": round(report.longest_gap, 2),
            "nodes": per_node}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--tables", type=int, default=8)
    parser.add_argument("--table-size", type=int, default=600_000)
    parser.add_argument("--threads", type=int, default=4, help="sysbench threads of the write load")
    parser.add_argument("--pairs", type=int, default=3, help="pairs of windows without / with a backup")
    parser.add_argument("--window", type=int, help="seconds per window (default: twice the full backup's time)")
    add_lab_options(parser)
    args = parser.parse_args()

    with bench_lab(args) as lab:
        if not args.reuse:
            say(f"site.yml: {lab.deploy(BASE_VARS):.0f} s")
        lab.exec("client1", "apt-get", "update", "-q")
        lab.exec("client1", "apt-get", "install", "-q", "-y", "--no-install-recommends", "sysbench")
        version = lab.exec("client1", "sysbench", "--version").stdout.strip()
        mariadb = sql(lab, BACKUP_NODE, "SELECT VERSION()")[0][0]
        load_seconds = None
        if loaded(lab, args.tables, args.table_size):
            say(f"{args.tables} x {args.table_size:,} rows already there (--reuse): not loading again")
        else:
            load_seconds = round(load_dataset(lab, args.tables, args.table_size), 1)
        dataset = {"tables": args.tables, "table_size": args.table_size, "load_seconds": load_seconds,
                   **dataset_size(lab)}
        say(f"dataset: {dataset['innodb_bytes'] / GB:.2f} GB InnoDB (data + indexes) in {dataset['tables']} tables, "
            f"bench dir {dataset['bench_dir_bytes'] / GB:.2f} GB, datadir {dataset['datadir_bytes'] / GB:.2f} GB on "
            f"{BACKUP_NODE}; loaded in {load_seconds} s")
        if dataset["innodb_bytes"] < GB:
            raise SystemExit("the dataset is under 1 GB: raise --tables or --table-size")

        full = take_backup(lab, "full")
        print_backup(full)
        writes = sysbench(lab, "oltp_write_only", "haproxy1", args.tables, args.table_size, f"--threads={args.threads}",
                          "--time=30", "run")
        between = int(re.search(r"transactions:\s+(\d+)", writes)[1])
        say(f"{between} oltp_write_only transactions through haproxy1 before the incremental")
        incremental = take_backup(lab, "incremental")
        print_backup(incremental)

        window = args.window or int(full["wall_seconds"] * 2 + 0.999)
        say(f"writer throughput, {args.pairs} pairs of {window} s windows without / with a full backup")
        load = throughput(lab, args, window)
        summary = load["summary"]
        say(f"median tps without {summary['median_without']:.1f}, with {summary['median_with']:.1f}: ratio "
            f"{summary['ratio']:.2f} (target >= 0.9); by phase {summary['by_phase']}")

        say("point-in-time restore after a dropped table")
        restore = point_in_time(lab)

        results = {"sysbench": version, "mariadb": mariadb, "backup_node": BACKUP_NODE, "dataset": dataset,
                   "backups": {"full": full, "incremental": incremental, "transactions_between": between},
                   "throughput": load, "restore": restore}
        print_summary(results)
        write_results(args.json, results)
    return 0


def print_summary(results: dict) -> None:
    print(f"\nBackups on {results['backup_node']}, {results['dataset']['innodb_bytes'] / GB:.2f} GB of InnoDB data "
          f"({results['sysbench']}, MariaDB {results['mariadb']})")
    print("| backup | wall s | copy s | compress s | verify s | off-host s | data GB | stored GB | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for result in (results["backups"]["full"], results["backups"]["incremental"], results["restore"]["incremental"],
                   results["restore"]["new_full_backup"]):
        print(f"| {result['kind']} | {result['wall_seconds']:.1f} | {result['copy_seconds']} | "
              f"{result['compress_seconds']} | {result['verify_seconds']} | {result['offhost_seconds']} | "
              f"{result['data_bytes'] / GB:.3f} | {result['bytes'] / GB:.3f} | "
              f"{result['data_bytes'] / max(1, result['bytes']):.1f}x |")
    load = results["throughput"]
    print(f"\nWriter throughput (oltp_write_only, {load['summary']['threads']} threads through haproxy1, "
          f"{load['summary']['window_seconds']} s windows)")
    print("| pair | backup | tps | p95 ms | CPU busy |")
    print("| --- | --- | --- | --- | --- |")
    for window in load["windows"]:
        print(f"| {window['pair']} | {window['mode']} | {window['tps']:.1f} | {window['p95_ms']:.1f} | "
              f"{100 * window['cpu_busy']:.0f} % |")
    summary = load["summary"]
    print(f"ratio of medians {summary['ratio']:.2f} ({summary['median_with']:.1f} / {summary['median_without']:.1f}); "
          f"by phase {summary['by_phase']}")
    restore = results["restore"]
    print(f"\nPoint-in-time restore to {restore['gtid']}: {restore['restore_seconds']:.1f} s, new full backup "
          f"{restore['new_full_backup']['wall_seconds']:.1f} s; {restore['acknowledged']} acknowledged writes, "
          f"missing after the restore: {[n['missing_acknowledged'] for n in restore['nodes'].values()]}, never "
          f"acknowledged but present: {[n['never_acknowledged'] for n in restore['nodes'].values()]}")


if __name__ == "__main__":
    sys.exit(main())
