"""Hosts on an isolated database network often have no default route. Without one, site.yml takes
each host's only global IPv4 address (dbstack.galera.host_address) and converges the deployment as
it is: the same addresses in wsrep, HAProxy's servers and its peers, so nothing changes."""

import re

from labdb import node_host, run_playbook


def test_site_yml_converges_hosts_without_a_default_route(lab):
    # A Galera node and an HAProxy host: the node's address goes into wsrep and every HAProxy's
    # servers, the HAProxy host's into the peers section.
    names = [lab["groups"]["galera"][0], lab["groups"]["haproxy"][-1]]
    routes = {name: node_host(lab, name).check_output("ip -4 route show default").strip() for name in names}
    assert all(routes.values()), routes
    try:
        for name in names:
            node_host(lab, name).check_output("ip -4 route del default")
        result = run_playbook("playbooks/site.yml", check=False)
    finally:
        for name in names:
            node_host(lab, name).check_output(f"ip -4 route replace {routes[name]}")

    assert result.returncode == 0, result.stdout[-6000:]
    recap = result.stdout.split("PLAY RECAP", 1)[1]
    assert re.search(rf"^{names[0]}\s+: ok=", recap, re.MULTILINE), recap
    assert not re.search(r"changed=[1-9]", recap), recap
