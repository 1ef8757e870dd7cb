"""up, down and status: the lab network and its systemd containers, kept when they already have the asked shape."""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from . import ssh
from .common import (
    BOOT_TIMEOUT, DEFAULT_NAME, DEFAULT_SUBNET, IMAGE_SYSTEMD, LAB_USER, LABEL, LabError, RELEASES, require_root, run,
    say, tail, warn,
)
from .host import require_host_ready
from .images import ensure_images, ulimit_args
from .inventory import assign_ips, default_inventory, parse_hosts, write_inventory


def podman_json(cmd: list[str]) -> list:
    proc = run(cmd, what=shlex.join(cmd), timeout=60,
               hint="podman is not working; run `lab/labctl prepare-host`.")
    return json.loads(proc.stdout or "[]") or []


def containers_all() -> list[dict]:
    """Every container podman knows: {name, labels, state}."""
    out = []
    for c in podman_json(["podman", "ps", "-a", "--format", "json"]):
        names = c.get("Names") or []
        out.append({"name": names[0] if names else c.get("Id", "")[:12],
                    "labels": c.get("Labels") or {}, "state": c.get("State", "")})
    return out


def networks_all() -> list[dict]:
    return podman_json(["podman", "network", "ls", "--format", "json"])


def validate_name(name: str) -> None:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,40}", name):
        raise LabError(f"--name {name!r} must be lowercase letters, digits, '-', '_' or '.' (at most 41 chars).")


def container_exists(name: str) -> bool:
    return subprocess.run(["podman", "container", "exists", name], check=False).returncode == 0


CGROUP_V1_CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def hosts_cpu(names: list[str]) -> tuple[float, float] | None:
    """(CPU seconds the running hosts used, seconds the oldest has run), read from cgroup v1's cpuacct
    before they go; None where that cannot be read (cgroup v2, a host not running)."""
    if not names or not CGROUP_V1_CPUACCT.is_dir():
        return None
    proc = subprocess.run(["podman", "inspect", "--format", "{{.State.CgroupPath}}|{{.State.StartedAt}}", *names],
                          capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        return None
    used, oldest = 0.0, 0.0
    for line in proc.stdout.splitlines():
        cgroup, _bar, started = line.partition("|")
        usage = CGROUP_V1_CPUACCT / cgroup.lstrip("/") / "cpuacct.usage"
        try:
            used += int(usage.read_text()) / 1e9
            started_at = time.mktime(time.strptime(started[:19], "%Y-%m-%d %H:%M:%S")) - time.timezone
        except (OSError, ValueError):
            return None
        oldest = max(oldest, time.time() - started_at)
    return used, oldest


def report_hosts_cpu(name: str, names: list[str]) -> None:
    """Says what the lab's hosts cost in CPU over their life, and appends it to DBSTACK_LAB_CPU_LOG
    (scripts/test.sh sums a run's labs from it): idle lab hosts are part of what a test run costs."""
    cpu = hosts_cpu(names)
    if cpu is None:
        return
    used, lived = cpu
    say(f"lab {name}: its {len(names)} host(s) used {used:.0f} CPU s in {lived:.0f} s")
    log = os.environ.get("DBSTACK_LAB_CPU_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{name}\t{len(names)}\t{used:.0f}\t{lived:.0f}\n")


def remove_lab(name: str) -> tuple[list[str], bool]:
    """Remove this lab's containers (by label) and its network (by name and label). Idempotent."""
    found = [c for c in containers_all() if c["labels"].get(LABEL) == name]
    ours = [c["name"] for c in found]
    report_hosts_cpu(name, [c["name"] for c in found if c["state"] == "running"])
    if ours:
        # SIGRTMIN+3 makes systemd shut down at once; 2 s is plenty for a throwaway host.
        proc = run(["podman", "rm", "-f", "-t", "2", *ours], check=False, timeout=120)
        if proc.returncode != 0:
            # podman 4.3 races with a container that finishes its own shutdown just as the stop
            # timeout sends SIGKILL ("container state improper: stopped"); it is stopped by then,
            # so a second rm removes it.
            left = [c for c in ours if container_exists(c)]
            if left:
                run(["podman", "rm", "-f", "-t", "2", *left], what=f"removing containers of lab {name}",
                    timeout=120)
    removed_net = False
    for net in networks_all():
        if net.get("name") != name:
            continue
        if (net.get("labels") or {}).get(LABEL) != name:
            warn(f"podman network {name} exists but is not labelled {LABEL}={name}; left untouched.")
            continue
        proc = run(["podman", "network", "rm", name], check=False, timeout=60)
        if proc.returncode != 0:
            raise LabError(f"could not remove network {name}:\n    {tail(proc.stderr, 3)}\n"
                           f"  Other containers may still use it: `podman ps -a --filter network={name}`.")
        removed_net = True
    return ours, removed_net


def host_interfaces_in(subnet) -> list[str]:
    proc = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=False)
    podman_ifaces = {n.get("network_interface") for n in networks_all()}
    hits = []
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[1] in podman_ifaces:
            continue
        iface = ipaddress.ip_interface(parts[3])
        if iface.network.overlaps(subnet):
            hits.append(f"{parts[1]} ({parts[3]})")
    return hits


