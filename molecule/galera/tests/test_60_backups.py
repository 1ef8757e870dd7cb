"""Backups proven by restoring them (the mariadb_backup role and playbooks/restore.yml).

Under a continuous writer: a full backup, an incremental, more writes, then the accident (the
writer's table dropped) and writes after it. The restore, rolled forward with the binary logs up to
the accident, must hold every acknowledged write and nothing after the accident, identically on the
three nodes, and the app must work again. Then the backup node loses its datadir and its backups, and
the cluster is restored from the backup host's copy. Then retention: after keep+1 full backups the
oldest chain is gone, on the node and on the backup host, and the kept ones still verify.
"""

import json
import shlex
import time

import pytest

from labdb import app_account, as_read, endpoint, node_host, query, run_playbook, wait_whole
from writer import TABLE, ContinuousWriter, rows_on

testinfra_hosts = ["galera"]
COPY_DIR = "/srv/dbstack-backups"
BACKUP_DIR = "/var/backups/dbstack-mariadb"


def backup_node(lab):
    return node_host(lab, lab["groups"]["galera"][-1])


def backup_host(lab):
    return node_host(lab, lab["groups"]["backup"][0])


def take_backup(node, kind):
    """Run the scheduled unit as its timer would, and return its journal lines of this run."""
    since = node.check_output("date '+%Y-%m-%d %H:%M:%S'")
    run = node.run(f"systemctl start dbstack-mariadb-backup@{kind}.service")
    journal = node.check_output(f"journalctl -u dbstack-mariadb-backup@{kind}.service --since '{since}' -o cat")
    assert run.rc == 0, journal
    return journal


def status(node):
    return json.loads(node.check_output("dbstack-mariadb-backup status"))


def chains(host, root):
    listing = host.run(f"ls {root}/chains")
    return sorted(listing.stdout.split()) if listing.rc == 0 else []


def restore(*extra, check=True):
    return run_playbook("playbooks/restore.yml", *extra, check=check)


def same_on_every_node(lab, account, sql):
    answers = {name: query(lab["hosts"][name]["ip"], account, sql) for name in lab["groups"]["galera"]}
    assert len({repr(answer) for answer in answers.values()}) == 1, answers
    return next(iter(answers.values()))


@pytest.fixture(scope="module")
def account(lab):
    return app_account(lab)


def test_a_restore_without_a_backup_says_so_and_changes_nothing(lab, account):
    node = backup_node(lab)
    assert chains(node, BACKUP_DIR) == []
    refused = restore("-e", "mariadb_backup_restore_confirm=true", check=False)
    assert refused.returncode != 0
    assert "there is no backup to restore from" in as_read(refused.stdout), refused.stdout[-3000:]
    assert "Nothing on the cluster was changed" in as_read(refused.stdout)
    wait_whole(lab, account, timeout=30)


def test_point_in_time_restore_after_a_dropped_table(lab, account):
    node = backup_node(lab)
    writer = ContinuousWriter(endpoint(lab), 3306, account["user"], account["password"], account["database"],
                              rate=20).start()
    time.sleep(2)
    full = take_backup(node, "full")
    assert "verified by restoring it" in full and "copied to" in full, full
    time.sleep(2)
    incremental = take_backup(node, "incremental")
    assert "01-incremental" in incremental and "verified by restoring it" in incremental, incremental
    time.sleep(2)

    # The accident, while the writer writes; then the application goes on writing elsewhere.
    query(endpoint(lab), account, f"DROP TABLE {TABLE}")
    query(endpoint(lab), account, "CREATE TABLE after_the_accident (id INT PRIMARY KEY)")
    query(endpoint(lab), account, "INSERT INTO after_the_accident VALUES (1), (2), (3)")
    time.sleep(1)
    report = writer.stop()
    acknowledged = {seq for seq, _at in report.acknowledged}
    assert len(acknowledged) > 100, "the writer wrote during both backups"
    # Only the writes after the accident failed: the table was gone (1146). The backups did not stall it.
    assert [failure for failure in report.failed if failure[2] != 1146] == []

    # The operator's way to the stop point: the accident's GTID in the backup node's binary log.
    found = [json.loads(line) for line in
             node.check_output("dbstack-mariadb-backup binlog-find 'DROP TABLE'").splitlines()]
    accident = [event for event in found if TABLE in event["statement"]]
    assert len(accident) == 1, found
    gtid = accident[0]["gtid"]

    unconfirmed = restore("-e", f"mariadb_backup_restore_stop_gtid={gtid}", check=False)
    assert unconfirmed.returncode != 0
    said = as_read(unconfirmed.stdout)
    assert "Nothing was changed" in said and f"up to, not including, {gtid}" in said, said[-2000:]
    assert query(endpoint(lab), account, "SELECT COUNT(*) FROM after_the_accident")[0][0] == 3

    started = time.monotonic()
    restore("-e", f"mariadb_backup_restore_stop_gtid={gtid}", "-e", "mariadb_backup_restore_confirm=true")
    took = time.monotonic() - started
    wait_whole(lab, account, timeout=120)

    for name in lab["groups"]["galera"]:
        ip = lab["hosts"][name]["ip"]
        stored = rows_on(ip, 3306, account["user"], account["password"], account["database"])
        assert acknowledged <= stored, f"{name} lacks acknowledged writes {sorted(acknowledged - stored)[:10]}"
        assert stored <= acknowledged | set(report.in_doubt), f"{name} has writes never acknowledged"
        tables = {row[0] for row in query(ip, account, "SHOW TABLES")}
        assert "after_the_accident" not in tables, f"{name} kept a write from after the accident"
    checksum = same_on_every_node(lab, account, f"CHECKSUM TABLE {TABLE}")
    print(f"point-in-time restore: {took:.1f} s, {len(acknowledged)} acknowledged writes back, checksum {checksum}")

    # The app works again: a Celery task saves through HAProxy (where the layout has the smoke app).
    for app_host in lab["groups"].get("app", [])[:1]:
        run = node_host(lab, app_host).run("dbstack-smoke smoke run --variant tenacity --idle 1 --json")
        assert run.rc == 0, run.stdout + run.stderr
        assert json.loads(run.stdout)["runs"][0]["state"] == "SUCCESS", run.stdout

    # Each node's previous data is kept, and a new full backup of the restored cluster was taken.
    for name in lab["groups"]["galera"]:
        assert node_host(lab, name).run("ls -d /var/lib/mysql.before-restore-*").rc == 0
    newest = status(node)["newest_verified"]
    assert newest["kind"] == "full" and newest["age_seconds"] < 120, newest


