"""The health endpoint under test (roles/mariadb_galera/files/galera_health.py, loaded as `galera_health`)
and the MariaDB it reads, faked: SYNCED, the status of a synced node, and FakeServer, whose failures a
test switches on. Used by the health tests of tests/unit and tests/integration."""

import importlib.util
import threading

from working_tree import REPO_ROOT

SOURCE = REPO_ROOT / "roles" / "mariadb_galera" / "files" / "galera_health.py"
spec = importlib.util.spec_from_file_location("galera_health", SOURCE)
galera_health = importlib.util.module_from_spec(spec)
spec.loader.exec_module(galera_health)

SYNCED = {"WSREP_LOCAL_STATE": "4", "WSREP_LOCAL_STATE_COMMENT": "Synced", "WSREP_CLUSTER_STATUS": "Primary",
          "WSREP_READY": "ON"}


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
                     if sql == galera_health.STATUS_SQL else [(self.server.read_only, self.server.desync)])

    def fetchall(self):
        return self.rows

    def fetchone(self):
        return self.rows[0]


class FakeServer:
    """What the reader sees of MariaDB: a status, and failures switched on at will."""

    def __init__(self):
        self.status = dict(SYNCED)
        self.read_only = 0
        self.desync = 0
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
