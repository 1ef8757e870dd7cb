"""The haproxy role's preflight, run by Ansible on this machine: bad timeout values stop it with a
message naming the variable and the fix, before any task that changes a host.

The inventory's hosts are this machine over the local connection (a Galera node and an HAProxy
host); only the preflight runs (tasks_from), so nothing is installed.
"""

from __future__ import annotations

import sys

import pytest
from ansible_cli import run_playbook

LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
INVENTORY = {"all": {"children": {"galera": {"hosts": {"galera1": LOCAL}},
                                  "haproxy": {"hosts": {"haproxy1": LOCAL}}}}}


def preflight(tmp_path, **settings):
    settings = {"dbstack_max_task_length": "15m", **settings}
    play = {"name": "Preflight", "hosts": "haproxy", "gather_facts": True,
            "vars": {name: value for name, value in settings.items() if value is not None},
            "tasks": [{"ansible.builtin.include_role": {"name": "dbstack.galera.haproxy", "tasks_from": "preflight.yml"}}]}
    return run_playbook(tmp_path, [play], inventory=INVENTORY, check=False)


def test_explicit_timeouts_with_units_pass(tmp_path):
    result = preflight(tmp_path, haproxy_timeout_client="1125s", haproxy_timeout_server="1125s")
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize(("settings", "message"), [
    ({"haproxy_timeout_client": "28800", "haproxy_timeout_server": "28800"},
     'haproxy_timeout_client="28800" has no unit, and HAProxy reads a bare number as MILLISECONDS '
     '(28800 ms = 28.8 s). Write the unit: "28800s" if you meant seconds.'),
    ({"haproxy_check_interval": 2000},
     'haproxy_check_interval=2000 has no unit, and HAProxy reads a bare number as MILLISECONDS (2000 ms = 2 s).'),
    ({"haproxy_timeout_connect": "1h30m"},
     "haproxy_timeout_connect='1h30m' is not one HAProxy time: HAProxy takes a single unit and would ignore '30m'"),
])
def test_a_value_haproxy_would_misread_stops_the_preflight_naming_it(tmp_path, settings, message):
    result = preflight(tmp_path, **settings)
    assert result.returncode != 0
    output = " ".join(result.stdout.replace('\\"', '"').split())
    assert message in output, output[-3000:]


def test_without_a_task_length_the_preflight_stops_naming_the_variable(tmp_path):
    result = preflight(tmp_path, dbstack_max_task_length=None)
    assert result.returncode != 0
    output = " ".join(result.stdout.split())
    assert ("haproxy_max_task_length is empty on haproxy1: set dbstack_max_task_length (group_vars/all) to the longest "
            "time a Celery task holds its database connection idle, its task_time_limit (e.g. 15m).") in output, output[-3000:]
