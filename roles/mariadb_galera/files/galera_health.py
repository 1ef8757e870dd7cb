# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Galera health endpoint for HAProxy's HTTP checks, answered from a reading kept fresh in the background.

One thread holds a single connection to the local MariaDB over its unix socket and reads the node's
wsrep state every ``--interval`` seconds.  The HTTP side (asyncio: no fork, no query per request)
answers from the latest reading: 200 only when the node is Synced, in the Primary component,
wsrep-ready and writable; 503 otherwise.  A Donor is up with ``--transfer-donor-up`` while it serves a
state transfer (``wsrep_desync`` off: mariabackup and IST keep it writable, and taking the writer out
of HAProxy for a rejoining node's transfer would move writes a second time), and with
``--allow-donor`` also when it was desynced on purpose (a backup run, maintenance).

A reading older than ``--stale-after`` is not trusted: the answer then wakes the reader and waits up
to ``--fresh-wait`` for a new reading, and says down if none comes.  So a hung mariadbd is reported
down although this process is alive, while a host that was merely not scheduled for a while (both
threads stalled together) answers from a reading taken after it resumed instead of from its age.

Runs on the node's own python3 with PyMySQL (Debian's python3-pymysql); see the role's
dbstack-galera-health.service for how systemd starts and confines it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import threading
import time

# wsrep_local_state values (Galera's node states).
STATE_SYNCED = "4"
STATE_DONOR = "2"
STATUS_SQL = (
    "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN "
    "('WSREP_LOCAL_STATE', 'WSREP_LOCAL_STATE_COMMENT', 'WSREP_CLUSTER_STATUS', 'WSREP_READY')"
)
SETTINGS_SQL = "SELECT @@global.read_only, @@global.wsrep_desync"
# A check's request head is a few dozen bytes; anything far larger is not HAProxy.
MAX_REQUEST_BYTES = 8192
REQUEST_TIMEOUT = 2.0
REASONS = {200: "OK", 503: "Service Unavailable"}


def verdict(status, read_only, allow_donor=False, transfer_donor_up=False, desync=0):
    """(HTTP code, body) for one reading: status maps WSREP_* names to values; read_only and desync
    (@@wsrep_desync: the node was desynced on purpose) are 0 or 1."""
    cluster_status = status.get("WSREP_CLUSTER_STATUS") or "unknown"
    if cluster_status != "Primary":
        return 503, f"down: cluster status {cluster_status}, not Primary"
    if status.get("WSREP_READY") != "ON":
        return 503, "down: wsrep not ready"
    if str(read_only) != "0":
        return 503, "down: read_only is on"
    state = status.get("WSREP_LOCAL_STATE")
    comment = status.get("WSREP_LOCAL_STATE_COMMENT") or "unknown state"
    if state == STATE_SYNCED:
        return 200, f"up: {comment}"
    if state == STATE_DONOR:
        if allow_donor:
            return 200, f"up: {comment}"
        if str(desync) == "0":
            if transfer_donor_up:
                return 200, f"up: {comment}, serving a state transfer"
            return 503, f"down: {comment}, serving a state transfer"
        return 503, f"down: {comment} on purpose (wsrep_desync)"
    return 503, f"down: {comment}"


