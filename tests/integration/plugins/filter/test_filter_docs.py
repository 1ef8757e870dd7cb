"""Every filter's sidecar renders in ansible-doc and its EXAMPLES really run (tests/unit checks what the
sidecars document)."""

from __future__ import annotations

import re

import pytest
from ansible_cli import ansible_doc, run_tasks
from sidecars import sidecar, sidecar_examples

from ansible_collections.dbstack.galera.plugins.filter.haproxy_timeouts import FilterModule

# The filters as registered, in their order; the unit test_filter_docs.py checks they are the documented ones.
FILTER_NAMES = list(FilterModule().filters())


def plain_words(text):
    """Drop ansible-doc markup, quoting and line wrapping so texts can be compared."""
    text = re.sub(r"\b[A-Z]{1,2}\(([^)]*)\)", r"\1", text)
    return " ".join(re.sub(r"[`'\"]", "", text).split())


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