def preflight_up(name: str, subnet, hosts: list[dict]) -> None:
    """Every refusal happens here, before anything is removed or created."""
    for net in networks_all():
        nname = net.get("name")
        if nname == name:
            if (net.get("labels") or {}).get(LABEL) != name:
                raise LabError(f"a podman network named {name} exists and is not this lab's "
                               f"(no label {LABEL}={name}); it was left untouched. Remove it yourself "
                               "or pick another --name.")
            continue
        for sn in net.get("subnets") or []:
            try:
                other = ipaddress.ip_network(sn.get("subnet", ""), strict=False)
            except ValueError:
                continue
            if other.version == 4 and other.overlaps(subnet):
                owner = (net.get("labels") or {}).get(LABEL)
                if owner:
                    raise LabError(f"subnet {subnet} overlaps {other} of lab {owner} (network {nname}). "
                                   f"Run `lab/labctl down --name {owner}` or pick another --subnet.")
                raise LabError(f"subnet {subnet} overlaps {other} of podman network {nname}, which is "
                               "not a dbstack lab network. Pick another --subnet.")
    clash = host_interfaces_in(subnet)
    if clash:
        raise LabError(f"subnet {subnet} is already used on this host by {', '.join(clash)}. "
                       "Pick another --subnet.")
    existing = {c["name"]: c for c in containers_all()}
    for h in hosts:
        c = existing.get(h["container"])
        if c and c["labels"].get(LABEL) != name:
            owner = c["labels"].get(LABEL)
            whose = f"belongs to lab {owner}" if owner else f"has no {LABEL} label"
            raise LabError(f"container {h['container']} already exists and {whose}; it was left "
                           f"untouched. Remove it yourself or pick another --name.")


def wait_systemd(container: str, deadline: float) -> str:
    state = "unknown"
    while time.monotonic() < deadline:
        try:
            proc = subprocess.run(["podman", "exec", container, "systemctl", "is-system-running", "--wait"],
                                  capture_output=True, text=True, timeout=max(1, deadline - time.monotonic()), check=False)
        except subprocess.TimeoutExpired:
            break
        state = (proc.stdout.strip().splitlines() or ["unknown"])[-1]
        if state in ("running", "degraded"):
            return state
        if state in ("stopping", "offline") or "is not running" in proc.stderr:
            inspect = subprocess.run(["podman", "inspect", "-f", "{{.State.Status}}", container],
                                     capture_output=True, text=True, check=False).stdout.strip()
            if inspect != "running":
                logs = subprocess.run(["podman", "logs", "--tail", "15", container],
                                      capture_output=True, text=True, check=False)
                raise LabError(f"container {container} stopped while booting ({inspect}):\n    "
                               f"{tail(logs.stdout + logs.stderr, 10)}")
        time.sleep(0.3)
    raise LabError(f"systemd in {container} did not finish booting within {BOOT_TIMEOUT} s (state {state}). "
                   f"Look at `podman exec {container} systemctl list-jobs`.")


@contextlib.contextmanager
def booting_alone():
    """Labs started side by side (make test starts five) boot one at a time: two dozen systemd hosts
    booting at once on two CPUs took more than 90 s each, and one lab's boot is a few seconds."""
    with open("/run/dbstack-lab-boot.lock", "w", encoding="ascii") as lock:
        started = time.monotonic()
        fcntl.flock(lock, fcntl.LOCK_EX)
        waited = time.monotonic() - started
        if waited > 1:
            say(f"waited {waited:.0f} s for another lab to finish booting")
        yield


