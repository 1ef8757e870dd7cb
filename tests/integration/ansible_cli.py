"""One way for the integration tests to run Ansible's own tools on the controller: ansible-doc on a
filter's sidecar, and ansible-playbook on localhost (a sidecar's EXAMPLES, or plays a test builds).

The tools come from this venv and see the working tree's collection (.collections); the output is the
default callback's, in the result format asked for (whatever ANSIBLE_CONFIG names is not read), without
the localhost and inventory warnings a `-i localhost,` run prints. The sidecars themselves are read by
tests/unit/sidecars.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from working_tree import REPO_ROOT

VENV_BIN = Path(sys.executable).parent


def env(result_format: str = "json") -> dict:
    return {
        **{key: value for key, value in os.environ.items() if key != "ANSIBLE_CONFIG"},
        "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / ".collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": result_format,
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        # Modules run with this venv's Python, not whatever interpreter discovery finds first.
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    }


def ansible_doc(name: str) -> subprocess.CompletedProcess:
    """`ansible-doc -t filter dbstack.galera.NAME`; fails the test unless it renders."""
    result = subprocess.run([str(VENV_BIN / "ansible-doc"), "-t", "filter", f"dbstack.galera.{name}"],
                            capture_output=True, text=True, env=env(), cwd=REPO_ROOT, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert f"dbstack.galera.{name}" in result.stdout
    return result


def run_playbook(tmp_path: Path, plays: list, result_format: str = "json", inventory: dict | None = None,
                 check: bool = True) -> subprocess.CompletedProcess:
    """ansible-playbook with these plays on localhost (local connection), or on `inventory` (YAML
    inventory data); with check, fails the test unless the run passes."""
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    hosts = ["-i", "localhost,", "-c", "local"]
    if inventory is not None:
        (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
        hosts = ["-i", str(tmp_path / "inventory.yml")]
    result = subprocess.run([str(VENV_BIN / "ansible-playbook"), *hosts, str(playbook)],
                            capture_output=True, text=True, env=env(result_format), cwd=tmp_path, timeout=300,
                            check=False)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def run_tasks(tmp_path: Path, tasks: list, result_format: str = "json", **play) -> subprocess.CompletedProcess:
    """run_playbook() with one play of these tasks on localhost, without gathering facts."""
    return run_playbook(tmp_path, [{"name": "Tasks", "hosts": "localhost", "gather_facts": False, **play,
                                    "tasks": tasks}], result_format)
