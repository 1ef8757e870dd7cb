"""The rules of the backup program (roles/mariadb_backup/files/mariadb_backup.py): mariabackup's info
files, which chains are usable and which retention deletes, which backup a restore starts from, the
binary log files and positions it replays, and the messages for bad input. The galera molecule
scenario runs the program itself against MariaDB, mariabackup and mariadb-binlog; tests/integration
unpacks what the real tar and zstd wrote.
"""

import json
from collections import namedtuple
from pathlib import Path

import pytest
from backup_program import backup, mb


def test_mariabackup_info_files_as_written_by_mariabackup_10_11():
    # Copied from a backup taken on the lab (galera3, MariaDB 10.11.19).
    assert mb.parse_checkpoints("backup_type = incremental\nfrom_lsn = 86950\nto_lsn = 86950\nlast_lsn = 104008\n"
                                "recover_binlog_info = 0\n") == {"type": "incremental", "from_lsn": 86950,
                                                                 "to_lsn": 86950}
    assert mb.parse_binlog_info("mariadb-bin.000004\t389\t0-1-8\n") == {"file": "mariadb-bin.000004",
                                                                        "position": 389, "gtid": "0-1-8"}
    assert mb.parse_binlog_info("") is None
    assert mb.parse_galera_info("942714ec-ecad-11f1-a34b-37414b7cba68:30 0\n") == {
        "uuid": "942714ec-ecad-11f1-a34b-37414b7cba68", "seqno": 30}


@pytest.mark.parametrize(("config", "from_lsn", "expected"), [
    ({}, None, []),
    ({"rate_limit": 0}, 4711, ["--incremental-lsn=4711"]),
    ({"rate_limit": 17}, None, ["--throttle=10"]),
    ({"rate_limit": 50}, 4711, ["--throttle=29", "--incremental-lsn=4711"]),
    # Never below one read per second.
    ({"rate_limit": 1}, None, ["--throttle=1"]),
])
def test_mariabackup_throttle_is_the_closest_to_the_rate_limit(config, from_lsn, expected):
    config = {"socket": "/run/mysqld/mysqld.sock", **config}
    assert mb.mariabackup_argv(config, Path("/b/.stage"), from_lsn) == [
        "mariabackup", "--backup", "--galera-info", "--target-dir=/b/.stage", "--socket=/run/mysqld/mysqld.sock",
        "--user=root", *expected]


@pytest.mark.parametrize(("manifests", "files", "problem"), [
    ([backup("c", 0), backup("c", 1)], {"00-full.xb.zst", "01-incremental.xb.zst"}, None),
    ([backup("c", 0), backup("c", 2)], {"00-full.xb.zst", "02-incremental.xb.zst"}, "misses backup number 01"),
    ([backup("c", 0), backup("c", 1)], {"00-full.xb.zst"}, "01-incremental.xb.zst is listed by its manifest but not"),
    ([backup("c", 0), backup("c", 1, from_lsn=150)], {"00-full.xb.zst", "01-incremental.xb.zst"},
     "starts at LSN 150 but the backup before it ends at LSN 100"),
    ([backup("c", 1)], {"01-incremental.xb.zst"}, "does not start with a full backup"),
    ([], set(), "does not start with a full backup"),
])
def test_a_broken_chain_is_named(manifests, files, problem):
    problems = mb.chain_problems("c", manifests, files)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(("verified_fulls", "keep", "deleted"), [
    ({"a": True, "b": True, "c": True}, 2, ["a"]),
    ({"a": True, "b": True}, 2, []),
    # An unverified newer full does not count: the two verified ones stay.
    ({"a": True, "b": True, "c": False}, 2, []),
    ({"a": True, "b": False, "c": True, "d": True}, 2, ["a", "b"]),
    ({"a": False}, 1, []),
    ({"a": True, "b": True, "c": True, "d": True}, 1, ["a", "b", "c"]),
])
def test_retention_deletes_only_behind_newer_verified_fulls(verified_fulls, keep, deleted):
    chains = {cid: [backup(cid, 0, verified=ok)] for cid, ok in verified_fulls.items()}
    assert mb.chains_to_delete(chains, keep) == deleted


