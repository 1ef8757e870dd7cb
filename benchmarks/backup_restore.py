"""Backups (the mariadb_backup role) on a dataset of at least 1 GB: how long a full and an incremental
take and how large they are, what a backup running on the backup node costs the writer, and a
point-in-time restore of the whole cluster after a dropped table.

    .venv/bin/python benchmarks/backup_restore.py [--tables 8] [--table-size 600000] [--pairs 3]
        [--window SECONDS] [--threads 4] [--set VARIABLE=VALUE ...] [--only throughput]
        [--json FILE] [--keep] [--reuse]

--set passes role variables to site.yml (each value read as YAML), e.g. `--set mariadb_backup_cpu_quota=25%`
(`--set mariadb_backup_cpu_quota=` for no quota) or `--set mariadb_backup_rate_limit=10`; with --reuse,
site.yml runs again only when --set is given, so that the backup unit and its configuration are rewritten.
--only throughput runs steps 1 (the dataset, loaded only if it is not there), one full backup (its wall time
sizes the windows) and 3, so that several settings can be compared on one lab (--keep, then --reuse) without
loading the dataset again.

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
   per-second reports placed on the unit's journal, the tps during each phase of the backup and
   during the whole backup; the machine's CPU busy share (/proc/stat) per window says whether the
   host was saturated. A sampler reads once a second, over one TLS connection per node, galera3's
   wsrep_flow_control_sent, state and receive queue and galera1's wsrep_flow_control_paused_ns, and
   (on this host, in the container's cgroup tree) the backup unit's CPU time, CFS quota and throttled
   periods: flow control and the quota are seen at work, not assumed. Before each window galera3 must
   be Synced with an empty receive queue (the catch-up after a backup is not left to the next window);
   the wait is reported.
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
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pymysql

from benchlab import (ACCOUNT, BASE_VARS, NODES, BenchLab, add_lab_options, bench_lab, role_settings, say,
                      write_results)
from labdb import wait_for
from writer import TABLE, ContinuousWriter

BACKUP_NODE = NODES[-1]
BACKUP_DIR = "/var/backups/dbstack-mariadb"
NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
GB = 10**9
UNIT = "dbstack-mariadb-backup@{kind}.service"
# Times a window is taken again when the load lost its connection, before the run gives up.
WINDOW_RETRIES = 2
# The role's default of mariadb_backup_cpu_quota (roles/mariadb_backup/defaults/main.yml).
ROLE_CPU_QUOTA = "50%"


def connect(lab: BenchLab, host: str, database: str | None = ACCOUNT["database"]) -> pymysql.connections.Connection:
    """A connection over TLS (the nodes require it), the server's certificate checked against the lab's CA."""
    return pymysql.connect(host=lab.ip(host), port=3306, user=ACCOUNT["user"], password=ACCOUNT["password"],
                           database=database, autocommit=True, connect_timeout=5, read_timeout=600,
                           ssl={"ca": str(lab.ca_bundle)})


def sql(lab: BenchLab, host: str, statement: str, args=None, database: str | None = ACCOUNT["database"]):
    with connect(lab, host, database) as connection, connection.cursor() as cursor:
        cursor.execute(statement, args)
        return cursor.fetchall()


def wsrep(cursor, *names: str) -> dict:
    cursor.execute("SHOW GLOBAL STATUS WHERE Variable_name IN (" + ", ".join(["%s"] * len(names)) + ")", names)
    return dict(cursor.fetchall())


def sysbench(lab: BenchLab, test: str, host: str, tables: int, table_size: int, *args: str) -> str:
    process = lab.exec("client1", *lab.sysbench(), test, f"--mysql-host={lab.ip(host)}", "--mysql-port=3306",
                       f"--mysql-user={ACCOUNT['user']}", f"--mysql-password={ACCOUNT['password']}",
                       f"--mysql-db={ACCOUNT['database']}", f"--tables={tables}", f"--table-size={table_size}",
                       # ids 1..N written by sysbench: with AUTO_INCREMENT, Galera's auto_increment_increment=3
                       # would spread them over 1..3N and two thirds of the run's point writes would miss.
                       "--auto-inc=off", *args, check=False)
    if process.returncode != 0:
        raise LoadLost(f"sysbench {test} against {host} failed (exit {process.returncode}):\n"
                       f"{process.stdout[-3000:]}\n{process.stderr[-2000:]}")
    return process.stdout


class LoadLost(SystemExit):
    """sysbench ended early: it stops at its first lost connection and cannot reconnect."""


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


# --- what the backup node and the unit's cgroup do meanwhile ---------------------------------------

def unit_cgroup_dirs(lab: BenchLab, kind: str = "full") -> dict[str, Path]:
    """Where the unit's cgroup is on this host, by controller: the lab containers share the host's
    cgroup tree (their /proc/1/cgroup names host paths), so the container's own cgroup plus the unit's
    path inside it is a host path. cgroup v1 has one directory per controller, v2 one for all."""
    pid = run_host("podman", "inspect", lab.container(BACKUP_NODE), "--format", "{{.State.Pid}}").strip()
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    unit = f"system.slice/system-dbstack\\x2dmariadb\\x2dbackup.slice/{UNIT.format(kind=kind)}"
    dirs = {}
    for line in lines:
        _number, controllers, path = line.split(":", 2)
        container = path.removesuffix("/init.scope")
        if controllers == "":
            dirs.setdefault("unified", Path("/sys/fs/cgroup/unified" if Path("/sys/fs/cgroup/unified").is_dir()
                                            else "/sys/fs/cgroup") / container.lstrip("/") / unit)
        for controller in ("cpu", "cpuacct"):
            if controller in controllers.split(","):
                dirs[controller] = Path("/sys/fs/cgroup") / controllers / container.lstrip("/") / unit
    return dirs


def run_host(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def read_cgroup(dirs: dict[str, Path]) -> dict | None:
    """The unit's CPU time (s), CFS quota (share of one CPU) and throttling, or None while it has no cgroup
    with the cpu controller (not running, or systemd did not set one up)."""
    def text(controller: str, name: str) -> str | None:
        try:
            return (dirs[controller] / name).read_text()
        except (KeyError, OSError):
            return None

    stat, quota, period = text("cpu", "cpu.stat"), text("cpu", "cpu.cfs_quota_us"), text("cpu", "cpu.cfs_period_us")
    if stat is not None and quota is not None:  # cgroup v1
        fields = dict(line.split() for line in stat.splitlines())
        usage = text("cpuacct", "cpuacct.usage")
        return {"quota": None if int(quota) < 0 else int(quota) / int(period), "periods": int(fields["nr_periods"]),
                "throttled": int(fields["nr_throttled"]), "throttled_seconds": int(fields["throttled_time"]) / 1e9,
                "cpu_seconds": int(usage) / 1e9 if usage else None}
    stat, cpu_max = text("unified", "cpu.stat"), text("unified", "cpu.max")
    if stat is not None and cpu_max is not None:  # cgroup v2
        fields = dict(line.split() for line in stat.splitlines())
        limit, period = cpu_max.split()
        return {"quota": None if limit == "max" else int(limit) / int(period), "periods": int(fields.get("nr_periods", 0)),
                "throttled": int(fields.get("nr_throttled", 0)),
                "throttled_seconds": int(fields.get("throttled_usec", 0)) / 1e6,
                "cpu_seconds": int(fields["usage_usec"]) / 1e6}
    return None


class Sampler(threading.Thread):
    """Once a second: galera3's flow control sent, state and receive queue, galera1's time paused by flow
    control, galera2's flow control sent (one TLS connection to each, kept open), and the backup unit's
    cgroup (read on this host)."""

    def __init__(self, lab: BenchLab):
        super().__init__(daemon=True)
        self.lab, self.samples, self.halt = lab, [], threading.Event()
        self.cgroup_dirs = unit_cgroup_dirs(lab)

    def run(self) -> None:
        with connect(self.lab, BACKUP_NODE, None) as node, connect(self.lab, NODES[0], None) as writer, \
                connect(self.lab, NODES[1], None) as other, node.cursor() as on_node, \
                writer.cursor() as on_writer, other.cursor() as on_other:
            while not self.halt.is_set():
                three = wsrep(on_node, "wsrep_flow_control_sent", "wsrep_local_state_comment",
                              "wsrep_local_recv_queue", "wsrep_desync_count")
                one = wsrep(on_writer, "wsrep_flow_control_paused_ns")
                two = wsrep(on_other, "wsrep_flow_control_sent")
                self.samples.append({"at": time.time(), "fc_sent": int(three["wsrep_flow_control_sent"]),
                                     "state": three["wsrep_local_state_comment"],
                                     "recv_queue": int(three["wsrep_local_recv_queue"]),
                                     "desync_count": int(three.get("wsrep_desync_count", 0)),
                                     "paused_s": int(one["wsrep_flow_control_paused_ns"]) / 1e9,
                                     "fc_sent_galera2": int(two["wsrep_flow_control_sent"]),
                                     "cgroup": read_cgroup(self.cgroup_dirs)})
                self.halt.wait(1)

    def stop(self) -> list[dict]:
        self.halt.set()
        self.join()
        return self.samples


def between(samples: list[dict], start: float, end: float) -> dict:
    """Flow control in [start, end]: messages galera3 (and galera2) sent, seconds galera1 was paused."""
    inside = [s for s in samples if start <= s["at"] <= end]
    if len(inside) < 2:
        return {"fc_sent": None, "paused_seconds": None}
    result = {"fc_sent": inside[-1]["fc_sent"] - inside[0]["fc_sent"],
              "paused_seconds": round(inside[-1]["paused_s"] - inside[0]["paused_s"], 2)}
    if "fc_sent_galera2" in inside[0]:
        result["fc_sent_galera2"] = inside[-1]["fc_sent_galera2"] - inside[0]["fc_sent_galera2"]
    return result


def unit_cpu(samples: list[dict]) -> dict | None:
    """The unit's cgroup as last seen while it ran: CPU time, quota, share of the periods throttled."""
    seen = [s["cgroup"] for s in samples if s["cgroup"]]
    if not seen:
        return None
    last = seen[-1]
    return {**last, "throttled_share": round(last["throttled"] / max(1, last["periods"]), 3)}


