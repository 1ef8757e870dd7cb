"""One site.yml run with --diff -v on a lab that three things happened to, each with its own assertions:

- Files changed by hand are put back. A re-run reads each role's files in one find and writes only
  those that differ (dbstack.galera.file_differs), so a skipped write must never hide a drift: a
  changed mode, owner, content, or a deleted file, on each kind of host. Put back means as before
  the drift, owner, mode and checksum, and the state before was the scenario's idempotent one.
- Two hosts lost their default route, as hosts on an isolated database network often have none.
  Without one, site.yml takes each host's only global IPv4 address (dbstack.galera.host_address): the
  same addresses in wsrep, HAProxy's servers and its peers and the certificates, so nothing changes
  on a host nobody touched.
- A node's private key, the SST credentials and the app's settings differ from what the roles write,
  so their writes show a diff: the output must hold no key and no password.

One run instead of three: each is a whole site.yml on six hosts, and none of the three changes what
the others look at (the hosts without a route are not among the drifted ones).
"""

from __future__ import annotations

import re

import pytest

from labdb import changed_tasks, lab_ca_file, node_host, run_playbook

# inventories/lab/group_vars/all.yml (the inventory the tests read leaves its templates unrendered).
SECRETS = ["lab-only-smoke-secret", "lab-only-sst-secret"]
TLS_DIR = "/etc/mysql/dbstack-tls"
# host group -> (path, how it drifts); one file per role, each drift of another kind. The last host of
# each group drifts; the SST credentials change owner and content (a diff that would show the password).
DRIFTS = [
    ("galera", "/etc/mysql/dbstack-tls/ca.pem", "chmod 0600 {path}"),
    ("galera", "/etc/mysql/mariadb.conf.d/98-dbstack-sst-auth.cnf",
     "chown root:root {path} && echo '# changed by a test' >> {path}"),
    ("haproxy", "/etc/haproxy/haproxy.cfg", "echo '# changed by hand' >> {path}"),
    ("haproxy", "/etc/keepalived/keepalived.conf", "chmod 0644 {path}"),
    ("app", "/etc/dbstack/db-client.cnf", "sed -i 's/ssl-verify-server-cert = 1/ssl-verify-server-cert = 0/' {path}"),
    ("app", "/usr/local/bin/dbstack-smoke", "rm {path}"),
    ("app", "/opt/dbstack-smoke/app/smokeproj/settings.py", "echo '# changed by a test' >> {path}"),
]
KEY_DRIFT = ("galera", f"{TLS_DIR}/server.key", "echo '# changed by a test' >> {path}")
STAT = "stat -c '%U:%G %a' {path} && sha1sum {path}"
PATHS = [drift[1] for drift in DRIFTS]


def drifted_host(lab: dict, group: str) -> str:
    return lab["groups"][group][-1]


def unrouted_hosts(lab: dict) -> list[str]:
    """A Galera node and an HAProxy host that nothing else happens to: the node's address goes into
    wsrep, every HAProxy's servers and the certificates, the HAProxy host's into the peers section."""
    return [lab["groups"]["galera"][0], lab["groups"]["haproxy"][0]]


@pytest.fixture(scope="module")
def repair_run(lab):
    hosts = {path: node_host(lab, drifted_host(lab, group)) for group, path, _drift in DRIFTS}
    before = {path: hosts[path].check_output(STAT.format(path=path)) for path in PATHS}
    keyed = node_host(lab, drifted_host(lab, KEY_DRIFT[0]))
    key_text = keyed.check_output(f"cat {KEY_DRIFT[1]}")
    ca_key_text = (lab_ca_file().parent / "ca.key").read_text()
    # The first base64 line of a SEC1 EC key holds its private scalar; the later lines hold the public
    # key, which certificate info rightly shows.
    assert key_text.startswith("-----BEGIN EC PRIVATE KEY-----") and ca_key_text.startswith("-----BEGIN EC PRIVATE KEY-----")
    for group, path, drift in [*DRIFTS, KEY_DRIFT]:
        node_host(lab, drifted_host(lab, group)).check_output(drift.format(path=path))
    assert all(hosts[path].run(STAT.format(path=path)).stdout != before[path] for path in PATHS)

    unrouted = {name: node_host(lab, name) for name in unrouted_hosts(lab)}
    routes = {name: host.check_output("ip -4 route show default").strip() for name, host in unrouted.items()}
    assert all(routes.values()), routes
    try:
        for host in unrouted.values():
            host.check_output("ip -4 route del default")
        result = run_playbook("playbooks/site.yml", "--diff", "-v", check=False)
    finally:
        for name, host in unrouted.items():
            host.check_output(f"ip -4 route replace {routes[name]}")
    assert result.returncode == 0, result.stdout[-6000:]
    return {"before": before, "after": {path: hosts[path].check_output(STAT.format(path=path)) for path in PATHS},
            "repaired": changed_tasks(result.stdout), "output": result.stdout + result.stderr,
            "recap": result.stdout.split("PLAY RECAP", 1)[1],
            "key_before": key_text, "key_after": keyed.check_output(f"cat {KEY_DRIFT[1]}"),
            "private_parts": [key_text.splitlines()[1], ca_key_text.splitlines()[1]]}


@pytest.mark.parametrize("path", PATHS)
def test_a_file_changed_by_hand_is_written_back(repair_run, path):
    assert repair_run["after"][path] == repair_run["before"][path]


def test_the_repair_is_reported_as_changes(repair_run):
    assert any("Install the bundle of trusted CAs" in task for task in repair_run["repaired"]), repair_run["repaired"]
    assert any("Install the dbstack-smoke command" in task for task in repair_run["repaired"]), repair_run["repaired"]


def changed_on(task: str) -> str:
    """The host a changed task changed: 'TASK: galera1 -> galera3(10.0.0.13)' (run_once, delegated) is galera3."""
    host = task.rsplit(": ", 1)[1]
    return host.split(" -> ", 1)[-1].split("(", 1)[0]


def test_site_yml_converges_hosts_without_a_default_route(repair_run, lab):
    drifted = {drifted_host(lab, group) for group, _path, _drift in [*DRIFTS, KEY_DRIFT]}
    untouched = set(lab["hosts"]) - drifted
    assert set(unrouted_hosts(lab)) <= untouched
    for name in unrouted_hosts(lab):
        assert re.search(rf"^{name}\s+: ok=[1-9]", repair_run["recap"], re.MULTILINE), repair_run["recap"]
    changed_there = [task for task in repair_run["repaired"] if changed_on(task) in untouched]
    assert changed_there == [], changed_there


def test_no_key_or_password_appears_in_the_ansible_output_even_with_diff(repair_run):
    assert repair_run["key_after"] == repair_run["key_before"]
    assert any("Install the node's private key" in task for task in repair_run["repaired"]), repair_run["repaired"]
    for secret in SECRETS + repair_run["private_parts"]:
        assert secret not in repair_run["output"], f"{secret[:12]}... appears in the output"
