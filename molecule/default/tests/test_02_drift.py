"""Files changed by hand on a host are put back by the next site.yml run.

A re-run reads each role's files in one find and writes only those that differ
(dbstack.galera.file_differs), so a skipped write must never hide a drift: a changed mode, owner,
content, or a deleted file, on each kind of host. Put back means as before the drift, owner, mode
and checksum, and the state before was the scenario's idempotent one.
"""

from __future__ import annotations

import pytest

from labdb import changed_tasks, node_host, run_playbook

# host group -> (path, how it drifts); one file per role, each drift of another kind.
DRIFTS = [
    ("galera", "/etc/mysql/dbstack-tls/ca.pem", "chmod 0600 {path}"),
    ("galera", "/etc/mysql/mariadb.conf.d/98-dbstack-sst-auth.cnf", "chown root:root {path}"),
    ("haproxy", "/etc/haproxy/haproxy.cfg", "echo '# changed by hand' >> {path}"),
    ("haproxy", "/etc/keepalived/keepalived.conf", "chmod 0644 {path}"),
    ("app", "/opt/dbstack-smoke/client-tls.cnf", "sed -i 's/ssl-verify-server-cert = 1/ssl-verify-server-cert = 0/' {path}"),
    ("app", "/usr/local/bin/dbstack-smoke", "rm {path}"),
]
STAT = "stat -c '%U:%G %a' {path} && sha1sum {path}"


PATHS = [drift[1] for drift in DRIFTS]


@pytest.fixture(scope="module")
def drifted(lab):
    hosts = {path: node_host(lab, lab["groups"][group][-1]) for group, path, _drift in DRIFTS}
    before = {path: hosts[path].check_output(STAT.format(path=path)) for path in PATHS}
    for _group, path, drift in DRIFTS:
        hosts[path].check_output(drift.format(path=path))
    assert all(hosts[path].run(STAT.format(path=path)).stdout != before[path] for path in PATHS)
    repaired = run_playbook("playbooks/site.yml")
    after = {path: hosts[path].check_output(STAT.format(path=path)) for path in PATHS}
    return {"before": before, "after": after, "repaired": changed_tasks(repaired.stdout)}


@pytest.mark.parametrize("path", PATHS)
def test_a_file_changed_by_hand_is_written_back(drifted, path):
    assert drifted["after"][path] == drifted["before"][path]


def test_the_repair_is_reported_as_changes(drifted):
    assert any("Install the bundle of trusted CAs" in task for task in drifted["repaired"]), drifted["repaired"]
    assert any("Install the dbstack-smoke command" in task for task in drifted["repaired"]), drifted["repaired"]
