"""Paths, names and limits of the lab, and the helpers every labctl command uses: messages, running a command with an error that names the fix, root."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
LABEL = "dbstack.lab"
DEFAULT_NAME = "dbstack-lab"
DEFAULT_SUBNET = "10.213.10.0/24"
DEFAULT_HOSTS = "galera1:galera,galera2:galera,galera3:galera,haproxy1:haproxy,haproxy2:haproxy,app1:app+backup"
RELEASES = ("bookworm", "trixie")
IMAGE_BASE = "localhost/dbstack-lab/debian"
IMAGE_SYSTEMD = "localhost/dbstack-lab/debian-systemd"
MIRROR = os.environ.get("LABCTL_MIRROR", "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get("LABCTL_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
CONTAINERS_CONF = Path("/etc/containers/containers.conf")
# systemd in every lab host watches files with inotify; the kernel's default of 128 instances per user
# (every container's root is the host's root) runs out with two dozen hosts up, and systemd units then
# fail to start (measured: make test's five labs, units failed with the limit at 128).
SYSCTL_CONF = Path("/etc/sysctl.d/60-dbstack-lab.conf")
SYSCTLS = {"fs.inotify.max_user_instances": 8192, "fs.inotify.max_user_watches": 1048576}
# What the lab needs on the machine that runs it: podman and its helpers, debootstrap for the images,
# and the ssh client Ansible reaches the hosts with.
LAB_HOST_PACKAGES = (
    "podman", "runc", "iptables", "netavark", "aardvark-dns", "catatonit", "buildah",
    "debootstrap", "openssh-client",
)
# What the integration tests run on the machine itself: the real `haproxy` (rendered configurations
# checked and measured on loopback) and tcpdump (the TLS tests search captures of the lab network).
TEST_HOST_PACKAGES = ("haproxy", "tcpdump")
HOST_PACKAGES = LAB_HOST_PACKAGES + TEST_HOST_PACKAGES
# What every lab host needs before any role runs: systemd as PID 1, what Ansible needs (sshd,
# python3, python3-apt, sudo), and the tools tests and partition drills use.
IMAGE_PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "python3-apt", "iproute2", "procps",
    "sudo", "ca-certificates", "iputils-ping", "iptables", "less",
)
# The unprivileged account Ansible logs in as on every lab host, with passwordless sudo: what a
# production inventory's `ansible_user` usually is.
LAB_USER = "deploy"
# Units that either cannot work in a container (no ttys, no udev, no seats) or only slow boot.
MASKED_UNITS = (
    "getty.target", "console-getty.service", "getty@tty1.service", "serial-getty@.service",
    "systemd-ask-password-console.path", "systemd-ask-password-wall.path",
    "systemd-udevd.service", "systemd-udevd-control.socket", "systemd-udevd-kernel.socket",
    "systemd-udev-trigger.service", "systemd-udev-settle.service", "systemd-logind.service",
    "systemd-remount-fs.service", "systemd-firstboot.service", "sys-kernel-config.mount",
    "sys-kernel-debug.mount", "sys-kernel-tracing.mount", "dev-hugepages.mount",
    "sys-fs-fuse-connections.mount", "systemd-hwdb-update.service", "e2scrub_reap.service",
    "apt-daily.timer", "apt-daily-upgrade.timer", "systemd-modules-load.service",
    "proc-sys-fs-binfmt_misc.automount", "systemd-binfmt.service",
)
# First host of each well-known group gets .11/.21/.31; other groups follow from .41 in steps of 10.
GROUP_BASE = {"galera": 11, "haproxy": 21, "app": 31}
NPROC_LIMIT = 32768
BOOT_TIMEOUT = 180

_print_lock = threading.Lock()


class LabError(Exception):
    """A failure with a message telling the user what to do; printed without a traceback."""


def say(msg: str) -> None:
    with _print_lock:
        print(f"labctl: {msg}", flush=True)


def warn(msg: str) -> None:
    with _print_lock:
        print(f"labctl: WARNING: {msg}", file=sys.stderr, flush=True)


def tail(text: str, lines: int = 8) -> str:
    kept = [line for line in (text or "").strip().splitlines() if line.strip()][-lines:]
    return "\n    ".join(kept)


def run(cmd: list[str], *, check: bool = True, what: str | None = None, hint: str = "",
        timeout: float | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run a command capturing output; on failure raise LabError naming the step and the fix."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    except FileNotFoundError as e:
        raise LabError(f"{cmd[0]} is not installed. Run `lab/labctl prepare-host` (as root) first.") from e
    except subprocess.TimeoutExpired as e:
        raise LabError(f"{what or shlex.join(cmd)} did not finish within {timeout:.0f} s. {hint}") from e
    if check and proc.returncode != 0:
        detail = tail(proc.stderr) or tail(proc.stdout)
        raise LabError(f"{what or shlex.join(cmd)} failed (exit {proc.returncode}):\n    {detail}"
                       + (f"\n  {hint}" if hint else ""))
    return proc


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("this needs root (rootful podman, apt, /etc/containers). Re-run with sudo.")


def mirror_hint() -> str:
    return (f"Check that the Debian mirror {MIRROR} is reachable from this machine "
            "(or point LABCTL_MIRROR at a reachable one) and run the command again.")
