"""dbstack.galera.tls_problems, tls_pem and tls_subject_alt_names through Ansible's own tools: ansible-doc
renders each sidecar and their EXAMPLES give what they promise (tests/unit tests the checks themselves)."""

from __future__ import annotations

import pytest
from ansible_cli import ansible_doc, run_tasks
from sidecars import sidecar, sidecar_examples


@pytest.mark.parametrize("name", ["tls_problems", "tls_pem", "tls_subject_alt_names"])
def test_sidecar_renders_in_ansible_doc(name):
    assert sidecar(name)["DOCUMENTATION"]["name"] == name
    ansible_doc(name)


def test_sidecar_examples_give_what_they_promise(tmp_path):
    result = run_tasks(tmp_path, sidecar_examples("tls_problems", "tls_pem", "tls_subject_alt_names"))
    # Quotes and spacing differ between ansible-core releases (a number prints as "3" before 2.19).
    shown = "".join(result.stdout.replace('"', "").replace("'", "").split())
    for promised in ("msg:3}", "msg:58}", "msg:[DNS:galera1,IP:10.0.0.11,IP:127.0.0.1]"):
        assert promised in shown, result.stdout
