# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Backups of one Galera node with mariabackup, proven by restoring each one, and the restore's plan.

Installed by the mariadb_backup role as ``dbstack-mariadb-backup`` on the backup node (and on the
backup host, where only ``serve`` runs, as the forced command of the node's SSH key).

Layout under the backup directory (``dir`` in the configuration file)::

    chains/<full's UTC stamp>/00-full.xb.zst         tar stream of the mariabackup directory, zstd
    chains/<full's UTC stamp>/00-full.json           its manifest (positions, sizes, checksum, proof)
    chains/<full's UTC stamp>/01-incremental.xb.zst  an incremental on top of the one before it
    binlog/                                           (off-host copy and restore staging only)

A chain is a full backup and the incrementals taken on top of it.  Each run backs up, stores the
compressed stream with its sha256, then proves the chain up to the new backup: it unpacks every
backup of the chain from the stored files, prepares them, starts a throw-away mariadbd (no network,
no Galera, no binary log) on the result and counts the tables.  Only then is the manifest marked
verified.  Retention deletes chains only after a newer full backup verified; the off-host copy then
mirrors the chains and the binary logs to the backup host over SSH.

Any failure exits non-zero with one line naming the problem and the fix, so the systemd unit fails
loudly (journal + exit status) and ``status`` shows the age of the newest verified backup.

Runs on the node's python3 with PyMySQL (Debian's python3-pymysql).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = Path("/etc/dbstack/mariadb-backup.json")
MANIFEST_FORMAT = 1
# mariabackup's files of interest in a backup directory, by the names of MariaDB 10.11 (Debian 12);
# read_info also takes the mariadb_backup_* names newer releases may use.
CHECKPOINTS = "xtrabackup_checkpoints"
BINLOG_INFO = "xtrabackup_binlog_info"
GALERA_INFO = "xtrabackup_galera_info"
# Free space wanted beyond the estimate, for the filesystem's own needs.
SPACE_MARGIN = 1.2
BINLOG_EVENT_HEAD = re.compile(r"^#(\d{6}\s+\d{1,2}:\d{2}:\d{2})\s+server id\s+\d+\s+end_log_pos\s+(\d+)")
BINLOG_AT = re.compile(r"^# at (\d+)$")
BINLOG_GTID = re.compile(r"\bGTID (\d+-\d+-\d+)\b")
GTID = re.compile(r"^(\d+)-(\d+)-(\d+)$")


class BackupError(Exception):
    """A problem the operator must fix; the message names it and the fix."""


# ---------------------------------------------------------------------------------------------
# Pure rules (unit tested in tests/unit/roles/test_mariadb_backup.py)
# ---------------------------------------------------------------------------------------------

def utc_stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def parse_checkpoints(text: str) -> dict:
    values = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    return {"type": values.get("backup_type", ""), "from_lsn": int(values.get("from_lsn", 0)),
            "to_lsn": int(values.get("to_lsn", 0))}


def parse_binlog_info(text: str) -> dict | None:
    """``FILE<TAB>POS[<TAB>GTID]`` as mariabackup writes it; None when binary logging is off."""
    fields = text.split()
    if len(fields) < 2:
        return None
    return {"file": fields[0], "position": int(fields[1]), "gtid": fields[2] if len(fields) > 2 else ""}


def parse_galera_info(text: str) -> dict | None:
    fields = text.split()
    if not fields or ":" not in fields[0]:
        return None
    uuid, _colon, seqno = fields[0].partition(":")
    return {"uuid": uuid, "seqno": int(seqno)}


def parse_gtid(text: str) -> tuple[int, int, int]:
    match = GTID.match(text.strip())
    if not match:
        raise BackupError(f"{text!r} is not a GTID: write it as DOMAIN-SERVER-SEQUENCE, e.g. 0-1-1234 "
                          "(the GTID of the accident as the backup node's binary log shows it).")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def gtid_seq_in_domain(gtid_list: str, domain: int) -> int | None:
    """The sequence number of ``domain`` in a comma separated GTID list (a backup's position)."""
    for item in filter(None, (part.strip() for part in gtid_list.split(","))):
        item_domain, _server, seq = parse_gtid(item)
        if item_domain == domain:
            return seq
    return None


def chain_problems(chain_id: str, manifests: list[dict], files_present: set[str]) -> list[str]:
    """What makes a chain unusable: a missing backup, a gap in the LSNs, a file that is not there."""
    problems = []
    if not manifests or manifests[0].get("kind") != "full":
        problems.append(f"chain {chain_id} does not start with a full backup")
    for position, manifest in enumerate(manifests):
        if manifest.get("index") != position:
            problems.append(f"chain {chain_id} misses backup number {position:02d} "
                            f"(next is {manifest.get('file')}): an incremental is missing")
            break
        if manifest.get("file") not in files_present:
            problems.append(f"chain {chain_id}: {manifest.get('file')} is listed by its manifest but not on disk")
        if position and manifest.get("from_lsn") != manifests[position - 1].get("to_lsn"):
            problems.append(f"chain {chain_id}: {manifest.get('file')} starts at LSN {manifest.get('from_lsn')} but "
                            f"the backup before it ends at LSN {manifests[position - 1].get('to_lsn')}")
    return problems


def chains_to_delete(chains: dict[str, list[dict]], keep: int) -> list[str]:
    """Chains older than the ``keep`` newest chains whose full backup verified, oldest first.

    Nothing is deleted before ``keep`` verified full backups exist, and never a chain newer than the
    oldest one kept (an unverified newer chain does not count, and is not deleted either)."""
    verified = [cid for cid in sorted(chains) if chains[cid] and chains[cid][0].get("verified")]
    if len(verified) < keep:
        return []
    oldest_kept = verified[-keep]
    return [cid for cid in sorted(chains) if cid < oldest_kept]


