"""A filter's sidecar (plugins/filter/NAME.yml) read as data: its DOCUMENTATION, RETURN and EXAMPLES.

Reading a sidecar is pure Python, so the unit tests check what it documents; running its EXAMPLES and
rendering it with ansible-doc start Ansible's tools, which tests/integration/ansible_cli.py does.
"""

from __future__ import annotations

import yaml
from working_tree import REPO_ROOT

FILTER_DIR = REPO_ROOT / "plugins" / "filter"


def sidecar(name: str) -> dict:
    """A filter's sidecar (plugins/filter/NAME.yml) as a dict."""
    return yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text())


def sidecar_examples(*names: str) -> list:
    """The EXAMPLES tasks of these filters' sidecars, in order."""
    tasks = []
    for name in names:
        examples = yaml.safe_load(sidecar(name)["EXAMPLES"])
        assert examples, f"{name}.yml has no EXAMPLES"
        tasks += examples
    return tasks
