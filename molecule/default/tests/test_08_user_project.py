"""The third way the collection is used: built as an artifact, installed offline into someone else's
project, and its roles run from that project's own playbook, inventory and group_vars, under group
names of its own (db_nodes, lb_nodes, web), over SSH with Ansible's defaults (no pipelining) as an
account that becomes root with sudo. Run against the deployment site.yml made, it must find
nothing to change: the roles resolve the same hosts, addresses and settings from the user's layout
as from ours, without any path, group name or variable that only exists in this repository."""

import os
import re
import sys
import tarfile
from pathlib import Path

import yaml
from labdb import PROJECT, as_read, lab_ca_file, lab_vip, run_command, writer_name

THEIR_GROUPS = {"galera": "db_nodes", "haproxy": "lb_nodes", "app": "web"}

THEIR_PLAYBOOK = """\
# databases.yml in the user's own repository.
- name: Database tier
  hosts: db_nodes
  become: true
  any_errors_fatal: true
  roles:
    - role: dbstack.galera.mariadb_galera

- name: Load balancers in front of it
  hosts: lb_nodes
  become: true
  tasks:
    - name: HAProxy for the database tier
      ansible.builtin.include_role:
        name: dbstack.galera.haproxy
      vars:
        haproxy_group: lb_nodes
        haproxy_galera_group: db_nodes

    - name: One address for the applications
      ansible.builtin.include_role:
        name: dbstack.galera.keepalived
      vars:
        keepalived_group: lb_nodes
"""


def ansible_version() -> str:
    from ansible.release import __version__
    return __version__


def their_inventory(lab: dict) -> dict:
    """Their hosts by address, reached over SSH as the lab's sudo account with its key and known hosts."""
    children = {}
    for ours, theirs in THEIR_GROUPS.items():
        children[theirs] = {"hosts": {name: {"ansible_host": lab["hosts"][name]["ip"]}
                                      for name in lab["groups"][ours]}}
    login = next(iter(lab["hosts"].values()))["vars"]
    connection = {key: login[key] for key in ("ansible_user", "ansible_ssh_private_key_file", "ansible_ssh_common_args")}
    return {"all": {"vars": {**connection, "ansible_python_interpreter": "/usr/bin/python3"}, "children": children}}


def their_group_vars(lab: dict) -> dict[str, dict]:
    """The lab's settings, written the way a user keeps them: per group, with plain values."""
    ours = yaml.safe_load((PROJECT / "inventories" / "lab" / "group_vars" / "all.yml").read_text())
    ours["dbstack_vip"] = lab_vip(lab)
    # The CA that issued the running certificates, kept where the deployment made it: a PKI directory of
    # their own would be a CA the nodes do not trust, and the role stops before changing anything.
    ours["dbstack_tls_pki_dir"] = str(lab_ca_file().parent)
    database = {key: ours.pop(key) for key in list(ours) if key.startswith("mariadb_galera_")}
    database["mariadb_galera_group"] = "db_nodes"
    # The database and user the smoke app needs, spelled out rather than templated from smoke_app_*.
    database["mariadb_galera_databases"] = [{"name": ours["smoke_app_db_name"]}]
    database["mariadb_galera_users"] = [{"name": ours["smoke_app_db_user"], "password": ours["smoke_app_db_password"],
                                         "priv": f"{ours['smoke_app_db_name']}.*:ALL"}]
    return {"all": ours, "db_nodes": database}


def test_installed_artifact_converges_the_lab_from_a_users_project(lab, tmp_path):
    tools = Path(sys.executable).parent
    galaxy = yaml.safe_load((PROJECT / "galaxy.yml").read_text())
    build = run_command([tools / "ansible-galaxy", "collection", "build", "--output-path", tmp_path, PROJECT])
    artifact = tmp_path / f"dbstack-galera-{galaxy['version']}.tar.gz"
    assert artifact.is_file(), build.stdout
    # What a user needs, and nothing of the lab, the benchmarks, CI or the development tooling.
    with tarfile.open(artifact) as contents:
        shipped = {name.split("/")[0] for name in contents.getnames()}
    assert shipped == {"MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.rst", "changelogs", "docs", "meta",
                       "playbooks", "plugins", "roles"}, sorted(shipped)

    project = tmp_path / "their-infra"
    (project / "inventory" / "group_vars").mkdir(parents=True)
    (project / "ansible.cfg").write_text("[defaults]\ninventory = inventory/hosts.yml\ncollections_path = ./collections\n")
    (project / "inventory" / "hosts.yml").write_text(yaml.safe_dump(their_inventory(lab)))
    group_vars = their_group_vars(lab)
    for group, settings in group_vars.items():
        (project / "inventory" / "group_vars" / f"{group}.yml").write_text(yaml.safe_dump(settings))
    (project / "databases.yml").write_text(THEIR_PLAYBOOK)
    # Only the user's project: none of this repository's configuration or collection links.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "MOLECULE_"))}
    env.update(ANSIBLE_FORCE_COLOR="0", ANSIBLE_CONFIG=str(project / "ansible.cfg"))

    # Offline: the dependencies (ansible.mariadb, community.general) come from what is installed.
    install = run_command([tools / "ansible-galaxy", "collection", "install", "--offline", "-p", "collections",
                           artifact], cwd=project, env=env)
    assert f"dbstack.galera:{galaxy['version']} was installed successfully" in install.stdout, install.stdout
    listed = run_command([tools / "ansible-galaxy", "collection", "list", "dbstack.galera"], cwd=project, env=env)
    assert str(project / "collections" / "ansible_collections") in listed.stdout, listed.stdout

    deploy = run_command([tools / "ansible-playbook", "databases.yml"], cwd=project, env=env, check=False)
    output = deploy.stdout + deploy.stderr
    assert deploy.returncode == 0, output[-6000:]
    recaps = dict(re.findall(r"^(\S+)\s*: ok=\d+\s+changed=(\d+)", deploy.stdout, re.MULTILINE))
    expected = {name for ours in ("galera", "haproxy") for name in lab["groups"][ours]}
    assert set(recaps) == expected, deploy.stdout[-3000:]
    assert set(recaps.values()) == {"0"}, as_read(deploy.stdout)[-6000:]
    assert "[DEPRECATION WARNING]" not in output and "[WARNING]" not in output, output[-6000:]
    # And the application's account still gets through the VIP to a node.
    user = group_vars["db_nodes"]["mariadb_galera_users"][0]
    account = {"user": user["name"], "password": user["password"],
               "database": group_vars["db_nodes"]["mariadb_galera_databases"][0]["name"]}
    assert writer_name(lab, account) in lab["groups"]["galera"]
    print(f"\nuser project (ansible-core {ansible_version()}): artifact {artifact.name} "
          f"({artifact.stat().st_size // 1024} KiB) installed offline, databases.yml on "
          f"{len(recaps)} hosts: changed=0 everywhere, no warning")