def http_response(code, body):
    payload = (body + "\n").encode()
    head = (f"HTTP/1.1 {code} {REASONS[code]}\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


class Reading:
    """The latest verdict and when it was taken (time.monotonic()); shared by both threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._value = (503, "down: no reading yet", float("-inf"))

    def set(self, code, body, taken_at):
        with self._lock:
            self._value = (code, body, taken_at)

    def get(self):
        with self._lock:
            return self._value


class StateReader(threading.Thread):
    """Reads the node's state every interval over one kept connection; reconnects after any error."""

    def __init__(self, reading, connect, interval, allow_donor=False, transfer_donor_up=False, clock=time.monotonic):
        super().__init__(name="state-reader", daemon=True)
        self.reading = reading
        self._connect = connect
        self._interval = interval
        self._allow_donor = allow_donor
        self._transfer_donor_up = transfer_donor_up
        self._clock = clock
        self._connection = None
        self.wake = threading.Event()
        self.stopping = threading.Event()

    def read_once(self):
        try:
            if self._connection is None:
                self._connection = self._connect()
            with self._connection.cursor() as cursor:
                cursor.execute(STATUS_SQL)
                status = {str(name).upper(): str(value) for name, value in cursor.fetchall()}
                cursor.execute(SETTINGS_SQL)
                read_only, desync = cursor.fetchone()
            code, body = verdict(status, read_only, self._allow_donor, self._transfer_donor_up, desync)
        except Exception:  # pylint: disable=broad-exception-caught  # any failure to read means: cannot see the server
            self._drop_connection()
            code, body = 503, "down: MariaDB is not answering"
        self.reading.set(code, body, self._clock())

    def _drop_connection(self):
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # pylint: disable=broad-exception-caught  # already broken
                pass
            self._connection = None

    def run(self):
        while not self.stopping.is_set():
            self.read_once()
            self.wake.wait(self._interval)
            self.wake.clear()
        self._drop_connection()


class HealthServer:
    """Answers each HTTP request from the reader's latest reading."""

    def __init__(self, reading, reader_wake, stale_after, fresh_wait, clock=time.monotonic):
        self.reading = reading
        self._reader_wake = reader_wake
        self._stale_after = stale_after
        self._fresh_wait = fresh_wait
        self._clock = clock

    async def current(self):
        """The latest reading's (code, body); a stale one is replaced by a fresh one or reported down."""
        code, body, taken_at = self.reading.get()
        if self._clock() - taken_at <= self._stale_after:
            return code, body
        self._reader_wake.set()
        deadline = self._clock() + self._fresh_wait
        while self._clock() < deadline:
            await asyncio.sleep(0.01)
            code, body, taken_at = self.reading.get()
            if self._clock() - taken_at <= self._stale_after:
                return code, body
        age = self._clock() - taken_at
        shown = f"{age:.1f} s" if age != float("inf") else "ever"
        return 503, f"down: no reading of MariaDB's state for {shown}"

    async def handle(self, reader, writer):
        try:
            # Read the request head first: closing a socket with unread data sends a reset, which
            # HAProxy logs as a failed check rather than as our answer.
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
            writer.write(http_response(*await self.current()))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--listen", default="0.0.0.0", help="address to listen on")
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--socket", default="/run/mysqld/mysqld.sock", help="MariaDB's unix socket")
    parser.add_argument("--user", default="galera-health", help="MariaDB account (unix_socket login)")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between readings")
    parser.add_argument("--stale-after", type=float, default=2.0, help="age in seconds after which a reading is not trusted")
    parser.add_argument("--fresh-wait", type=float, default=1.0, help="seconds a request waits for a fresh reading")
    parser.add_argument("--allow-donor", action="store_true", help="report a Donor node as up, also one desynced on purpose")
    parser.add_argument("--transfer-donor-up", action="store_true",
                        help="report a Donor node serving a state transfer as up (a non-blocking SST method)")
    return parser.parse_args(argv)


def pymysql_connector(args):
    """Opens the reader's connection: the local socket, the unprivileged unix_socket account."""
    import pymysql  # pylint: disable=import-outside-toplevel  # only the node has it; tests import this module without

    def connect():
        # The read timeout bounds a query to a hung server; the reading then turns stale and down.
        return pymysql.connect(unix_socket=args.socket, user=args.user, connect_timeout=args.stale_after,
                               read_timeout=args.stale_after, write_timeout=args.stale_after, autocommit=True)
    return connect


async def serve(args, connect, started=None):
    """Run until SIGTERM/SIGINT (or until ``started``'s caller cancels): the reader thread and the listener.
    ``started`` (an asyncio.Future) receives the bound port once the listener is up."""
    reading = Reading()
    state_reader = StateReader(reading, connect, args.interval, args.allow_donor, args.transfer_donor_up)
    state_reader.start()
    server = HealthServer(reading, state_reader.wake, args.stale_after, args.fresh_wait)
    listener = await asyncio.start_server(server.handle, args.listen, args.port, limit=MAX_REQUEST_BYTES,
                                          reuse_address=True, backlog=128)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    if started is not None:
        started.set_result(listener.sockets[0].getsockname()[1])
    try:
        async with listener:
            await stop.wait()
    finally:
        state_reader.stopping.set()
        state_reader.wake.set()


def main(argv=None):
    args = parse_args(argv)
    asyncio.run(serve(args, pymysql_connector(args)))


if __name__ == "__main__":
    main()
