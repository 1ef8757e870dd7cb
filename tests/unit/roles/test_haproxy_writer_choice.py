"""The haproxy role's own template, rendered for an HAProxy host: the sticky writer follows the installed
HAProxy version, and nodes known only by their facts are reached at their address. tests/integration
runs the rendered configuration with the real haproxy in front of stand-in Galera nodes.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from haproxy_template import NODES, PROXIES, render

# Only rendered, never served: the role's default ports will do (haproxy_mysql_port, haproxy_peers_port,
# haproxy_galera_port, haproxy_galera_health_port).
LISTEN_PORT, PEERS_PORT = 3306, 10000
GALERA_PORTS = SimpleNamespace(mysql_port=3306, health_port=9200)


@pytest.mark.parametrize(("setting", "version", "sticky"), [
    ("auto", "2.6.12", True),   # Debian 12: proven by the drills
    ("auto", "3.0.11", False),  # Debian 13: not yet (docs/failover.md)
    ("auto", "0", True),        # check mode before HAProxy is installed
    (True, "3.0.11", True),
    (False, "2.6.12", False),
])
def test_sticky_writer_auto_follows_the_installed_version(tmp_path, setting, version, sticky):
    text = render(tmp_path, "haproxy1", GALERA_PORTS, LISTEN_PORT, PEERS_PORT, haproxy_sticky_writer=setting,
                  __haproxy_version=version)
    assert ("stick on int(1)" in text) is sticky
    assert ("\npeers " in text) is sticky


def test_nodes_without_a_default_route_are_reached_at_their_only_address(tmp_path):
    """A Galera host the play knows only by its facts, on a network without a default route."""
    def facts(address):
        return {"interfaces": ["lo", "eth0"], "default_ipv4": {},
                "lo": {"ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}},
                "eth0": {"ipv4": {"address": address, "netmask": "255.255.255.0"}}}
    hostvars = {name: {"ansible_facts": facts(f"10.9.0.{index}")} for index, name in enumerate(NODES, start=11)}
    hostvars.update({name: {"__haproxy_peer_address": address} for name, address in PROXIES.items()})
    text = render(tmp_path, "haproxy1", GALERA_PORTS, LISTEN_PORT, PEERS_PORT, hostvars=hostvars)
    servers = re.findall(r"^\s+server (galera\d) (\S+):", text, re.MULTILINE)
    assert servers[:3] == [("galera1", "10.9.0.11"), ("galera2", "10.9.0.12"), ("galera3", "10.9.0.13")]