def boot(hosts: list[dict]) -> dict[str, str]:
    """Wait until systemd has finished booting in every host: {host: running|degraded}."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    with concurrent.futures.ThreadPoolExecutor(len(hosts)) as pool:
        return dict(zip([h["host"] for h in hosts], pool.map(lambda h: wait_systemd(h["container"], deadline), hosts)))


def cgroupns_args() -> list[str]:
    """DBSTACK_LAB_CGROUPNS=private gives each container a cgroup namespace of its own (the backup
    benchmark sets it). With the host's, podman's default on cgroup v1, systemd in a container cannot
    use the cpu controller, so CPUQuota= does nothing; but with a private one on cgroup v1, `podman
    exec` into a container that was stopped and started again fails (runc cannot join its cgroup),
    which the drills do. So the molecule scenarios keep podman's default."""
    value = os.environ.get("DBSTACK_LAB_CGROUPNS", "")
    return [f"--cgroupns={value}"] if value else []


def cgroup_parent_args() -> list[str]:
    """DBSTACK_LAB_CGROUP_PARENT puts every host of the lab, and whatever runs in it, under that cgroup
    instead of podman's default parent: `make test` starts the labs of work it times nothing in under a
    cgroup whose CPU is only what the timed labs leave idle (scripts/test.sh, "the background lane")."""
    value = os.environ.get("DBSTACK_LAB_CGROUP_PARENT", "")
    return [f"--cgroup-parent={value}"] if value else []


def lab_ssh_dir(name: str, containers: list[dict] | None = None) -> Path:
    """Where a lab's SSH key and known_hosts are: recorded on its containers when they were created."""
    for c in containers if containers is not None else containers_all():
        if c["labels"].get(LABEL) == name and c["labels"].get(LABEL + ".ssh"):
            return Path(c["labels"][LABEL + ".ssh"])
    return ssh.default_ssh_dir(name)


def describe(result: dict, hosts: list[dict], ssh_dir: Path) -> dict:
    """The lab as `up --json` writes it: what molecule's create step and the benchmarks read."""
    return {**result, "user": LAB_USER, "ssh_key": str(ssh.key_file(ssh_dir)),
            "ssh_args": ssh.inventory_vars(ssh_dir)["ansible_ssh_common_args"],
            "hosts": [{k: h[k] for k in ("host", "container", "ip", "groups", "state")} for h in hosts]}


def lab_up(name: str, subnet_arg: str, release: str, hosts_spec: str, inventory: Path | None,
           ssh_dir: Path | None = None) -> dict:
    validate_name(name)
    try:
        subnet = ipaddress.ip_network(subnet_arg, strict=True)
    except ValueError as e:
        raise LabError(f"--subnet {subnet_arg!r} is not a network address in CIDR form "
                       f"(e.g. 10.213.25.0/24): {e}") from e
    if subnet.version != 4 or subnet.prefixlen > 26:
        raise LabError(f"--subnet {subnet} must be IPv4 and at least a /26 (a /24 is the norm).")
    if release not in RELEASES:
        raise LabError(f"--release {release!r}: choose one of {', '.join(RELEASES)}.")
    hosts = parse_hosts(hosts_spec)
    assign_ips(hosts, subnet)
    for h in hosts:
        h["container"] = f"{name}-{h['host']}"
    require_host_ready()
    preflight_up(name, subnet, hosts)
    ensure_images(release)
    ssh_dir = (ssh_dir or ssh.default_ssh_dir(name)).resolve()

    t0 = time.monotonic()
    stale, stale_net = remove_lab(name)
    if stale or stale_net:
        say(f"removed stale lab {name}: {len(stale)} container(s)" + (", network" if stale_net else ""))
    gateway = str(subnet.network_address + 1)
    run(["podman", "network", "create", "--subnet", str(subnet), "--gateway", gateway,
         "--label", f"{LABEL}={name}", name], what=f"creating network {name}", timeout=60)
    image = f"{IMAGE_SYSTEMD}:{release}"
    with booting_alone():
        for h in hosts:
            run(["podman", "run", "-d", "--name", h["container"], "--hostname", h["host"],
                 "--network", name, "--ip", h["ip"], "--network-alias", h["host"],
                 "--systemd=always", "--privileged", *cgroupns_args(), *cgroup_parent_args(), *ulimit_args(),
                 "--label", f"{LABEL}={name}", "--label", f"{LABEL}.host={h['host']}",
                 "--label", f"{LABEL}.groups={','.join(h['groups'])}", "--label", f"{LABEL}.ip={h['ip']}",
                 "--label", f"{LABEL}.ssh={ssh_dir}",
                 image], what=f"starting container {h['container']}", timeout=120)
        states = boot(hosts)
    for h in hosts:
        h["state"] = states[h["host"]]
        if h["state"] == "degraded":
            failed = subprocess.run(["podman", "exec", h["container"], "systemctl", "--failed", "--no-legend",
                                     "--plain"], capture_output=True, text=True, check=False).stdout.strip()
            warn(f"{h['container']} booted degraded; failed units: {failed or '?'}")
    ssh.authorize(name, ssh_dir, hosts)
    ssh.probe(name, ssh_dir, hosts)
    inv = inventory or default_inventory(name)
    write_inventory(inv, name, subnet, release, hosts, ssh.inventory_vars(ssh_dir))
    elapsed = time.monotonic() - t0
    say(f"lab {name} up in {elapsed:.1f} s ({len(hosts)} hosts, {release}, {subnet}); inventory {inv}; "
        f"ssh as {LAB_USER} with {ssh.key_file(ssh_dir)}")
    for h in hosts:
        say(f"  {h['host']:<10} {h['ip']:<15} {h['container']:<28} {'+'.join(h['groups']):<10} systemd {h['state']}")
    return describe({"name": name, "subnet": str(subnet), "release": release, "inventory": str(inv),
                     "seconds": round(elapsed, 1)}, hosts, ssh_dir)


