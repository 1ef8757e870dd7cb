"""file_differs against what ansible.builtin.find, copy, template and file really do on this machine
(its pure cases are in tests/unit).

A playbook writes files with the modules the roles use, reads them back with one find, and the filter
must call each one in place; then every way a file can drift (content, mode, owner, kind) must count
as different. The checksums are the modules' own, so a template rendered by the lookup is proven to
match what the template module wrote.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
from pathlib import Path

import pytest
import yaml
from ansible_cli import ansible_doc, run_playbook
from sidecars import FILTER_DIR

from ansible_collections.dbstack.galera.plugins.filter.file_differs import FilterModule

SIDECAR = FILTER_DIR / "file_differs.yml"
OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name
TEMPLATE = "# {{ title }}\n{% for port in ports %}\nport = {{ port }}\n{% endfor %}\n\nend = yes\n"
CONTENT = "[client]\nssl-ca = /x/ca.pem\n"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Files written by copy, template and file; the find result; the filter's verdicts inside Ansible."""
    tmp_path = tmp_path_factory.mktemp("files")
    (tmp_path / "conf.j2").write_text(TEMPLATE)
    owner = {"owner": OWNER, "group": GROUP}
    run_playbook(tmp_path, [{
        "hosts": "localhost", "gather_facts": False,
        "vars": {"title": "written by a test", "ports": [3306, 4567], "root": str(tmp_path), "wanted": CONTENT},
        "tasks": [
            {"ansible.builtin.file": {"path": "{{ root }}/tls", "state": "directory", "mode": "0750", **owner}},
            {"ansible.builtin.copy": {"content": "{{ wanted }}", "dest": "{{ root }}/tls/client.cnf", "mode": "0640",
                                      **owner}},
            {"ansible.builtin.template": {"src": "conf.j2", "dest": "{{ root }}/galera.cnf", "mode": "0644",
                                          **owner}},
            {"ansible.builtin.find": {"paths": ["{{ root }}", "{{ root }}/tls"], "file_type": "any",
                                      "get_checksum": True}, "register": "found"},
            {"ansible.builtin.copy": {"content": "{{ found | to_json }}", "dest": "{{ root }}/found.json",
                                      "mode": "0644"}},
            {"ansible.builtin.copy": {"dest": "{{ root }}/verdicts.json", "mode": "0644", "content": (
                "{{ {'template': found | dbstack.galera.file_differs(root ~ '/galera.cnf', '%(owner)s', '%(group)s',"
                " '0644', lookup('ansible.builtin.template', 'conf.j2')),"
                " 'copy': found | dbstack.galera.file_differs(root ~ '/tls/client.cnf', '%(owner)s', '%(group)s',"
                " '0640', wanted),"
                " 'directory': found | dbstack.galera.file_differs(root ~ '/tls', '%(owner)s', '%(group)s', '0750',"
                " directory=true)} | to_json }}") % {"owner": OWNER, "group": GROUP}}},
        ],
    }])
    return {"root": tmp_path, "found": json.loads((tmp_path / "found.json").read_text()),
            "verdicts": json.loads((tmp_path / "verdicts.json").read_text())}


@pytest.fixture
def differs():
    return FilterModule().filters()["file_differs"]


def test_files_the_modules_wrote_are_in_place_as_ansible_sees_them(written):
    assert written["verdicts"] == {"template": False, "copy": False, "directory": False}


def test_the_same_verdicts_from_python(written, differs):
    root, found = str(written["root"]), written["found"]
    assert differs(found, f"{root}/tls/client.cnf", OWNER, GROUP, "0640", CONTENT) is False
    assert differs(found, f"{root}/tls/client.cnf", OWNER, GROUP, 0o640, CONTENT) is False
    assert differs(found, f"{root}/tls", OWNER, GROUP, "0750", directory=True) is False