def unit_quota(lab: BenchLab) -> dict:
    """What systemd on galera3 has for the unit (CPUQuotaPerSecUSec, "infinity" for none) and the unit
    file's line."""
    shown = lab.exec(BACKUP_NODE, "systemctl", "show", UNIT.format(kind="full"), "-p", "CPUQuotaPerSecUSec").stdout
    unit_file = lab.exec(BACKUP_NODE, "systemctl", "cat", UNIT.format(kind="full")).stdout
    return {"CPUQuotaPerSecUSec": shown.strip().partition("=")[2],
            "unit_file": next((line for line in unit_file.splitlines() if line.startswith("CPUQuota=")), None)}


def wait_synced(lab: BenchLab) -> float:
    """Wait until galera3 is Synced with an empty receive queue; the seconds it took."""
    started = time.monotonic()
    with connect(lab, BACKUP_NODE, None) as connection, connection.cursor() as cursor:
        def settled() -> bool:
            status = wsrep(cursor, "wsrep_local_state_comment", "wsrep_local_recv_queue")
            return status["wsrep_local_state_comment"] == "Synced" and int(status["wsrep_local_recv_queue"]) == 0
        wait_for(settled, timeout=900, interval=0.5, what=f"{BACKUP_NODE} Synced, receive queue empty")
    return time.monotonic() - started


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
    sampler = Sampler(lab) if kind == "full" else None
    if sampler:
        sampler.start()
    started = time.monotonic()
    process = lab.exec(BACKUP_NODE, "systemctl", "start", UNIT.format(kind=kind), check=False)
    wall = time.monotonic() - started
    samples = sampler.stop() if sampler else []
    if process.returncode != 0:
        raise SystemExit(f"{UNIT.format(kind=kind)} failed:\n" + "\n".join(m for _t, m in journal(lab, kind, since)))
    result = describe(lab, kind, since, wall)
    if sampler:
        result["unit_cpu"] = unit_cpu(samples)
    return result


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