def container_details(names: list[str]) -> dict[str, dict]:
    """{container: {ip on its lab network, image, running}} from podman inspect."""
    details = {}
    for c in podman_json(["podman", "container", "inspect", *names]):
        networks = (c.get("NetworkSettings") or {}).get("Networks") or {}
        details[c["Name"]] = {"ips": {net: info.get("IPAddress") for net, info in networks.items()},
                              "image": c.get("ImageName", ""), "running": (c.get("State") or {}).get("Running")}
    return details


def lab_reuse(name: str, subnet_arg: str, release: str, hosts_spec: str, inventory: Path | None) -> dict | None:
    """The lab as it is, when its containers are exactly the ones asked for (host, groups, address,
    release): stopped ones are started, the inventory is rewritten, nothing is removed. None when
    the lab does not exist; an error naming the difference when it exists in another shape."""
    validate_name(name)
    subnet = ipaddress.ip_network(subnet_arg, strict=True)
    hosts = parse_hosts(hosts_spec)
    assign_ips(hosts, subnet)
    require_host_ready()
    ours = {c["name"]: c for c in containers_all() if c["labels"].get(LABEL) == name}
    if not ours:
        return None
    t0 = time.monotonic()
    details = container_details(sorted(ours))
    differences = []
    for h in hosts:
        h["container"] = f"{name}-{h['host']}"
        found = ours.get(h["container"])
        if not found:
            differences.append(f"{h['container']} is missing")
            continue
        groups = found["labels"].get(LABEL + ".groups", "")
        if groups != ",".join(h["groups"]):
            differences.append(f"{h['container']} is in groups {groups!r}, not {','.join(h['groups'])!r}")
        # A stopped container shows no address: the one it was created with is in its labels.
        address = found["labels"].get(LABEL + ".ip") or details[h["container"]]["ips"].get(name)
        if address != h["ip"]:
            differences.append(f"{h['container']} has address {address or 'unknown'}, not {h['ip']}")
        if not details[h["container"]]["image"].endswith(f":{release}"):
            differences.append(f"{h['container']} runs {details[h['container']]['image']}, not {release}")
    extra = sorted(set(ours) - {h["container"] for h in hosts})
    differences += [f"{c} is not part of the asked layout" for c in extra]
    if differences:
        raise LabError(f"lab {name} exists in another shape: {'; '.join(differences)}. Nothing was changed. "
                       "`make lab-reset` (labctl deploy --reset) recreates it, losing its data; "
                       "`make lab-down` removes it.")
    stopped = [h["container"] for h in hosts if not details[h["container"]]["running"]]
    with booting_alone():
        if stopped:
            run(["podman", "start", *stopped], what=f"starting {', '.join(stopped)}", timeout=120)
        states = boot(hosts)
    for h in hosts:
        h["state"] = states[h["host"]]
    ssh_dir = lab_ssh_dir(name, list(ours.values()))
    ssh.refresh_known_hosts(ssh_dir, hosts)
    ssh.probe(name, ssh_dir, hosts)
    inv = inventory or default_inventory(name)
    write_inventory(inv, name, subnet, release, hosts, ssh.inventory_vars(ssh_dir))
    elapsed = time.monotonic() - t0
    say(f"lab {name} kept as it is ({len(hosts)} hosts, {release}, {subnet}"
        + (f"; started {', '.join(stopped)}" if stopped else "") + f") in {elapsed:.1f} s; inventory {inv}")
    return describe({"name": name, "subnet": str(subnet), "release": release, "inventory": str(inv),
                     "seconds": round(elapsed, 1), "reused": True}, hosts, ssh_dir)


