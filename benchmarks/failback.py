"""Fail-back benchmark: certification conflicts on hot rows when the old writer comes back.

    .venv/bin/python benchmarks/failback.py [--tries 3] [--json FILE] [--keep] [--reuse]

Two clients update the same 5 hot rows through HAProxy, each 20 times per second in a transaction
that holds the row for 20 ms (an UPDATE, then a little work, then COMMIT): one keeps its
connection (like a Celery worker or Django with CONN_MAX_AGE), the other opens a connection per
write (like Django without persistent connections). The writer's MariaDB is stopped, both move to
the next node; then it is started again and, once it is Synced and HAProxy has seen it up, both
clients go on for WINDOW seconds. Counted in that window: updates refused with a deadlock (1213,
what Galera answers a transaction that lost certification) and where the per-write client's
connections landed.

Each try runs twice in the same lab, one after the other: with the role's sticky writer (the
shared stick table: traffic stays on the node it moved to) and with `haproxy_sticky_writer: false`
(plain `balance first` + `backup`: new connections go back to the returning node while kept ones
stay). The HAProxy role is re-applied between the two.
"""

from __future__ import annotations

import argparse
import sys
import time

from benchlab import ACCOUNT, BASE_VARS, BenchLab, add_lab_options, bench_lab, say, write_results
from labdb import wait_for
from writer import HotRowWriter

HOT_ROWS = 5
RATE = 20.0
HOLD = 0.02
WINDOW = 30


def haproxy_up(lab: BenchLab, node: str) -> bool:
    states = lab.exec("haproxy1", "bash", "-c", "echo 'show servers state mysql' | "
                      "python3 -c \"import socket,sys; s=socket.socket(socket.AF_UNIX); "
                      "s.connect('/run/haproxy/admin.sock'); s.sendall(sys.stdin.read().encode()); "
                      "print(b''.join(iter(lambda: s.recv(65536), b'')).decode())\"").stdout
    return any(line.split()[3:4] == [node] and line.split()[5] == "2" for line in states.splitlines()
               if len(line.split()) > 5)


def one_try(lab: BenchLab, sticky: bool) -> dict:
    lab.deploy({**BASE_VARS, "haproxy_sticky_writer": sticky})
    wait_for(lab.whole, timeout=180, interval=1, what="the cluster whole")
    victim = lab.writer()
    address = lab.ip("haproxy1")
    clients = [HotRowWriter(address, ACCOUNT["user"], ACCOUNT["password"], ACCOUNT["database"], keep_connection=keep,
                            rate=RATE, hold=HOLD, rows=HOT_ROWS) for keep in (True, False)]
    clients[0].prepare()
    for client in clients:
        client.counting.clear()  # counted only in the window after the old writer is back
    for client in clients:
        client.start()
    time.sleep(3)
    lab.exec(victim, "systemctl", "stop", "mariadb")
    wait_for(lambda: lab.writer() != victim, timeout=60, interval=0.5, what="writes on another node")
    moved_to = lab.writer()
    time.sleep(3)
    lab.exec(victim, "systemctl", "start", "mariadb")
    wait_for(lambda: haproxy_up(lab, victim), timeout=180, interval=0.5, what=f"{victim} up in HAProxy again")
    for client in clients:
        client.counting.set()
    time.sleep(WINDOW)
    for client in clients:
        client.stop()
    result = {"sticky": sticky, "victim": victim, "moved_to": moved_to,
              "kept_connection": clients[0].events | {"nodes": clients[0].nodes},
              "per_write_connection": clients[1].events | {"nodes": clients[1].nodes}}
    result["deadlocks"] = clients[0].events["deadlock"] + clients[1].events["deadlock"]
    say(f"  {'sticky writer' if sticky else 'first + backup'}: {victim} stopped, writes moved to {moved_to}; "
        f"after {victim} returned ({WINDOW} s): deadlocks {result['deadlocks']}, kept connection "
        f"{clients[0].events} on {clients[0].nodes}, per-write connections {clients[1].events} on {clients[1].nodes}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--tries", type=int, default=3)
    add_lab_options(parser)
    args = parser.parse_args()
    with bench_lab(args) as lab:
        results = []
        for attempt in range(1, args.tries + 1):
            say(f"try {attempt}")
            for sticky in (True, False):
                results.append(one_try(lab, sticky))
        totals = {label: sum(r["deadlocks"] for r in results if r["sticky"] == sticky)
                  for label, sticky in (("sticky writer", True), ("first + backup", False))}
        print(f"\nfail-back: deadlocks (1213) in the {WINDOW} s after the old writer returned, {args.tries} tries each: "
              + ", ".join(f"{label} {count}" for label, count in totals.items()))
        write_results(args.json, {"window_seconds": WINDOW, "rate": RATE, "hold_seconds": HOLD, "hot_rows": HOT_ROWS,
                                  "tries": results,
                                  "deadlocks": totals})
    return 0


if __name__ == "__main__":
    sys.exit(main())