def choose_backup(chains: dict[str, list[dict]], chain_id: str, stop: dict | None) -> tuple[str, int]:
    """(chain, index of its last backup to apply) for a restore.

    ``chain_id`` empty means the newest.  With a stop point, the newest verified backup taken before
    it: a backup taken after the point would already hold what the restore must undo."""
    candidates = [cid for cid in sorted(chains) if not chain_id or cid == chain_id]
    if chain_id and not candidates:
        raise BackupError(f"there is no backup chain {chain_id!r}; the chains are: "
                          f"{', '.join(sorted(chains)) or 'none'} (see dbstack-mariadb-backup status).")
    for cid in reversed(candidates):
        # Only a prefix of verified backups can be applied.
        prefix = []
        for manifest in chains[cid]:
            if not manifest.get("verified"):
                break
            prefix.append(manifest)
        if not prefix:
            continue
        if stop is None:
            return cid, len(prefix) - 1
        before = [m for m in prefix if backup_is_before(m, stop)]
        if before:
            return cid, before[-1]["index"]
    if not any(chains.values()):
        raise BackupError("there is no backup to restore from. Take one first: "
                          "systemctl start dbstack-mariadb-backup@full (on the backup node).")
    where = f"in chain {chain_id}" if chain_id else "in any chain"
    if stop is None:
        raise BackupError(f"no verified backup {where}; verify one (dbstack-mariadb-backup verify) or take a new one.")
    raise BackupError(f"no verified backup {where} was taken before {describe_stop(stop)}; the oldest starts at "
                      f"{oldest_start(chains)}. Choose a later point, or restore without a stop point.")


def backup_is_before(manifest: dict, stop: dict) -> bool:
    if stop["kind"] == "datetime":
        return manifest["finished_local"] <= stop["value"]
    domain, _server, seq = parse_gtid(stop["value"])
    backup_seq = gtid_seq_in_domain(manifest.get("binlog", {}).get("gtid", ""), domain)
    return backup_seq is None or backup_seq < seq


def describe_stop(stop: dict) -> str:
    return f"GTID {stop['value']}" if stop["kind"] == "gtid" else f"{stop['value']} (the nodes' local time)"


def oldest_start(chains: dict[str, list[dict]]) -> str:
    finished = [m["finished_local"] for ms in chains.values() for m in ms if m.get("verified")]
    return min(finished) if finished else "nothing verified"


def binlog_sequence(names: list[str], first: str) -> list[str]:
    """The binary log files from ``first`` on, in order; a gap means a file was purged or lost."""
    numbered = sorted((int(n.rsplit(".", 1)[1]), n) for n in names if re.search(r"\.\d{6,}$", n))
    files = [name for number, name in numbered if name >= first and name.rsplit(".", 1)[0] == first.rsplit(".", 1)[0]]
    if not files or files[0] != first:
        raise BackupError(f"the binary log {first}, where the backup's position is, is not there "
                          "(purged or not copied): the point in time cannot be reached from this backup. "
                          "Restore without a stop point, or keep binary logs longer (mariadb_galera_binlog_expire_days).")
    numbers = [int(n.rsplit(".", 1)[1]) for n in files]
    for previous, current in zip(numbers, numbers[1:]):
        if current != previous + 1:
            raise BackupError(f"binary log number {previous + 1} is missing between {first} and {files[-1]}: "
                              "the events in it cannot be replayed. Restore to a point before it.")
    return files


def binlog_lines(lines):
    """mariadb-binlog's text output as (position, time, gtid, line): an event header gives its time and,
    for a GTID event, the GTID; any other line has time and gtid None. Position is the last ``# at``."""
    at = None
    for line in lines:
        m = BINLOG_AT.match(line)
        if m:
            at = int(m.group(1))
            continue
        head = BINLOG_EVENT_HEAD.match(line)
        if head:
            gtid = BINLOG_GTID.search(line)
            yield at, binlog_time(head.group(1)), gtid.group(1) if gtid else None, line
        else:
            yield at, None, None, line


def scan_binlog_text(lines) -> dict:
    """The positions of the GTID events and the last event time in mariadb-binlog's text output."""
    gtids: dict[str, int] = {}
    last_time = None
    for at, moment, gtid, _line in binlog_lines(lines):
        last_time = moment or last_time
        if gtid and at is not None:
            gtids[gtid] = at
    return {"gtids": gtids, "last_time": last_time}


def find_in_binlog_text(lines, pattern: str, file_name: str) -> list[dict]:
    """The transactions whose statement contains ``pattern`` (case-insensitive): DDL as written, DML by
    the statement MariaDB annotates row events with (binlog_annotate_row_events, on by default)."""
    found, current = [], None
    needle = pattern.lower()
    for at, moment, gtid, line in binlog_lines(lines):
        if gtid:
            current = {"gtid": gtid, "time": moment, "file": file_name, "position": at, "statement": None}
        if moment or current is None or current["statement"] is not None:
            continue
        annotation = line.startswith("#Q> ")
        statement = not line.startswith(("#", "/*", "SET ", "BINLOG ", "'", "DELIMITER"))
        if (annotation or statement) and needle in line.lower():
            current["statement"] = (line[4:] if annotation else line).strip()
            found.append(current)
    return found


def binlog_time(text: str) -> str:
    """mariadb-binlog's ``YYMMDD H:MM:SS`` as ``YYYY-MM-DD HH:MM:SS`` (the nodes' local time)."""
    return datetime.datetime.strptime(" ".join(text.split()), "%y%m%d %H:%M:%S").strftime("%Y-%m-%d %H:%M:%S")


def normalise_datetime(text: str) -> str:
    try:
        return datetime.datetime.fromisoformat(text.strip()).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise BackupError(f"{text!r} is not a date and time: write it as 'YYYY-MM-DD HH:MM:SS', "
                          "in the Galera nodes' local time.") from None


