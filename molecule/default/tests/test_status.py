"""playbooks/status.yml, what `make lab` ends with: the endpoint, the timeouts HAProxy applies and
each node's cluster state, read from the deployment itself."""

from labdb import run_playbook

testinfra_hosts = ["haproxy"]


def test_status_prints_endpoint_timeouts_and_cluster_state(lab):
    output = run_playbook("playbooks/status.yml", "--check").stdout
    haproxy = lab["hosts"][lab["groups"]["haproxy"][0]]
    assert f"database endpoint: {haproxy['ip']}:3306 (HAProxy listener mysql)" in output, output
    # The lab's 15 minute task length plus the 25 % margin, with its unit.
    assert "HAProxy idle timeouts: client 1125s, server 1125s" in output, output
    for name in lab["groups"]["galera"]:
        assert f"{name}: Synced, Primary component of 3, last committed " in output, output
