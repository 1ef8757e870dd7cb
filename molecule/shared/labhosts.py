"""pytest plugin for every scenario's testinfra tests: lab hosts through testinfra's podman backend.

Ansible reaches the lab hosts over SSH, as users' inventories do; the tests look at them from the
console instead. Molecule runs testinfra with `--connection=ansible`, which routes every command
through an Ansible run (~100 s for five trivial tests), and a drill that cuts a host off the network
or stops its sshd would cut the tests off with it. This plugin reads the scenario's inventory once
and hands testinfra `podman://CONTAINER` hosts (dbstack_lab_container), one `podman exec` per command.

Loaded by the verifier env in molecule.yml (PYTHONPATH=molecule/shared, PYTEST_ADDOPTS=-p labhosts).
In a test module:
    testinfra_hosts = ["galera"]      # inventory group or host names; omit for every host
    def test_x(host, lab_host, lab):  # lab_host: this host's inventory entry; lab: all of them

A scenario run again on an older ansible-core (scripts/test.sh SCENARIO@CORE sets
DBSTACK_OLDER_CORE) skips the tests marked `measures_the_deployment`: they check what MariaDB,
HAProxy or keepalived do with the files the roles wrote (clients, failovers), not what Ansible does,
so the run with the newest ansible-core answers them; and the `drill`s, which break the cluster
under a writer. What Ansible does (converging, idempotence, messages, playbooks, the installed
artifact) runs on every core.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "measures_the_deployment: checks MariaDB, HAProxy or keepalived, not "
                                       "Ansible; skipped on an older ansible-core's run (DBSTACK_OLDER_CORE)")
    config.addinivalue_line("markers", "drill: breaks the cluster on purpose and brings it back under a writer; "
                                       "skipped on an older ansible-core's run (DBSTACK_OLDER_CORE)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    core = os.environ.get("DBSTACK_OLDER_CORE")
    if not core:
        return
    skip = pytest.mark.skip(reason=f"measures the deployment, not Ansible: the newest ansible-core's run checks it "
                                   f"(this run: ansible-core {core})")
    for item in items:
        if item.get_closest_marker("measures_the_deployment") or item.get_closest_marker("drill"):
            item.add_marker(skip)


@lru_cache(maxsize=1)
def inventory() -> dict:
    """The scenario inventory as Ansible sees it: {'hosts': {name: vars}, 'groups': {group: [names]}}."""
    inv_file = os.environ.get("MOLECULE_INVENTORY_FILE")
    if not inv_file:
        raise pytest.UsageError("labhosts: MOLECULE_INVENTORY_FILE is not set; run these tests through "
                                "`molecule verify -s SCENARIO`.")
    exe = shutil.which("ansible-inventory", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    proc = subprocess.run([exe or "ansible-inventory", "-i", str(Path(inv_file).parent), "--list"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise pytest.UsageError(f"labhosts: ansible-inventory failed: {proc.stderr.strip()[-500:]}")
    data = json.loads(proc.stdout)
    hostvars = data.get("_meta", {}).get("hostvars", {})
    groups = {g: sorted(v.get("hosts", [])) for g, v in data.items()
              if g != "_meta" and isinstance(v, dict) and v.get("hosts")}
    if not hostvars:
        raise pytest.UsageError("labhosts: the scenario inventory has no hosts; did `molecule create` run?")
    hosts = {}
    for name, hv in hostvars.items():
        if "dbstack_lab_ip" not in hv:
            raise pytest.UsageError(f"labhosts: host {name} has no dbstack_lab_ip; the lab inventory "
                                    "written by lab/labctl up is missing (re-run `molecule create`).")
        hosts[name] = {"name": name, "container": hv["dbstack_lab_container"], "ip": hv["dbstack_lab_ip"],
                       "groups": sorted(g for g, members in groups.items() if name in members and g != "all"),
                       "vars": hv}
    return {"hosts": hosts, "groups": groups}


def hosts(*names: str) -> list[str]:
    """testinfra host specs for inventory groups or host names (all hosts when none given)."""
    inv = inventory()
    picked: list[str] = []
    for n in names or ("all",):
        if n in inv["hosts"]:
            members = [n]
        elif n == "all":
            members = sorted(inv["hosts"])
        elif n in inv["groups"]:
            members = inv["groups"][n]
        else:
            raise pytest.UsageError(f"labhosts: {n!r} is neither a host nor a group of the scenario inventory "
                                    f"(groups: {', '.join(sorted(inv['groups']))}).")
        picked += [m for m in members if m not in picked]
    return [f"podman://{inv['hosts'][m]['container']}" for m in picked]


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "_testinfra_host" not in metafunc.fixturenames or metafunc.config.option.hosts:
        return
    wanted = getattr(metafunc.module, "testinfra_hosts", None) or ["all"]
    if all("://" in spec for spec in wanted):
        return
    metafunc.module.testinfra_hosts = hosts(*[s for s in wanted if "://" not in s]) + \
        [s for s in wanted if "://" in s]


@pytest.fixture(scope="session")
def lab() -> dict:
    """Every host of the scenario: {'hosts': {name: {name, container, ip, groups, vars}}, 'groups': ...}."""
    return inventory()


@pytest.fixture(scope="module")
def lab_host(host, lab) -> dict:
    """The inventory entry of the host under test."""
    container = host.backend.name
    for entry in lab["hosts"].values():
        if entry["container"] == container:
            return entry
    raise LookupError(f"container {container} is not in the scenario inventory")