# ---------------------------------------------------------------------------------------------
# The node
# ---------------------------------------------------------------------------------------------

def load_config(path: Path = CONFIG) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(f"{path} is missing: run playbooks/site.yml, which installs the backups.") from None


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=False, text=True, **kwargs)


def run_checked(argv: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    result = run(argv, capture_output=True, **kwargs)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout or "").strip().splitlines()[-5:]
        raise BackupError(f"{what} failed (exit {result.returncode}: {shlex.join(argv)}): {' | '.join(tail)}")
    return result


def connect(socket_path: str):
    import pymysql  # only where a server is queried; the backup host has no MariaDB

    return pymysql.connect(unix_socket=socket_path, user="root", autocommit=True, connect_timeout=10)


def query(conn, sql: str) -> list[tuple]:
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def binlog_history(root: Path, renew: bool = False) -> str:
    """The name of the node's current binary log history.

    A restore starts the binary logs anew (mariadb-bin.000001 again, other events): a chain taken before
    it must never be rolled forward with the logs written after it.  Each manifest records the history
    its position belongs to; a restore starts a new one."""
    path = root / "binlog-history"
    if renew or not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        path.write_text(utc_stamp(datetime.datetime.now(datetime.timezone.utc)) + "\n")
    return path.read_text().strip()


def tree_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def require_space(directory: Path, needed: int, what: str, setting: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(directory).free
    if free < needed * SPACE_MARGIN:
        raise BackupError(f"not enough disk space for {what} in {directory}: about {human(needed * SPACE_MARGIN)} "
                          f"needed, {human(free)} free. Free space there or set {setting} to a larger filesystem.")


class Pacer:
    """Holds what a run writes to ``rate`` MB/s (10^6 bytes, as mariadb_backup_rate_limit) and pushes
    it to disk every SYNC_EVERY bytes.

    Left to the page cache, a run's writes pile up as dirty pages and go to disk in bursts that stall
    every fsync on the same disk, the writer's commits among them; written at a steady pace and synced
    as they go, they cost the writer no more than mariabackup's throttled reads. 0: no pacing, no syncs."""

    SYNC_EVERY = 8 << 20

    def __init__(self, rate: float, sync, clock=time.monotonic, sleep=time.sleep):
        self.rate = rate * 1e6
        self.sync = sync
        self.clock = clock
        self.sleep = sleep
        self.started = None
        self.total = 0
        self.unsynced = 0

    def wrote(self, size: int) -> None:
        if not self.rate:
            return
        if self.started is None:
            self.started = self.clock()
        self.total += size
        self.unsynced += size
        if self.unsynced >= self.SYNC_EVERY:
            self.sync()
            self.unsynced = 0
        ahead = self.total / self.rate - (self.clock() - self.started)
        if ahead > 0:
            self.sleep(ahead)


def syncfs(path: Path):
    """A function that writes out the dirty pages of the filesystem that holds ``path`` (syncfs(2))."""
    libc = ctypes.CDLL(None, use_errno=True)

    def sync() -> None:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            if libc.syncfs(descriptor) != 0:
                raise BackupError(f"syncfs on {path}: {os.strerror(ctypes.get_errno())}")
        finally:
            os.close(descriptor)
    return sync


def human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} TiB"