def test_restore_from_the_backup_host_after_the_node_lost_everything(lab, account):
    node, host = backup_node(lab), backup_host(lab)
    expected = rows_on(endpoint(lab), 3306, account["user"], account["password"], account["database"])
    assert expected
    on_host = chains(host, f"{COPY_DIR}/{lab['groups']['galera'][-1]}")
    assert on_host == chains(node, BACKUP_DIR), "the backup host holds the node's chains"

    node.check_output(f"systemctl stop mariadb && rm -rf /var/lib/mysql {BACKUP_DIR}")
    refused = restore("-e", "mariadb_backup_restore_confirm=true", check=False)
    assert "there is no backup to restore from" in as_read(refused.stdout), refused.stdout[-2000:]

    restore("-e", "mariadb_backup_restore_source=offhost", "-e", "mariadb_backup_restore_confirm=true")
    wait_whole(lab, account, timeout=120)
    for name in lab["groups"]["galera"]:
        stored = rows_on(lab["hosts"][name]["ip"], 3306, account["user"], account["password"], account["database"])
        assert stored == expected, f"{name}: {len(stored)} rows, the backup had {len(expected)}"
    same_on_every_node(lab, account, f"CHECKSUM TABLE {TABLE}")


def test_an_unreachable_backup_host_fails_the_backup_loudly(lab):
    node, host = backup_node(lab), backup_host(lab)
    host.check_output("systemctl stop ssh")
    try:
        run = node.run("systemctl start dbstack-mariadb-backup@incremental.service")
        journal = node.check_output("journalctl -u dbstack-mariadb-backup@incremental.service -n 8 -o cat")
        assert run.rc != 0
        assert "backup host unreachable" in journal, journal
        assert node.run("systemctl is-failed dbstack-mariadb-backup@incremental.service").stdout.strip() == "failed"
        fetch = restore("-e", "mariadb_backup_restore_source=offhost", check=False)
        assert fetch.returncode != 0 and "backup host unreachable" in as_read(fetch.stdout), fetch.stdout[-2000:]
    finally:
        host.check_output("systemctl start ssh")


def test_a_stop_point_outside_the_binary_logs_is_refused(lab, account):
    refused = restore("-e", json.dumps({"mariadb_backup_restore_stop_datetime": "2099-01-01 00:00:00",
                                        "mariadb_backup_restore_confirm": True}), check=False)
    assert refused.returncode != 0
    said = as_read(refused.stdout)
    assert "is after the last event of the binary logs" in said and "Nothing on the cluster was changed" in said, \
        said[-2000:]
    wait_whole(lab, account, timeout=30)


def test_retention_keeps_the_newest_chains_on_the_node_and_the_backup_host(lab):
    node, host = backup_node(lab), backup_host(lab)
    keep = 2
    before = chains(node, BACKUP_DIR)
    for _run in range(keep + 1 - len(before) + 1):
        take_backup(node, "full")
    kept = chains(node, BACKUP_DIR)
    assert len(kept) == keep, kept
    assert before[0] not in kept, "the oldest chain was deleted"
    assert chains(host, f"{COPY_DIR}/{lab['groups']['galera'][-1]}") == kept
    for chain in kept:
        proof = json.loads(node.check_output(f"dbstack-mariadb-backup verify {chain}"))
        assert proof["tables"], proof


