"""The Galera health endpoint (roles/mariadb_galera/files/galera_health.py) serving on a real loopback
socket, as HAProxy checks it: answers from the background reading, state changes, a hung server, and
requests that are not HTTP checks (tests/unit tests the verdicts and readings in-process)."""

import asyncio
import socket
import threading
import time

import pytest
from galera_health_doubles import SYNCED, FakeServer, galera_health


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
    assert wait_until(lambda: check(port) == (503, "down: Donor/Desynced, serving a state transfer"), timeout=1)
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
