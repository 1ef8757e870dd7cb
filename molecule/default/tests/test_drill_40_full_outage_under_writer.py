"""Every node killed under a continuous writer, then playbooks/recover.yml: the cluster comes back
from the most advanced node and every acknowledged write is on every node."""

import time

import pytest
from labdb import app_account, endpoint, kill_all_nodes, run_playbook, wait_for, wait_whole
from writer import ContinuousWriter, audit

# Breaks the cluster on purpose and brings it back (labhosts: skipped on an older core's run).
pytestmark = pytest.mark.drill

testinfra_hosts = ["haproxy"]


def test_full_outage_recovery_loses_no_acknowledged_write(lab):
    account = app_account(lab)
    wait_whole(lab, account)
    node_ips = {name: lab["hosts"][name]["ip"] for name in lab["groups"]["galera"]}
    haproxy_ip = endpoint(lab)
    writer = ContinuousWriter(haproxy_ip, 3306, account["user"], account["password"], account["database"],
                              rate=20).start()
    time.sleep(2)
    kill_all_nodes(lab)
    killed_at = time.monotonic()
    recovered = run_playbook("playbooks/recover.yml")
    assert "-> bootstrap" in recovered.stdout
    wait_whole(lab, account)
    back = time.monotonic()
    wait_for(lambda: any(t > back for _seq, t in writer.report.acknowledged), timeout=60, what="writes again")
    time.sleep(2)
    result = audit(writer.stop(), node_ips, account["user"], account["password"], account["database"])
    assert result["missing"] == {}, result
    print(f"\ndrill full outage: recover.yml and rejoin took {back - killed_at:.1f} s; writes through HAProxy: {result}")
