"""The Galera health endpoint (roles/mariadb_galera/files/galera_health.py): the verdict per wsrep state,
answers from the background reading, stale readings, a server that stops answering, and the HTTP exchange
HAProxy has with it, over a real loopback socket. The molecule scenarios run it against real MariaDB."""

import asyncio
import importlib.util
import socket
import threading
import time
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[3] / "roles" / "mariadb_galera" / "files" / "galera_health.py"
spec = importlib.util.spec_from_file_location("galera_health", SOURCE)
galera_health = importlib.util.module_from_spec(spec)
spec.loader.exec_module(galera_health)

SYNCED = {"WSREP_LOCAL_STATE": "4", "WSREP_LOCAL_STATE_COMMENT": "Synced", "WSREP_CLUSTER_STATUS": "Primary",
          "WSREP_READY": "ON"}


@pytest.mark.parametrize(("changes", "read_only", "allow_donor", "expected"), [
    ({}, 0, False, (200, "up: Synced")),
    ({"WSREP_LOCAL_STATE": "2", "WSREP_LOCAL_STATE_COMMENT": "Donor/Desynced"}, 0, False, (503, "down: Donor/Desynced")),
    ({"WSREP_LOCAL_STATE": "2", "WSREP_LOCAL_STATE_COMMENT": "Donor/Desynced"}, 0, True, (200, "up: Donor/Desynced")),
    ({"WSREP_LOCAL_STATE": "1", "WSREP_LOCAL_STATE_COMMENT": "Joining"}, 0, True, (503, "down: Joining")),
    ({"WSREP_LOCAL_STATE": "3", "WSREP_LOCAL_STATE_COMMENT": "Joined"}, 0, False, (503, "down: Joined")),
    ({"WSREP_CLUSTER_STATUS": "non-Primary"}, 0, False, (503, "down: cluster status non-Primary, not Primary")),
    ({"WSREP_CLUSTER_STATUS": None}, 0, False, (503, "down: cluster status unknown, not Primary")),
    ({"WSREP_READY": "OFF"}, 0, False, (503, "down: wsrep not ready")),
    ({}, 1, False, (503, "down: read_only is on")),
])
def test_verdict_keeps_the_endpoints_semantics(changes, read_only, allow_donor, expected):
    status = {name: value for name, value in {**SYNCED, **changes}.items() if value is not None}
    assert galera_health.verdict(status, read_only, allow_donor) == expected


def test_http_response_is_a_complete_http_answer():
    assert galera_health.http_response(503, "down: Joined") == (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        b"Content-Length: 13\r\n\r\ndown: Joined\n")


class FakeCursor:
    def __init__(self, server):
        self.server = server
        self.rows = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql):
        self.server.queries += 1
        if self.server.broken:
            raise OSError("server gone")
        if self.server.hang.is_set():
            self.server.hang_released.wait(5)
            raise TimeoutError("read timed out")
        self.rows = ([(name.lower(), value) for name, value in self.server.status.items()]
                     if sql == galera_health.STATUS_SQL else [(self.server.read_only,)])

    def fetchall(self):
        return self.rows

    def fetchone(self):
        return self.rows[0]


class FakeServer:
    """What the reader sees of MariaDB: a status, and failures switched on at will."""

    def __init__(self):
        self.status = dict(SYNCED)
        self.read_only = 0
        self.broken = False
        self.hang = threading.Event()
        self.hang_released = threading.Event()
        self.connections = 0
        self.queries = 0

    def connect(self):
        if self.broken:
            raise OSError("no socket")
        self.connections += 1
        server = self

        class Connection:
            def cursor(self):
                return FakeCursor(server)

            def close(self):
                pass
        return Connection()


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


@pytest.fixture
def endpoint():
    """The endpoint serving on a loopback port in a thread of its own, reading from a FakeServer."""
    server = FakeServer()
    args = galera_health.parse_args(["--listen", "127.0.0.1", "--port", "0", "--interval", "0.05",
                                     "--stale-after", "0.5", "--fresh-wait", "0.3"])
    loop = asyncio.new_event_loop()
    started = loop.create_future()
    task = loop.create_task(galera_health.serve(args, server.connect, started))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    port = asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(started), 5), loop).result(5)
    yield server, port
    server.hang_released.set()

    async def stop():
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def check(port, request=b"GET / HTTP/1.0\r\n\r\n"):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    head, _separator, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body.strip()


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_checks_are_answered_from_the_reading_not_by_a_query_each(endpoint):
    server, port = endpoint
    assert wait_until(lambda: check(port) == (200, "up: Synced"))
    queries_before = server.queries
    answers = [check(port) for _check in range(50)]
    assert set(answers) == {(200, "up: Synced")}
    # 50 checks in well under a second: at 20 readings/s (2 queries each) far fewer than 50 queries ran.
    assert server.queries - queries_before < 50
    assert server.connections == 1


def test_state_changes_reach_the_answer_within_a_reading(endpoint):
    server, port = endpoint
    assert wait_until(lambda: check(port)[0] == 200)
    server.status.update(WSREP_LOCAL_STATE="2", WSREP_LOCAL_STATE_COMMENT="Donor/Desynced")
    assert wait_until(lambda: check(port) == (503, "down: Donor/Desynced"), timeout=1)
    server.broken = True
    assert wait_until(lambda: check(port) == (503, "down: MariaDB is not answering"), timeout=1)
    server.broken = False
    server.status.update(SYNCED)
    assert wait_until(lambda: check(port) == (200, "up: Synced"), timeout=1)


def test_hung_server_is_reported_down_although_the_endpoint_answers(endpoint):
    server, port = endpoint
    assert wait_until(lambda: check(port)[0] == 200)
    server.hang.set()
    assert wait_until(lambda: check(port)[1].startswith("down: no reading of MariaDB's state"), timeout=3)
    server.hang.clear()
    server.hang_released.set()
    assert wait_until(lambda: check(port) == (200, "up: Synced"), timeout=3)


def test_requests_that_are_not_http_checks_get_no_answer_and_do_not_stop_it(endpoint):
    _server, port = endpoint
    assert wait_until(lambda: check(port)[0] == 200)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"x" * (galera_health.MAX_REQUEST_BYTES + 10))
        try:
            assert sock.recv(100) == b""
        except ConnectionResetError:  # closed with our bytes unread: a reset, and still no answer
            pass
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    assert check(port) == (200, "up: Synced")
