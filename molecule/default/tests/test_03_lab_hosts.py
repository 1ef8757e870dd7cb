"""Every lab host is a real host: systemd as PID 1, the address the inventory promises, and it
reaches every other host by short name and by IP."""

import pytest


def test_systemd_is_pid1_and_booted(host):
    # One exec per check keeps the suite fast when the machine is busy (each podman exec ~0.2 s).
    pid1, state = (host.run("cat /proc/1/comm; systemctl is-system-running").stdout.split() + ["?", "?"])[:2]
    assert pid1 == "systemd"
    if state != "running":
        failed = host.run("systemctl --failed --no-legend --plain; journalctl -b -p err --no-pager | tail -20")
        pytest.fail(f"systemd state {state!r}:\n{failed.stdout}")


def test_host_has_the_inventory_address(host, lab_host):
    out = host.check_output("hostname; ip -4 -o addr show scope global")
    hostname, addresses = out.split("\n", 1)
    assert hostname == lab_host["name"]
    assert f" {lab_host['ip']}/" in addresses, addresses


def test_resolves_and_reaches_every_other_host(host, lab_host, lab):
    others = [h for h in lab["hosts"].values() if h["name"] != lab_host["name"]]
    # One shell per host keeps this to a single podman exec instead of three per peer.
    script = " ; ".join(
        f"echo {o['name']} $(getent hosts {o['name']} | cut -d' ' -f1)"
        f" $(ping -c1 -W2 {o['name']} >/dev/null 2>&1 && echo name-ok || echo name-fail)"
        f" $(ping -c1 -W2 {o['ip']} >/dev/null 2>&1 && echo ip-ok || echo ip-fail)"
        for o in others)
    seen = {line.split()[0]: line.split()[1:] for line in host.check_output(script).splitlines()}
    expected = {o["name"]: [o["ip"], "name-ok", "ip-ok"] for o in others}
    assert seen == expected


def test_python_and_apt_ready_for_ansible(host):
    assert host.run("python3 -c 'import apt_pkg'").rc == 0
