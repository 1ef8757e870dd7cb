"""The writer is cut off from the other two nodes (its traffic to and from them dropped with
iptables inside its container) under a continuous writer: it leaves the Primary component, its
health endpoint says down, HAProxy moves the writes to the majority, which goes on writing. Healed,
it rejoins by IST and catches up. No acknowledged write is lost."""

import time

import pytest
from labdb import (app_account, endpoint, health, node_host, wait_for, wait_whole, writer_and_the_others, writer_name,
                   wsrep_status)
from writer import ContinuousWriter, audit

# Breaks the cluster on purpose and brings it back (labhosts: skipped on an older core's run).
pytestmark = pytest.mark.drill

testinfra_hosts = ["haproxy"]


def test_partitioned_writer_leaves_and_rejoins_by_ist(lab):
    account = app_account(lab)
    victim, majority = writer_and_the_others(lab, account)
    victim_ip = lab["hosts"][victim]["ip"]
    node_ips = {name: lab["hosts"][name]["ip"] for name in lab["groups"]["galera"]}
    haproxy_ip = endpoint(lab)
    writer = ContinuousWriter(haproxy_ip, 3306, account["user"], account["password"], account["database"],
                              rate=20).start()
    time.sleep(2)

    victim_host = node_host(lab, victim)
    rules = [f"{chain} {flag} {node_ips[peer]} -j DROP" for peer in majority
             for chain, flag in (("INPUT", "-s"), ("OUTPUT", "-d"))]
    for rule in rules:
        victim_host.check_output(f"iptables -I {rule}")
    cut_at = time.monotonic()
    try:
        wait_for(lambda: wsrep_status(victim_ip, account)["wsrep_cluster_status"] == "non-Primary", timeout=60,
                 what=f"{victim} non-Primary")
        # The endpoint answers from a reading at most mariadb_galera_health_read_interval (0.25 s) old.
        wait_for(lambda: health(victim_ip)[0] == 503, timeout=5, interval=0.1, what=f"{victim}'s endpoint down")
        for name in majority:
            wait_for(lambda name=name: wsrep_status(node_ips[name], account)["wsrep_cluster_size"] == "2", timeout=60,
                     what=f"{name} in a Primary component of 2")
            assert wsrep_status(node_ips[name], account)["wsrep_cluster_status"] == "Primary"
        assert wait_for(lambda: writer_name(lab, account) in majority, timeout=30, what="HAProxy on the majority")
        acknowledged = len(writer.report.acknowledged)
        time.sleep(3)
        assert len(writer.report.acknowledged) >= acknowledged + 30, "writes did not go on on the majority"
    finally:
        for rule in rules:
            victim_host.run(f"iptables -D {rule}")
    healed_at = time.monotonic()
    wait_whole(lab, account)
    rejoined = time.monotonic() - healed_at
    journal = victim_host.check_output("journalctl -u mariadb --no-pager --since '-10min'")
    assert "IST received" in journal, "the node did not catch up by IST"
    time.sleep(2)
    result = audit(writer.stop(), node_ips, account["user"], account["password"], account["database"])
    assert result["missing"] == {}, result
    print(f"\ndrill partition of {victim}: rejoined {rejoined:.1f} s after healing; writes through HAProxy: "
          f"{result} (partition lasted {healed_at - cut_at:.1f} s)")
