"""The galera_state filters' sidecars through Ansible's own tools: ansible-doc renders each, and their
EXAMPLES give what they promise in a real playbook (tests/unit tests the filters' decisions)."""

from __future__ import annotations

import pytest
from ansible_cli import ansible_doc, run_tasks
from sidecars import sidecar_examples

NAMES = ["galera_grastate", "galera_node_state", "galera_cluster_plan", "galera_recovery_position",
         "galera_bootstrap_choice"]


@pytest.mark.parametrize("name", NAMES)
def test_sidecar_renders_in_ansible_doc(name):
    ansible_doc(name)


def test_sidecar_examples_give_what_they_promise(tmp_path):
    result = run_tasks(tmp_path, sidecar_examples(*NAMES))
    shown = "".join(result.stdout.replace('"', "").replace("'", "").split())
    for promised in ("msg:42}", "msg:true}", "msg:bootstrap}", "msg:1234}", "msg:galera2}"):
        assert promised in shown, result.stdout
