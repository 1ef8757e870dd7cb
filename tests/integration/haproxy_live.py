"""Run the real haproxy on loopback and measure what it does to an idle MySQL connection.

Shared by the integration tests that check our reading of haproxy.cfg against HAProxy itself.  A
configuration is written with two place-holders: ``@LISTEN@`` (the address:port the MySQL listener
binds) and ``@SERVER@`` (a stand-in Galera node that greets like mysqld).  `measure()` checks it with
``haproxy -c``, runs it in the foreground, opens one connection through the listener, reads the
greeting and then stays idle until HAProxy closes the connection, and returns what it saw.

Every case gets its own 127.0.0.x address, so many can run at once.  Nothing leaves loopback.

Run as a script (``python3 haproxy_live.py CORPUS.py``, standard library only) it measures every case of
CORPUS.py's CASES and prints JSON: that is how the same corpus is measured with another HAProxy
version inside a lab container (DBSTACK_HAPROXY_CONTAINER, see test_haproxy_idle_cut.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import itertools
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

HAPROXY = shutil.which("haproxy") or next(
    (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)), None
)

# 127.0.0.x addresses handed out to cases, so parallel cases never share an address:port.
_ADDRESSES = itertools.cycle(f"127.0.{third}.{fourth}" for third in range(100, 120) for fourth in range(2, 250))
_ADDRESS_LOCK = threading.Lock()


def next_address():
    with _ADDRESS_LOCK:
        return next(_ADDRESSES)


def free_port(address="127.0.0.1"):
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def mysql_handshake(thread_id=1):
    """A MySQL protocol v10 initial handshake packet, as mysqld sends it on connect."""
    version = b"10.11.6-MariaDB-0+deb12u1\x00"
    salt = b"abcdefgh12345678ijkl"
    body = (
        b"\x0a" + version + struct.pack("<I", thread_id) + salt[:8] + b"\x00"
        + struct.pack("<H", 0xF7FE) + b"\x2d" + struct.pack("<H", 0x0002) + struct.pack("<H", 0x81BF)
        + bytes([21]) + b"\x00" * 10 + salt[8:] + b"\x00" + b"mysql_native_password\x00"
    )
    return struct.pack("<I", len(body))[:3] + b"\x00" + body


class LoopThread:
    """An asyncio loop in a daemon thread for stand-in servers; stop() closes them and cancels their tasks."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.servers = []

    def stop(self):
        async def shutdown():
            for server in self.servers:
                server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Greeter(LoopThread):
    """Stand-in Galera nodes in one thread: each accepted connection gets a handshake, then is left idle.

    The node never closes first: it reads until the peer (HAProxy) closes.
    """

    def __init__(self):
        super().__init__()
        self.thread.start()

    def listen(self, address):
        """Start one node on `address` and return its port."""

        async def start():
            server = await asyncio.start_server(self._greet, address, 0)
            self.servers.append(server)
            return server.sockets[0].getsockname()[1]

        return asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    @staticmethod
    async def _greet(reader, writer):
        writer.write(mysql_handshake())
        try:
            await writer.drain()
            while await reader.read(4096):
                pass
        except ConnectionError:
            pass
        writer.close()


@dataclass
class Measured:
    """What HAProxy did with one configuration."""

    refused: str | None = None          # haproxy -c's alerts when it refuses the configuration
    warnings: list = field(default_factory=list)
    greeted: bool = False               # the client received the node's handshake
    cut: float | None = None            # seconds from the greeting (or connect) to the close; None: still open
    check_output: str = ""


def haproxy_check(path):
    return subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, errors="replace",
                          timeout=60, check=False)


def alerts(output):
    return [line.split("] ", 1)[-1].strip() for line in output.splitlines() if "[ALERT]" in line]


def warnings(output):
    return [line.split("] ", 1)[-1].strip() for line in output.splitlines() if "[WARNING]" in line]


def render(template, listen, server):
    return template.replace("@LISTEN@", listen).replace("@SERVER@", server)


