"""The other shape of docs/high_availability.md: HAProxy on every application host, no VIP. Each
application connects to its own HAProxy on 127.0.0.1, every HAProxy knows every other as a peer (the
writer choice is shared; test_20's failover checks it on each), and nothing installs keepalived."""

import json

import pytest
from labhosts import inventory

LAYOUT = inventory()["groups"]
if not set(LAYOUT.get("app", [])) or set(LAYOUT.get("app", [])) != set(LAYOUT.get("haproxy", [])):
    pytest.skip("this layout has HAProxy hosts apart from the application hosts (the galera scenario has the shape)",
                allow_module_level=True)

testinfra_hosts = ["app"]


def test_no_vip_and_no_keepalived(host):
    assert not host.package("keepalived").is_installed
    assert not host.file("/etc/keepalived/keepalived.conf").exists


def test_every_haproxy_host_is_a_peer_of_this_one(host, lab):
    config = host.file("/etc/haproxy/haproxy.cfg").content_string
    peers = config.split("\npeers ", 1)[1].split("\n\n", 1)[0]
    for name in lab["groups"]["haproxy"]:
        assert f"peer {name} {lab['hosts'][name]['ip']}:" in peers, peers
    assert host.run("haproxy -c -f /etc/haproxy/haproxy.cfg").rc == 0


def test_the_app_uses_its_own_haproxy_and_saves_through_it(host):
    config = json.loads(host.check_output("dbstack-smoke smoke config --json"))
    assert (config["host"], config["port"]) == ("127.0.0.1", 3306)
    result = host.run("dbstack-smoke smoke run --variant tenacity --idle 1 --json")
    assert result.rc == 0, result.stdout + result.stderr
    run = json.loads(result.stdout)["runs"][0]
    assert run["state"] == "SUCCESS" and run["run"]["outcome"] == "saved", run
