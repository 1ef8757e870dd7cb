"""The mariadb_backup role's preflight, run by Ansible on this machine: a backup node outside the
Galera group, a backup host inside it, and settings the program or systemd would misread stop it
with a message naming the value and the fix, before any task that changes a host. The schedules are
read by this machine's own systemd-analyze, as the role has the backup node's read them."""

from __future__ import annotations

import sys

import pytest
from ansible_cli import run_playbook

LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
INVENTORY = {"all": {"children": {"galera": {"hosts": {"galera1": LOCAL, "galera2": LOCAL, "galera3": LOCAL}},
                                  "backup": {"hosts": {"store1": LOCAL}}}}}


def preflight(tmp_path, inventory=None, **settings):
    play = {"name": "Preflight", "hosts": "galera:backup", "gather_facts": False, "vars": settings,
            "tasks": [{"ansible.builtin.include_role": {"name": "dbstack.galera.mariadb_backup",
                                                        "tasks_from": "preflight.yml"}}]}
    return run_playbook(tmp_path, [play], inventory=inventory or INVENTORY, check=False)


def said(result) -> str:
    return " ".join(result.stdout.replace('\\"', '"').replace("''", "'").split())


def test_the_defaults_pass(tmp_path):
    result = preflight(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize(("settings", "message"), [
    ({"mariadb_backup_node": "galera7"},
     "mariadb_backup_node is 'galera7', which is not a host of the Galera group 'galera' (galera1, galera2, galera3)"),
    ({"mariadb_backup_keep_full": 0}, "mariadb_backup_keep_full is 0: keep at least 1 full chain"),
    ({"mariadb_backup_zstd_level": 22}, "mariadb_backup_zstd_level is 22: zstd takes 1 (fastest) to 19 (smallest)"),
    ({"mariadb_backup_dir": "/var/lib/mysql/backups"},
     "mariadb_backup_dir '/var/lib/mysql/backups' is inside the datadir or the binary log directory"),
    ({"mariadb_backup_binlog_max_size": "20 gigs"}, "mariadb_backup_binlog_max_size is '20 gigs': write a size such"),
    ({"mariadb_backup_cpu_quota": "0.5"}, "mariadb_backup_cpu_quota is '0.5': write a share of one CPU such as 50%"),
    ({"mariadb_backup_rate_limit": "20MB/s"}, "mariadb_backup_rate_limit is '20MB/s': write a whole number of MB/s"),
    ({"mariadb_backup_dir": "backups", "mariadb_backup_keep_full": 0},
     "mariadb_backup_dir ('backups') and mariadb_backup_host_dir ('/srv/dbstack-backups') must be absolute paths"),
    ({"mariadb_backup_full_schedule": "every sunday"},
     "mariadb_backup_full_schedule is 'every sunday', which systemd does not read as a calendar event"),
    ({"mariadb_backup_restore_stop_gtid": "0-1-5", "mariadb_backup_restore_stop_datetime": "2026-11-30 10:00:00"},
     "Give either mariadb_backup_restore_stop_datetime or mariadb_backup_restore_stop_gtid, not both."),
])
def test_a_bad_setting_stops_the_preflight_naming_it(tmp_path, settings, message):
    result = preflight(tmp_path, **settings)
    assert result.returncode != 0
    assert message in said(result), said(result)[-3000:]


def test_a_backup_host_outside_the_play_is_named(tmp_path):
    play = {"name": "Preflight", "hosts": "galera", "gather_facts": False,
            "tasks": [{"ansible.builtin.include_role": {"name": "dbstack.galera.mariadb_backup",
                                                        "tasks_from": "preflight.yml"}}]}
    result = run_playbook(tmp_path, [play], inventory=INVENTORY, check=False)
    assert result.returncode != 0
    assert "The backup host store1 (first host of 'backup') is unreachable or not in this play" in said(result), \
        said(result)[-3000:]


def test_a_backup_host_in_the_galera_group_is_refused(tmp_path):
    inventory = {"all": {"children": {"galera": {"hosts": {"galera1": LOCAL, "galera2": LOCAL, "galera3": LOCAL}},
                                      "backup": {"hosts": {"galera1": LOCAL}}}}}
    result = preflight(tmp_path, inventory=inventory)
    assert result.returncode != 0
    assert "The backup host galera1 (first host of 'backup') is a Galera node" in said(result), said(result)[-3000:]
