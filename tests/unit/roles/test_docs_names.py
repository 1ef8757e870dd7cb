"""Variable names the docs give are names the collection reads: a reader who copies one from
README.md or docs/ into an inventory must not be silently ignored."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
# A name followed by * (`dbstack_lab_*`) stands for a family of names and is not checked.
NAME = re.compile(r"`((?:mariadb_galera|haproxy|keepalived|smoke_app|dbstack)_[a-z0-9_]*[a-z0-9])(?![a-z0-9_]*\*)")
# Where a documented name may be read or defined: the roles, the playbooks, the lab's inventory, the plugins,
# and the lab's and the tests' own code (docs/lab.md names its helpers).
CODE_GLOBS = ["roles/**/*.yml", "roles/**/*.j2", "playbooks/*.yml", "inventories/**/*.yml", "plugins/**/*.py",
              "benchmarks/*.py", "lab/labctl", "lab/dbstack_lab/*.py", "molecule/shared/*.py"]


def known_names():
    names = set()
    for specs in (ROOT / "roles").glob("*/meta/argument_specs.yml"):
        for entry_point in yaml.safe_load(specs.read_text())["argument_specs"].values():
            names |= set(entry_point.get("options") or {})
    return names


def code_text():
    return "\n".join(path.read_text(errors="replace") for pattern in CODE_GLOBS for path in ROOT.glob(pattern)
                     if path.is_file())


def test_every_name_in_the_docs_is_read_by_the_collection():
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    known, code = known_names(), code_text()
    unknown = sorted({f"{document.relative_to(ROOT)}: {name}" for document in documents
                      for name in NAME.findall(document.read_text())
                      if name not in known and not re.search(rf"\b{re.escape(name)}\b", code)})
    assert unknown == []


# The YAML examples (```yaml blocks): a reader copies these whole into group_vars or an inventory, so every
# variable they set must be one something reads. Where the collection reads a name only to refuse it
# (the name docs/timeouts.md once gave the task length), the name does not count as read.
YAML_BLOCK = re.compile(r"^```ya?ml[^\n]*\n(.*?)^```", re.S | re.M)
REFUSED_NAMES = {"max_task_length"}
# Molecule's own configuration, not variables (docs/lab.md and docs/audit.md show scenario files).
MOLECULE_KEYS = {"dependency", "driver", "platforms", "provisioner", "verifier", "scenario", "ansible"}
# Keys of a play or a role entry that are Ansible's keywords, not variables.
KEYWORDS = {"name", "hosts", "become", "become_user", "gather_facts", "any_errors_fatal", "serial", "roles", "tasks",
            "pre_tasks", "post_tasks", "handlers", "vars", "vars_files", "role", "tags", "when", "environment",
            "max_fail_percentage", "strategy", "collections"}
# The YAML/Jinja the collection and its lab run: a name written as a keyword argument (`max_task_length=`) is
# a filter's parameter there, not a variable anyone reads.
TEMPLATE_GLOBS = ["roles/**/*.yml", "roles/**/*.j2", "playbooks/**/*.yml", "inventories/**/*.yml",
                  "molecule/shared/*.yml", "lab/labctl", "lab/dbstack_lab/*.py", "molecule/shared/*.py"]


def inventory_variables(group: dict) -> set[str]:
    names = set((group or {}).get("vars") or {})
    for host_vars in ((group or {}).get("hosts") or {}).values():
        names |= set(host_vars or {})
    for child in ((group or {}).get("children") or {}).values():
        names |= inventory_variables(child)
    return names


def play_variables(play: dict) -> set[str]:
    names = set(play.get("vars") or {})
    for role in play.get("roles") or []:
        if isinstance(role, dict):
            names |= set(role.get("vars") or {}) | (set(role) - KEYWORDS)
    return names


def example_variables(text: str) -> set[str]:
    """The variables a YAML example sets: an inventory's (vars of groups and hosts), a playbook's (play and
    role vars), or a group_vars file's (its top-level keys)."""
    names: set[str] = set()
    for block in YAML_BLOCK.findall(text):
        for document in yaml.safe_load_all(block):
            if isinstance(document, list):
                names |= set().union(*(play_variables(play) for play in document if isinstance(play, dict)))
            elif isinstance(document, dict) and "all" in document:
                names |= inventory_variables(document["all"])
            elif isinstance(document, dict) and not set(document) & MOLECULE_KEYS:
                names |= set(document)
    return names


def is_read(name: str, text: str) -> bool:
    return bool(re.search(rf"\b{re.escape(name)}\b(?!\s*=[^=])", text))


def test_example_variables_are_found_in_both_kinds_of_example():
    inventory = "```yaml\nall:\n  vars: {a_var: 1}\n  children:\n    g: {hosts: {h1: {h_var: 2}}, vars: {g_var: 3}}\n```\n"
    playbook = "```yaml\n- hosts: g\n  vars: {p_var: 1}\n  roles:\n    - {role: x, r_var: 2, vars: {rv_var: 3}}\n```\n"
    group_vars = "```yaml\n# group_vars/all.yml\ngv_var: 1\n```\n```sh\nnot_yaml: 1\n```\n"
    assert example_variables(inventory) == {"a_var", "h_var", "g_var"}
    assert example_variables(playbook) == {"p_var", "r_var", "rv_var"}
    assert example_variables(group_vars) == {"gv_var"}
    assert not is_read("max_task_length", "haproxy_timeouts(max_task_length=haproxy_max_task_length)")
    assert is_read("max_task_length", "{{ max_task_length == 1 }}")


def test_every_variable_a_yaml_example_sets_is_read_by_the_collection():
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    known = known_names()
    code = "\n".join(path.read_text(errors="replace") for pattern in TEMPLATE_GLOBS for path in ROOT.glob(pattern)
                     if path.is_file())
    found = {(document.relative_to(ROOT), name) for document in documents
             for name in example_variables(document.read_text())}
    assert {name for _document, name in found} >= {"dbstack_max_task_length", "mariadb_galera_wait_timeout"}
    unread = sorted(f"{document}: {name}" for document, name in found
                    if not name.startswith("ansible_")
                    and (name in REFUSED_NAMES or (name not in known and not is_read(name, code))))
    assert unread == []
