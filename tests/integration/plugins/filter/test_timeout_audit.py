"""The timeout audit's report filters through Ansible's own tools: ansible-doc renders each sidecar and
its EXAMPLES run in a real playbook (tests/unit tests the verdict itself)."""

from __future__ import annotations

import pytest
from ansible_cli import ansible_doc, run_tasks
from sidecars import sidecar, sidecar_examples

from ansible_collections.dbstack.galera.plugins.filter.timeout_audit import FilterModule

# The filters as registered, in their order; the unit test_timeout_audit.py checks their names.
NAMES = tuple(FilterModule().filters())


@pytest.mark.parametrize("name", NAMES)
def test_sidecar_ansible_doc_and_example(name, tmp_path):
    assert sidecar(name)["DOCUMENTATION"]["name"] == name
    ansible_doc(name)
    run = run_tasks(tmp_path, sidecar_examples(name))
    assert "not read" in run.stdout if name == "timeout_audit_report" else "MariaDB closes idle sessions" in run.stdout
