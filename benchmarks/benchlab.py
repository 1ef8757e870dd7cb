"""The benchmarks' own lab: 3 Galera nodes, two HAProxy hosts behind a virtual IP and a client host,
deployed by site.yml.

Name dbstack-bench, subnet 10.213.70.0/24, the VIP .100 of it (keepalived, the role's defaults). The
client host is in group `bench` (not `app`), so site.yml deploys no smoke app there; benchmarks
install their own tools on it. Every benchmark but vip_failover.py sends its load to haproxy1's
own address, so which host holds the VIP does not matter to them.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "molecule" / "shared"))

from labdb import cluster_whole, install_client_tls, run_playbook, writer_name  # noqa: E402  pylint: disable=wrong-import-position

LAB_NAME = "dbstack-bench"
LAB_SUBNET = "10.213.70.0/24"
LAB_HOSTS = "galera1:galera,galera2:galera,galera3:galera,haproxy1:haproxy,haproxy2:haproxy,client1:bench+backup"
NODES = ("galera1", "galera2", "galera3")
HAPROXY_HOSTS = ("haproxy1", "haproxy2")
VIP = str(ipaddress.ip_network(LAB_SUBNET).network_address + 100)
ACCOUNT = {"user": "bench", "password": "lab-only-bench-secret", "database": "bench"}
# Where sysbench finds its TLS files on a lab host (BenchLab.sysbench).
SYSBENCH_TLS_DIR = "/root/dbstack-bench-tls"

# Role settings per profile, passed to site.yml as extra vars. "default" is what the roles ship;
# "tuned" trades tolerance of network pauses for faster eviction of a dead writer.
BASE_VARS = {
    "dbstack_max_task_length": "15m",
    # Two HAProxy hosts need the virtual IP (keepalived role); .100 of the lab subnet, as `make lab` has it.
    "dbstack_vip": VIP,
    "mariadb_galera_sst_password": "lab-only-sst-secret",
    "mariadb_galera_databases": [{"name": ACCOUNT["database"]}],
    "mariadb_galera_users": [{"name": ACCOUNT["user"], "password": ACCOUNT["password"],
                              "priv": f"{ACCOUNT['database']}.*:ALL"}],
}
PROFILES = {
    "default": {},
    "tuned": {
        "mariadb_galera_evs_keepalive_period": "PT0.5S",
        "mariadb_galera_evs_inactive_check_period": "PT0.5S",
        "mariadb_galera_evs_suspect_timeout": "PT1.5S",
        "mariadb_galera_evs_inactive_timeout": "PT3S",
        "mariadb_galera_evs_install_timeout": "PT3S",
        "haproxy_check_interval": "500ms",
        "haproxy_timeout_check": "1s",
    },
}


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=check, capture_output=True, text=True)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def add_lab_options(parser) -> None:
    """The options the benchmarks share: which release, where the results go, and the lab's life."""
    parser.add_argument("--release", choices=("bookworm", "trixie"), default="bookworm")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the lab an earlier --keep left up, as deployed then")


def role_settings(parser, items: list[str]) -> dict:
    """--set VARIABLE=VALUE items as role variables (each value read as YAML); a malformed one stops the parser."""
    import yaml  # noqa: PLC0415 - only the benchmarks that take --set need PyYAML

    settings = {}
    for item in items:
        name, separator, value = item.partition("=")
        if not separator or not name:
            parser.error(f"--set {item!r}: write VARIABLE=VALUE")
        settings[name] = yaml.safe_load(value)
    return settings


@contextmanager
def bench_lab(args):
    """The benchmarks' lab for one run: the one --keep left up (--reuse) or a new one (not deployed yet),
    removed afterwards unless --keep."""
    lab = BenchLab(args.release)
    if args.reuse:
        lab.load()
    else:
        lab.down()
        lab.up()
    try:
        yield lab
    finally:
        if not args.keep:
            lab.down()


def source_version() -> str:
    """The commit the roles were deployed from, and how many files differed from it."""
    head = run("git", "-C", str(REPO), "rev-parse", "--short", "HEAD", check=False).stdout.strip() or "unknown"
    changed = run("git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", check=False).stdout
    count = len(changed.splitlines())
    return f"{head}{f' + {count} changed files' if count else ''}"


def write_results(path: str | None, results: dict) -> None:
    """The results as JSON for report.py, with the time they were measured and the source they ran from."""
    if path:
        Path(path).write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                          "source": source_version(), **results}, indent=1))


