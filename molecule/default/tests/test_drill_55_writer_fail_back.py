"""The writer node killed and brought back under hot-row load through the VIP: traffic moves once, to
the next node, and stays there when the old writer is Synced again, also when the new writer is the
donor of the old one's state transfer (IST: Galera picks the donor with the newest cache, whatever
wsrep_sst_donor lists, and the donor stays up in HAProxy). Two clients update the same hot
rows throughout (one keeps its connection, one connects per transaction); a deadlock (1213) would mean
two nodes took writes at once. benchmarks/failback.py compares with plain `first` + `backup`."""

import threading
import time

import pytest
from labdb import (app_account, haproxy_server_up, health, lab_vip, node_host, require_one_writer, wait_for, wait_whole,
                   writer_name)
from writer import DrillLoad, audit

# Breaks the cluster on purpose and brings it back (labhosts: skipped on an older core's run).
pytestmark = pytest.mark.drill

FAIL_BACK_WINDOW = 15


class HealthWatch(threading.Thread):
    """Every answer of each node's health endpoint that differs from the one before, while running."""

    def __init__(self, node_ips):
        super().__init__(daemon=True)
        self.node_ips, self.seen, self.stopping = node_ips, {name: [] for name in node_ips}, threading.Event()

    def run(self):
        while not self.stopping.is_set():
            for name, ip in self.node_ips.items():
                try:
                    answer = health(ip, timeout=1)
                except OSError as error:
                    answer = (0, f"no answer: {error.__class__.__name__}")
                if not self.seen[name] or self.seen[name][-1] != answer:
                    self.seen[name].append(answer)
            time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        self.join()
        return self.seen


def test_writer_moves_once_and_stays_with_no_deadlock(lab):
    account = app_account(lab)
    wait_whole(lab, account)
    vip = lab_vip(lab)
    node_ips = {name: lab["hosts"][name]["ip"] for name in lab["groups"]["galera"]}
    credentials = (account["user"], account["password"], account["database"])
    victim = writer_name(lab, account)
    load = DrillLoad(vip, account).start()
    writer, hot_rows = load.writer, load.hot_rows

    # Debian's unit starts mariadbd again after a SIGKILL; the node rejoins by IST.
    node_host(lab, victim).check_output("pkill -KILL -x mariadbd")
    successor = wait_for(lambda: (name := writer_name(lab, account)) != victim and name, timeout=60, interval=0.3,
                         what="writes on another node")
    health_watch = HealthWatch({name: ip for name, ip in node_ips.items() if name != victim})
    health_watch.start()
    wait_for(lambda: health(node_ips[victim], timeout=2) == (200, "up: Synced"), timeout=180, what=f"{victim} Synced")
    answers = health_watch.stop()
    donor = node_host(lab, victim).check_output(
        "journalctl -u mariadb -n 400 --no-pager | grep -o 'requested state transfer.*Selected [^ ]* ([^)]*)' | tail -n 1")
    for name in lab["groups"]["haproxy"]:
        wait_for(lambda name=name: haproxy_server_up(lab, name, victim), timeout=30,
                 what=f"{victim} up in HAProxy on {name}")
    for client in hot_rows:
        client.nodes.clear()
    time.sleep(FAIL_BACK_WINDOW)
    for client in hot_rows:
        client.stop()
    result = audit(writer.stop(), node_ips, *credentials)

    assert result["missing"] == {}, result
    # The node that rejoins takes its state from one of the others; none of them leaves HAProxy for it.
    assert all(code == 200 for seen in answers.values() for code, _body in seen), answers
    deadlocks = [error for client in hot_rows for error in client.errors if error[1] == 1213]
    assert deadlocks == [], deadlocks
    assert {name for client in hot_rows for name in client.nodes} == {successor}, [c.nodes for c in hot_rows]
    # The old writer is first in every HAProxy's order again: any new connection that misses the
    # writer's entry would go back to it.
    landed = require_one_writer(lab, vip, account, successor)
    print(f"\ndrill writer fail-back: {victim} killed, writes moved to {successor} and stayed there for "
          f"{FAIL_BACK_WINDOW} s after {victim} was back, and all {landed.total()} new connections opened 4 at "
          f"a time went there too; deadlocks 0; hot rows "
          f"{[client.events for client in hot_rows]}; continuous writer {result}; the others' health answers "
          f"while {victim} rejoined: {answers}; {donor}")
