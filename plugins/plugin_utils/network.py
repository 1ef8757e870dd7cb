# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where a virtual IP belongs on a host: the interface whose IPv4 subnet holds it, from Ansible's facts.

Pure Python (the standard library's ipaddress), so the filter and the unit tests share it. Errors
are ``NetworkError`` (a ``ValueError``) whose message names the value and how to fix it.
"""

from __future__ import annotations

import ipaddress

__all__ = ["NetworkError", "host_address", "vip_placement"]


class NetworkError(ValueError):
    """A virtual IP that cannot be placed, or a host address that cannot be chosen, as given."""


def _addresses(facts):
    """(interface, IPv4Interface, primary) for every IPv4 address in the facts, primary and secondary."""
    found = []
    for name in facts.get("interfaces") or []:
        details = facts.get(name.replace("-", "_")) or facts.get(name) or {}
        entries = [(details.get("ipv4"), True)] + [(entry, False) for entry in details.get("ipv4_secondaries") or []]
        for entry, primary in entries:
            if entry and entry.get("address") and entry.get("netmask"):
                found.append((name, ipaddress.ip_interface(f"{entry['address']}/{entry['netmask']}"), primary))
    return found


def vip_placement(facts, vip, prefix=None, interface=None, host="this host"):
    """{'interface', 'address', 'network', 'prefix'}: where `vip` goes on the host the facts describe.

    The interface is the one whose subnet holds the VIP (or `interface` when given, which must then
    hold it too); `prefix` defaults to that subnet's; `address` is the host's own address there, the
    source of its VRRP packets.
    """
    try:
        address = ipaddress.IPv4Address(str(vip).strip())
    except ValueError as error:
        raise NetworkError(f"the virtual IP {vip!r} is not an IPv4 address; set it to a free address in the subnet "
                           f"the HAProxy hosts share, e.g. 10.0.0.100") from error
    own = _addresses(facts)
    if not own:
        raise NetworkError(f"{host} reports no IPv4 address (gather facts with the network subset first)")
    # A secondary address equal to the VIP is the VIP itself, put there by keepalived on the holder.
    for name, ip, _primary in [entry for entry in own if entry[2]]:
        if ip.ip == address:
            raise NetworkError(f"the virtual IP {address} is already {host}'s own address on {name}; choose a free "
                               f"address in {ip.network} that no host uses")
    holding = [(name, ip) for name, ip, primary in own
               if primary and address in ip.network and (not interface or name == interface)]
    if not holding:
        known = ", ".join(f"{name} {ip.with_prefixlen}" for name, ip, primary in own if primary)
        where = f"interface {interface!r}" if interface else "any interface"
        raise NetworkError(f"the virtual IP {address} is outside the subnet of {where} of {host} ({known}); choose an "
                           f"address in the subnet the HAProxy hosts share, or the interface that has it")
    name, ip = holding[0]
    if prefix in (None, ""):
        prefix = ip.network.prefixlen
    prefix = int(prefix)
    if not 1 <= prefix <= 32:
        raise NetworkError(f"the virtual IP's prefix length {prefix} is not 1 to 32")
    if ipaddress.ip_network(f"{address}/{prefix}", strict=False) != ip.network:
        raise NetworkError(f"the virtual IP {address}/{prefix} does not match the subnet {ip.network} of {name} on "
                           f"{host}; give it that subnet's prefix length ({ip.network.prefixlen})")
    if address in (ip.network.network_address, ip.network.broadcast_address):
        raise NetworkError(f"the virtual IP {address} is the network or broadcast address of {ip.network}; choose a "
                           f"host address in it")
    return {"interface": name, "address": str(ip.ip), "network": str(ip.network), "prefix": prefix}


def host_address(facts, variable, host="this host"):
    """The IPv4 address a host's peers reach it on, when the inventory does not set it (`variable`).

    The address of the default route's interface when there is one. Hosts on isolated database
    networks often have no default route: then the host's only global primary IPv4 address (not
    loopback, not link-local, not a secondary such as a virtual IP keepalived added). With none or
    several there is nothing safe to guess, and the error says which variable to set.
    """
    default = facts.get("default_ipv4") or {}
    if default.get("address"):
        return default["address"]
    candidates = sorted({str(ip.ip) for _name, ip, primary in _addresses(facts)
                         if primary and not (ip.ip.is_loopback or ip.ip.is_link_local)},
                        key=ipaddress.ip_address)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise NetworkError(f"{host} has no default route and no IPv4 address besides loopback (were its network facts "
                           f"gathered?); set {variable} to the address its peers reach it on")
    raise NetworkError(f"{host} has no default route and several IPv4 addresses ({', '.join(candidates)}); set "
                       f"{variable} to the one its peers reach it on")