@pytest.mark.parametrize("change", [
    {"content": CONTENT + "ssl-verify-server-cert = 1\n"},
    {"content": CONTENT.rstrip("\n")},
    {"mode": "0644"},
    {"owner": "nobody-such-user"},
    {"group": "nobody-such-group"},
])
def test_any_drift_of_a_file_means_a_write(written, differs, change):
    wanted = {"owner": OWNER, "group": GROUP, "mode": "0640", "content": CONTENT, **change}
    assert differs(written["found"], f"{written['root']}/tls/client.cnf", wanted["owner"], wanted["group"],
                   wanted["mode"], wanted["content"]) is True


def test_a_path_not_found_or_of_another_kind_means_a_write(written, differs):
    root, found = str(written["root"]), written["found"]
    assert differs(found, f"{root}/tls/server.key", OWNER, GROUP, "0640", "x") is True
    assert differs(found, f"{root}/tls", OWNER, GROUP, "0750", "x") is True
    assert differs(found, f"{root}/tls/client.cnf", OWNER, GROUP, "0640", directory=True) is True


def test_a_file_found_without_checksum_means_a_write(written, differs):
    entries = [{k: v for k, v in entry.items() if k != "checksum"} for entry in written["found"]["files"]]
    assert differs({"files": entries}, f"{written['root']}/tls/client.cnf", OWNER, GROUP, "0640", CONTENT) is True


def test_a_changed_file_on_disk_is_seen_by_the_next_find(written, tmp_path):
    """The end-to-end loop a role relies on: a drifted file is rewritten, then left alone."""
    target = tmp_path / "app.cnf"
    target.write_text("old\n")
    target.chmod(0o600)
    owner = {"owner": OWNER, "group": GROUP}
    result = run_playbook(tmp_path, [{
        "hosts": "localhost", "gather_facts": False, "vars": {"target": str(target), "wanted": CONTENT},
        "tasks": [
            {"ansible.builtin.find": {"paths": [str(tmp_path)], "patterns": ["app.cnf"], "file_type": "any",
                                      "get_checksum": True}, "register": "found"},
            {"name": "first write", "ansible.builtin.copy": {"content": "{{ wanted }}", "dest": "{{ target }}",
                                                             "mode": "0644", **owner},
             "when": "found | dbstack.galera.file_differs(target, '%s', '%s', '0644', wanted)" % (OWNER, GROUP)},
            {"ansible.builtin.find": {"paths": [str(tmp_path)], "patterns": ["app.cnf"], "file_type": "any",
                                      "get_checksum": True}, "register": "found"},
            {"name": "second write", "ansible.builtin.copy": {"content": "{{ wanted }}", "dest": "{{ target }}",
                                                              "mode": "0644", **owner},
             "when": "found | dbstack.galera.file_differs(target, '%s', '%s', '0644', wanted)" % (OWNER, GROUP)},
        ],
    }])
    assert target.read_text() == CONTENT and oct(target.stat().st_mode & 0o7777) == "0o644"
    first = result.stdout.split("TASK [first write]")[1].split("TASK [")[0]
    second = result.stdout.split("TASK [second write]")[1].split("PLAY RECAP")[0]
    assert "changed: [localhost]" in first, result.stdout
    assert "skipping: [localhost]" in second, result.stdout


def test_sidecar_renders_in_ansible_doc():
    assert "get_checksum" in ansible_doc("file_differs").stdout


def test_sidecar_examples_run_and_skip_the_second_write(tmp_path):
    """The examples write /tmp/dbstack-example.conf as root: run with this user's names instead."""
    examples = yaml.safe_load(yaml.safe_load(SIDECAR.read_text())["EXAMPLES"]
                              .replace("'root', 'root'", f"'{OWNER}', '{GROUP}'")
                              .replace("owner: root", f"owner: {OWNER}").replace("group: root", f"group: {GROUP}"))
    Path("/tmp/dbstack-example.conf").unlink(missing_ok=True)
    try:
        result = run_playbook(tmp_path, [{"hosts": "localhost", "gather_facts": False, "tasks": examples * 2}])
    finally:
        Path("/tmp/dbstack-example.conf").unlink(missing_ok=True)
    recap = result.stdout.split("PLAY RECAP")[1]
    assert "changed=1" in recap, result.stdout
    assert '"msg": true' in result.stdout, result.stdout
