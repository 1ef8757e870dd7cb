"""HAProxy in front of the cluster: derived timeouts in force (both directions), one writer,
health checks that follow the Galera state, and failover when the writer's MariaDB stops."""

import re
import time

import pymysql
import pytest
from labdb import app_account, connect, endpoint, health, node_host, wait_for, writer_name
from labhosts import inventory

# The first HAProxy host; test_25 covers what holds for every one when there are several.
testinfra_hosts = inventory()["groups"]["haproxy"][:1]

# The scenario sets max_task_length 4 s and wait_timeout 30 s: 4 s + 25 % = 5 s.
DERIVED_TIMEOUT = 5


def runtime_api(host, command):
    return host.check_output(f"echo '{command}' | python3 -c \"import socket,sys; s=socket.socket(socket.AF_UNIX); "
                             f"s.connect('/run/haproxy/admin.sock'); s.sendall(sys.stdin.read().encode()); "
                             f"print(b''.join(iter(lambda: s.recv(65536), b'')).decode())\"")


def server_states(host, proxy):
    """{server: status} of one proxy, from the runtime API's CSV statistics (UP, DOWN, MAINT, ...)."""
    rows = [line.split(",") for line in runtime_api(host, "show stat").splitlines() if line and not line.startswith("#")]
    return {row[1]: row[17].split()[0] for row in rows if row[0] == proxy and row[1] not in ("FRONTEND", "BACKEND")}


def test_mysql_listener_carries_the_derived_timeouts_with_units(host):
    config = host.file("/etc/haproxy/haproxy.cfg").content_string
    listener = config.split("listen mysql", 1)[1].split("\nlisten ", 1)[0]
    assert f"    timeout client {DERIVED_TIMEOUT}s\n" in listener
    assert f"    timeout server {DERIVED_TIMEOUT}s\n" in listener
    assert "timeout tunnel" not in config
    assert "on-marked-down shutdown-sessions" in listener
    assert host.run("haproxy -c -f /etc/haproxy/haproxy.cfg").rc == 0


def test_runtime_api_shows_the_timeout_on_an_idle_session(host, lab):
    with connect(endpoint(lab), app_account(lab)):
        time.sleep(1)
        sessions = runtime_api(host, "show sess all")
    expiries = [int(s) for s in re.findall(r"rex=(\d+)s", sessions)]
    # The MySQL session's read expiry counts down from the 5 s timeout; the CLI's own is 30 s.
    assert any(2 <= s <= DERIVED_TIMEOUT for s in expiries), sessions


def test_idle_connection_survives_the_task_length(lab):
    with connect(endpoint(lab), app_account(lab)) as connection, connection.cursor() as cursor:
        time.sleep(4.5)  # longer than max_task_length (4 s), shorter than the derived 5 s
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_idle_connection_is_cut_after_the_timeout(lab):
    with connect(endpoint(lab), app_account(lab)) as connection, connection.cursor() as cursor:
        time.sleep(DERIVED_TIMEOUT + 1.5)
        with pytest.raises(pymysql.err.OperationalError) as cut:
            cursor.execute("SELECT 1")
    assert cut.value.args[0] == 2013, cut.value  # Lost connection to MySQL server during query


def sticky(lab):
    """Whether the deployed HAProxy runs the sticky writer: the role's default `auto` turns it on with HAProxy 2.6
    (galera, Debian 12) and leaves it off with 3.0 (galera_trixie, Debian 13)."""
    name = lab["groups"]["haproxy"][0]
    return "stick on int(1)" in node_host(lab, name).file("/etc/haproxy/haproxy.cfg").content_string


def test_the_sticky_writer_follows_the_haproxy_version(host):
    version = host.check_output("haproxy -v").split()[2]
    assert ("stick on int(1)" in host.file("/etc/haproxy/haproxy.cfg").content_string) is (int(version.split(".")[0]) < 3)


def test_every_new_connection_reaches_the_same_single_writer(host, lab):
    account = app_account(lab)
    writers = {writer_name(lab, account) for _attempt in range(12)}
    assert len(writers) == 1, writers
    if sticky(lab):
        # The writer HAProxy keeps in its stick table (galera1 unless a failover test moved it).
        assert f"server_key={writers.pop()}" in runtime_api(host, "show table mysql")
    else:
        assert writers == {"galera1"}


def test_health_endpoint_says_down_when_mariadb_is_stopped(lab):
    galera3, ip = node_host(lab, "galera3"), lab["hosts"]["galera3"]["ip"]
    galera3.check_output("systemctl stop mariadb")
    try:
        # The endpoint answers from a reading at most one read interval (0.25 s) old: the last one may
        # still show the node leaving the cluster (non-Primary) before the next finds no server.
        wait_for(lambda: health(ip) == (503, "down: MariaDB is not answering"), timeout=5, interval=0.1,
                 what="galera3 reported down as not answering")
    finally:
        galera3.check_output("systemctl start mariadb")
    wait_for(lambda: health(ip) == (200, "up: Synced"), timeout=120, what="galera3 Synced again")