def write_window(lab: BenchLab, tables: int, table_size: int, threads: int, seconds: int,
                 start_backup: bool = False) -> dict:
    """oltp_write_only through haproxy1 for `seconds`, with its per-second tps placed on the clock and the
    sampler's readings; `start_backup`: a full backup is started on galera3 as the window starts."""
    settle = wait_synced(lab)
    sampler = Sampler(lab)
    sampler.start()
    time.sleep(1.5)  # a first sample before the window
    if start_backup:
        lab.exec(BACKUP_NODE, "systemctl", "start", "--no-block", UNIT.format(kind="full"))
    cpu = cpu_counters()
    started = node_clock(lab)
    try:
        output = sysbench(lab, "oltp_write_only", "haproxy1", tables, table_size, f"--threads={threads}",
                          f"--time={seconds}", "--report-interval=1", "--percentile=95", "run")
    except LoadLost as lost:
        if start_backup:  # the next try starts its own backup on a caught-up node
            wait_for(lambda: unit_state(lab, "full")["ActiveState"] in ("inactive", "failed"), timeout=3600,
                     interval=1, what="the full backup to finish")
        sampler.stop()
        return {"lost": str(lost)}
    tps = float(re.search(rf"transactions:\s+\d+\s+\({NUMBER} per sec", output)[1])
    p95 = float(re.search(rf"95th percentile:\s+{NUMBER}", output)[1])
    per_second = [(started + float(m[1]), float(m[2])) for m in map(INTERVAL.match, output.splitlines()) if m]
    busy = round(busy_share(cpu, cpu_counters()), 3)
    ended = time.time()
    if start_backup:  # the sampler goes on until the backup has finished and galera3 caught up
        wait_for(lambda: unit_state(lab, "full")["ActiveState"] in ("inactive", "failed"), timeout=3600,
                 interval=1, what="the full backup to finish")
        wait_synced(lab)
    samples = sampler.stop()
    return {"tps": tps, "p95_ms": p95, "cpu_busy": busy, "started": started, "ended": ended,
            "settle_before_seconds": round(settle, 1), "per_second": per_second,
            "flow_control": between(samples, started, ended), "samples": samples}


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
        "backup": tps_between(window["per_second"], marks["start"], marks["finished"]),
    }


