"""Two of three nodes lost at once (their containers killed): the survivor is non-Primary and refuses
writes, so no split brain; HAProxy has no healthy writer, and the connections its last-resort backend
still passes to the survivor are refused by Galera itself (1047). The nodes come back (containers started):
the cluster re-forms by itself, whole, with every row committed before."""

import subprocess
import time
import uuid

import pymysql
import pytest
from labdb import app_account, endpoint, health, query, wait_for, wait_whole, writer_and_the_others, wsrep_status

# Breaks the cluster on purpose and brings it back (labhosts: skipped on an older core's run).
pytestmark = pytest.mark.drill

testinfra_hosts = ["haproxy"]


def test_lone_survivor_refuses_writes_until_the_cluster_is_back(lab):
    account = app_account(lab)
    survivor, lost = writer_and_the_others(lab, account)
    survivor_ip = lab["hosts"][survivor]["ip"]
    containers = [lab["hosts"][name]["container"] for name in lost]
    query(survivor_ip, account, "CREATE TABLE IF NOT EXISTS two_down_probe (marker CHAR(32) PRIMARY KEY)")
    marker = uuid.uuid4().hex
    query(survivor_ip, account, "INSERT INTO two_down_probe VALUES (%s)", (marker,))

    subprocess.run(["podman", "kill", *containers], check=True, capture_output=True)
    try:
        wait_for(lambda: wsrep_status(survivor_ip, account)["wsrep_cluster_status"] == "non-Primary", timeout=60,
                 what=f"{survivor} non-Primary")
        with pytest.raises(pymysql.err.OperationalError) as refused:
            query(survivor_ip, account, "INSERT INTO two_down_probe VALUES (%s)", (uuid.uuid4().hex,))
        assert refused.value.args[0] == 1047, refused.value  # WSREP has not yet prepared node for application use
        # The endpoint answers from a reading taken every 0.25 s (mariadb_galera_health_read_interval) and
        # trusts none older than 2 s (mariadb_galera_health_stale_after): it may still say up for a moment
        # after the node left the Primary component, never for longer than that.
        started = time.monotonic()
        wait_for(lambda: health(survivor_ip)[0] == 503, timeout=3, interval=0.05, what=f"{survivor}'s health 503")
        health_delay = time.monotonic() - started

        haproxy_ip = endpoint(lab)

        def write_through_haproxy_refused():
            try:
                query(haproxy_ip, account, "INSERT INTO two_down_probe VALUES (%s)", (uuid.uuid4().hex,))
            except pymysql.err.OperationalError as error:
                return error.args[0] == 1047  # WSREP has not yet prepared node for application use
            raise AssertionError("a write through HAProxy succeeded on a node outside the Primary component")
        wait_for(write_through_haproxy_refused, timeout=30, what="a write through HAProxy refused with 1047")
    finally:
        subprocess.run(["podman", "start", *containers], check=True, capture_output=True)
    wait_whole(lab, account, timeout=300)
    for name in lab["groups"]["galera"]:
        stored = {row[0] for row in query(lab["hosts"][name]["ip"], account, "SELECT marker FROM two_down_probe")}
        assert marker in stored, f"{name} lacks the row committed before the loss"
    print(f"\ndrill two of three down: {survivor} refused writes (1047), directly and through HAProxy, and its "
          f"health said 503 {health_delay:.2f} s after it was seen non-Primary; "
          f"{', '.join(lost)} back, cluster whole with every row")