def test_health_endpoint_says_down_when_desynced(lab):
    galera3, ip = node_host(lab, "galera3"), lab["hosts"]["galera3"]["ip"]
    galera3.check_output("mariadb -e 'SET GLOBAL wsrep_desync = ON'")
    try:
        wait_for(lambda: health(ip)[0] == 503, timeout=10, what="galera3 reported down while desynced")
        assert health(ip) == (503, "down: Donor/Desynced on purpose (wsrep_desync)")
    finally:
        galera3.check_output("mariadb -e 'SET GLOBAL wsrep_desync = OFF'")
    wait_for(lambda: health(ip) == (200, "up: Synced"), timeout=30, what="galera3 Synced again")


def test_writer_fails_over_and_moves_back_only_without_the_sticky_writer(host, lab):
    """The writer's MariaDB stops: new connections go to galera2. galera1 comes back and passes its
    checks: with the sticky writer new connections stay on galera2 (the stick table says so too), so
    two nodes never take writes at once; with plain `balance first` they go back to galera1."""
    account = app_account(lab)
    galera1 = node_host(lab, "galera1")

    def write_through_haproxy(proxy=endpoint(lab)):
        with connect(proxy, account, connect_timeout=2, read_timeout=5) as connection, connection.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS failover_probe (id INT AUTO_INCREMENT PRIMARY KEY, node VARCHAR(64))")
            cursor.execute("INSERT INTO failover_probe (node) VALUES (@@wsrep_node_name)")
            cursor.execute("SELECT @@wsrep_node_name")
            return cursor.fetchone()[0]

    assert write_through_haproxy() == "galera1"
    stopped_at = time.monotonic()
    galera1.check_output("systemctl stop mariadb")
    try:
        def write_lands_elsewhere():
            name = write_through_haproxy()
            return name if name != "galera1" else None

        new_writer = wait_for(write_lands_elsewhere, timeout=30, interval=0.2, what="a write through HAProxy on another node")
        failover = time.monotonic() - stopped_at
        assert new_writer == "galera2", "the first backup takes over"
        assert failover < 10, f"failover took {failover:.1f} s"
        print(f"failover: writer MariaDB stopped -> first write on {new_writer} after {failover:.2f} s")
    finally:
        galera1.check_output("systemctl start mariadb")
    wait_for(lambda: health(lab["hosts"]["galera1"]["ip"]) == (200, "up: Synced"), timeout=120, what="galera1 Synced")
    wait_for(lambda: server_states(host, "mysql")["galera1"] == "UP", timeout=20, what="galera1 UP in HAProxy")
    if sticky(lab):
        # Every HAProxy host: they share the writer choice through their peers section.
        for name in lab["groups"]["haproxy"]:
            proxy = lab["hosts"][name]["ip"]
            assert [write_through_haproxy(proxy) for _write in range(5)] == ["galera2"] * 5, name
            assert "server_key=galera2" in runtime_api(node_host(lab, name), "show table mysql"), name
    else:
        assert [write_through_haproxy() for _write in range(10)] == ["galera1"] * 10


def test_health_endpoint_says_down_when_mariadb_hangs(lab):
    """A frozen mariadbd still accepts connections on its socket but answers nothing: the endpoint's
    reading times out and it says down, although the endpoint itself is alive."""
    galera3, ip = node_host(lab, "galera3"), lab["hosts"]["galera3"]["ip"]
    galera3.check_output("systemctl kill -s STOP mariadb")
    try:
        wait_for(lambda: health(ip)[0] == 503, timeout=10, interval=0.2, what="galera3 reported down while hung")
        code, body = health(ip)
        assert code == 503 and (body == "down: MariaDB is not answering" or body.startswith("down: no reading")), body
    finally:
        galera3.check_output("systemctl kill -s CONT mariadb")
    wait_for(lambda: health(ip) == (200, "up: Synced"), timeout=120, what="galera3 Synced again")


def test_connections_go_to_a_live_node_when_every_check_fails(host, lab):
    """Every health check failing at once (here: every node desynced, so every endpoint says 503)
    leaves the MySQL listener without a server; the last-resort backend still passes new connections
    to the first node whose health port accepts TCP, instead of HAProxy refusing them. A desynced
    node stays in the Primary component and takes writes."""
    account = app_account(lab)
    nodes = [node_host(lab, name) for name in lab["groups"]["galera"]]
    for node in nodes:
        node.check_output("mariadb -e 'SET GLOBAL wsrep_desync = ON'")
    try:
        wait_for(lambda: set(server_states(host, "mysql").values()) == {"DOWN"}, timeout=15, what="every check failed")
        assert writer_name(lab, account) == "galera1"
        with connect(endpoint(lab), account) as connection, connection.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS last_resort_probe (id INT AUTO_INCREMENT PRIMARY KEY)")
            cursor.execute("INSERT INTO last_resort_probe VALUES ()")
    finally:
        for node in nodes:
            node.check_output("mariadb -e 'SET GLOBAL wsrep_desync = OFF'")
    wait_for(lambda: set(server_states(host, "mysql").values()) == {"UP"}, timeout=20, what="every node up in HAProxy again")