def synced_again(samples: list[dict], after: float) -> float | None:
    """When galera3 was first seen Synced with an empty receive queue after `after`."""
    return next((s["at"] for s in samples if s["at"] >= after and s["state"] == "Synced" and s["recv_queue"] == 0), None)


def backup_flow_control(window: dict, marks: dict) -> dict:
    """Flow control from the backup's start to its end, and from its end until galera3 was synced again
    (its applier catching up on what it received while desynced), with how long that took."""
    samples = window["samples"]
    synced = synced_again(samples, marks["finished"])
    return {"during": between(samples, marks["start"], marks["finished"]),
            "catch_up": between(samples, marks["finished"], synced or marks["finished"]),
            "catch_up_seconds": None if synced is None else round(max(0.0, synced - marks["finished"]), 1),
            "desynced_seen": sorted({s["state"] for s in samples if marks["start"] <= s["at"] <= marks["finished"]}),
            "max_recv_queue": max((s["recv_queue"] for s in samples if s["at"] >= marks["start"]), default=None)}


def throughput(lab: BenchLab, args, window_seconds: int) -> dict:
    windows, repeated = [], []
    for pair in range(1, args.pairs + 1):
        order = ("without", "with") if pair % 2 else ("with", "without")
        for mode in order:
            backup = None
            since = node_clock(lab)
            for _attempt in range(1 + WINDOW_RETRIES):
                window = write_window(lab, args.tables, args.table_size, args.threads, window_seconds,
                                      start_backup=mode == "with")
                if "lost" not in window:
                    break
                # A connection HAProxy cut (a node marked down on the saturated lab) ends sysbench; the
                # window is taken again, and counted, rather than the run thrown away.
                repeated.append({"pair": pair, "mode": mode, "error": window["lost"].splitlines()[-3:]})
                say(f"pair {pair} {mode} backup: the load lost its connection, window taken again: "
                    f"{window['lost'].splitlines()[-3:]}")
                since = node_clock(lab)
            else:
                raise SystemExit(f"the load lost its connection {1 + WINDOW_RETRIES} times in a row: {window['lost']}")
            if mode == "with":
                state = unit_state(lab, "full")
                if state["Result"] != "success":
                    raise SystemExit(f"the full backup under load failed: {journal(lab, 'full', since)}")
                wall = (int(state["ExecMainExitTimestampMonotonic"]) - int(state["ExecMainStartTimestampMonotonic"])) / 1e6
                backup = describe(lab, "full", since, wall)
                backup["unit_cpu"] = unit_cpu(window["samples"])
                window["phase_tps"] = phase_tps(window, backup["marks"])
                window["backup_covered"] = backup["marks"]["finished"] <= window["ended"]
                window["backup_flow_control"] = backup_flow_control(window, backup["marks"])
            window.update(pair=pair, mode=mode, backup=backup)
            windows.append(window)
            extra = ""
            if backup:
                extra = (f"; backup {backup['wall_seconds']:.0f} s (copy {backup['copy_seconds']} s, verify "
                         f"{backup['verify_seconds']} s), unit cgroup {backup['unit_cpu']}, tps by phase "
                         f"{window['phase_tps']}, flow control {window['backup_flow_control']}")
            say(f"pair {pair} {mode:<7} backup: {window['tps']:7.1f} tps, p95 {window['p95_ms']:.1f} ms, "
                f"CPU busy {100 * window['cpu_busy']:.0f} %, waited {window['settle_before_seconds']} s for "
                f"{BACKUP_NODE} synced before, flow control in the window {window['flow_control']}{extra}")
    without = [w["tps"] for w in windows if w["mode"] == "without"]
    with_ = [w["tps"] for w in windows if w["mode"] == "with"]
    summary = {"window_seconds": window_seconds, "threads": args.threads, "test": "oltp_write_only",
               "median_without": statistics.median(without), "median_with": statistics.median(with_)}
    summary["ratio"] = round(summary["median_with"] / summary["median_without"], 3)
    no_backup = statistics.median(statistics.mean(t for _at, t in w["per_second"]) for w in windows
                                  if w["mode"] == "without")
    by_phase = {}
    for phase in ("copy", "compress", "verify", "offhost", "after", "backup"):
        values = [w["phase_tps"][phase] for w in windows if w["mode"] == "with" and w["phase_tps"][phase] is not None]
        if values:
            by_phase[phase] = {"tps": statistics.median(values), "ratio": round(statistics.median(values) / no_backup, 3)}
    summary["by_phase"] = by_phase
    backups = [w for w in windows if w["mode"] == "with"]
    summary["backup_wall_under_load"] = [w["backup"]["wall_seconds"] for w in backups]
    summary["fc_sent_with"] = [w["flow_control"]["fc_sent"] for w in backups]
    summary["fc_sent_without"] = [w["flow_control"]["fc_sent"] for w in windows if w["mode"] == "without"]
    summary["fc_sent_during_backup"] = [w["backup_flow_control"]["during"]["fc_sent"] for w in backups]
    summary["fc_sent_catch_up"] = [w["backup_flow_control"]["catch_up"]["fc_sent"] for w in backups]
    summary["catch_up_seconds"] = [w["backup_flow_control"]["catch_up_seconds"] for w in backups]
    summary["cpu_busy_without"] = statistics.median(w["cpu_busy"] for w in windows if w["mode"] == "without")
    summary["cpu_busy_with"] = statistics.median(w["cpu_busy"] for w in backups)
    summary["unit_cpu"] = [w["backup"]["unit_cpu"] for w in backups]
    summary["windows_repeated"] = repeated
    return {"summary": summary, "windows": windows}