class Store:
    """The chains in one backup directory (the node's, or a copy of the off-host one)."""

    def __init__(self, root: Path, rate_limit: float = 0):
        self.root = root
        self.chains_dir = root / "chains"
        # MB/s the unpacking of a proof may write (0: as fast as it can, as a restore wants).
        self.rate_limit = rate_limit

    def chains(self) -> dict[str, list[dict]]:
        chains = {}
        if not self.chains_dir.is_dir():
            return chains
        for chain in sorted(p for p in self.chains_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            manifests = []
            for path in sorted(chain.glob("[0-9][0-9]-*.json")):
                with contextlib.suppress(ValueError, OSError):
                    manifests.append(json.loads(path.read_text()))
            chains[chain.name] = manifests
        return chains

    def files_in(self, chain_id: str) -> set[str]:
        return {p.name for p in (self.chains_dir / chain_id).iterdir()}

    def write_manifest(self, manifest: dict) -> None:
        path = self.chains_dir / manifest["chain"] / manifest["file"].replace(".xb.zst", ".json")
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)

    def check_chain(self, chain_id: str, upto: int, checksums: bool = True) -> list[dict]:
        manifests = self.chains()[chain_id][: upto + 1]
        problems = chain_problems(chain_id, manifests, self.files_in(chain_id))
        if problems:
            raise BackupError("; ".join(problems) + ". Restore another chain (-e mariadb_backup_restore_chain=CHAIN) "
                              "or take a new full backup.")
        if checksums:
            for manifest in manifests:
                digest = sha256_file(self.chains_dir / chain_id / manifest["file"])
                if digest != manifest["sha256"]:
                    raise BackupError(f"chain {chain_id}: {manifest['file']} does not match its manifest's sha256 "
                                      "(damaged copy). Restore another chain, or from the other copy "
                                      "(-e mariadb_backup_restore_source=offhost or local).")
        return manifests

    def unpack(self, chain_id: str, manifests: list[dict], into: Path) -> None:
        """Every backup of the chain unpacked and prepared into ``into``: a datadir ready to start."""
        work = into.parent / (into.name + ".increments")
        shutil.rmtree(work, ignore_errors=True)
        for manifest in manifests:
            target = into if manifest["kind"] == "full" else work / manifest["file"]
            target.mkdir(parents=True)
            source = self.chains_dir / chain_id / manifest["file"]
            with open(source, "rb") as stream:
                unzstd = subprocess.Popen(["zstd", "-q", "-d", "-c"], stdin=stream, stdout=subprocess.PIPE)
                if self.rate_limit:
                    untar = self.paced_untar(unzstd.stdout, target)
                else:
                    untar = run(["tar", "-x", "-C", str(target), "-f", "-"], stdin=unzstd.stdout,
                                capture_output=True)
                unzstd.stdout.close()
                if unzstd.wait() != 0 or untar.returncode != 0:
                    raise BackupError(f"unpacking {source} failed: {untar.stderr.strip()}")
        run_checked(["mariabackup", "--prepare", f"--target-dir={into}"], f"preparing {manifests[0]['file']}")
        for manifest in manifests[1:]:
            run_checked(["mariabackup", "--prepare", f"--target-dir={into}",
                         f"--incremental-dir={work / manifest['file']}"], f"applying {manifest['file']}")
        shutil.rmtree(work, ignore_errors=True)

    def paced_untar(self, stream, target: Path) -> subprocess.CompletedProcess:
        """tar -x fed at the rate limit, its files pushed to disk as they come (see Pacer)."""
        # tar's messages go to a file: a pipe nobody reads until the end could fill and hold tar.
        with tempfile.TemporaryFile() as messages:
            untar = subprocess.Popen(["tar", "-x", "-C", str(target), "-f", "-"], stdin=subprocess.PIPE,
                                     stderr=messages)
            pacer = Pacer(self.rate_limit, syncfs(target))
            with contextlib.suppress(BrokenPipeError):
                for block in iter(lambda: stream.read(1 << 20), b""):
                    untar.stdin.write(block)
                    pacer.wrote(len(block))
            with contextlib.suppress(BrokenPipeError):
                untar.stdin.close()
            returncode = untar.wait()
            messages.seek(0)
            return subprocess.CompletedProcess(untar.args, returncode, "", messages.read().decode(errors="replace"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def scratch_server(datadir: Path):
    """A throw-away mariadbd on a prepared datadir: no network, no Galera, no binary log.

    It runs as mysql, which may only pass through the backup directory (mode 0711) into this one."""
    run_checked(["chown", "-R", "mysql:mysql", str(datadir)], "handing the datadir to mysql")
    os.chown(datadir.parent, 0, 0)
    os.chmod(datadir.parent, 0o711)
    socket_path = datadir / "dbstack-scratch.sock"
    log = datadir.parent / (datadir.name + ".log")
    with open(log, "w") as log_stream:
        server = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={datadir}", f"--socket={socket_path}", "--skip-networking",
             "--user=mysql", "--skip-log-bin", "--innodb-buffer-pool-size=128M", f"--pid-file={datadir}/scratch.pid",
             "--wsrep-on=OFF"], stdout=log_stream, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while not socket_path.exists():
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text().strip().splitlines()[-3:]
                raise BackupError(f"the backup does not start as a server: {' | '.join(tail)}")
            time.sleep(0.2)
        yield str(socket_path)
    finally:
        if server.poll() is None:
            run(["mariadb-admin", f"--socket={socket_path}", "shutdown"], capture_output=True)
            try:
                server.wait(timeout=120)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def count_tables(socket_path: str) -> dict:
    conn = connect(socket_path)
    try:
        rows = query(conn, "SELECT table_schema, COUNT(*) FROM information_schema.tables WHERE table_schema NOT IN "
                           "('information_schema', 'performance_schema', 'sys') GROUP BY table_schema")
        for schema, table in query(conn, "SELECT table_schema, table_name FROM information_schema.tables "
                                         "WHERE engine = 'InnoDB' AND table_schema NOT IN ('mysql', 'sys')"):
            # Reads every page of the table: a damaged page fails here, not on the day of the restore.
            result = query(conn, f"CHECK TABLE `{schema}`.`{table}`")
            status = [r for r in result if r[2] in ("error", "status") and r[3] != "OK"]
            if status:
                raise BackupError(f"CHECK TABLE {schema}.{table} on the restored backup says {status[-1][3]}")
        return {schema: int(count) for schema, count in rows}
    finally:
        conn.close()


def verify(store: Store, chain_id: str, upto: int) -> dict:
    """Prove a chain up to backup ``upto`` by restoring it into a scratch directory."""
    manifests = store.check_chain(chain_id, upto)
    scratch = store.root / ".verify"
    shutil.rmtree(scratch, ignore_errors=True)
    started = time.monotonic()
    try:
        datadir = scratch / "datadir"
        store.unpack(chain_id, manifests, datadir)
        with scratch_server(datadir) as socket_path:
            tables = count_tables(socket_path)
        proof = {"at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                 "seconds": round(time.monotonic() - started, 1), "tables": tables}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for manifest in manifests:
        if not manifest.get("verified"):
            manifest["verified"] = proof
            store.write_manifest(manifest)
    return proof


def galera_state(conn) -> str:
    rows = query(conn, "SHOW GLOBAL STATUS LIKE 'wsrep_local_state_comment'")
    return rows[0][1] if rows else ""


# What one unit of mariabackup's --throttle (read operations per second) copies per second of large tables:
# 17, 31 and 58 MB/s at 10, 20 and 40 on 1.3 GB with MariaDB 10.11 (benchmarks/backup_restore.py). A small
# file costs a whole unit: 21 MB of small system tables took 160 s at 3.
BYTES_PER_THROTTLE_UNIT = 1.7e6


def mariabackup_argv(config: dict, stage: Path, from_lsn: int | None) -> list[str]:
    """mariabackup's command line: a full backup, or an incremental from from_lsn, into stage; with a
    rate limit (MB/s), the --throttle closest to it."""
    argv = ["mariabackup", "--backup", "--galera-info", f"--target-dir={stage}", f"--socket={config['socket']}",
            "--user=root"]
    if config.get("rate_limit"):
        argv.append(f"--throttle={max(1, round(config['rate_limit'] * 1e6 / BYTES_PER_THROTTLE_UNIT))}")
    if from_lsn is not None:
        argv.append(f"--incremental-lsn={from_lsn}")
    return argv


def take_backup(config: dict, kind: str) -> dict:
    store = Store(Path(config["dir"]), rate_limit=config.get("rate_limit", 0))
    chains = store.chains()
    newest = sorted(chains)[-1] if chains else None
    if kind == "incremental":
        if newest is None:
            print("no full backup yet: taking a full backup instead of an incremental", flush=True)
            kind = "full"
        elif (not all(m.get("verified") for m in chains[newest])
              or chain_problems(newest, chains[newest], store.files_in(newest))):
            print(f"chain {newest} has a backup that did not verify: taking a full backup instead", flush=True)
            kind = "full"
    datadir = Path(config["datadir"])
    require_space(store.root, tree_bytes(datadir), "a backup and its proof", "mariadb_backup_dir")

    started = datetime.datetime.now().astimezone()
    chain_id = utc_stamp(started) if kind == "full" else newest
    index = 0 if kind == "full" else len(chains[newest])
    name = f"{index:02d}-{kind}"
    chain_dir = store.chains_dir / chain_id
    stage = store.root / ".stage"
    shutil.rmtree(stage, ignore_errors=True)
    from_lsn = chains[newest][-1]["to_lsn"] if kind == "incremental" else None
    run_checked(mariabackup_argv(config, stage, from_lsn), f"mariabackup of {config['node']}")
    finished = datetime.datetime.now().astimezone()
    manifest = {
        "format": MANIFEST_FORMAT, "chain": chain_id, "index": index, "kind": kind, "file": f"{name}.xb.zst",
        "node": config["node"], "cluster": config.get("cluster", ""),
        "started": started.isoformat(timespec="seconds"), "finished": finished.isoformat(timespec="seconds"),
        "finished_local": finished.strftime("%Y-%m-%d %H:%M:%S"),
        "data_bytes": tree_bytes(stage), "verified": None,
    }
    checkpoints = read_info(stage, CHECKPOINTS)
    if not checkpoints:
        raise BackupError(f"mariabackup left no {CHECKPOINTS} in {stage}: the backup cannot be chained or prepared.")
    manifest.update({k: v for k, v in parse_checkpoints(checkpoints).items() if k != "type"})
    manifest["binlog"] = parse_binlog_info(read_info(stage, BINLOG_INFO))
    manifest["binlog_history"] = binlog_history(store.root)
    manifest["galera"] = parse_galera_info(read_info(stage, GALERA_INFO))
    store.chains_dir.mkdir(mode=0o700, exist_ok=True)
    chain_dir.mkdir(exist_ok=True)
    target = chain_dir / manifest["file"]
    partial = target.with_suffix(".partial")
    with open(partial, "wb") as out:
        tar = subprocess.Popen(["tar", "-c", "-C", str(stage), "-f", "-", "."], stdout=subprocess.PIPE)
        zstd = subprocess.Popen(["zstd", "-q", f"-{config.get('zstd_level', 3)}", "-c"], stdin=tar.stdout,
                                stdout=subprocess.PIPE)
        tar.stdout.close()
        digest = hashlib.sha256()
        pacer = Pacer(config.get("rate_limit", 0), lambda: (out.flush(), os.fdatasync(out.fileno())))
        for block in iter(lambda: zstd.stdout.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
            pacer.wrote(len(block))
        if zstd.wait() != 0 or tar.wait() != 0:
            raise BackupError(f"compressing the backup into {partial} failed (disk full?)")
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, target)
    shutil.rmtree(stage, ignore_errors=True)
    manifest["bytes"] = target.stat().st_size
    manifest["sha256"] = digest.hexdigest()
    store.write_manifest(manifest)
    print(f"{manifest['file']} of chain {chain_id}: {human(manifest['data_bytes'])} of data, "
          f"{human(manifest['bytes'])} stored, binlog {manifest['binlog']}", flush=True)
    proof = verify(store, chain_id, index)
    print(f"verified by restoring it: {sum(proof['tables'].values())} tables in {proof['seconds']} s", flush=True)
    return manifest


def require_synced(config: dict) -> None:
    conn = connect(config["socket"])
    try:
        state = galera_state(conn)
    finally:
        conn.close()
    if state != "Synced":
        raise BackupError(f"{config['node']} is {state or 'not in a cluster'}, not Synced: a backup of it could miss "
                          "committed writes. Let it sync (or choose another mariadb_backup_node) and run again.")


@contextlib.contextmanager
def desynced(config: dict):
    """The node out of flow control for the whole run (copy, compression, proof, off-host copy).

    A desynced node lets the cluster commit without waiting for it: the run's load on this node slows
    the node's own applying, which catches up afterwards, instead of every writer of the cluster. Each
    switch has its own connection: a run outlasts wait_timeout."""
    conn = connect(config["socket"])
    try:
        query(conn, "SET GLOBAL wsrep_desync = ON")
    finally:
        conn.close()
    try:
        yield
    finally:
        conn = connect(config["socket"])
        try:
            query(conn, "SET GLOBAL wsrep_desync = OFF")
        finally:
            conn.close()


def read_info(stage: Path, name: str) -> str:
    for candidate in (name, name.replace("xtrabackup_", "mariadb_backup_")):
        with contextlib.suppress(FileNotFoundError):
            return (stage / candidate).read_text()
    return ""


def prune(store: Store, keep: int) -> list[str]:
    deleted = []
    for chain_id in chains_to_delete(store.chains(), keep):
        shutil.rmtree(store.chains_dir / chain_id)
        deleted.append(chain_id)
    return deleted


def binlogs_to_purge(logs: list[tuple[str, int]], budget: int) -> str | None:
    """The first binary log to keep so that the files total at most ``budget`` bytes (never the current one)."""
    total = sum(size for _name, size in logs)
    keep_from = None
    for position, (_name, size) in enumerate(logs[:-1]):
        if total <= budget:
            break
        total -= size
        keep_from = logs[position + 1][0]
    return keep_from


def prune_binlogs(config: dict) -> None:
    """Keep the binary logs within their size budget (MariaDB itself expires them by age)."""
    budget = int(config.get("binlog_max_bytes", 0))
    if not budget:
        return
    conn = connect(config["socket"])
    try:
        logs = [(row[0], int(row[1])) for row in query(conn, "SHOW BINARY LOGS")]
        keep_from = binlogs_to_purge(logs, budget)
        if keep_from:
            query(conn, f"PURGE BINARY LOGS TO '{keep_from}'")
            print(f"binary logs over {human(budget)}: purged those before {keep_from}; point-in-time recovery "
                  f"now starts there", flush=True)
    finally:
        conn.close()


def ssh_argv(config: dict) -> list[str]:
    offhost = config["offhost"]
    return ["ssh", "-i", offhost["key"], "-o", f"UserKnownHostsFile={offhost['known_hosts']}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
            "-p", str(offhost.get("port", 22))]


def offhost_copy(config: dict) -> None:
    """Mirror the chains and the closed binary logs to the backup host; it prunes by the same rule."""
    offhost = config["offhost"]
    remote = f"{offhost['user']}@{offhost['address']}"
    ssh = shlex.join(ssh_argv(config))
    conn = connect(config["socket"])
    try:
        # Closes the current binary log, so the copy holds every event up to this moment.
        query(conn, "FLUSH BINARY LOGS")
    finally:
        conn.close()
    store = Store(Path(config["dir"]))
    # rsync's MB is 10^6 bytes, as mariadb_backup_rate_limit's.
    rate = [f"--bwlimit={config['rate_limit']}MB"] if config.get("rate_limit") else []
    # No --delete: a node that lost its backups must not empty the copy. The host prunes by the same rule.
    run_checked(["rsync", "-a", *rate, "--exclude=.*", "--exclude=*.partial", "-e", ssh, f"{store.chains_dir}/",
                 f"{remote}:chains/"],
                f"copying the backups to {offhost['address']} (backup host unreachable? see ssh's message)")
    binlogs = Path(config["binlog_dir"])
    if binlogs.is_dir():
        history = binlog_history(store.root)
        run_checked(ssh_argv(config) + [remote, f"binlog-dir {history}"], f"preparing the copy on {offhost['address']}")
        run_checked(["rsync", "-a", *rate, "-e", ssh, f"{binlogs}/", f"{remote}:binlog/{history}/"],
                    f"copying the binary logs to {offhost['address']}")
    run_checked(ssh_argv(config) + [remote, f"prune {int(config['keep_full'])}"],
                f"applying the retention on {offhost['address']}")
    print(f"copied to {offhost['address']}:{offhost['dir']}", flush=True)


def fetch_offhost(config: dict, into: Path) -> None:
    offhost = config["offhost"]
    if not offhost:
        raise BackupError("no backup host is configured (inventory group of mariadb_backup_host_group is empty), "
                          "so there is no off-host copy to restore from. Restore from the node's own backups.")
    remote = f"{offhost['user']}@{offhost['address']}"
    ssh = shlex.join(ssh_argv(config))
    into.mkdir(parents=True, exist_ok=True)
    for part in ("chains", "binlog"):
        run_checked(["rsync", "-a", "--delete", "-e", ssh, f"{remote}:{part}/", f"{into / part}/"],
                    f"fetching the off-host {part} from {offhost['address']} (backup host unreachable?)")


def serve(config_dir: Path) -> int:
    """The forced command of the backup node's key on the backup host: rsync in its directory, prune."""
    command = os.environ.get("SSH_ORIGINAL_COMMAND", "")
    words = shlex.split(command)
    if words[:2] == ["rsync", "--server"]:
        os.chdir(config_dir)
        # The backup host may serve an application too (the lab's client does): the copy takes the CPU it leaves.
        os.nice(19)
        # rrsync confines rsync to the directory (no paths outside it, no shell).
        os.execvp("rrsync", ["rrsync", str(config_dir)])
    if len(words) == 2 and words[0] == "binlog-dir" and re.fullmatch(r"\d{8}T\d{6}Z", words[1]):
        (config_dir / "binlog" / words[1]).mkdir(parents=True, exist_ok=True)
        return 0
    if len(words) == 2 and words[0] == "prune" and words[1].isdigit():
        store = Store(config_dir)
        for chain_id in prune(store, int(words[1])):
            print(f"deleted chain {chain_id} on the backup host", flush=True)
        prune_copied_binlogs(store)
        return 0
    print(f"refused: {command!r} (only rsync, binlog-dir and prune are allowed with this key)", file=sys.stderr)
    return 1


def prune_copied_binlogs(store: Store) -> None:
    """Binary logs older than the oldest chain's position of their history serve no restore: delete them."""
    starts: dict[str, str] = {}
    for manifests in store.chains().values():
        if manifests and manifests[0].get("binlog") and manifests[0].get("binlog_history"):
            history, first = manifests[0]["binlog_history"], manifests[0]["binlog"]["file"]
            starts[history] = min(first, starts.get(history, first))
    binlog_root = store.root / "binlog"
    if not starts or not binlog_root.is_dir():
        return
    for history_dir in binlog_root.iterdir():
        if history_dir.is_dir() and history_dir.name not in starts:
            shutil.rmtree(history_dir)
        elif history_dir.is_dir():
            for path in history_dir.iterdir():
                if re.search(r"\.\d{6,}$", path.name) and path.name < starts[history_dir.name]:
                    path.unlink()


def binlog_find(config: dict, text: str) -> list[dict]:
    store = Store(Path(config["dir"]))
    history = binlog_history(store.root)
    starts = [ms[0]["binlog"] for ms in store.chains().values()
              if ms and ms[0].get("binlog") and ms[0].get("binlog_history") == history]
    binlog_dir = Path(config["binlog_dir"])
    names = [p.name for p in binlog_dir.glob("*")]
    if starts:
        oldest = min(starts, key=lambda b: b["file"])
        files, start = binlog_sequence(names, oldest["file"]), oldest["position"]
    else:
        files, start = sorted(n for n in names if re.search(r"\.\d{6,}$", n)), None
    found = []
    for name in files:
        argv = ["mariadb-binlog", str(binlog_dir / name)]
        if start is not None and name == files[0]:
            argv.insert(1, f"--start-position={start}")
        found += find_in_binlog_text(run_checked(argv, f"reading {name}").stdout.splitlines(), text, name)
    return found


def status(config: dict) -> dict:
    store = Store(Path(config["dir"]))
    chains = store.chains()
    verified = [m for cid in sorted(chains) for m in chains[cid] if m.get("verified")]
    now = datetime.datetime.now().astimezone()
    newest = verified[-1] if verified else None
    result = {
        "node": config["node"], "dir": config["dir"], "chains": len(chains),
        "backups": sum(len(ms) for ms in chains.values()),
        "stored_bytes": sum(m.get("bytes", 0) for ms in chains.values() for m in ms),
        "newest_verified": None, "unverified": [f"{m['chain']}/{m['file']}" for ms in chains.values() for m in ms
                                                if not m.get("verified")],
        "offhost": config["offhost"]["address"] if config.get("offhost") else None,
    }
    if newest:
        finished = datetime.datetime.fromisoformat(newest["finished"])
        result["newest_verified"] = {
            "chain": newest["chain"], "file": newest["file"], "kind": newest["kind"], "finished": newest["finished"],
            "age_seconds": int((now - finished).total_seconds()), "bytes": newest["bytes"],
            "data_bytes": newest["data_bytes"], "binlog": newest.get("binlog"),
        }
    return result


# ---------------------------------------------------------------------------------------------
# Restore (called by playbooks/restore.yml, one step at a time)
# ---------------------------------------------------------------------------------------------

def restore_plan(config: dict, source: Path, chain_id: str, stop: dict | None) -> dict:
    """Everything the restore needs decided and checked before the cluster is touched."""
    store = Store(source)
    chains = store.chains()
    chosen, upto = choose_backup(chains, chain_id, stop)
    manifests = store.check_chain(chosen, upto)
    last = manifests[-1]
    plan = {"chain": chosen, "backups": [m["file"] for m in manifests], "finished": last["finished"],
            "finished_local": last["finished_local"], "data_bytes": max(m["data_bytes"] for m in manifests),
            "stored_bytes": sum(m["bytes"] for m in manifests), "galera": last.get("galera"),
            "binlog": None, "source": str(source)}
    if stop is not None:
        if not last.get("binlog"):
            raise BackupError(f"{chosen}/{last['file']} has no binary log position (binary logging was off): "
                              "it can be restored, but not rolled forward. Restore without a stop point.")
        binlog_dir = restore_binlog_dir(config, source, last)
        files = binlog_sequence([p.name for p in binlog_dir.glob("*")], last["binlog"]["file"])
        scan = {"gtids": {}, "last_time": None}
        where = {}
        for name in files:
            argv = ["mariadb-binlog", str(binlog_dir / name)]
            if name == files[0]:
                argv.insert(1, f"--start-position={last['binlog']['position']}")
            output = run_checked(argv, f"reading {name}").stdout.splitlines()
            found = scan_binlog_text(output)
            for gtid, position in found["gtids"].items():
                where[gtid] = (name, position)
            scan["last_time"] = found["last_time"] or scan["last_time"]
        if stop["kind"] == "gtid":
            if stop["value"] not in where:
                raise BackupError(f"GTID {stop['value']} is not in the binary logs after {chosen}/{last['file']} "
                                  f"({files[0]} to {files[-1]}): check it with mariadb-binlog on the backup node. "
                                  "The restore rolls forward up to, not including, that transaction.")
            stop_file, stop_position = where[stop["value"]]
            files = files[: files.index(stop_file) + 1]
            plan["binlog"] = {"files": files, "start_position": last["binlog"]["position"],
                              "stop_position": stop_position, "stop_datetime": None, "dir": str(binlog_dir)}
        else:
            if scan["last_time"] is None or stop["value"] > scan["last_time"]:
                raise BackupError(f"{stop['value']} is after the last event of the binary logs "
                                  f"({scan['last_time'] or 'none since the backup'}), so writes up to it cannot all "
                                  "be replayed. Choose a point before that, or restore without a stop point.")
            plan["binlog"] = {"files": files, "start_position": last["binlog"]["position"], "stop_position": None,
                              "stop_datetime": stop["value"], "dir": str(binlog_dir)}
        plan["stop"] = stop
    return plan


def restore_binlog_dir(config: dict, source: Path, manifest: dict) -> Path:
    """Where the binary logs of the backup's history are: the node's own, or the copy's of that history."""
    history = manifest.get("binlog_history", "")
    if source.resolve() != Path(config["dir"]).resolve():
        return source / "binlog" / history
    if history != binlog_history(source):
        raise BackupError(f"{manifest['chain']}/{manifest['file']} was taken before the cluster was last restored; "
                          "the binary logs of that time were moved aside by the restore (/var/lib/mysql-binlog"
                          ".before-restore-*), so it cannot be rolled forward from here. Restore it without a stop "
                          "point, or choose a chain taken since.")
    return Path(config["binlog_dir"])


def restore_stage(config: dict, plan: dict, into: Path) -> None:
    """Unpack and prepare the chosen backups into ``into``, and write the binary log SQL beside it."""
    store = Store(Path(plan["source"]))
    require_space(into.parent, plan["data_bytes"], "the prepared backup", "mariadb_backup_dir")
    shutil.rmtree(into, ignore_errors=True)
    manifests = store.check_chain(plan["chain"], len(plan["backups"]) - 1, checksums=False)
    store.unpack(plan["chain"], manifests, into)
    sql = into.parent / (into.name + ".binlog.sql")
    sql.unlink(missing_ok=True)
    if plan["binlog"]:
        binlog = plan["binlog"]
        binlog_dir = Path(binlog["dir"])
        argv = ["mariadb-binlog", f"--start-position={binlog['start_position']}"]
        if binlog["stop_position"] is not None:
            argv.append(f"--stop-position={binlog['stop_position']}")
        if binlog["stop_datetime"]:
            argv.append(f"--stop-datetime={binlog['stop_datetime']}")
        argv += [str(binlog_dir / name) for name in binlog["files"]]
        with open(sql, "w") as out:
            result = run(argv, stdout=out, stderr=subprocess.PIPE)
        if result.returncode != 0:
            raise BackupError(f"extracting the binary log events failed: {result.stderr.strip()}")


def restore_replay(into: Path) -> dict:
    """Replay the binary log SQL on the prepared datadir in a scratch server; count what it holds."""
    sql = into.parent / (into.name + ".binlog.sql")
    with scratch_server(into) as socket_path:
        if sql.exists():
            with open(sql) as stream:
                run_checked(["mariadb", f"--socket={socket_path}", "--user=root", "--binary-mode"],
                            "replaying the binary logs", stdin=stream)
        conn = connect(socket_path)
        try:
            tables = query(conn, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema NOT IN "
                                 "('information_schema', 'performance_schema', 'sys', 'mysql')")[0][0]
        finally:
            conn.close()
    # Written by the scratch server; the node's own server starts without them.
    for name in ("dbstack-scratch.sock", "scratch.pid"):
        (into / name).unlink(missing_ok=True)
    return {"tables": int(tables), "replayed": sql.exists()}


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def locked(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        # A full and an incremental due at the same minute run one after the other.
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def parse_stop(args) -> dict | None:
    if args.stop_datetime and args.stop_gtid:
        raise BackupError("give either a stop date and time or a stop GTID, not both.")
    if args.stop_gtid:
        parse_gtid(args.stop_gtid)
        return {"kind": "gtid", "value": args.stop_gtid.strip()}
    if args.stop_datetime:
        return {"kind": "datetime", "value": normalise_datetime(args.stop_datetime)}
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dbstack-mariadb-backup", description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    backup = sub.add_parser("backup", help="take a full or incremental backup, verify it, prune, copy off-host")
    backup.add_argument("kind", choices=["full", "incremental"])
    sub.add_parser("status", help="the newest verified backup, as JSON")
    check = sub.add_parser("verify", help="prove a chain again by restoring it into a scratch directory")
    check.add_argument("chain", nargs="?", default="")
    serve_parser = sub.add_parser("serve", help="(backup host) the forced command of the node's key")
    serve_parser.add_argument("dir", type=Path)
    fetch = sub.add_parser("fetch-offhost", help="copy the off-host chains and binary logs into a directory")
    fetch.add_argument("into", type=Path)
    for name in ("restore-plan", "restore-stage"):
        p = sub.add_parser(name)
        p.add_argument("--source", type=Path, required=True)
        p.add_argument("--chain", default="")
        p.add_argument("--stop-datetime", default="")
        p.add_argument("--stop-gtid", default="")
        p.add_argument("--into", type=Path)
    find = sub.add_parser("binlog-find", help="the GTID and time of the statements containing TEXT since the "
                                              "oldest backup (the stop point of a restore)")
    find.add_argument("text")
    sub.add_parser("new-binlog-history", help="(restore) the binary logs start anew: older chains cannot use them")
    replay = sub.add_parser("restore-replay")
    replay.add_argument("--into", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args.dir)
        config = load_config()
        root = Path(config["dir"])
        if args.command == "backup":
            with locked(root):
                require_synced(config)
                with desynced(config):
                    take_backup(config, args.kind)
                    for chain_id in prune(Store(root), int(config["keep_full"])):
                        print(f"deleted chain {chain_id} (more than {config['keep_full']} verified full backups)")
                    prune_binlogs(config)
                    if config.get("offhost"):
                        offhost_copy(config)
        elif args.command == "status":
            print(json.dumps(status(config), indent=2, sort_keys=True))
        elif args.command == "verify":
            with locked(root):
                store = Store(root)
                chains = store.chains()
                chain_id = args.chain or (sorted(chains)[-1] if chains else "")
                if chain_id not in chains:
                    raise BackupError(f"no chain {chain_id!r} in {root}")
                proof = verify(store, chain_id, len(chains[chain_id]) - 1)
                print(json.dumps(proof, sort_keys=True))
        elif args.command == "fetch-offhost":
            fetch_offhost(config, args.into)
        elif args.command in ("restore-plan", "restore-stage"):
            plan = restore_plan(config, args.source, args.chain, parse_stop(args))
            if args.command == "restore-stage":
                restore_stage(config, plan, args.into)
            print(json.dumps(plan, sort_keys=True))
        elif args.command == "binlog-find":
            for event in binlog_find(config, args.text):
                print(json.dumps(event, sort_keys=True))
        elif args.command == "new-binlog-history":
            print(binlog_history(root, renew=True))
        elif args.command == "restore-replay":
            print(json.dumps(restore_replay(args.into), sort_keys=True))
        return 0
    except BackupError as error:
        print(f"dbstack-mariadb-backup: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
