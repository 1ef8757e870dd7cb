# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Network filters of dbstack.galera, from a host's Ansible facts: where a virtual IP goes
(vip_placement) and which address the host's peers reach it on (host_address).

The rules live in plugin_utils/network.py; this module only adapts them to Jinja. Documentation is
in the sidecars vip_placement.yml and host_address.yml.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.dbstack.galera.plugins.plugin_utils import network

_NAME = "vip_placement"


def vip_placement(facts, vip, prefix=None, interface=None, host="this host"):
    """ansible_facts -> {interface, address, network, prefix} for the virtual IP."""
    if not isinstance(facts, dict):
        raise AnsibleFilterError(f"{_NAME}: expected a host's ansible_facts, got {type(facts).__name__}")
    try:
        return network.vip_placement(facts, vip, prefix or None, interface or None, host)
    except network.NetworkError as e:
        raise AnsibleFilterError(f"{_NAME}: {e}") from e


def host_address(facts, variable, host="this host"):
    """ansible_facts -> the host's IPv4 address for its peers, or an error naming `variable`."""
    if not isinstance(facts, dict):
        raise AnsibleFilterError(f"host_address: expected a host's ansible_facts, got {type(facts).__name__}")
    try:
        return network.host_address(facts, variable, host)
    except network.NetworkError as e:
        raise AnsibleFilterError(f"host_address: {e}") from e


class FilterModule:
    """Network filters of dbstack.galera."""

    def filters(self):
        return {"vip_placement": vip_placement, "host_address": host_address}
