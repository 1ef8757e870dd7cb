"""A new user's first deployment, from the README alone: the "minimal inventory" of README.md, taken from
it verbatim (so the two cannot drift), with only the host addresses and the VIP filled in for a lab of
its own, deploys with `ansible-playbook playbooks/site.yml -i inventory` in a project of the user's
(their ansible.cfg, their vault variables, their own group names as the README sets them), over SSH
as an unprivileged account with sudo, and a second run changes nothing. The app hosts get the
db_client files and nothing of the smoke app. Runs real podman (root) on seven hosts."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
LABCTL = REPO / "lab" / "labctl"
NAME, SUBNET = "dbstack-readme", "10.213.60.0/24"
VAULT = {"vault_sst_password": "readme-sst-secret", "vault_app_password": "readme-app-secret"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="rootful podman: run as root (CI does)")


def readme_inventory() -> dict:
    """The one ```yaml block of README.md that is an inventory (all: with children:)."""
    blocks = re.findall(r"^```yaml\n(.*?)^```", (REPO / "README.md").read_text(), re.MULTILINE | re.DOTALL)
    inventories = [data for data in map(yaml.safe_load, blocks)
                   if isinstance(data, dict) and "children" in (data.get("all") or {})]
    assert len(inventories) == 1, f"README.md has {len(inventories)} inventory examples, the test reads one"
    return inventories[0]


def labctl(*args: str) -> None:
    result = subprocess.run([str(LABCTL), *args], capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    inventory = readme_inventory()
    groups = {group: list((spec or {}).get("hosts") or {}) for group, spec in inventory["all"]["children"].items()}
    spec = ",".join(f"{host}:{group}" for group, hosts in groups.items() for host in hosts)
    work = tmp_path_factory.mktemp("readme")
    labctl("down", "--name", NAME)
    labctl("up", "--name", NAME, "--subnet", SUBNET, "--hosts", spec, "--inventory", str(work / "lab-hosts.yml"),
           "--json", str(work / "lab.json"), "--ssh-dir", str(work / "ssh"))
    lab = json.loads((work / "lab.json").read_text())
    addresses = {host["host"]: host["ip"] for host in lab["hosts"]}
    vip = str(ipaddress.ip_network(SUBNET).network_address + 100)

    # Filled in: each host's address and the VIP (the README's are examples from another network).
    for group in groups:
        for host in groups[group]:
            inventory["all"]["children"][group]["hosts"][host] = {"ansible_host": addresses[host]}
    inventory["all"]["vars"]["dbstack_vip"] = vip
    project = work / "their-infra"
    (project / "inventory" / "group_vars" / "all").mkdir(parents=True)
    (project / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    # Where a user keeps the README's vault_* variables (plain here: throw-away hosts).
    (project / "inventory" / "group_vars" / "all" / "vault.yml").write_text(yaml.safe_dump(VAULT))
    # The login a user's ansible.cfg gives: their account with its key, host keys checked.
    (project / "ansible.cfg").write_text(
        "[defaults]\n"
        "inventory = inventory/hosts.yml\n"
        f"collections_path = {REPO / '.collections'}\n"
        f"remote_user = {lab['user']}\n"
        f"private_key_file = {lab['ssh_key']}\n"
        "[connection]\npipelining = true\n"
        "[ssh_connection]\n"
        f"ssh_args = -o ControlMaster=auto -o ControlPersist=60s {lab['ssh_args']}\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "MOLECULE_"))}
    env.update(ANSIBLE_CONFIG=str(project / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0")

    def site():
        return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(REPO / "playbooks" / "site.yml"),
                               "-i", "inventory"], cwd=project, env=env, capture_output=True, text=True,
                              timeout=3600, check=False)

    yield {"site": site, "lab": lab, "groups": groups, "vip": vip, "project": project, "inventory": inventory}
    labctl("down", "--name", NAME)


def recaps(output: str) -> dict[str, int]:
    return {host: int(changed) for host, changed in re.findall(r"^(\S+)\s*: ok=\d+\s+changed=(\d+)", output, re.MULTILINE)}


def in_host(lab: dict, host: str, command: str) -> subprocess.CompletedProcess:
    container = next(h["container"] for h in lab["hosts"] if h["host"] == host)
    return subprocess.run(["podman", "exec", container, "sh", "-c", command], capture_output=True, text=True,
                          check=False)


def test_the_readme_inventory_deploys_then_a_rerun_changes_nothing(deployment):
    first = deployment["site"]()
    assert first.returncode == 0, (first.stdout + first.stderr)[-8000:]
    every_host = {host for hosts in deployment["groups"].values() for host in hosts}
    assert set(recaps(first.stdout)) == every_host, first.stdout[-3000:]
    second = deployment["site"]()
    assert second.returncode == 0, (second.stdout + second.stderr)[-8000:]
    changed = {host: count for host, count in recaps(second.stdout).items() if count}
    assert changed == {}, second.stdout[-8000:]
    print(f"\nREADME inventory: {len(every_host)} hosts deployed, re-run changed=0 everywhere")


def test_the_app_hosts_get_the_client_files_and_nothing_of_the_smoke_app(deployment):
    settings = deployment["inventory"]["all"]["vars"]
    for host in deployment["groups"][settings["dbstack_app_group"]]:
        env = in_host(deployment["lab"], host, "cat /etc/dbstack/db.env")
        assert env.returncode == 0, env.stderr
        assert f"DBSTACK_DB_HOST={deployment['vip']}\n" in env.stdout, env.stdout
        assert "DBSTACK_CELERY_TASK_TIME_LIMIT=900\n" in env.stdout, env.stdout
        for absent in ("dpkg -s redis-server", "test -e /opt/dbstack-smoke", "systemctl cat dbstack-smoke-worker"):
            assert in_host(deployment["lab"], host, absent).returncode != 0, f"{host}: {absent}"


def test_the_readme_account_reaches_the_database_through_the_vip_with_verified_tls(deployment):
    account = deployment["inventory"]["all"]["vars"]["mariadb_galera_users"][0]
    bundle = deployment["project"] / "inventory-dbstack-pki" / "ca-bundle.pem"
    connection = pymysql.connect(host=deployment["vip"], user=account["name"], password=VAULT["vault_app_password"],
                                 database=deployment["inventory"]["all"]["vars"]["mariadb_galera_databases"][0]["name"],
                                 ssl={"ca": str(bundle)}, connect_timeout=10)
    with connection, connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
        assert cursor.fetchone()[1] in ("TLSv1.2", "TLSv1.3")
        cursor.execute("SHOW STATUS LIKE 'wsrep_cluster_size'")
        assert cursor.fetchone()[1] == str(len(deployment["groups"][deployment["inventory"]["all"]["vars"]["dbstack_galera_group"]]))
