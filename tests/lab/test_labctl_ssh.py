"""lab/labctl makes every lab reachable the way users' inventories reach their hosts: Ansible's ssh
connection as the unprivileged `deploy` with the lab's own key, its host keys checked, and sudo. When
that breaks (sshd down, the key refused or gone, no sudo), `up --keep` and `check` stop with one line per
host saying what to do, and `authorize` repairs the key and sudo without touching the host's data.
Runs real podman (root) on a two-host lab of its own."""

import os
import subprocess
from pathlib import Path

import pytest
from lab_cli import labctl

NAME, SUBNET = "dbstack-sshtest", "10.213.97.0/24"
HOSTS = "h1:test@11,h2:test@12"
BROKEN, FINE = f"{NAME}-h1", f"{NAME}-h2"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="rootful podman: run as root (CI does)")


def in_host(container, script):
    subprocess.run(["podman", "exec", container, "sh", "-c", script], check=True, capture_output=True)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    inventory = tmp_path_factory.mktemp("inventory") / "hosts.yml"
    ssh_dir = tmp_path_factory.mktemp("ssh")
    labctl("down", "--name", NAME)
    labctl("up", "--name", NAME, "--subnet", SUBNET, "--hosts", HOSTS, "--inventory", str(inventory),
           "--ssh-dir", str(ssh_dir))
    yield {"inventory": inventory, "ssh_dir": ssh_dir,
           "keep": ["up", "--name", NAME, "--subnet", SUBNET, "--hosts", HOSTS, "--inventory", str(inventory), "--keep"]}
    labctl("down", "--name", NAME)


def ansible_ping(inventory):
    """What the roles need of a host: a module run as root through sudo, over the inventory labctl wrote."""
    venv = Path(__file__).resolve().parents[2] / ".venv" / "bin"
    env = {**os.environ, "ANSIBLE_CONFIG": str(Path(__file__).resolve().parents[2] / "ansible.cfg")}
    return subprocess.run([str(venv / "ansible"), "-i", str(inventory), "all", "--become", "-m",
                           "ansible.builtin.command", "-a", "id -un"], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_ansible_logs_in_as_the_lab_user_and_becomes_root(lab):
    inventory = lab["inventory"].read_text()
    assert "ansible_connection" not in inventory and 'ansible_user: "deploy"' in inventory
    assert (lab["ssh_dir"] / "known_hosts").read_text().count("ssh-ed25519") == 2
    result = ansible_ping(lab["inventory"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("root") == 2, result.stdout


def test_root_cannot_log_in_and_hosts_have_keys_of_their_own(lab):
    keys = [subprocess.run(["podman", "exec", c, "cat", "/etc/ssh/ssh_host_ed25519_key.pub"], capture_output=True,
                           text=True, check=True).stdout.split()[1] for c in (BROKEN, FINE)]
    assert keys[0] != keys[1]
    ip = "10.213.97.11"
    refused = subprocess.run(["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={lab['ssh_dir']}/known_hosts",
                              "-i", str(lab["ssh_dir"] / "id_ed25519"), f"root@{ip}", "true"], capture_output=True,
                             text=True, check=False)
    assert refused.returncode == 255 and "Permission denied" in refused.stderr, refused.stderr


def test_sshd_down_is_named_with_the_host_and_what_to_do(lab):
    in_host(BROKEN, "systemctl stop ssh.service ssh.socket 2>/dev/null; systemctl stop ssh")
    try:
        result = labctl(*lab["keep"], check=False)
        assert result.returncode == 1
        assert (f"h1 (10.213.97.11, container {BROKEN}): sshd does not answer on port 22" in result.stderr
                and f"podman exec {BROKEN} systemctl status ssh" in result.stderr), result.stderr
        assert "h2 (" not in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    finally:
        in_host(BROKEN, "systemctl start ssh")
    labctl("check", "--name", NAME)


def test_a_refused_key_is_named_and_authorize_repairs_it_keeping_the_data(lab):
    in_host(BROKEN, "echo kept > /root/marker; : > /home/deploy/.ssh/authorized_keys")
    result = labctl("check", "--name", NAME, check=False)
    assert result.returncode == 1
    assert (f"h1 (10.213.97.11, container {BROKEN}): refuses the lab key {lab['ssh_dir']}/id_ed25519 for user deploy"
            in result.stderr and f"lab/labctl authorize --name {NAME}" in result.stderr), result.stderr
    labctl("authorize", "--name", NAME)
    labctl(*lab["keep"])
    assert subprocess.run(["podman", "exec", BROKEN, "cat", "/root/marker"], capture_output=True, text=True,
                          check=True).stdout == "kept\n"


def test_a_missing_key_is_named_and_authorize_makes_a_new_one(lab):
    key = lab["ssh_dir"] / "id_ed25519"
    old = key.read_text()
    key.unlink()
    result = labctl(*lab["keep"], check=False)
    assert result.returncode == 1
    assert f"the lab key {key} is missing" in result.stderr and f"lab/labctl authorize --name {NAME}" in result.stderr
    labctl("authorize", "--name", NAME)
    assert key.read_text() != old
    assert ansible_ping(lab["inventory"]).returncode == 0


def test_a_user_without_sudo_is_named(lab):
    in_host(FINE, "rm /etc/sudoers.d/deploy")
    result = labctl("check", "--name", NAME, check=False)
    assert result.returncode == 1
    assert (f"h2 (10.213.97.12, container {FINE}): user deploy has no passwordless sudo" in result.stderr
            and "/etc/sudoers.d/deploy" in result.stderr), result.stderr
    labctl("authorize", "--name", NAME)
    labctl("check", "--name", NAME)
