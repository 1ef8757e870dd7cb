"""Every filter has a sidecar that ansible-doc renders and EXAMPLES that really run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[4]
FILTER_DIR = REPO_ROOT / "plugins" / "filter"
VENV_BIN = Path(sys.executable).parent
FILTER_NAMES = ["haproxy_timeouts", "haproxy_time", "duration_seconds", "haproxy_time_seconds"]


def ansible_env():
    return {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / ".collections"),
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        # The promised values below are matched in the YAML result format.
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    }


def sidecar(name):
    return yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text())


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
    result = subprocess.run(
        [str(VENV_BIN / "ansible-doc"), "-t", "filter", f"dbstack.galera.{name}"],
        capture_output=True,
        text=True,
        env=ansible_env(),
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"dbstack.galera.{name}" in result.stdout
    first_paragraph = sidecar(name)["DOCUMENTATION"]["description"][0]
    assert plain_words(first_paragraph) in plain_words(result.stdout)


def test_examples_run_in_a_real_playbook(tmp_path):
    """All EXAMPLES of all sidecars, as one play, through ansible-playbook."""
    tasks = []
    for name in FILTER_NAMES:
        examples = yaml.safe_load(sidecar(name)["EXAMPLES"])
        assert examples, f"{name}.yml has no EXAMPLES"
        assert all("ansible.builtin.debug" in task for task in examples)
        tasks.extend(examples)
    playbook = tmp_path / "examples.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Sidecar examples", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]))

    result = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)],
        capture_output=True,
        text=True,
        env=ansible_env(),
        cwd=tmp_path,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok={len(tasks)} " in result.stdout
    # The values the examples promise in their comments.
    # ansible-core before 2.19 renders a template's number as text: msg: '28.8' there, msg: 28.8 after.
    shown = result.stdout.replace("'", "")
    for promised in ("client: 1125s", "msg: 5400s", "msg: 28.8", "timeout client 6750s"):
        assert promised in shown
