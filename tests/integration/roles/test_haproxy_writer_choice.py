"""The haproxy role's own template, rendered for two HAProxy hosts and run by the real haproxy on loopback
in front of three stand-in Galera nodes: where new connections go when the writer fails and returns
(it must not move back), whether both HAProxy hosts agree (shared through peers), whether a reload
keeps the choice, whether sessions of a failed writer are still closed, and the last-resort backend.

The stand-ins listen on 127.0.0.11-13: a "MySQL" port that greets with the node's name, and an HTTP
health port answering 200 or 503 as the test says. The two HAProxy processes bind 127.0.0.21 and
127.0.0.22 (their peer addresses too). Nothing leaves loopback. Skipped without haproxy. The rendered
text alone (haproxy_template.py) is checked by tests/unit/roles/test_haproxy_writer_choice.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest
from haproxy_live import LoopThread, free_port
from haproxy_template import NODES, PROXIES, ROLE, render

HAPROXY = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if os.access(p, os.X_OK)), None)
pytestmark = pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (make host installs it)")


class StandIns(LoopThread):
    """Three stand-in Galera nodes in a thread of their own; health per node set by the test."""

    def __init__(self):
        super().__init__()
        self.mysql_port, self.health_port = free_port(), free_port()
        self.healthy = dict.fromkeys(NODES, True)

    def start(self):
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(10)
        return self

    async def _listen(self):
        for name, address in NODES.items():
            self.servers.append(await asyncio.start_server(self._mysql(name), address, self.mysql_port))
            self.servers.append(await asyncio.start_server(self._health(name), address, self.health_port))

    def _mysql(self, name):
        async def greet(reader, writer):
            writer.write(f"{name}\n".encode())
            await writer.drain()
            try:
                while await reader.read(4096):
                    pass
            except ConnectionError:
                pass
            writer.close()
        return greet

    def _health(self, name):
        async def answer(reader, writer):
            try:
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                status = "200 OK" if self.healthy[name] else "503 Service Unavailable"
                writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
                await writer.drain()
            except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                pass
            writer.close()
        return answer


class Proxy:
    """One haproxy process (master-worker, foreground) with the rendered configuration."""

    def __init__(self, tmp_path, host, text):
        self.host, self.socket = host, str(tmp_path / f"{host}.sock")
        self.config = tmp_path / f"{host}.cfg"
        self.config.write_text(text)
        self.process = None

    def check(self):
        return subprocess.run([HAPROXY, "-c", "-f", str(self.config)], capture_output=True, text=True, timeout=30,
                              check=False)

    def start(self):
        self.process = subprocess.Popen([HAPROXY, "-W", "-db", "-f", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(self.socket) and self.runtime("show info"), what=f"{self.host} up")
        return self

    def reload(self):
        self.process.send_signal(signal.SIGUSR2)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def runtime(self, command):
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(5)
                sock.connect(self.socket)
                sock.sendall(command.encode() + b"\n")
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            return answer.decode()
        except OSError:
            return ""

    def state(self, server):
        """The server's operational state in the MySQL listener (2 = running, 0 = stopped)."""
        for line in self.runtime("show servers state mysql").splitlines():
            fields = line.split()
            if len(fields) > 5 and fields[3] == server:
                return int(fields[5])
        return None


