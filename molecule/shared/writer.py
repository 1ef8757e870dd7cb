"""A client that writes continuously through HAProxy and remembers what was acknowledged.

Used by the molecule tests (rolling restart, recovery, drills) and the benchmarks: start it,
break something, stop it, then check that every acknowledged write is on every node.
Each write is one INSERT of a unique sequence number in autocommit mode, so an
acknowledgement means a committed row. A write whose connection died after the statement
was sent is "in doubt": it may or may not have committed, and is counted apart.
"""

import argparse
import itertools
import json
import threading
import time
from dataclasses import asdict, dataclass, field

import pymysql

TABLE = "writer_log"


@dataclass
class WriterReport:
    acknowledged: list = field(default_factory=list)  # (seq, monotonic time)
    failed: list = field(default_factory=list)  # (seq, monotonic time, error code, message)
    in_doubt: list = field(default_factory=list)  # seqs whose outcome the client never saw

    @property
    def longest_gap(self):
        """Longest time between two consecutive acknowledged writes, in seconds."""
        times = [acked_at for _seq, acked_at in self.acknowledged]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    def to_json(self):
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        return cls(acknowledged=[tuple(row) for row in data["acknowledged"]], failed=[tuple(row) for row in data["failed"]],
                   in_doubt=data["in_doubt"])


class ContinuousWriter:
    def __init__(self, host, port, user, password, database, rate=20.0, connect_timeout=2, read_timeout=10,
                 **connect_options):
        """connect_options: more PyMySQL options, such as ssl={"ca": ...} to check the server certificate."""
        self._connect_args = dict(
            host=host, port=port, user=user, password=password, database=database,
            connect_timeout=connect_timeout, read_timeout=read_timeout, write_timeout=10, autocommit=True,
            **connect_options,
        )
        self._interval = 1.0 / rate
        self._stop = threading.Event()
        self._thread = None
        self.report = WriterReport()

    def prepare(self):
        with pymysql.connect(**self._connect_args) as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (seq BIGINT PRIMARY KEY, written_at DOUBLE)")
            cursor.execute(f"DELETE FROM {TABLE}")

    def start(self):
        self.prepare()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)
        return self.report

    def _run(self):
        connection = None
        seq = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            seq += 1
            sent = False
            try:
                if connection is None:
                    connection = pymysql.connect(**self._connect_args)
                with connection.cursor() as cursor:
                    sent = True
                    cursor.execute(f"INSERT INTO {TABLE} (seq, written_at) VALUES (%s, %s)", (seq, time.time()))
                self.report.acknowledged.append((seq, time.monotonic()))
            except pymysql.err.MySQLError as error:
                code = error.args[0] if error.args else 0
                self.report.failed.append((seq, time.monotonic(), code, str(error)))
                # 2013 and friends after the statement left: the server may have committed it.
                if sent and code in (0, 2006, 2013, 2014):
                    self.report.in_doubt.append(seq)
                if connection is not None:
                    connection.close()
                connection = None
            next_at += self._interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))
        if connection is not None:
            connection.close()


