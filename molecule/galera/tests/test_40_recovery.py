"""A full outage: every node killed. site.yml refuses to guess; recover.yml brings the cluster back
from the most advanced node with every committed row."""

import uuid

from labdb import app_account, kill_all_nodes, query, run_playbook, wait_for, wsrep_status

testinfra_hosts = ["haproxy"]


def test_recover_after_every_node_was_killed(lab):
    account = app_account(lab)
    ips = [lab["hosts"][name]["ip"] for name in lab["groups"]["galera"]]
    query(ips[0], account, "CREATE TABLE IF NOT EXISTS recovery_probe (marker CHAR(32) PRIMARY KEY)")
    markers = [uuid.uuid4().hex for _marker in range(20)]
    for index, marker in enumerate(markers):
        query(ips[index % 3], account, "INSERT INTO recovery_probe VALUES (%s)", (marker,))

    kill_all_nodes(lab)

    refused = run_playbook("playbooks/site.yml", check=False)
    assert refused.returncode != 0
    assert "Run playbooks/recover.yml" in refused.stdout

    recovered = run_playbook("playbooks/recover.yml")
    assert "-> bootstrap" in recovered.stdout

    for ip in ips:
        wait_for(lambda ip=ip: wsrep_status(ip, account)["wsrep_local_state_comment"] == "Synced",
                 timeout=60, what=f"{ip} Synced")
        status = wsrep_status(ip, account)
        assert status["wsrep_cluster_size"] == "3"
        stored = {row[0] for row in query(ip, account, "SELECT marker FROM recovery_probe")}
        assert set(markers) <= stored, f"{ip} lost committed rows"

    # The recovered cluster is a normal one again: the site playbook converges without changes.
    rerun = run_playbook("playbooks/site.yml")
    recap = [line for line in rerun.stdout.split("PLAY RECAP")[1].splitlines() if " : ok=" in line]
    assert recap and all(" changed=0 " in line for line in recap), recap