class BenchLab:
    """The benchmark's own lab: brought up by lab/labctl, deployed by playbooks/site.yml."""

    def __init__(self, release: str):
        self.release = release
        self.workdir = REPO / ".lab" / LAB_NAME
        self.inventory = self.workdir / "hosts.yml"
        self.hosts: dict[str, dict] = {}
        self._sysbench_tls_on: set[str] = set()

    def up(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        description = self.workdir / "lab.json"
        # Containers with a cgroup namespace of their own, so that systemd in them applies CPUQuota=
        # (the backup unit's mariadb_backup_cpu_quota); see lab/dbstack_lab/containers.py.
        os.environ["DBSTACK_LAB_CGROUPNS"] = "private"
        run(str(REPO / "lab" / "labctl"), "up", "--name", LAB_NAME, "--subnet", LAB_SUBNET,
            "--release", self.release, "--hosts", LAB_HOSTS, "--inventory", str(self.inventory),
            "--json", str(description))
        self.hosts = {h["host"]: h for h in json.loads(description.read_text())["hosts"]}

    def load(self) -> None:
        """Use the lab an earlier run left up (--keep), as deployed then."""
        self.hosts = {h["host"]: h for h in json.loads((self.workdir / "lab.json").read_text())["hosts"]}

    def playbook(self, playbook: str, *args: str, extra_vars: dict | None = None) -> float:
        """Seconds one of the project's playbooks took on this lab (labdb.run_playbook); a failure stops the run."""
        started = time.monotonic()
        run_playbook(playbook, *args, inventory=self.inventory, extra_vars=extra_vars)
        return time.monotonic() - started

    def deploy(self, extra_vars: dict) -> float:
        return self.playbook("playbooks/site.yml", extra_vars=extra_vars)

    def converge(self, args, settings: dict | None = None, what: str = "") -> None:
        """site.yml with BASE_VARS and these role settings on a new lab, and on a reused one (--reuse) only
        when settings are given, so that they take effect; says how long it took."""
        if args.reuse and not settings:
            return
        seconds = self.deploy({**BASE_VARS, **(settings or {})})
        say(f"site.yml{what}{' with ' + str(settings) if settings else ''}: {seconds:.0f} s")

    def install(self, host: str, *packages: str) -> None:
        """Debian packages the benchmarks bring to a lab host (sysbench on the client), installed once."""
        missing = [package for package in packages
                   if self.exec(host, "dpkg-query", "-W", "-f=${Status}", package, check=False).stdout
                   != "install ok installed"]
        if missing:
            self.exec(host, "apt-get", "update", "-q")
            self.exec(host, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-q", "-y",
                      "--no-install-recommends", *missing)

    def down(self) -> None:
        run(str(REPO / "lab" / "labctl"), "down", "--name", LAB_NAME, check=False)

    def exec(self, host: str, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return run("podman", "exec", self.container(host), *command, check=check)

    @property
    def ca_bundle(self) -> Path:
        """The CA bundle clients trust: the roles' CA for this lab, beside its inventory's directory."""
        return Path(f"{self.workdir}-dbstack-pki") / "ca-bundle.pem"

    def sysbench(self, host: str = "client1") -> list[str]:
        """The start of a sysbench command line on `host` whose connections use TLS and check the server's
        certificate against the lab's CA (labdb.install_client_tls; set up once per host)."""
        if host not in self._sysbench_tls_on:
            install_client_tls(self.container(host), self.ca_bundle.parent, SYSBENCH_TLS_DIR, f"{LAB_NAME}-sysbench")
            self._sysbench_tls_on.add(host)
        return ["env", f"--chdir={SYSBENCH_TLS_DIR}", "sysbench", "--mysql-ssl=on"]

    def ip(self, host: str) -> str:
        return self.hosts[host]["ip"]

    def container(self, host: str) -> str:
        return self.hosts[host]["container"]

    @property
    def layout(self) -> dict:
        """The lab in the shape labdb's helpers take (as molecule/shared/labhosts.py gives it), each host
        with the variables every deployment of this lab has: labdb finds the VIP there and asks through it
        which node is the writer, as an application would."""
        lab_vars = {**BASE_VARS, "dbstack_lab_name": LAB_NAME, "dbstack_lab_subnet": LAB_SUBNET}
        return {"hosts": {name: {**host, "name": name, "vars": lab_vars} for name, host in self.hosts.items()},
                "groups": {"galera": list(NODES), "haproxy": list(HAPROXY_HOSTS)}}

    def writer(self) -> str:
        return writer_name(self.layout, ACCOUNT)

    def whole(self) -> bool:
        """The cluster whole (labdb.cluster_whole). The writer is whichever node HAProxy chose: with the
        sticky writer it stays where the last failover put it."""
        return cluster_whole(self.layout, ACCOUNT)
