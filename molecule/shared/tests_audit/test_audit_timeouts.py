"""playbooks/audit_timeouts.yml against a converged scenario: it passes on what the collection deployed, and it
fails, naming the line, on a hand-written haproxy.cfg with `timeout client 50000` (50 s, not 50000 s).

The hand-written file goes to a COPY path on each HAProxy host (the audit reads audit_haproxy_config); the live
/etc/haproxy/haproxy.cfg is never touched, and the test checks that it is unchanged afterwards.

Wiring (molecule/<scenario>/molecule.yml; paths are relative to the scenario's tests/ directory):

    verifier:
      name: testinfra
      additional_files_or_dirs:
        - ../../shared/tests_audit/test_audit_timeouts.py

Inputs from the environment molecule gives its verifier: MOLECULE_INVENTORY_FILE (required; its directory, with
the group_vars molecule links next to it, is the inventory) and ANSIBLE_CONFIG. The inventory must set
dbstack_max_task_length (inventories/lab/group_vars/all.yml does). Optional: AUDIT_HAPROXY_GROUP /
AUDIT_GALERA_GROUP when the scenario renames the groups. Without molecule:
    MOLECULE_INVENTORY_FILE=/path/to/inventory/hosts.yml pytest molecule/shared/tests_audit
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from labdb import run_playbook

REPO_ROOT = Path(__file__).resolve().parents[3]
PLAYBOOK = REPO_ROOT / "playbooks" / "audit_timeouts.yml"
BIN = Path(sys.executable).parent
LIVE_CONFIG = "/etc/haproxy/haproxy.cfg"
COPY_PATH = "/tmp/dbstack-audit-handwritten-haproxy.cfg"

# How such files look in the wild: units forgotten, values inherited from an anonymous defaults section.
HANDWRITTEN = """\
global
    log /dev/log local0
defaults
    mode tcp
    log global
    timeout connect 5000
    timeout client 50000
    timeout server 50000
listen mysql
    bind 0.0.0.0:3306
    balance leastconn
    server galera1 127.0.0.1:3306 check
