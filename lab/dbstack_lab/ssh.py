"""How Ansible reaches a lab's hosts: over SSH, as the unprivileged account LAB_USER with passwordless
sudo, the way a production inventory reaches its servers.

Each lab has a directory of its own (`.lab/NAME/ssh` unless --ssh-dir says otherwise) holding its client
key (id_ed25519, made on the first `up`) and a known_hosts file with every host's own host key, read
from the host when it is created. The image (images.py) brings sshd, the account and its sudo rule;
`up` authorizes the lab's key on each new host; `probe` logs in to every host and runs `sudo -n true`,
turning each way that can fail into one line naming the host and what to do.
"""

from __future__ import annotations

import concurrent.futures
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from .common import LAB_USER, LabError, REPO, say

KEY_NAME = "id_ed25519"
# sshd starts with the rest of multi-user.target; a host whose systemd said `running` answers at once,
# one that was just started may need a moment.
CONNECT_WAIT = 5.0


def default_ssh_dir(name: str) -> Path:
    return REPO / ".lab" / name / "ssh"


def key_file(ssh_dir: Path) -> Path:
    return ssh_dir / KEY_NAME


def known_hosts_file(ssh_dir: Path) -> Path:
    return ssh_dir / "known_hosts"


def ssh_options(ssh_dir: Path) -> list[str]:
    """What every ssh to a lab host needs beyond the user's defaults: the lab's own known_hosts (checked
    strictly: a lab host is never trusted on first use) and only the lab's key."""
    return ["-o", f"UserKnownHostsFile={known_hosts_file(ssh_dir)}", "-o", "StrictHostKeyChecking=yes",
            "-o", "IdentitiesOnly=yes"]


