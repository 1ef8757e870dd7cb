"""The Galera health endpoint (roles/mariadb_galera/files/galera_health.py): the verdict per wsrep state,
answers from the background reading, stale readings and a server that stops answering, in-process.
tests/integration has HAProxy's HTTP exchange with the endpoint serving on a real loopback socket; the
molecule scenarios run it against real MariaDB."""

import asyncio
import threading
import time

import pytest
from galera_health_doubles import SYNCED, FakeServer, galera_health


DONOR = {"WSREP_LOCAL_STATE": "2", "WSREP_LOCAL_STATE_COMMENT": "Donor/Desynced"}


@pytest.mark.parametrize(("changes", "read_only", "flags", "expected"), [
    ({}, 0, {}, (200, "up: Synced")),
    (DONOR, 0, {}, (503, "down: Donor/Desynced, serving a state transfer")),
    (DONOR, 0, {"transfer_donor_up": True}, (200, "up: Donor/Desynced, serving a state transfer")),
    (DONOR, 0, {"transfer_donor_up": True, "desync": 1}, (503, "down: Donor/Desynced on purpose (wsrep_desync)")),
    (DONOR, 0, {"allow_donor": True, "desync": 1}, (200, "up: Donor/Desynced")),
    (DONOR, 0, {"allow_donor": True}, (200, "up: Donor/Desynced")),
    (DONOR, 1, {"transfer_donor_up": True}, (503, "down: read_only is on")),
    ({"WSREP_LOCAL_STATE": "1", "WSREP_LOCAL_STATE_COMMENT": "Joining"}, 0, {"allow_donor": True, "transfer_donor_up": True},
     (503, "down: Joining")),
    ({"WSREP_LOCAL_STATE": "3", "WSREP_LOCAL_STATE_COMMENT": "Joined"}, 0, {}, (503, "down: Joined")),
    ({"WSREP_CLUSTER_STATUS": "non-Primary"}, 0, {}, (503, "down: cluster status non-Primary, not Primary")),
    ({"WSREP_CLUSTER_STATUS": None}, 0, {}, (503, "down: cluster status unknown, not Primary")),
    ({"WSREP_READY": "OFF"}, 0, {}, (503, "down: wsrep not ready")),
    ({}, 1, {}, (503, "down: read_only is on")),
])
def test_verdict_keeps_the_endpoints_semantics(changes, read_only, flags, expected):
    status = {name: value for name, value in {**SYNCED, **changes}.items() if value is not None}
    assert galera_health.verdict(status, read_only, **flags) == expected


def test_http_response_is_a_complete_http_answer():
    assert galera_health.http_response(503, "down: Joined") == (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        b"Content-Length: 13\r\n\r\ndown: Joined\n")


def test_reader_keeps_one_connection_and_reports_a_lost_server_down():
    server, reading = FakeServer(), galera_health.Reading()
    reader = galera_health.StateReader(reading, server.connect, interval=1, clock=lambda: 7.0)
    for _reading in range(5):
        reader.read_once()
    assert reading.get() == (200, "up: Synced", 7.0)
    assert server.connections == 1
    server.broken = True
    reader.read_once()
    assert reading.get() == (503, "down: MariaDB is not answering", 7.0)
    server.broken = False
    server.status["WSREP_CLUSTER_STATUS"] = "non-Primary"
    reader.read_once()
    assert reading.get()[:2] == (503, "down: cluster status non-Primary, not Primary")
    assert server.connections == 2


class Clock:
    def __init__(self, now=100.0):
        self.now = now

    def __call__(self):
        return self.now


def test_fresh_reading_is_answered_as_is():
    clock, reading = Clock(), galera_health.Reading()
    reading.set(200, "up: Synced", clock.now - 1.5)
    server = galera_health.HealthServer(reading, threading.Event(), stale_after=2.0, fresh_wait=1.0, clock=clock)
    assert asyncio.run(server.current()) == (200, "up: Synced")


def test_stale_reading_wakes_the_reader_and_uses_its_new_reading():
    """After a stall of the whole host both threads resume together: the answer is the reading taken
    after the stall, not the old one's age."""
    reading, wake = galera_health.Reading(), threading.Event()
    reading.set(200, "up: Synced", time.monotonic() - 6.6)

    def reader():
        wake.wait(5)
        reading.set(200, "up: Synced", time.monotonic())
    threading.Thread(target=reader, daemon=True).start()
    server = galera_health.HealthServer(reading, wake, stale_after=2.0, fresh_wait=1.0)
    assert asyncio.run(server.current()) == (200, "up: Synced")


def test_stale_reading_without_a_new_one_is_down():
    reading = galera_health.Reading()
    reading.set(200, "up: Synced", time.monotonic() - 3.0)
    server = galera_health.HealthServer(reading, threading.Event(), stale_after=2.0, fresh_wait=0.2)
    code, body = asyncio.run(server.current())
    assert code == 503 and body.startswith("down: no reading of MariaDB's state for 3.")


def test_no_reading_ever_is_down():
    server = galera_health.HealthServer(galera_health.Reading(), threading.Event(), stale_after=2.0, fresh_wait=0.05)
    assert asyncio.run(server.current()) == (503, "down: no reading of MariaDB's state for ever")