def wait_until(predicate, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def lands_on(address, port):
    """The node a new connection through this HAProxy reaches (the stand-in greets with its name)."""
    with socket.create_connection((address, port), timeout=10) as sock:
        return sock.makefile().readline().strip()


@pytest.fixture
def cluster(tmp_path):
    stand_ins = StandIns().start()
    listen_port = free_port()
    peers_port = free_port()
    proxies = {}
    try:
        for host in PROXIES:
            proxies[host] = Proxy(tmp_path, host, render(tmp_path, host, stand_ins, listen_port, peers_port))
        yield stand_ins, proxies, listen_port
    finally:
        for proxy in proxies.values():
            proxy.stop()
        stand_ins.stop()


def all_up(proxy):
    return all(proxy.state(name) == 2 for name in NODES)


def test_rendered_configuration_is_valid_and_keeps_its_peers(cluster):
    _stand_ins, proxies, _port = cluster
    for proxy in proxies.values():
        result = proxy.check()
        assert result.returncode == 0, result.stderr
        # HAProxy drops a peers section whose local peer it cannot find, with only a warning.
        assert "Removing incomplete section" not in result.stdout + result.stderr
        assert "stick on int(1)" in proxy.config.read_text()


def test_writer_moves_once_and_does_not_move_back_on_any_proxy(cluster):
    stand_ins, proxies, port = cluster
    for proxy in proxies.values():
        proxy.start()
    for proxy in proxies.values():
        wait_until(lambda proxy=proxy: all_up(proxy), what="every server up")
        # Peers that are not connected yet resync when they connect, and a process's older entry can
        # then overwrite a newer one: start from two HAProxy hosts that have been talking.
        wait_until(lambda proxy=proxy: "last_status=ESTA" in proxy.runtime("show peers"), timeout=20,
                   what="the peers session established")
    assert {lands_on(PROXIES[host], port) for host in proxies} == {"galera1"}
    # Each process pushes its own store to the other; one still on its way when the writer changes
    # would overwrite the newer choice (last arrival wins). A cluster runs a while before it fails.
    time.sleep(1)

    stand_ins.healthy["galera1"] = False
    wait_until(lambda: all(proxy.state("galera1") == 0 for proxy in proxies.values()), what="galera1 down")
    # Only haproxy1 takes connections while galera1 is away; haproxy2 learns the choice through peers.
    assert lands_on(PROXIES["haproxy1"], port) == "galera2"
    stand_ins.healthy["galera1"] = True
    wait_until(lambda: all(all_up(proxy) for proxy in proxies.values()), what="galera1 back up")
    assert [lands_on(PROXIES[host], port) for host in proxies for _try in range(3)] == ["galera2"] * 6


def test_a_reload_keeps_the_writer(cluster, tmp_path):
    stand_ins, proxies, port = cluster
    proxy = proxies["haproxy1"].start()
    script = ROLE / "files" / "haproxy_runtime.py"
    # Just started, its start-up resync is usually not done yet (HAProxy gives it up to 5 s): the
    # helper must read the same state from `show peers` as we do.
    flags = int(re.search(r"id=dbstack_writer .*?flags=(0x[0-9a-f]+)", proxy.runtime("show peers"))[1], 16)
    helper = subprocess.run(["python3", str(script), proxy.socket, "--peers-synced"], check=False).returncode
    assert helper == (0 if flags & 0x3 == 0x3 else 1), hex(flags)
    wait_until(lambda: all_up(proxy), what="every server up")
    stand_ins.healthy["galera1"] = False
    wait_until(lambda: proxy.state("galera1") == 0, what="galera1 down")
    assert lands_on(PROXIES["haproxy1"], port) == "galera2"
    stand_ins.healthy["galera1"] = True
    wait_until(lambda: all_up(proxy), what="galera1 back up")
    wait_until(lambda: subprocess.run(["python3", str(script), proxy.socket, "--peers-synced"], check=False).returncode == 0,
               what="the peers resync done, as the role's handler waits before a reload")
    proxy.reload()
    time.sleep(1)
    wait_until(lambda: all_up(proxy), what="the new process's servers up")
    assert [lands_on(PROXIES["haproxy1"], port) for _try in range(3)] == ["galera2"] * 3
    assert writer_shown(proxy) == "galera2"


def writer_shown(proxy):
    """What status.yml prints as this HAProxy's writer (the role's runtime helper)."""
    script = ROLE / "files" / "haproxy_runtime.py"
    return subprocess.run(["python3", str(script), proxy.socket, "--writer", "mysql"], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_without_the_sticky_writer_the_first_node_takes_connections_back(tmp_path):
    """haproxy_sticky_writer: false is plain `balance first` + `backup`: the fail-back the sticky writer prevents."""
    stand_ins = StandIns().start()
    port = free_port()
    proxy = Proxy(tmp_path, "haproxy1", render(tmp_path, "haproxy1", stand_ins, port, free_port(),
                                               haproxy_sticky_writer=False))
    try:
        assert "stick on" not in proxy.config.read_text() and "\npeers " not in proxy.config.read_text()
        proxy.start()
        wait_until(lambda: all_up(proxy), what="every server up")
        stand_ins.healthy["galera1"] = False
        wait_until(lambda: proxy.state("galera1") == 0, what="galera1 down")
        assert (lands_on(PROXIES["haproxy1"], port), writer_shown(proxy)) == ("galera2", "galera2")
        stand_ins.healthy["galera1"] = True
        wait_until(lambda: all_up(proxy), what="galera1 back up")
        assert (lands_on(PROXIES["haproxy1"], port), writer_shown(proxy)) == ("galera1", "galera1")
    finally:
        proxy.stop()
        stand_ins.stop()


def test_sessions_of_a_failed_writer_are_still_closed(cluster):
    stand_ins, proxies, port = cluster
    proxy = proxies["haproxy1"].start()
    wait_until(lambda: all_up(proxy), what="every server up")
    with socket.create_connection((PROXIES["haproxy1"], port), timeout=10) as session:
        assert session.makefile().readline().strip() == "galera1"
        stand_ins.healthy["galera1"] = False
        session.settimeout(5)
        assert session.recv(100) == b"", "the session to the failed writer stayed open"


def test_last_resort_when_every_check_fails(cluster):
    stand_ins, proxies, port = cluster
    proxy = proxies["haproxy1"].start()
    wait_until(lambda: all_up(proxy), what="every server up")
    stand_ins.healthy.update(dict.fromkeys(NODES, False))
    wait_until(lambda: all(proxy.state(name) == 0 for name in NODES), what="every server down")
    assert lands_on(PROXIES["haproxy1"], port) == "galera1"