def test_the_restore_starts_from_the_newest_verified_backup_before_the_stop_point():
    chains = {
        "20261129T021500Z": [backup("20261129T021500Z", 0, finished="2026-11-29 02:15:30", gtid="0-1-10"),
                             backup("20261129T021500Z", 1, finished="2026-11-29 14:00:00", gtid="0-1-50")],
        "20261130T021500Z": [backup("20261130T021500Z", 0, finished="2026-11-30 02:15:30", gtid="0-1-90"),
                             backup("20261130T021500Z", 1, verified=False, finished="2026-11-30 09:00:00",
                                    gtid="0-1-120")],
    }
    assert mb.choose_backup(chains, "", None) == ("20261130T021500Z", 0)
    assert mb.choose_backup(chains, "", {"kind": "datetime", "value": "2026-11-30 03:00:00"}) == ("20261130T021500Z", 0)
    assert mb.choose_backup(chains, "", {"kind": "datetime", "value": "2026-11-30 01:00:00"}) == ("20261129T021500Z", 1)
    assert mb.choose_backup(chains, "", {"kind": "gtid", "value": "0-1-60"}) == ("20261129T021500Z", 1)
    assert mb.choose_backup(chains, "", {"kind": "gtid", "value": "0-1-50"}) == ("20261129T021500Z", 0)
    assert mb.choose_backup(chains, "20261129T021500Z", None) == ("20261129T021500Z", 1)
    with pytest.raises(mb.BackupError, match="was taken before 2026-11-28 00:00:00"):
        mb.choose_backup(chains, "", {"kind": "datetime", "value": "2026-11-28 00:00:00"})
    with pytest.raises(mb.BackupError, match="there is no backup chain 'nope'"):
        mb.choose_backup(chains, "nope", None)
    with pytest.raises(mb.BackupError, match="there is no backup to restore from"):
        mb.choose_backup({}, "", None)


@pytest.mark.parametrize(("names", "first", "expected"), [
    (["mariadb-bin.000003", "mariadb-bin.000004", "mariadb-bin.index", "mariadb-bin.000002"], "mariadb-bin.000003",
     ["mariadb-bin.000003", "mariadb-bin.000004"]),
    (["mariadb-bin.000009", "mariadb-bin.000010"], "mariadb-bin.000009", ["mariadb-bin.000009", "mariadb-bin.000010"]),
    (["mariadb-bin.000003", "mariadb-bin.000005"], "mariadb-bin.000003", "binary log number 4 is missing"),
    (["mariadb-bin.000004"], "mariadb-bin.000003", "the binary log mariadb-bin.000003, where the backup's position"),
])
def test_the_binary_logs_from_the_backup_on_must_all_be_there(names, first, expected):
    if isinstance(expected, list):
        assert mb.binlog_sequence(names, first) == expected
    else:
        with pytest.raises(mb.BackupError, match=expected):
            mb.binlog_sequence(names, first)


# mariadb-binlog 10.11's text for a row insert and a DROP TABLE (lab, galera3), shortened.
BINLOG_TEXT = """\
# at 389
#261130 11:13:37 server id 1  end_log_pos 431 CRC32 0x53997d7f 	GTID 0-1-10 trans
/*M!100001 SET @@session.gtid_seq_no=10*//*!*/;
START TRANSACTION
# at 431
#261130 11:13:37 server id 1  end_log_pos 492 CRC32 0x9a4c5a1e 	Annotate_rows:
#Q> insert into bt.t(v) values (3),(4),(5)
# at 626
#261130 11:13:38 server id 1  end_log_pos 668 CRC32 0x9c349dd5 	GTID 0-1-11 ddl
/*M!100001 SET @@session.gtid_seq_no=11*//*!*/;
# at 668
#261130 11:13:38 server id 1  end_log_pos 785 CRC32 0xe38c397f 	Query	thread_id=39	exec_time=0	error_code=0
SET TIMESTAMP=1796037217/*!*/;
DROP TABLE `bt`.`t` /* generated by server */
/*!*/;
# at 785
#261130 9:05:02 server id 1  end_log_pos 827 CRC32 0x847bf07e 	GTID 0-1-12 ddl
"""


def test_the_binlog_text_gives_each_transactions_position_and_the_last_event_time():
    scan = mb.scan_binlog_text(BINLOG_TEXT.splitlines())
    assert scan["gtids"] == {"0-1-10": 389, "0-1-11": 626, "0-1-12": 785}
    assert scan["last_time"] == "2026-11-30 09:05:02"


def test_the_accident_is_found_by_its_statement():
    found = mb.find_in_binlog_text(BINLOG_TEXT.splitlines(), "drop table", "mariadb-bin.000006")
    assert found == [{"gtid": "0-1-11", "time": "2026-11-30 11:13:38", "file": "mariadb-bin.000006", "position": 626,
                      "statement": "DROP TABLE `bt`.`t` /* generated by server */"}]
    inserts = mb.find_in_binlog_text(BINLOG_TEXT.splitlines(), "insert into bt.t", "f")
    assert [event["gtid"] for event in inserts] == ["0-1-10"]


@pytest.mark.parametrize(("logs", "budget", "keep_from"), [
    ([("b.1", 100), ("b.2", 100), ("b.3", 100)], 300, None),
    ([("b.1", 100), ("b.2", 100), ("b.3", 100)], 250, "b.2"),
    ([("b.1", 100), ("b.2", 100), ("b.3", 100)], 50, "b.3"),  # never the current one
    ([("b.1", 100)], 10, None),
])
def test_binary_logs_over_their_budget_go_oldest_first(logs, budget, keep_from):
    assert mb.binlogs_to_purge(logs, budget) == keep_from