# --- point-in-time restore ------------------------------------------------------------------------

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

    restore_seconds = lab.playbook("playbooks/restore.yml", extra_vars={
        **BASE_VARS, "mariadb_backup_restore_stop_gtid": gtid, "mariadb_backup_restore_confirm": True,
        "mariadb_backup_restore_new_full_backup": False})
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
    parser.add_argument("--set", action="append", default=[], metavar="VARIABLE=VALUE",
                        help="a role variable for site.yml (repeatable), e.g. mariadb_backup_cpu_quota=25%%")
    parser.add_argument("--only", choices=("all", "throughput"), default="all",
                        help="throughput: the dataset, one full backup and the windows; no incremental, no restore")
    add_lab_options(parser)
    args = parser.parse_args()
    settings = role_settings(parser, args.set)
    cpu_quota = settings.get("mariadb_backup_cpu_quota", ROLE_CPU_QUOTA)
    cpu_quota = "" if cpu_quota is None else str(cpu_quota)

    with bench_lab(args) as lab:
        lab.converge(args, settings)
        quota = unit_quota(lab)
        say(f"mariadb_backup_cpu_quota {cpu_quota!r}: {UNIT.format(kind='full')} has {quota}")
        lab.install("client1", "sysbench")
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
        say(f"the unit's cgroup as last seen: {full['unit_cpu']}")
        if args.only == "all":
            writes = sysbench(lab, "oltp_write_only", "haproxy1", args.tables, args.table_size,
                              f"--threads={args.threads}", "--time=30", "run")
            transactions = int(re.search(r"transactions:\s+(\d+)", writes)[1])
            say(f"{transactions} oltp_write_only transactions through haproxy1 before the incremental")
            incremental = take_backup(lab, "incremental")
            print_backup(incremental)

        window = args.window or int(full["wall_seconds"] * 2 + 0.999)
        say(f"writer throughput, {args.pairs} pairs of {window} s windows without / with a full backup")
        load = throughput(lab, args, window)
        summary = load["summary"]
        say(f"median tps without {summary['median_without']:.1f}, with {summary['median_with']:.1f}: ratio "
            f"{summary['ratio']:.2f} (target >= 0.9); by phase {summary['by_phase']}")

        results = {"sysbench": version, "mariadb": mariadb, "backup_node": BACKUP_NODE, "only": args.only,
                   "settings": settings, "cpu_quota": cpu_quota, "unit_quota": quota, "dataset": dataset,
                   "backups": {"full": full}, "throughput": load}
        if args.only == "all":
            say("point-in-time restore after a dropped table")
            results["restore"] = point_in_time(lab)
            results["backups"].update(incremental=incremental, transactions_between=transactions)
        print_summary(results)
        write_results(args.json, results)
    return 0