def cmd_up(args) -> None:
    if args.subnet is None:
        if args.name != DEFAULT_NAME:
            raise LabError(f"--subnet is required for --name {args.name}: every lab needs its own subnet.")
        args.subnet = DEFAULT_SUBNET
    inventory = Path(args.inventory).resolve() if args.inventory else None
    ssh_dir = Path(args.ssh_dir).resolve() if args.ssh_dir else None
    result = ((args.keep and lab_reuse(args.name, args.subnet, args.release, args.hosts, inventory))
              or lab_up(args.name, args.subnet, args.release, args.hosts, inventory, ssh_dir))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


def cmd_down(args) -> None:
    validate_name(args.name)
    require_root()
    if not shutil.which("podman"):
        say("podman is not installed: nothing to remove")
        return
    t0 = time.monotonic()
    ssh_dir = lab_ssh_dir(args.name)
    containers, net = remove_lab(args.name)
    ssh.remove(ssh_dir)
    inv = Path(args.inventory).resolve() if args.inventory else default_inventory(args.name)
    inv.unlink(missing_ok=True)
    if args.name != DEFAULT_NAME and not args.inventory:
        try:
            inv.parent.rmdir()
        except OSError:
            pass
    if containers or net:
        say(f"lab {args.name} removed in {time.monotonic() - t0:.1f} s: {len(containers)} container(s)"
            + (", network" if net else ""))
    else:
        say(f"lab {args.name}: nothing to remove")


def cmd_status(args) -> None:
    validate_name(args.name)
    require_root()
    ours = [c for c in containers_all() if c["labels"].get(LABEL) == args.name]
    if not ours:
        say(f"lab {args.name} is not running")
        return
    for c in sorted(ours, key=lambda c: c["name"]):
        say(f"  {c['name']:<28} {c['state']:<10} groups={c['labels'].get(LABEL + '.groups', '?')}")


def lab_hosts(name: str) -> tuple[list[dict], list[dict]]:
    """A lab's running hosts as their containers' labels describe them, and its containers; an error
    when the lab does not exist or a host is stopped."""
    ours = [c for c in containers_all() if c["labels"].get(LABEL) == name]
    if not ours:
        raise LabError(f"lab {name} does not exist (no container labelled {LABEL}={name}); `lab/labctl up` makes one.")
    stopped = [c["name"] for c in ours if c["state"] != "running"]
    if stopped:
        raise LabError(f"lab {name}: {', '.join(stopped)} not running; `podman start` them or `lab/labctl up --keep`.")
    return [{"host": c["labels"].get(LABEL + ".host", c["name"]), "container": c["name"],
             "ip": c["labels"].get(LABEL + ".ip", "")} for c in sorted(ours, key=lambda c: c["name"])], ours


def cmd_authorize(args) -> None:
    """Install the lab key (a new one when it is missing) and the sudo rule on every host of a lab that
    exists, record their host keys, and check that Ansible gets in: the repair the probe's messages name."""
    validate_name(args.name)
    require_root()
    hosts, ours = lab_hosts(args.name)
    ssh_dir = lab_ssh_dir(args.name, ours)
    ssh.authorize(args.name, ssh_dir, hosts)
    ssh.probe(args.name, ssh_dir, hosts)
    say(f"lab {args.name}: {LAB_USER} logs in with {ssh.key_file(ssh_dir)} and has sudo on "
        f"{', '.join(h['host'] for h in hosts)}")


def cmd_check(args) -> None:
    """Log in to every host of a lab as Ansible will, changing nothing."""
    validate_name(args.name)
    require_root()
    hosts, ours = lab_hosts(args.name)
    ssh_dir = lab_ssh_dir(args.name, ours)
    ssh.probe(args.name, ssh_dir, hosts)
    say(f"lab {args.name}: {LAB_USER} logs in and has sudo on {', '.join(h['host'] for h in hosts)}")