@pytest.mark.parametrize(("args", "message"), [
    ({"stop_gtid": "0-1", "stop_datetime": ""}, "'0-1' is not a GTID"),
    ({"stop_gtid": "", "stop_datetime": "yesterday"}, "'yesterday' is not a date and time"),
    ({"stop_gtid": "0-1-5", "stop_datetime": "2026-11-30 10:00:00"}, "either a stop date and time or a stop GTID"),
])
def test_a_bad_stop_point_is_named(args, message):
    with pytest.raises(mb.BackupError, match=message):
        mb.parse_stop(namedtuple("Args", args)(**args))


def test_stop_points_are_normalised():
    Args = namedtuple("Args", "stop_gtid stop_datetime")
    assert mb.parse_stop(Args("", "2026-11-30T10:00")) == {"kind": "datetime", "value": "2026-11-30 10:00:00"}
    assert mb.parse_stop(Args(" 0-1-5 ", "")) == {"kind": "gtid", "value": "0-1-5"}
    assert mb.parse_stop(Args("", "")) is None


def test_not_enough_space_names_the_directory_the_sizes_and_the_variable(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(mb.shutil, "disk_usage", lambda _path: usage(10 << 30, 9 << 30, 1 << 30))
    with pytest.raises(mb.BackupError) as error:
        mb.require_space(tmp_path, 2 << 30, "a backup and its proof", "mariadb_backup_dir")
    assert str(error.value) == (f"not enough disk space for a backup and its proof in {tmp_path}: about 2.4 GiB "
                                "needed, 1.0 GiB free. Free space there or set mariadb_backup_dir to a larger "
                                "filesystem.")
    mb.require_space(tmp_path, 100 << 20, "a backup", "mariadb_backup_dir")


def test_a_damaged_or_missing_file_stops_the_restore_before_anything_changes(tmp_path):
    chain = tmp_path / "chains" / "20261130T021500Z"
    chain.mkdir(parents=True)
    store = mb.Store(tmp_path)
    for index, content in enumerate([b"full", b"incremental"]):
        manifest = backup(chain.name, index)
        (chain / manifest["file"]).write_bytes(content)
        manifest["sha256"] = mb.sha256_file(chain / manifest["file"])
        store.write_manifest(manifest)
    assert [m["file"] for m in store.check_chain(chain.name, 1)] == ["00-full.xb.zst", "01-incremental.xb.zst"]
    (chain / "01-incremental.xb.zst").write_bytes(b"incremenTal")
    with pytest.raises(mb.BackupError, match="01-incremental.xb.zst does not match its manifest's sha256"):
        store.check_chain(chain.name, 1)
    (chain / "01-incremental.xb.zst").unlink()
    with pytest.raises(mb.BackupError, match="listed by its manifest but not on disk"):
        store.check_chain(chain.name, 1)
    assert json.loads((chain / "00-full.json").read_text())["chain"] == chain.name


def test_a_restore_after_a_restore_does_not_roll_an_old_chain_forward_with_the_new_logs(tmp_path):
    config = {"dir": str(tmp_path), "binlog_dir": str(tmp_path / "binlog")}
    old = mb.binlog_history(tmp_path)
    manifest = dict(backup("20261129T021500Z", 0), binlog_history=old)
    assert mb.restore_binlog_dir(config, tmp_path, manifest) == tmp_path / "binlog"
    (tmp_path / "binlog-history").write_text("20261130T101010Z\n")
    with pytest.raises(mb.BackupError, match="taken before the cluster was last restored"):
        mb.restore_binlog_dir(config, tmp_path, manifest)
    # The backup host's copy keeps each history's logs apart.
    copy = tmp_path / "copy"
    assert mb.restore_binlog_dir(config, copy, manifest) == copy / "binlog" / old


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_the_pacer_holds_the_rate_and_syncs_every_8_mib():
    clock, syncs = FakeClock(), []
    pacer = mb.Pacer(4, lambda: syncs.append(clock.now), clock=clock, sleep=clock.sleep)
    for _megabyte in range(20):
        pacer.wrote(1 << 20)
    # 20 MiB at 4 MB/s: 5.24 s, whatever the disk's own speed.
    assert clock.now - 100.0 == pytest.approx(20 * (1 << 20) / 4e6)
    assert len(syncs) == 2
    # Time the writes took counts: a slow disk is not held back further.
    clock.now += 60
    clock.slept.clear()
    pacer.wrote(1 << 20)
    assert clock.slept == []


def test_no_rate_limit_neither_sleeps_nor_syncs():
    clock, syncs = FakeClock(), []
    pacer = mb.Pacer(0, lambda: syncs.append(1), clock=clock, sleep=clock.sleep)
    for _megabyte in range(100):
        pacer.wrote(1 << 20)
    assert (clock.slept, syncs) == ([], [])
