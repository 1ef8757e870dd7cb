"""playbooks/status.yml, what `make lab` ends with: the endpoint, the timeouts HAProxy applies,
each node's cluster state and the newest verified backup, read from the deployment itself."""

import ipaddress
import re

from labdb import node_host, run_playbook

testinfra_hosts = ["haproxy"]


def test_status_prints_endpoint_timeouts_cluster_state_and_backups(lab):
    # This scenario has no backup host: the last Galera node backs up on its own.
    backup_node = lab["groups"]["galera"][-1]
    node_host(lab, backup_node).check_output("systemctl start dbstack-mariadb-backup@full.service")
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
    assert re.search(rf"Backups:'? - '?{backup_node}: newest verified backup \d{{8}}T\d{{6}}Z/00-full.xb.zst, 0 h 0 min old, "
                     r"[\d.]+ [KM]iB stored \([\d.]+ MiB of data\), no off-host copy \(no backup host\)", output), output