def ensure_key(name: str, ssh_dir: Path) -> str:
    """The lab's client key (made when missing); returns its public half."""
    if not shutil.which("ssh-keygen"):
        raise LabError("ssh-keygen is not installed (package openssh-client). Run `lab/labctl prepare-host` (as root).")
    key = key_file(ssh_dir)
    if not key.exists():
        ssh_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        key.with_suffix(".pub").unlink(missing_ok=True)
        proc = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"dbstack lab {name}",
                               "-f", str(key)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise LabError(f"ssh-keygen could not make the lab key {key}: {proc.stderr.strip()}")
        say(f"made the lab key {key}")
    public = key.with_suffix(".pub")
    if not public.exists():
        proc = subprocess.run(["ssh-keygen", "-y", "-f", str(key)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise LabError(f"{key} is not a private key ssh-keygen can read ({proc.stderr.strip()}); delete it and "
                           f"run `lab/labctl authorize --name {name}`.")
        public.write_text(proc.stdout)
    return public.read_text().strip()


def authorize_host(container: str, public_key: str) -> str:
    """Install the lab key for LAB_USER in one host (replacing any other) with the account's sudo rule (as
    the image has it), and return the host's ed25519 host key, as `ssh-ed25519 AAAA...`."""
    home = f"/home/{LAB_USER}"
    script = (f"set -e; printf '%s\\n' '{LAB_USER} ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/{LAB_USER}; "
              f"chmod 0440 /etc/sudoers.d/{LAB_USER}; "
              f"install -d -m 700 -o {LAB_USER} -g {LAB_USER} {home}/.ssh; "
              f"umask 077; cat > {home}/.ssh/authorized_keys.new; "
              f"chown {LAB_USER}:{LAB_USER} {home}/.ssh/authorized_keys.new; "
              f"mv {home}/.ssh/authorized_keys.new {home}/.ssh/authorized_keys; "
              f"test -s /etc/ssh/ssh_host_ed25519_key.pub || ssh-keygen -A >/dev/null; "
              "cat /etc/ssh/ssh_host_ed25519_key.pub")
    proc = subprocess.run(["podman", "exec", "-i", container, "sh", "-c", script], input=public_key + "\n",
                          capture_output=True, text=True, timeout=60, check=False)
    host_key = " ".join(proc.stdout.split()[:2])
    if proc.returncode != 0 or not host_key.startswith("ssh-ed25519 "):
        raise LabError(f"could not authorize the lab key in {container} (exit {proc.returncode}): "
                       f"{(proc.stderr or proc.stdout).strip()[-300:]}. Is it a lab host with sshd and the "
                       f"{LAB_USER} account (an image older than labctl)? `lab/labctl images --rebuild` and a new lab fix that.")
    return host_key


def read_host_key(container: str) -> str:
    proc = subprocess.run(["podman", "exec", container, "cat", "/etc/ssh/ssh_host_ed25519_key.pub"],
                          capture_output=True, text=True, timeout=60, check=False)
    return " ".join(proc.stdout.split()[:2]) if proc.returncode == 0 else ""


def write_known_hosts(ssh_dir: Path, hosts: list[dict]) -> None:
    lines = [f"{h['ip']} {h['host_key']}" for h in hosts if h.get("host_key")]
    path = known_hosts_file(ssh_dir)
    ssh_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def authorize(name: str, ssh_dir: Path, hosts: list[dict]) -> None:
    """Authorize the lab key on every host and record their host keys (new hosts, or `labctl authorize`)."""
    public_key = ensure_key(name, ssh_dir)
    with concurrent.futures.ThreadPoolExecutor(len(hosts)) as pool:
        keys = list(pool.map(lambda h: authorize_host(h["container"], public_key), hosts))
    for h, host_key in zip(hosts, keys):
        h["host_key"] = host_key
    write_known_hosts(ssh_dir, hosts)


def refresh_known_hosts(ssh_dir: Path, hosts: list[dict]) -> None:
    """A kept lab: its hosts' keys as they are now (what the probe then checks against)."""
    with concurrent.futures.ThreadPoolExecutor(len(hosts)) as pool:
        keys = list(pool.map(lambda h: read_host_key(h["container"]), hosts))
    for h, host_key in zip(hosts, keys):
        h["host_key"] = host_key
    write_known_hosts(ssh_dir, hosts)


def ssh_command(ssh_dir: Path, ip: str, *remote: str) -> list[str]:
    return ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", *ssh_options(ssh_dir),
            "-i", str(key_file(ssh_dir)), "-l", LAB_USER, ip, *remote]


def diagnose(name: str, h: dict, ssh_dir: Path, proc: subprocess.CompletedProcess) -> str:
    """One line for a host that failed the probe: what is wrong and what to do."""
    who = f"{h['host']} ({h['ip']}, container {h['container']})"
    err = proc.stderr.strip()
    if proc.returncode == 255:
        if re.search(r"Connection refused|Connection timed out|No route to host|Connection closed|reset by peer", err):
            return (f"{who}: sshd does not answer on port 22 ({err.splitlines()[-1]}). See why with "
                    f"`podman exec {h['container']} systemctl status ssh`; `systemctl start ssh` there, or recreate the lab.")
        if "Host key verification failed" in err or "IDENTIFICATION HAS CHANGED" in err:
            return (f"{who}: its host key is not the one in {known_hosts_file(ssh_dir)}. "
                    f"`lab/labctl authorize --name {name}` records the keys the hosts have now.")
        if "Permission denied" in err or "Too many authentication failures" in err:
            return (f"{who}: refuses the lab key {key_file(ssh_dir)} for user {LAB_USER}. "
                    f"`lab/labctl authorize --name {name}` installs it again (the lab's data stays).")
        return f"{who}: ssh failed: {err[-300:]}"
    if "password is required" in err or "not in the sudoers" in err or "not allowed" in err:
        return (f"{who}: user {LAB_USER} has no passwordless sudo ({err.splitlines()[-1]}). The image grants it in "
                f"/etc/sudoers.d/{LAB_USER}; `lab/labctl authorize --name {name}` puts that file back.")
    return f"{who}: `sudo -n true` as {LAB_USER} failed (exit {proc.returncode}): {err[-300:]}"


def probe_host(ssh_dir: Path, h: dict) -> subprocess.CompletedProcess:
    deadline = time.monotonic() + CONNECT_WAIT
    while True:
        proc = subprocess.run(ssh_command(ssh_dir, h["ip"], "sudo", "-n", "true"), capture_output=True, text=True,
                              timeout=60, check=False)
        refused = proc.returncode == 255 and re.search(
            r"Connection refused|Connection reset|closed by remote", proc.stderr)
        if not refused or time.monotonic() > deadline:
            return proc
        time.sleep(0.5)


def probe(name: str, ssh_dir: Path, hosts: list[dict]) -> None:
    """Log in to every host as LAB_USER with the lab key and its known host key, and sudo; every host that
    fails is named with what to do, in one error."""
    if not shutil.which("ssh"):
        raise LabError("ssh is not installed (package openssh-client). Run `lab/labctl prepare-host` (as root).")
    if not key_file(ssh_dir).exists():
        raise LabError(f"the lab key {key_file(ssh_dir)} is missing, so Ansible cannot log in to lab {name}. "
                       f"`lab/labctl authorize --name {name}` makes a new one and installs it (the lab's data stays).")
    with concurrent.futures.ThreadPoolExecutor(len(hosts)) as pool:
        results = list(pool.map(lambda h: probe_host(ssh_dir, h), hosts))
    problems = [diagnose(name, h, ssh_dir, proc) for h, proc in zip(hosts, results) if proc.returncode != 0]
    if problems:
        raise LabError(f"Ansible could not reach {len(problems)} host(s) of lab {name} over SSH:\n  - "
                       + "\n  - ".join(problems))


def inventory_vars(ssh_dir: Path) -> dict:
    """The connection variables of a lab's inventory: Ansible's default ssh connection as LAB_USER."""
    return {"ansible_user": LAB_USER, "ansible_ssh_private_key_file": str(key_file(ssh_dir)),
            "ansible_ssh_common_args": shlex.join(ssh_options(ssh_dir))}


def remove(ssh_dir: Path) -> None:
    """A removed lab's key and known_hosts; the `.lab/NAME` directory too once nothing else is in it."""
    shutil.rmtree(ssh_dir, ignore_errors=True)
    if ssh_dir.parent.parent == REPO / ".lab":
        try:
            ssh_dir.parent.rmdir()
        except OSError:
            pass
