"""dbstack.galera.vip_placement: the interface a virtual IP goes on, and every way it can be wrong."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dbstack.galera.plugins.filter.vip_placement import FilterModule

FACTS = {
    "interfaces": ["lo", "eth0", "eth1"],
    "lo": {"ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}},
    "eth0": {"ipv4": {"address": "10.213.10.21", "netmask": "255.255.255.0"}},
    "eth1": {"ipv4": {"address": "192.168.50.5", "netmask": "255.255.255.240"},
             "ipv4_secondaries": [{"address": "192.168.50.6", "netmask": "255.255.255.240"}]},
}


@pytest.fixture(name="place")
def fixture_place():
    return FilterModule().filters()["vip_placement"]


@pytest.mark.parametrize(("vip", "kwargs", "expected"), [
    ("10.213.10.100", {}, {"interface": "eth0", "address": "10.213.10.21", "network": "10.213.10.0/24", "prefix": 24}),
    ("10.213.10.100", {"prefix": 24, "interface": "eth0"},
     {"interface": "eth0", "address": "10.213.10.21", "network": "10.213.10.0/24", "prefix": 24}),
    ("192.168.50.14", {}, {"interface": "eth1", "address": "192.168.50.5", "network": "192.168.50.0/28", "prefix": 28}),
    # The VIP held by this host already (keepalived adds it as a secondary address): placed as before.
    ("192.168.50.6", {}, {"interface": "eth1", "address": "192.168.50.5", "network": "192.168.50.0/28", "prefix": 28}),
])
def test_the_interface_whose_subnet_holds_the_vip(place, vip, kwargs, expected):
    assert place(FACTS, vip=vip, **kwargs) == expected


@pytest.mark.parametrize(("vip", "kwargs", "message"), [
    ("10.213.10.300", {}, "the virtual IP '10.213.10.300' is not an IPv4 address"),
    ("fe80::1", {}, "is not an IPv4 address"),
    ("", {}, "is not an IPv4 address"),
    ("10.213.10.21", {"host": "haproxy1"}, "the virtual IP 10.213.10.21 is already haproxy1's own address on eth0"),
    ("10.99.0.1", {"host": "haproxy1"}, "the virtual IP 10.99.0.1 is outside the subnet of any interface of haproxy1 "
                                        "(lo 127.0.0.1/8, eth0 10.213.10.21/24, eth1 192.168.50.5/28)"),
    ("10.213.10.100", {"interface": "eth1"}, "outside the subnet of interface 'eth1'"),
    ("10.213.10.100", {"prefix": 16}, "10.213.10.100/16 does not match the subnet 10.213.10.0/24 of eth0"),
    ("10.213.10.100", {"prefix": 33}, "prefix length 33 is not 1 to 32"),
    ("10.213.10.255", {}, "is the network or broadcast address of 10.213.10.0/24"),
])
def test_errors_name_the_value_and_the_fix(place, vip, kwargs, message):
    with pytest.raises(AnsibleFilterError) as error:
        place(FACTS, vip=vip, **kwargs)
    assert str(error.value).startswith("vip_placement: ")
    assert message in str(error.value)


def test_facts_without_addresses_say_what_to_gather(place):
    with pytest.raises(AnsibleFilterError, match="gather facts with the network subset"):
        place({"interfaces": ["lo"]}, vip="10.0.0.1")


def test_input_must_be_facts(place):
    with pytest.raises(AnsibleFilterError, match="expected a host's ansible_facts, got str"):
        place("eth0", vip="10.0.0.1")


@pytest.fixture(name="address_of")
def fixture_address_of():
    return FilterModule().filters()["host_address"]


def test_host_address_is_the_default_routes_address(address_of):
    facts = dict(FACTS, default_ipv4={"address": "192.168.50.5", "interface": "eth1"})
    assert address_of(facts, "mariadb_galera_node_address", "galera1") == "192.168.50.5"


@pytest.mark.parametrize("extra", [
    {},
    # A virtual IP keepalived added is a secondary address: not the host's own.
    {"ipv4_secondaries": [{"address": "10.213.10.100", "netmask": "255.255.255.0"}]},
])
def test_host_address_without_default_route_is_the_only_global_address(address_of, extra):
    facts = {"interfaces": ["lo", "eth0", "eth9"],
             "lo": FACTS["lo"],
             "eth0": dict(FACTS["eth0"], **extra),
             "eth9": {"ipv4": {"address": "169.254.7.7", "netmask": "255.255.0.0"}},
             "default_ipv4": {}}
    assert address_of(facts, "mariadb_galera_node_address", "galera1") == "10.213.10.21"


@pytest.mark.parametrize(("facts", "message"), [
    (FACTS, "galera1 has no default route and several IPv4 addresses (10.213.10.21, 192.168.50.5); set "
            "mariadb_galera_node_address to the one its peers reach it on"),
    ({"interfaces": ["lo"], "lo": FACTS["lo"]},
     "galera1 has no default route and no IPv4 address besides loopback (were its network facts gathered?); set "
     "mariadb_galera_node_address to the address its peers reach it on"),
    ({}, "galera1 has no default route and no IPv4 address besides loopback"),
])
def test_host_address_refuses_to_guess(address_of, facts, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        address_of(facts, "mariadb_galera_node_address", "galera1")


def test_host_address_wants_facts(address_of):
    with pytest.raises(AnsibleFilterError, match="expected a host's ansible_facts, got str"):
        address_of("10.0.0.1", "haproxy_peer_address")
