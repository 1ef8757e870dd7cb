"""Two HAProxy hosts behind a keepalived virtual IP: one holds it, both send new connections to the same
writer (the shared stick table), the VIP moves when its holder's HAProxy stops and does not move back,
and after a writer failover both HAProxy hosts stay on the new writer when the old one returns."""

import re
import time

import pytest
from labdb import as_read, connect, haproxy_writers, health, lab_vip, node_host, run_playbook, vip_holders, wait_for

testinfra_hosts = ["haproxy"]

# The lab's application account, as inventories/lab/group_vars/all.yml creates it (written out: the
# inventory the tests read does not render templates).
ACCOUNT = {"user": "smoke", "password": "lab-only-smoke-secret", "database": "smoke"}


def write_through_vip(lab, account):
    with connect(lab_vip(lab), account, connect_timeout=3, read_timeout=10) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS vip_probe (id INT AUTO_INCREMENT PRIMARY KEY, node VARCHAR(64))")
        cursor.execute("INSERT INTO vip_probe (node) VALUES (@@wsrep_node_name)")
        cursor.execute("SELECT @@wsrep_node_name")
        return cursor.fetchone()[0]


def test_one_haproxy_host_holds_the_vip_with_a_checked_configuration(host, lab):
    assert host.service("keepalived").is_running and host.service("keepalived").is_enabled
    config = host.file("/etc/keepalived/keepalived.conf")
    assert config.mode == 0o600 and config.user == "root"
    assert "nopreempt" in config.content_string and "unicast_peer" in config.content_string
    assert host.run("keepalived -t -f /etc/keepalived/keepalived.conf").rc == 0
    assert len(vip_holders(lab)) == 1


@pytest.mark.measures_the_deployment
def test_both_haproxy_hosts_send_new_connections_to_the_same_writer(lab):
    account = ACCOUNT
    first = write_through_vip(lab, account)
    assert set(haproxy_writers(lab).values()) == {first}


@pytest.mark.measures_the_deployment
def test_vip_moves_when_its_holders_haproxy_stops_and_stays_where_it_went(lab):
    account = ACCOUNT
    holder = vip_holders(lab)[0]
    other = next(name for name in lab["groups"]["haproxy"] if name != holder)
    writer = write_through_vip(lab, account)
    stopped_at = time.monotonic()
    node_host(lab, holder).check_output("systemctl stop haproxy")
    try:
        wait_for(lambda: vip_holders(lab) == [other], timeout=20, interval=0.2, what=f"the VIP on {other}")
        assert wait_for(lambda: write_through_vip(lab, account), timeout=20, interval=0.2,
                        what="a write through the VIP") == writer
        moved = time.monotonic() - stopped_at
    finally:
        node_host(lab, holder).check_output("systemctl start haproxy")
    time.sleep(4)  # the track script's rise (2 checks) and more: nopreempt keeps the VIP where it is
    assert vip_holders(lab) == [other]
    print(f"\nVIP moved from {holder} to {other} {moved:.1f} s after haproxy stopped; writes stayed on {writer}")


@pytest.mark.measures_the_deployment
def test_after_a_writer_failover_both_haproxy_hosts_stay_on_the_new_writer(lab):
    account = ACCOUNT
    old = write_through_vip(lab, account)
    node = node_host(lab, old)
    node.check_output("systemctl stop mariadb")
    try:
        new = wait_for(lambda: (name := write_through_vip(lab, account)) != old and name, timeout=30, interval=0.3,
                       what="writes on another node")
    finally:
        node.check_output("systemctl start mariadb")
    wait_for(lambda: health(lab["hosts"][old]["ip"]) == (200, "up: Synced"), timeout=120, what=f"{old} Synced")
    time.sleep(3)  # HAProxy's rise: 2 good checks, 1 s apart
    assert [write_through_vip(lab, account) for _write in range(5)] == [new] * 5
    assert set(haproxy_writers(lab).values()) == {new}


@pytest.mark.parametrize(("extra_vars", "message"), [
    (["dbstack_vip="], "has 2 HAProxy hosts but keepalived_vip (dbstack_vip) is empty"),
    (["dbstack_vip=10.99.0.1"], "the virtual IP 10.99.0.1 is outside the subnet of any interface of haproxy"),
    (["dbstack_vip=not-an-ip"], "the virtual IP 'not-an-ip' is not an IPv4 address"),
    (["keepalived_vrrp_version=2"], "keepalived_vrrp_version=2 needs keepalived_auth_pass of 1 to 8 characters"),
    (["keepalived_vrrp_version=2", "keepalived_auth_pass=lab-only"],
     "keepalived_advert_interval=0.5 does not fit VRRP version 2"),
    (["keepalived_virtual_router_id=300"], "keepalived_virtual_router_id=300 must be 1 to 255"),
])
def test_bad_vrrp_input_stops_site_yml_before_any_host_changes(lab, extra_vars, message):
    arguments = [argument for pair in extra_vars for argument in ("-e", pair)]
    result = run_playbook("playbooks/site.yml", *arguments, check=False)
    assert result.returncode != 0
    assert " ".join(message.split()) in as_read(result.stdout), result.stdout[-3000:]
    recap = result.stdout.split("PLAY RECAP", 1)[1]
    assert "changed=0" in recap and not re.search(r"changed=[1-9]", recap), recap


@pytest.mark.measures_the_deployment
def test_nothing_in_front_of_the_cluster_opens_connections_that_never_log_in(lab):
    """Health checks, last-resort checks and keepalived's track script leave MariaDB's port alone: a
    connection that never logs in counts against max_connect_errors, and 100 of them in a row from one
    address make MariaDB refuse every connection from it (1129, measured on MariaDB 10.11)."""
    nodes = [node_host(lab, name) for name in lab["groups"]["galera"]]

    def aborted_connects():
        return [int(node.check_output("mariadb -N -B -e \"SHOW GLOBAL STATUS LIKE 'Aborted_connects'\"").split()[1])
                for node in nodes]
    before = aborted_connects()
    time.sleep(6)  # six check intervals of every HAProxy host and track script
    assert aborted_connects() == before


def test_a_router_id_another_vrrp_cluster_uses_stops_site_yml_before_any_host_changes(lab):
    """Another VRRP cluster on the same network (here: keepalived on the app host, multicast, router id 77,
    its own address .101) would fight ours for the VIP if both used one router id."""
    app_name = lab["groups"]["app"][0]
    app = node_host(lab, app_name)
    app.check_output("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends keepalived")
    vip = lab_vip(lab)
    other_vip = vip.rsplit(".", 1)[0] + ".101"
    app.check_output(f"""cat > /etc/keepalived/keepalived.conf <<'CONF'
vrrp_instance OTHER_CLUSTER {{
    state BACKUP
    interface eth0
    virtual_router_id 77
    priority 100
    advert_int 1
    virtual_ipaddress {{
        {other_vip}/24
    }}
}}
CONF
systemctl restart keepalived""")
    try:
        result = run_playbook("playbooks/site.yml", "-e", "keepalived_virtual_router_id=77", check=False)
    finally:
        app.check_output("systemctl stop keepalived && DEBIAN_FRONTEND=noninteractive apt-get purge -y -q keepalived")
    assert result.returncode != 0
    message = (f"keepalived_virtual_router_id=77 is already used on the network of haproxy1 by "
               f"{lab['hosts'][app_name]['ip']} (VRRP advertisements heard there)")
    assert message in as_read(result.stdout), result.stdout[-3000:]
    recap = result.stdout.split("PLAY RECAP", 1)[1]
    assert not re.search(r"changed=[1-9]", recap), recap