"""


def inventory_dir():
    inventory_file = os.environ.get("MOLECULE_INVENTORY_FILE")
    if not inventory_file:
        pytest.fail("MOLECULE_INVENTORY_FILE is not set; run through `molecule verify -s SCENARIO`, or set it to the "
                    "scenario's inventory file", pytrace=False)
    return str(Path(inventory_file).parent)


def groups():
    return {
        "haproxy": os.environ.get("AUDIT_HAPROXY_GROUP", "haproxy"),
        "galera": os.environ.get("AUDIT_GALERA_GROUP", "galera"),
    }


def ansible_env():
    env = dict(os.environ)
    env.setdefault("ANSIBLE_CONFIG", str(REPO_ROOT / "ansible.cfg"))
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO_ROOT / ".collections"))
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
               ANSIBLE_CALLBACK_RESULT_FORMAT="yaml", PATH=f"{BIN}:{env.get('PATH', '')}")
    return env


def run_audit(*extra_args):
    g = groups()
    result = run_playbook(PLAYBOOK, *extra_args, inventory=inventory_dir(), env=ansible_env(), check=False,
                          extra_vars={"audit_haproxy_group": g["haproxy"], "audit_galera_group": g["galera"]})
    # The YAML callback wraps long lines: compare words.
    return result, " ".join((result.stdout + result.stderr).split())


def adhoc(module, args):
    """An ansible ad-hoc call on the HAProxy group, as root (--become, as an operator would); returns
    {host: result} from the JSON callback."""
    env = ansible_env()
    env.update(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    # Arguments as JSON (ansible accepts a JSON object after -a), so the file content needs no quoting.
    arguments = ["-a", json.dumps(args)] if args else []
    result = subprocess.run([str(BIN / "ansible"), groups()["haproxy"], "-i", inventory_dir(), "--become", "-m",
                             module, *arguments],
                            capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return {host: task for play in json.loads(result.stdout)["plays"] for t in play["tasks"]
            for host, task in t["hosts"].items()}


@pytest.fixture(scope="module")
def haproxy_hosts():
    hosts = sorted(adhoc("ansible.builtin.ping", {}))
    assert hosts, f"group {groups()['haproxy']} has no hosts"
    return hosts


def vip_of_the_lab():
    """The VIP the scenario's inventory sets, as Ansible renders it ("" without one)."""
    env = ansible_env()
    env.update(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    result = subprocess.run([str(BIN / "ansible"), groups()["haproxy"], "-i", inventory_dir(), "-m",
                             "ansible.builtin.debug", "-a", json.dumps({"msg": "{{ dbstack_vip | default('') }}"})],
                            capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    values = {task["msg"] for play in json.loads(result.stdout)["plays"] for t in play["tasks"]
              for task in t["hosts"].values()}
    assert len(values) == 1, values
    return values.pop()


def live_checksums():
    return {host: r["stat"]["checksum"] for host, r in adhoc("ansible.builtin.stat", {"path": LIVE_CONFIG}).items()}


def test_audit_passes_on_the_collections_own_deployment(haproxy_hosts):
    result, output = run_audit()

    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS: every audited timeout" in output
    for host in haproxy_hosts:
        assert f"{host} mysql timeout client" in output
    held = adhoc("ansible.builtin.command", {"argv": ["ip", "-o", "-4", "addr", "show"]})
    vip = vip_of_the_lab()
    if vip:
        holders = [host for host, r in sorted(held.items()) if f" {vip}/" in r["stdout"]]
        assert (f"clients connect to the virtual IP {vip} (dbstack_vip), held now by {', '.join(holders)}; every "
                f"HAProxy host that can take it over is audited: {', '.join(haproxy_hosts)}") in output
    else:
        assert "no virtual IP (dbstack_vip): clients connect to these HAProxy hosts directly: " in output


def test_audit_passes_in_check_mode_and_changes_nothing(haproxy_hosts):
    before = live_checksums()
    result, output = run_audit("--check", "--diff")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "changed=0" in output and "changed=1" not in output
    assert live_checksums() == before


@pytest.fixture
def handwritten_copy(haproxy_hosts):
    """The hand-written configuration at a copy path on every HAProxy host, checked by that host's haproxy -c."""
    adhoc("ansible.builtin.copy", {"content": HANDWRITTEN, "dest": COPY_PATH, "mode": "0600"})
    try:
        checked = adhoc("ansible.builtin.command", {"argv": ["haproxy", "-c", "-f", COPY_PATH]})
        for host, r in checked.items():
            assert r["rc"] == 0, f"{host}: haproxy -c refused the hand-written copy: {r['stdout']}{r['stderr']}"
        yield COPY_PATH
    finally:
        adhoc("ansible.builtin.file", {"path": COPY_PATH, "state": "absent"})


def test_audit_fails_on_a_hand_written_config_and_names_the_line(haproxy_hosts, handwritten_copy):
    before = live_checksums()
    result, output = run_audit("-e", json.dumps({"audit_haproxy_config": handwritten_copy}))

    assert result.returncode != 0, result.stdout
    for host in haproxy_hosts:
        where = f"{host}:{handwritten_copy}:7 (anonymous defaults at line 3)"
        assert (f"{where}: 'timeout client 50000' = 50 s, not 50000 s: HAProxy reads a number without a unit as "
                f"MILLISECONDS.") in output, output[-3000:]
        assert (f"{where}: 'timeout client 50000' = 50 s is not longer than the longest task") in output
        assert f"{host}:{handwritten_copy}:8 (anonymous defaults at line 3): 'timeout server 50000' = 50 s" in output
    assert "finding(s):" in output
    assert "PASS:" not in output
    # The audit read the copy; the configuration HAProxy runs on is untouched.
    assert live_checksums() == before