def measure(template, greeter, horizon, directory=None):
    """Check and run `template`; return a Measured.  `horizon`: seconds to stay idle before giving up."""
    address = next_address()
    server = f"{address}:{greeter.listen(address)}"
    listen_port = free_port(address)
    listen = f"{address}:{listen_port}"
    text = render(template, listen, server)
    with tempfile.TemporaryDirectory(dir=directory) as workdir:
        config = os.path.join(workdir, "haproxy.cfg")
        with open(config, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        check = haproxy_check(config)
        output = check.stdout + check.stderr
        result = Measured(warnings=warnings(output), check_output=output)
        if check.returncode != 0:
            result.refused = "\n".join(alerts(output)) or output
            return result
        # -db: foreground, so this process is the one stopped at the end.
        process = subprocess.Popen([HAPROXY, "-db", "-f", config], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            client = _connect(process, address, listen_port)
            with client:
                started = time.monotonic()
                client.settimeout(1.0)
                first = None
                try:
                    first = client.recv(4096)
                except TimeoutError:
                    pass
                except ConnectionResetError:
                    return _closed(result, started)
                if first:
                    result.greeted = first[4:5] == b"\x0a"
                    started = time.monotonic()
                elif first == b"":
                    # Closed before anything arrived (and before the 1 s wait ended).
                    return _closed(result, started)
                client.settimeout(max(horizon - (time.monotonic() - started), 0.1))
                try:
                    while True:
                        chunk = client.recv(4096)
                        if not chunk:
                            break
                except TimeoutError:
                    return result
                except ConnectionResetError:
                    pass
                return _closed(result, started)
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _closed(result, started):
    result.cut = time.monotonic() - started
    return result


def _connect(process, address, port):
    deadline = time.monotonic() + 15
    while True:
        try:
            return socket.create_connection((address, port), timeout=1)
        except OSError:
            if process.poll() is not None:
                raise AssertionError(f"haproxy exited with {process.returncode} before listening") from None
            if time.monotonic() > deadline:
                raise AssertionError("haproxy did not start listening within 15 s") from None
            time.sleep(0.02)


def measure_all(cases, horizon, workers=16):
    """{name: Measured} for every case of `cases` ({name: {"config": ...}}), measured at once."""
    greeter = Greeter()
    try:
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = {name: pool.submit(measure, case["config"], greeter, horizon) for name, case in cases.items()}
            return {name: future.result() for name, future in futures.items()}
    finally:
        greeter.stop()


def in_container(container, corpus_path, horizon):
    """measure_all() run by the haproxy and python3 of a podman container, e.g. a Debian 13 lab host."""
    directory = "/tmp/dbstack-haproxy-live"
    subprocess.run(["podman", "exec", container, "mkdir", "-p", directory], check=True, timeout=60)
    for path in (__file__, corpus_path):
        subprocess.run(["podman", "cp", str(path), f"{container}:{directory}/"], check=True, timeout=60)
    answer = subprocess.run(
        ["podman", "exec", container, "python3", f"{directory}/haproxy_live.py",
         f"{directory}/{os.path.basename(corpus_path)}", str(horizon)],
        capture_output=True, text=True, check=True, timeout=600,
    )
    document = json.loads(answer.stdout)
    return document["version"], {name: Measured(**fields) for name, fields in document["cases"].items()}


def version():
    """The first line of `haproxy -v`, e.g. 'HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/'."""
    return subprocess.run([HAPROXY, "-v"], capture_output=True, text=True, check=True).stdout.split("\n")[0]


def main(argv):
    spec = importlib.util.spec_from_file_location("corpus", argv[1])
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    horizon = float(argv[2]) if len(argv) > 2 else corpus.HORIZON
    results = measure_all(corpus.CASES, horizon)
    print(json.dumps({"version": version(), "cases": {name: vars(m) for name, m in results.items()}}))


if __name__ == "__main__":
    import sys

    main(sys.argv)
