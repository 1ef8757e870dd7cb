"""site.yml --check --diff: on the deployed, unchanged lab it reports nothing to change; on hosts
without MariaDB (a first deployment) it stops early, saying check mode cannot plan a bootstrap."""

from __future__ import annotations

from labdb import as_read, changed_tasks, node_host, run_playbook

FIRST_DEPLOYMENT = """---
- name: A first deployment, in check mode, on a host without MariaDB
  hosts: app
  become: true
  gather_facts: true
  roles:
    - role: dbstack.galera.mariadb_galera
      vars:
        mariadb_galera_group: app
        mariadb_galera_allow_small_cluster: true
"""


def test_check_diff_on_the_deployed_lab_reports_no_change(lab):
    result = run_playbook("playbooks/site.yml", "--check", "--diff")
    assert changed_tasks(result.stdout) == []
    assert "FAILED" not in result.stdout


def test_check_mode_on_a_first_deployment_stops_before_planning_and_says_why(lab, tmp_path):
    app = node_host(lab, lab["groups"]["app"][0])
    assert not app.package("mariadb-server").is_installed
    playbook = tmp_path / "first.yml"
    playbook.write_text(FIRST_DEPLOYMENT)
    result = run_playbook(str(playbook), "--check", check=False)
    assert result.returncode != 0
    assert ("has no MariaDB server installed yet, so check mode cannot plan this first deployment"
            in as_read(result.stdout)), result.stdout[-3000:]
    assert "Install MariaDB, Galera, mariabackup and PyMySQL" in result.stdout  # reached, and only pretended
    assert "Decide what the cluster needs" not in result.stdout
    assert not app.package("mariadb-server").is_installed
