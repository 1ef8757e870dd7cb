"""playbooks/status.yml, what `make lab` ends with: the endpoint, the timeouts HAProxy applies and
each node's cluster state, read from the deployment itself."""

import ipaddress
import re

from labdb import run_playbook

testinfra_hosts = ["haproxy"]


def test_status_prints_endpoint_timeouts_and_cluster_state(lab):
    # YAML output wraps long lines: compare with whitespace runs made single spaces.
    output = " ".join(run_playbook("playbooks/status.yml", "--check").stdout.split())
    subnet = ipaddress.ip_network(next(iter(lab["hosts"].values()))["vars"]["dbstack_lab_subnet"])
    vip = subnet.network_address + 100
    assert re.search(rf"database endpoint: {vip}:3306 \(HAProxy listener mysql\), virtual IP held by haproxy[12]'", output), output
    assert re.search(r"writer \(new connections go to\): haproxy1 -> (galera[123]), haproxy2 -> \1'", output), output
    # The lab's 15 minute task length plus the 25 % margin, with its unit.
    assert "HAProxy idle timeouts: client 1125s, server 1125s" in output, output
    for name in lab["groups"]["galera"]:
        assert f"{name}: Synced, Primary component of 3, last committed " in output, output
