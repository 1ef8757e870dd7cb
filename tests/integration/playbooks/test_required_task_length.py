"""The entry playbooks whose result depends on the task length stop, before any host changes, when the
inventory does not give dbstack_max_task_length, or gives the task length under another name.

The inventory's hosts are this machine over the local connection: site.yml must stop in its first play,
which only gathers facts, so nothing is installed here.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest
import yaml
from ansible_cli import VENV_BIN, env
from working_tree import REPO_ROOT


def has_collection(name: str) -> bool:
    try:
        return importlib.util.find_spec(f"ansible_collections.{name}") is not None
    except ModuleNotFoundError:
        return False


# A whole entry playbook needs every collection its roles use; the compat venvs of ansible-core 2.18-2.20
# hold ansible-core alone (the newest core's and 2.17's hold the ansible bundle), so there it cannot load.
pytestmark = pytest.mark.skipif(not has_collection("ansible.mariadb"),
                                reason="ansible.mariadb is not installed in this venv: the entry playbooks cannot load")
LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
GROUPS = {"galera": "galera1", "haproxy": "haproxy1", "app": "app1"}


def as_read(output: str) -> str:
    """The output as a reader sees it: whitespace and YAML line folds collapsed, and the doubled quote of a
    single-quoted YAML string ('HAProxy''s', as ansible-core before 2.19 prints a message) undone."""
    return " ".join(output.replace("''", "'").split())


def run_entry_playbook(tmp_path, playbook: str, group_vars: dict) -> subprocess.CompletedProcess:
    inventory = {"all": {"vars": group_vars,
                         "children": {group: {"hosts": {host: LOCAL}} for group, host in GROUPS.items()}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    return subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"),
                           str(REPO_ROOT / "playbooks" / playbook)],
                          capture_output=True, text=True, env=env("yaml"), cwd=tmp_path, timeout=300, check=False)


@pytest.mark.parametrize("playbook", ["site.yml", "smoke.yml", "audit_timeouts.yml"])
@pytest.mark.parametrize(("group_vars", "message"), [
    ({}, "dbstack_max_task_length is not set for {host}. HAProxy's idle timeouts are derived from the longest time a "
         "Celery task holds its database connection idle: set it once, in group_vars/all or with -e, to Celery's "
         "task_time_limit, e.g. dbstack_max_task_length: 15m. There is no default."),
    # The name docs/timeouts.md once gave: a user who followed it got 15 minutes without a word.
    ({"max_task_length": "2h"}, "{host} has max_task_length=2h but no dbstack_max_task_length, and nothing reads "
                                "max_task_length. Rename it to dbstack_max_task_length (group_vars/all)"),
], ids=["missing", "another name"])
def test_an_entry_playbook_stops_before_any_change_without_the_task_length(tmp_path, playbook, group_vars, message):
    result = run_entry_playbook(tmp_path, playbook, group_vars)
    output = as_read(result.stdout)
    assert result.returncode != 0, output[-3000:]
    host = "app1" if playbook == "smoke.yml" else "haproxy1"
    assert message.format(host=host) in output, output[-3000:]
    # Nothing ran past the check: no play that installs or configures started, and nothing changed.
    assert "changed=0" in output and "changed=1" not in output, output[-3000:]
    if playbook == "site.yml":
        assert "PLAY [Deploy the MariaDB Galera cluster]" not in result.stdout, result.stdout[-3000:]


def test_a_task_length_that_is_not_a_duration_is_named(tmp_path):
    result = run_entry_playbook(tmp_path, "site.yml", {"dbstack_max_task_length": "soon"})
    output = as_read(result.stdout)
    assert result.returncode != 0
    assert "duration_seconds: cannot interpret dbstack_max_task_length='soon' as a duration; give seconds" in output, \
        output[-3000:]
    assert "PLAY [Deploy the MariaDB Galera cluster]" not in result.stdout


@pytest.mark.parametrize("switches, stops_with", [
    ({"dbstack_db_client": False}, None),
    ({}, "db_client_haproxy_group=\"haproxy\" is not a non-empty group of this inventory"),
    ({"dbstack_db_client": False, "dbstack_smoke_app": True}, "smoke_app_db_password is empty"),
], ids=["db_client off", "by default: db_client", "dbstack_smoke_app: true"])
def test_site_yml_gives_app_hosts_the_client_files_and_the_smoke_app_only_where_asked(tmp_path, switches, stops_with):
    """An inventory of one app host (no HAProxy to point a client at): by default the db_client role runs
    there (and its preflight stops, naming the missing HAProxy group) and the smoke app does not; with
    dbstack_db_client false nothing runs and nothing changes; the smoke app (which applies db_client
    itself, after checking its own inputs) runs only where asked."""
    group_vars = {"dbstack_max_task_length": "15m", **switches}
    inventory = {"all": {"vars": group_vars, "children": {"app": {"hosts": {"app1": LOCAL}}}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    result = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"),
                             str(REPO_ROOT / "playbooks" / "site.yml")],
                            capture_output=True, text=True, env=env("yaml"), cwd=tmp_path, timeout=300, check=False)
    play = result.stdout.split("PLAY [Give the application hosts the database client's files", 1)[1].split("PLAY RECAP", 1)[0]
    if stops_with:
        assert result.returncode != 0
        assert stops_with in as_read(play), play[-3000:]
    else:
        assert result.returncode == 0, result.stdout[-3000:]
        assert "skipping: [app1]" in play and "TASK [dbstack.galera." not in play, play[-3000:]
        assert "changed=0" in result.stdout.split("PLAY RECAP", 1)[1]
    if not switches.get("dbstack_smoke_app"):
        assert "TASK [dbstack.galera.smoke_app : " not in play, play[-3000:]


def test_group_names_set_in_the_inventory_reach_the_plays(tmp_path):
    """The user's own group names, set in group_vars/all (not with -e): the check of the first play
    after groups.yml runs on their HAProxy host, which only a play that found the host can do."""
    group_vars = {"dbstack_galera_group": "db_nodes", "dbstack_haproxy_group": "lb_nodes", "dbstack_app_group": "web"}
    inventory = {"all": {"vars": group_vars, "children": {"db_nodes": {"hosts": {"db1": LOCAL}},
                                                          "lb_nodes": {"hosts": {"lb1": LOCAL}},
                                                          "web": {"hosts": {"web1": LOCAL}}}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    result = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"),
                             str(REPO_ROOT / "playbooks" / "site.yml")],
                            capture_output=True, text=True, env=env("yaml"), cwd=tmp_path, timeout=300, check=False)
    output = as_read(result.stdout)
    assert result.returncode != 0
    assert "dbstack_max_task_length is not set for lb1." in output, output[-3000:]
    recap = result.stdout.split("PLAY RECAP", 1)[1]
    assert set(re.findall(r"^(\S+)\s+: ok=", recap, re.MULTILINE)) == {"db1", "lb1", "web1"}, recap