def copy_rate(node, command, target):
    """Bytes per second `command` copied into `target` on the node (all of its run counted)."""
    timed = node.check_output(
        f"rm -rf {target}; start=$(date +%s%N); {command} >/dev/null 2>&1 || exit 1; end=$(date +%s%N); "
        f"echo $(( (end - start) / 1000000 )) $(du -sb {target} | cut -f1); rm -rf {target}")
    milliseconds, copied = map(int, timed.split())
    return copied / (milliseconds / 1000), copied, milliseconds


LOAD_PROGRAM = ("import importlib.util\n"
                "spec = importlib.util.spec_from_file_location('backup', '/usr/local/libexec/dbstack-mariadb-backup.py')\n"
                "backup = importlib.util.module_from_spec(spec)\n"
                "spec.loader.exec_module(backup)\n")


def test_the_proof_unpacks_at_the_rate_limit_and_syncs_as_it_goes(lab):
    """With a rate limit the proof's unpack is fed to tar at that rate and the filesystem synced every 8 MiB
    (syncfs(2) on the node's own filesystem, by the installed program on the node's python3): the files come
    back whole and the copy takes as long as the rate says."""
    node = backup_node(lab)
    limit = 5  # MB/s
    node.check_output("rm -rf /var/tmp/dbstack-paced && mkdir -p /var/tmp/dbstack-paced/source "
                      "/var/tmp/dbstack-paced/target && head -c 20000000 /dev/urandom > "
                      "/var/tmp/dbstack-paced/source/ibdata1 && tar -c -C /var/tmp/dbstack-paced/source -f - . "
                      "| zstd -q -1 -c > /var/tmp/dbstack-paced/packed.xb.zst")
    program = LOAD_PROGRAM + (
        "import json, subprocess, time\n"
        "from pathlib import Path\n"
        "syncs = []\n"
        "real_syncfs = backup.syncfs\n"
        "def counted_syncfs(path):\n"
        "    sync = real_syncfs(path)\n"
        "    return lambda: (syncs.append(1), sync())\n"
        "backup.syncfs = counted_syncfs\n"
        "with open('/var/tmp/dbstack-paced/packed.xb.zst', 'rb') as packed:\n"
        "    unzstd = subprocess.Popen(['zstd', '-q', '-d', '-c'], stdin=packed, stdout=subprocess.PIPE)\n"
        "    started = time.monotonic()\n"
        f"    done = backup.Store(Path('/var/tmp/dbstack-paced'), rate_limit={limit}).paced_untar(\n"
        "        unzstd.stdout, Path('/var/tmp/dbstack-paced/target'))\n"
        "    seconds = time.monotonic() - started\n"
        "print(json.dumps({'tar': done.returncode, 'zstd': unzstd.wait(), 'seconds': seconds, 'syncs': len(syncs)}))\n")
    result = json.loads(node.check_output(f"python3 -c {shlex.quote(program)}"))
    same = node.run("cmp /var/tmp/dbstack-paced/source/ibdata1 /var/tmp/dbstack-paced/target/ibdata1")
    node.check_output("rm -rf /var/tmp/dbstack-paced")
    print(f"\npaced unpack at {limit} MB/s: 20 MB in {result['seconds']:.1f} s, {result['syncs']} syncfs calls")
    assert (result["tar"], result["zstd"], same.rc) == (0, 0, 0), (result, same.stderr)
    # 20 MB of data plus tar's headers at 5 MB/s: 4 s; 20 MB / 8 MiB: 2 syncs.
    assert 0.9 * 20 / limit <= result["seconds"] <= 2.5 * 20 / limit, result
    assert result["syncs"] == 2, result


def test_the_rate_limit_reaches_mariabackup_and_holds_rsync_to_it(lab):
    """mariadb_backup_rate_limit becomes mariabackup's --throttle by the installed program's rule and rsync's
    --bwlimit in MB (10^6 bytes), which copies at that rate. What a --throttle unit copies depends on the files
    (benchmarks/backup_restore.py measured about 1.7 MB/s per unit on large tables; a small file costs a whole
    unit), so it is measured by the benchmark, not on this scenario's small tables."""
    node = backup_node(lab)
    limit = 5  # MB/s
    program = LOAD_PROGRAM + f"print(backup.mariabackup_argv({{'socket': '-', 'rate_limit': {limit}}}, '-', None)[-1])\n"
    assert node.check_output(f"python3 -c {shlex.quote(program)}") == "--throttle=3"
    node.check_output("head -c 10000000 /dev/urandom > /var/tmp/dbstack-rate-source")
    rsync = copy_rate(node, f"rsync --bwlimit={limit}MB /var/tmp/dbstack-rate-source /var/tmp/dbstack-rate-copy",
                      "/var/tmp/dbstack-rate-copy")
    node.check_output("rm -f /var/tmp/dbstack-rate-source")
    print(f"\nrate limit {limit} MB/s: rsync copied {rsync[1] / 1e6:.1f} MB in {rsync[2] / 1000:.1f} s, "
          f"{rsync[0] / 1e6:.2f} MB/s")
    assert 0.6 * limit <= rsync[0] / 1e6 <= 1.1 * limit, rsync
