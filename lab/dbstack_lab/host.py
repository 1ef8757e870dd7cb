"""prepare-host: the packages podman needs on this machine and the containers.conf settings the lab depends on (docs/lab.md, "Traps handled")."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tomllib
from pathlib import Path

from .common import (
    CONTAINERS_CONF, HOST_PACKAGES, LAB_HOST_PACKAGES, SYSCTL_CONF, SYSCTLS, LabError, NPROC_LIMIT, mirror_hint, require_root, run, say, tail, warn,
)


def missing_packages(packages) -> list[str]:
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n", *packages],
                          capture_output=True, text=True, check=False)
    installed = {line.split()[0] for line in proc.stdout.splitlines()
                 if len(line.split()) >= 2 and line.split()[1] == "ii"}
    return [p for p in packages if p not in installed]


def apt_install(packages: list[str]) -> None:
    if not shutil.which("apt-get"):
        raise LabError("apt-get not found: labctl prepares Debian/Ubuntu hosts only. Install "
                       f"{' '.join(packages)} by hand, then re-run.")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # Keep apt from starting services it installs (haproxy on the host is only a config checker).
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text("#!/bin/sh\n# written by dbstack lab/labctl during apt-get install\nexit 101\n")
        policy.chmod(0o755)
    try:
        say("apt-get update")
        upd = subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True, env=env, check=False)
        if upd.returncode != 0:
            # A broken third-party source should not block installing from Debian: try anyway.
            warn(f"apt-get update reported errors, trying the install anyway:\n    {tail(upd.stderr, 4)}")
        say(f"apt-get install {' '.join(packages)}")
        inst = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
                              capture_output=True, text=True, env=env, check=False)
        if inst.returncode != 0:
            raise LabError(f"apt-get could not install {' '.join(packages)}:\n    {tail(inst.stderr, 6)}\n"
                           f"  {mirror_hint()}")
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)


def quiet_host_haproxy() -> None:
    """The host's haproxy only serves `haproxy -c` in unit tests: never leave it enabled or running."""
    if shutil.which("systemctl"):
        state = subprocess.run(["systemctl", "is-enabled", "haproxy.service"],
                               capture_output=True, text=True, check=False).stdout.strip()
        if state == "enabled":
            say("disabling the host's haproxy.service (only its binary is needed)")
            run(["systemctl", "disable", "--quiet", "haproxy.service"], check=False)
    if any(Path("/etc").glob("rc[2-5].d/S*haproxy")) and shutil.which("update-rc.d"):
        run(["update-rc.d", "haproxy", "disable"], check=False)
    pidfile = Path("/run/haproxy.pid")
    if pidfile.exists():
        try:
            pid = int(pidfile.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (ValueError, IndexError, OSError):
            return
        if b"haproxy" in cmdline:
            say(f"stopping the host haproxy (pid {pid}) that the package install started")
            if Path("/run/systemd/system").exists():
                run(["systemctl", "stop", "haproxy.service"], check=False)
            else:
                run(["/etc/init.d/haproxy", "stop"], check=False)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise LabError(f"cannot write {value!r} back to {CONTAINERS_CONF}; fix that file by hand.")


def toml_dump(data: dict, prefix: str = "") -> str:
    """Enough TOML for containers.conf: scalars, arrays and nested tables."""
    scalars = [f"{k} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    out = ""
    if prefix and (scalars or not any(isinstance(v, dict) for v in data.values())):
        out += f"[{prefix}]\n"
    if scalars:
        out += "\n".join(scalars) + "\n\n"
    for key, value in data.items():
        if isinstance(value, dict):
            out += toml_dump(value, f"{prefix}.{key}" if prefix else key)
    return out


def wanted_containers_conf() -> dict:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = hard if hard != resource.RLIM_INFINITY else 1048576
    return {
        # podman asks for nofile=1048576 and nproc above 32768; without CAP_SYS_RESOURCE the
        # runtime cannot raise limits above the host's hard limit, so every container fails.
        "containers": {"default_ulimits": [f"nofile={nofile}:{nofile}",
                                           f"nproc={NPROC_LIMIT}:{NPROC_LIMIT}"]},
        # crun 1.8 refuses cgroup v1 hybrid hosts; runc copes.
        "engine": {"runtime": "runc"},
        # The podman package ships a CNI config; pin netavark so aardvark-dns resolves host names.
        "network": {"network_backend": "netavark"},
    }


def write_containers_conf() -> None:
    current: dict = {}
    if CONTAINERS_CONF.exists():
        try:
            current = tomllib.loads(CONTAINERS_CONF.read_text())
        except tomllib.TOMLDecodeError as e:
            raise LabError(f"{CONTAINERS_CONF} is not valid TOML ({e}); fix or remove it, then re-run.") from e
    merged = json.loads(json.dumps(current))
    for table, values in wanted_containers_conf().items():
        merged.setdefault(table, {}).update(values)
    if merged == current:
        say(f"{CONTAINERS_CONF} already has the lab settings")
        return
    CONTAINERS_CONF.parent.mkdir(parents=True, exist_ok=True)
    header = ("# Managed in part by dbstack.galera lab/labctl prepare-host: default_ulimits, runtime and\n"
              "# network_backend are rewritten on each run; other settings are kept.\n\n")
    tmp = CONTAINERS_CONF.with_suffix(".conf.labctl-tmp")
    tmp.write_text(header + toml_dump(merged))
    tmp.replace(CONTAINERS_CONF)
    say(f"wrote {CONTAINERS_CONF}")


def podman_info() -> dict:
    proc = run(["podman", "info", "--format", "json"], check=False, timeout=60)
    if proc.returncode != 0:
        raise LabError(f"podman does not work on this host:\n    {tail(proc.stderr, 4)}\n"
                       "  Run `lab/labctl prepare-host` (as root) if you have not; if podman still fails, "
                       "see the traps table in docs/lab.md.")
    return json.loads(proc.stdout)


def host_problems() -> list[str]:
    problems = [f"package {p} is missing" for p in missing_packages(LAB_HOST_PACKAGES)]
    if problems:
        return problems
    info = podman_info()
    host = info.get("host", {})
    if host.get("networkBackend") != "netavark":
        problems.append(f"podman uses the {host.get('networkBackend')} network backend, not netavark")
    if host.get("ociRuntime", {}).get("name") != "runc":
        problems.append(f"podman uses the {host.get('ociRuntime', {}).get('name')} runtime, not runc")
    return problems


def require_host_ready() -> None:
    require_root()
    problems = host_problems()
    if problems:
        raise LabError("this host is not prepared for the lab (" + "; ".join(problems)
                       + "). Run `lab/labctl prepare-host` first.")


def raise_inotify_limits() -> None:
    """SYSCTLS, kept in SYSCTL_CONF for the next boot and applied now where the running value is lower."""
    wanted = "".join(f"{key} = {value}\n" for key, value in SYSCTLS.items())
    header = "# written by dbstack lab/labctl prepare-host: room for the lab hosts' systemd (docs/lab.md)\n"
    if not SYSCTL_CONF.exists() or SYSCTL_CONF.read_text() != header + wanted:
        SYSCTL_CONF.write_text(header + wanted)
        say(f"wrote {SYSCTL_CONF}")
    for key, value in SYSCTLS.items():
        current = Path("/proc/sys", *key.split("."))
        if int(current.read_text().split()[0]) < value:
            try:
                current.write_text(f"{value}\n")
            except OSError as e:
                raise LabError(f"could not raise {key} to {value} ({e}); set it with `sysctl -w {key}={value}` "
                               "as root, or the lab hosts' systemd units fail when several labs are up.") from e


def cmd_prepare_host(args) -> None:
    require_root()
    missing = missing_packages(HOST_PACKAGES)
    if missing:
        apt_install(missing)
        still = missing_packages(HOST_PACKAGES)
        if still:
            raise LabError(f"after apt-get install, {' '.join(still)} is still not installed. {mirror_hint()}")
    else:
        say("host packages already installed: " + " ".join(HOST_PACKAGES))
    quiet_host_haproxy()
    write_containers_conf()
    raise_inotify_limits()
    problems = host_problems()
    if problems:
        raise LabError("podman is installed but not usable for the lab: " + "; ".join(problems)
                       + f". Check {CONTAINERS_CONF} and /usr/share/containers/containers.conf.")
    say("host ready")
