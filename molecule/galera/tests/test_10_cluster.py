"""The cluster an operator expects after a converge: whole, Synced, replicating, least privilege."""

import uuid

import pymysql
import pytest
from labdb import app_account, connect, health, query, wsrep_status

testinfra_hosts = ["galera"]


def test_mariadb_and_health_endpoint_are_running(host):
    for unit in ("mariadb", "dbstack-galera-health"):
        service = host.service(unit)
        if not service.is_running:
            pytest.fail(f"{unit} is not running:\n" + host.run(f"journalctl -u {unit} -n 30 --no-pager").stdout)
        assert service.is_enabled


def test_health_endpoint_is_one_confined_process_with_one_connection(host):
    """The endpoint answers from its own readings: one unprivileged process holding a single MariaDB
    connection however many checks arrive, instead of a process and a login per check."""
    for _check in range(20):
        assert host.run("python3 -c \"import urllib.request as u; u.urlopen('http://127.0.0.1:9200/', timeout=2)\"").rc == 0
    properties = dict(line.split("=", 1) for line in host.check_output(
        "systemctl show dbstack-galera-health -p User -p NoNewPrivileges -p ProtectSystem -p CapabilityBoundingSet "
        "-p NRestarts").splitlines())
    assert properties["User"] == "galera-health"
    assert properties["NoNewPrivileges"] == "yes" and properties["ProtectSystem"] == "strict"
    assert properties["CapabilityBoundingSet"] == ""
    assert properties["NRestarts"] == "0"
    sessions = host.check_output("mariadb -N -B -e \"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'galera-health'\"")
    assert sessions.strip() == "1"


def test_node_is_synced_and_primary_in_a_three_node_cluster(lab_host, lab):
    status = wsrep_status(lab_host["ip"], app_account(lab))
    assert status["wsrep_cluster_size"] == "3"
    assert status["wsrep_local_state_comment"] == "Synced"
    assert status["wsrep_cluster_status"] == "Primary"
    assert status["wsrep_ready"] == "ON"


def test_configuration_is_what_the_role_promises(host, lab_host):
    config = host.file("/etc/mysql/mariadb.conf.d/99-dbstack-galera.cnf")
    assert config.user == "root" and config.group == "mysql" and config.mode == 0o640
    names = ("WAIT_TIMEOUT", "BINLOG_FORMAT", "INNODB_AUTOINC_LOCK_MODE", "SKIP_NAME_RESOLVE",
             "WSREP_SST_METHOD", "WSREP_NODE_ADDRESS")
    output = host.check_output(
        "mariadb -N -B -e \"SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES "
        f"WHERE VARIABLE_NAME IN ({', '.join(repr(n) for n in names)})\"")
    variables = dict(line.split("\t", 1) for line in output.splitlines())
    assert variables == {
        "WAIT_TIMEOUT": "30",  # the scenario's mariadb_galera_wait_timeout
        "BINLOG_FORMAT": "ROW",
        "INNODB_AUTOINC_LOCK_MODE": "2",
        "SKIP_NAME_RESOLVE": "ON",
        "WSREP_SST_METHOD": "mariabackup",
        "WSREP_NODE_ADDRESS": lab_host["ip"],
    }


def test_row_written_on_one_node_is_read_on_the_others(lab):
    account = app_account(lab)
    nodes = [lab["hosts"][name]["ip"] for name in lab["groups"]["galera"]]
    marker = uuid.uuid4().hex
    query(nodes[0], account, "CREATE TABLE IF NOT EXISTS replication_probe (marker CHAR(32) PRIMARY KEY)")
    query(nodes[0], account, "INSERT INTO replication_probe VALUES (%s)", (marker,))
    for ip in nodes[1:]:
        # Galera applies before the commit returns on the writer, but reads elsewhere may lag by
        # a hair: ask for causal reads so the read waits for the write.
        with connect(ip, account) as connection, connection.cursor() as cursor:
            cursor.execute("SET SESSION wsrep_sync_wait = 1")
            cursor.execute("SELECT COUNT(*) FROM replication_probe WHERE marker = %s", (marker,))
            assert cursor.fetchone()[0] == 1, f"row written on {nodes[0]} is missing on {ip}"


def test_app_account_cannot_touch_another_database(lab):
    account = app_account(lab)
    ip = lab["hosts"]["galera1"]["ip"]
    for statement in ("SELECT COUNT(*) FROM mysql.user", "CREATE DATABASE not_mine", "SELECT * FROM mysql.db LIMIT 1"):
        with pytest.raises(pymysql.err.OperationalError) as refused:
            query(ip, account, statement)
        assert refused.value.args[0] in (1044, 1142), refused.value  # access denied to database / table


def test_root_logs_in_only_through_the_unix_socket(host, lab_host):
    assert host.check_output("mariadb -N -B -e 'SELECT CURRENT_USER()'") == "root@localhost"
    with pytest.raises(pymysql.err.OperationalError) as refused:
        pymysql.connect(host=lab_host["ip"], user="root", password="", connect_timeout=5)
    assert refused.value.args[0] == 1045


def test_health_user_has_no_privileges(host):
    grants = host.check_output("mariadb -N -B -e \"SHOW GRANTS FOR 'galera-health'@'localhost'\"")
    assert grants.startswith("GRANT USAGE ON *.* TO `galera-health`@`localhost` IDENTIFIED VIA unix_socket"), grants


def test_health_endpoint_says_up_when_synced(lab_host):
    assert health(lab_host["ip"]) == (200, "up: Synced")