class HotRowWriter(threading.Thread):
    """The other half of a drill's load: short transactions on the same few hot rows, as Django views
    and Celery tasks in transaction.atomic() do. Each holds its row for `hold` seconds (an UPDATE, a
    little work, COMMIT); a deadlock (1213) is what Galera answers a transaction that lost certification
    to one committed on another node, so any 1213 means two nodes were taking writes at once.
    keep_connection=False opens a connection per transaction (Django without persistent connections)."""

    TABLE = "hot_rows"

    def __init__(self, host, user, password, database, keep_connection=True, rate=20.0, hold=0.02, rows=5,
                 port=3306):
        super().__init__(daemon=True)
        self._connect_args = dict(host=host, port=port, user=user, password=password, database=database,
                                  autocommit=True, connect_timeout=3, read_timeout=10, write_timeout=10)
        self.keep_connection, self.rate, self.hold, self.rows = keep_connection, rate, hold, rows
        self.stopping = threading.Event()
        self.counting = threading.Event()
        self.counting.set()
        self.events = {"ok": 0, "deadlock": 0, "other_error": 0}
        self.errors: list = []  # (monotonic time, error code, message) of every failed transaction
        self.nodes: dict[str, int] = {}

    def prepare(self):
        with pymysql.connect(**self._connect_args) as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {self.TABLE} (id INT PRIMARY KEY, n BIGINT NOT NULL)")
            cursor.executemany(f"INSERT IGNORE INTO {self.TABLE} VALUES (%s, 0)", [(i,) for i in range(1, self.rows + 1)])
        return self

    def stop(self):
        self.stopping.set()
        self.join(15)
        return self

    def run(self):
        connection, number = None, 0
        while not self.stopping.is_set():
            number += 1
            outcome, node = "ok", None
            try:
                if connection is None:
                    connection = pymysql.connect(**self._connect_args)
                with connection.cursor() as cursor:
                    cursor.execute("BEGIN")
                    cursor.execute(f"UPDATE {self.TABLE} SET n = n + 1 WHERE id = %s", (number % self.rows + 1,))
                    cursor.execute("DO SLEEP(%s)", (self.hold,))
                    cursor.execute("COMMIT")
                    cursor.execute("SELECT @@wsrep_node_name")
                    node = cursor.fetchone()[0]
            except pymysql.err.MySQLError as error:
                code = error.args[0] if error.args else 0
                outcome = "deadlock" if code == 1213 else "other_error"
                if self.counting.is_set():
                    self.errors.append((time.monotonic(), code, str(error)))
                if connection is not None:
                    connection.close()
                connection = None
            if not self.keep_connection and connection is not None:
                connection.close()
                connection = None
            if self.counting.is_set():
                self.events[outcome] += 1
                if node:
                    self.nodes[node] = self.nodes.get(node, 0) + 1
            self.stopping.wait(1 / self.rate)
        if connection is not None:
            connection.close()


class DrillLoad:
    """The load every VIP drill runs through `address`: a ContinuousWriter (20 INSERTs/s) and two
    HotRowWriters on the same rows, one keeping its connection and one connecting per transaction."""

    def __init__(self, address, account):
        credentials = (account["user"], account["password"], account["database"])
        self.writer = ContinuousWriter(address, 3306, *credentials, rate=20)
        self.hot_rows = [HotRowWriter(address, *credentials, keep_connection=keep) for keep in (True, False)]

    def start(self):
        """Start every client, then let them run 2 s so the drill breaks something under way."""
        self.writer.start()
        self.hot_rows[0].prepare()
        for client in self.hot_rows:
            client.start()
        time.sleep(2)
        return self


def rows_on(host, port, user, password, database):
    """The set of sequence numbers stored on one node (read directly, not through HAProxy)."""
    with pymysql.connect(host=host, port=port, user=user, password=password, database=database) as connection:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT seq FROM {TABLE}")
            return {row[0] for row in cursor.fetchall()}


def audit(report: WriterReport, node_ips: dict, user, password, database) -> dict:
    """What each node holds of the writer's work: acknowledged writes missing there (must be none),
    and how many in-doubt writes did commit after all (the client saw an error, the row exists)."""
    acknowledged = {seq for seq, _acked_at in report.acknowledged}
    stored = {name: rows_on(ip, 3306, user, password, database) for name, ip in node_ips.items()}
    first = next(iter(stored.values()))
    return {
        "acknowledged": len(acknowledged),
        "failed": len(report.failed),
        "in_doubt": len(report.in_doubt),
        "in_doubt_committed": len(set(report.in_doubt) & first),
        "missing": {name: sorted(acknowledged - rows)[:10] for name, rows in stored.items() if acknowledged - rows},
        "longest_gap": round(report.longest_gap, 2),
    }


def main(argv=None):
    """Write from a lab host itself, as an application host would: `python3 writer.py --host HAPROXY ...`
    writes for --seconds and prints the WriterReport as JSON (tests read it back with from_json)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=3306)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--read-timeout", type=float, default=10, help="seconds a write may wait for its answer")
    parser.add_argument("--ca", help="CA bundle: connect over TLS and check the server's certificate against it")
    args = parser.parse_args(argv)
    writer = ContinuousWriter(args.host, args.port, args.user, args.password, args.database, rate=args.rate,
                              read_timeout=args.read_timeout, **({"ssl": {"ca": args.ca}} if args.ca else {})).start()
    time.sleep(args.seconds)
    print(writer.stop().to_json())


if __name__ == "__main__":
    main()