def print_summary(results: dict) -> None:
    print(f"\nBackups on {results['backup_node']}, {results['dataset']['innodb_bytes'] / GB:.2f} GB of InnoDB data "
          f"({results['sysbench']}, MariaDB {results['mariadb']})")
    print("| backup | wall s | copy s | compress s | verify s | off-host s | data GB | stored GB | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    restore = results.get("restore")
    shown = [results["backups"]["full"]]
    if restore:
        shown += [results["backups"]["incremental"], restore["incremental"], restore["new_full_backup"]]
    for result in shown:
        print(f"| {result['kind']} | {result['wall_seconds']:.1f} | {result['copy_seconds']} | "
              f"{result['compress_seconds']} | {result['verify_seconds']} | {result['offhost_seconds']} | "
              f"{result['data_bytes'] / GB:.3f} | {result['bytes'] / GB:.3f} | "
              f"{result['data_bytes'] / max(1, result['bytes']):.1f}x |")
    load = results["throughput"]
    print(f"\nWriter throughput (oltp_write_only, {load['summary']['threads']} threads through haproxy1, "
          f"{load['summary']['window_seconds']} s windows), mariadb_backup_cpu_quota {results['cpu_quota']!r}")
    print("| pair | backup | tps | p95 ms | CPU busy | galera3 flow control sent | backup wall s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for window in load["windows"]:
        wall = f"{window['backup']['wall_seconds']:.0f}" if window.get("backup") else "-"
        print(f"| {window['pair']} | {window['mode']} | {window['tps']:.1f} | {window['p95_ms']:.1f} | "
              f"{100 * window['cpu_busy']:.0f} % | {window['flow_control']['fc_sent']} | {wall} |")
    summary = load["summary"]
    print(f"ratio of medians {summary['ratio']:.2f} ({summary['median_with']:.1f} / {summary['median_without']:.1f}); "
          f"by phase {summary['by_phase']}")
    during = summary["by_phase"].get("backup")
    if during:
        print(f"while the backup ran: {during['tps']:.1f} tps, {during['ratio']:.2f}x the windows without (target >= 0.9)")
    print(f"windows taken again because the load lost its connection: {len(summary['windows_repeated'])}"
          + "".join(f"\n  pair {r['pair']} {r['mode']}: {' | '.join(r['error'])}" for r in summary["windows_repeated"]))
    if not restore:
        return
    print(f"\nPoint-in-time restore to {restore['gtid']}: {restore['restore_seconds']:.1f} s, new full backup "
          f"{restore['new_full_backup']['wall_seconds']:.1f} s; {restore['acknowledged']} acknowledged writes, "
          f"missing after the restore: {[n['missing_acknowledged'] for n in restore['nodes'].values()]}, never "
          f"acknowledged but present: {[n['never_acknowledged'] for n in restore['nodes'].values()]}")


if __name__ == "__main__":
    sys.exit(main())
