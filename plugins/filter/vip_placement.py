# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter that places a virtual IP on a host: the interface whose subnet holds it, from Ansible's facts.

The rules live in plugin_utils/network.py; this module only adapts them to Jinja. Documentation is
in the sidecar vip_placement.yml.
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


class FilterModule:
    """Network filter of dbstack.galera: where a virtual IP goes on a host."""

    def filters(self):
        return {"vip_placement": vip_placement}
