"""The haproxy role's haproxy.cfg template rendered with Ansible's own templating, for the writer-choice
tests of tests/unit (the text) and tests/integration (run by the real haproxy in front of stand-in nodes).

The Galera nodes are NODES (127.0.0.11-13) and the HAProxy hosts PROXIES (127.0.0.21-22): loopback
addresses, so the integration tests can serve and bind them.
"""

from __future__ import annotations

import sys
import warnings

import yaml
from working_tree import REPO_ROOT

ROLE = REPO_ROOT / "roles" / "haproxy"
NODES = {"galera1": "127.0.0.11", "galera2": "127.0.0.12", "galera3": "127.0.0.13"}
PROXIES = {"haproxy1": "127.0.0.21", "haproxy2": "127.0.0.22"}


def render(tmp_path, host, stand_ins, listen_port, peers_port, proxies=None, **overrides):
    """haproxy.cfg as the role writes it for `host` (one of `proxies`, by default PROXIES), with Ansible's
    own templating; the Galera nodes listen on `stand_ins`' mysql_port and health_port."""
    proxies = proxies or PROXIES
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.template import Templar

    # The template calls this collection's filters by their full names, as the role does: Ansible's
    # collection finder must own the ansible_collections package, which working_tree.py made a plain
    # namespace package for importing the plugins directly.
    for module in [name for name in sys.modules if name.split(".")[0] == "ansible_collections"]:
        del sys.modules[module]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "already configured" when another test did it
        init_plugin_loader([str(ROLE.parents[1] / ".collections")])
    try:
        from ansible.template import trust_as_template
    except ImportError:  # ansible-core before 2.19 templates every string it is given
        def trust_as_template(value):
            return value

    def trusted(value):
        if isinstance(value, str):
            return trust_as_template(value)
        if isinstance(value, dict):
            return {key: trusted(item) for key, item in value.items()}
        if isinstance(value, list):
            return [trusted(item) for item in value]
        return value

    variables = {**yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()),
                 **yaml.safe_load((ROLE / "vars" / "main.yml").read_text())}
    hostvars = {name: {"mariadb_galera_node": {"name": name, "address": address}} for name, address in NODES.items()}
    hostvars.update({name: {"__haproxy_peer_address": address} for name, address in proxies.items()})
    variables.update({
        "inventory_hostname": host, "ansible_managed": "Ansible managed",
        "groups": {"galera": list(NODES), "haproxy": list(proxies)}, "hostvars": hostvars,
        "haproxy_mysql_timeout": "1125s", "haproxy_backend_wait_timeout": 28800,
        "haproxy_mysql_bind_address": proxies[host], "haproxy_mysql_port": listen_port,
        "haproxy_galera_port": stand_ins.mysql_port, "haproxy_galera_health_port": stand_ins.health_port,
        "haproxy_peers_port": peers_port, "haproxy_check_interval": "200ms",
        "haproxy_runtime_socket": str(tmp_path / f"{host}.sock"), "haproxy_stats_enabled": False,
        "haproxy_sticky_writer": True,
    })
    variables.update(overrides)
    templar = Templar(loader=DataLoader(), variables=trusted(variables))
    return templar.template(trust_as_template((ROLE / "templates" / "haproxy.cfg.j2").read_text()))
