"""Every filter has a sidecar that ansible-doc renders and EXAMPLES that really run."""

from __future__ import annotations

import re

import pytest
from ansible_cli import ansible_doc, run_tasks, sidecar, sidecar_examples

FILTER_NAMES = ["haproxy_timeouts", "haproxy_time", "duration_seconds", "haproxy_time_seconds", "haproxy_time_problems"]


def plain_words(text):
    """Drop ansible-doc markup, quoting and line wrapping so texts can be compared."""
    text = re.sub(r"\b[A-Z]{1,2}\(([^)]*)\)", r"\1", text)
    return " ".join(re.sub(r"[`'\"]", "", text).split())


def test_every_registered_filter_has_a_sidecar(filters):
    assert sorted(filters) == sorted(FILTER_NAMES)
    for name in FILTER_NAMES:
        document = sidecar(name)
        assert document["DOCUMENTATION"]["name"] == name
        assert document["DOCUMENTATION"]["options"]["_input"]["required"] is True
        assert "_value" in document["RETURN"]


def test_haproxy_timeouts_documents_its_signature():
    options = sidecar("haproxy_timeouts")["DOCUMENTATION"]["options"]
    assert options["max_task_length"]["required"] is True
    assert options["margin"]["default"] == "25%"
    assert set(options) == {"_input", "max_task_length", "margin"}


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_ansible_doc_renders(name):
    result = ansible_doc(name)
    first_paragraph = sidecar(name)["DOCUMENTATION"]["description"][0]
    assert plain_words(first_paragraph) in plain_words(result.stdout)


def test_examples_run_in_a_real_playbook(tmp_path):
    """All EXAMPLES of all sidecars, as one play, through ansible-playbook."""
    tasks = sidecar_examples(*FILTER_NAMES)
    assert all("ansible.builtin.debug" in task for task in tasks)
    # The promised values below are matched in the YAML result format.
    result = run_tasks(tmp_path, tasks, result_format="yaml")
    assert f"ok={len(tasks)} " in result.stdout
    # The values the examples promise in their comments.
    # ansible-core before 2.19 renders a template's number as text: msg: '28.8' there, msg: 28.8 after.
    shown = result.stdout.replace("'", "")
    for promised in ("client: 1125s", "msg: 5400s", "msg: 28.8", "timeout client 6750s",
                     "MILLISECONDS (28800 ms = 28.8 s)"):
        assert promised in shown
