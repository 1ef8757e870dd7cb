"""VIP failover benchmark: how long writes through the virtual IP stop when the HAProxy host holding it is lost.

A client on the machine that runs the lab writes through the VIP (20 INSERTs/s, autocommit, each
acknowledgement recorded; molecule/shared/writer.py). The HAProxy host that holds the VIP is then
lost in one of three ways:

  kill    SIGKILL of every haproxy process on it (`pkill -KILL -x haproxy`); Debian's unit restarts
          haproxy, so the VIP may stay where it is (the track script fails after two seconds)
  stop    its container stopped (`podman stop`: systemd shuts keepalived and HAProxy down), started
          again afterwards
  silent  its link taken down (`ip link set eth0 down`: no FIN, no RST, no last VRRP advert),
          brought up again afterwards

The gap is the longest time without an acknowledged write from the last write before the fault
until a write is acknowledged after the fault has fully happened (a container stop takes seconds).
Reported per try as well: whether the VIP moved, when the other host entered MASTER state (its
keepalived log), the longest stall once the lost host is brought back, and every acknowledged
write looked up on every Galera node (lost = acknowledged but missing anywhere; in doubt = the
client saw the connection die after sending). The writer runs on this machine, not in the lab, so
the longest time a 10 ms sleep here overslept is recorded too: a gap that overlaps such a stall
says more about the machine's load than about the VIP.

    .venv/bin/python benchmarks/vip_failover.py [--tries 5] [--modes kill,stop,silent]
                           [--set keepalived_advert_interval=1 ...] [--json FILE] [--keep] [--reuse]

Runs on the benchmarks' lab (benchlab.py: two HAProxy hosts, the VIP .100 of its subnet), deployed
with playbooks/site.yml and the roles' defaults.
"""

from __future__ import annotations

import argparse
import ipaddress
import itertools
import os
import re
import statistics
import sys
import threading
import time

from benchlab import (ACCOUNT, HAPROXY_HOSTS, LAB_SUBNET, NODES, VIP, BenchLab, add_lab_options, bench_lab,
                      role_settings, run, say, write_results)
from labdb import connect, wait_for
from writer import ContinuousWriter, audit

WRITE_RATE = 20.0
GATEWAY = str(ipaddress.ip_network(LAB_SUBNET).network_address + 1)  # as lab/labctl creates the network
STATE = re.compile(r"Entering (MASTER|BACKUP|FAULT) STATE")

FAULTS = {
    "kill": lambda lab, host: lab.exec(host, "pkill", "-KILL", "-x", "haproxy"),
    "stop": lambda lab, host: run("podman", "stop", "--time", "20", lab.container(host)),
    "silent": lambda lab, host: lab.exec(host, "ip", "link", "set", "eth0", "down"),
}


def running(lab: BenchLab, host: str) -> bool:
    return run("podman", "inspect", "--format", "{{.State.Running}}", lab.container(host),
               check=False).stdout.strip() == "true"


def holders(lab: BenchLab) -> list[str]:
    """The HAProxy hosts that have the VIP on an interface now (a stopped host holds nothing)."""
    return [host for host in HAPROXY_HOSTS if running(lab, host)
            and f" {VIP}/" in lab.exec(host, "ip", "-o", "-4", "addr", "show", check=False).stdout]


def vrrp_state(lab: BenchLab, host: str) -> str:
    """The state keepalived last logged entering on this host ('' before its first)."""
    log = lab.exec(host, "journalctl", "--unit=keepalived", "--output=cat", "--no-pager", check=False).stdout
    states = STATE.findall(log)
    return states[-1] if states else ""


def vrrp_transitions(lab: BenchLab, host: str, since_wall: float) -> list[tuple[float, str]]:
    """(seconds after since_wall, state) of each VRRP state this host entered since then."""
    log = lab.exec(host, "journalctl", "--unit=keepalived", f"--since=@{int(since_wall)}", "--output=short-unix",
                   "--no-pager", check=False).stdout
    found = []
    for line in log.splitlines():
        match = STATE.search(line)
        stamp = line.split(" ", 1)[0]
        if match and re.fullmatch(r"\d+\.\d+", stamp) and float(stamp) >= since_wall:
            found.append((round(float(stamp) - since_wall, 2), match[1]))
    return found


def bring_back(lab: BenchLab, host: str) -> None:
    """Whatever an earlier try (or an interrupted run) left: the container started, its link up,
    HAProxy and keepalived running. Looked up by name each time; harmless when all is well."""
    if not running(lab, host):
        run("podman", "start", lab.container(host))
    wait_for(lambda: lab.exec(host, "systemctl", "is-system-running", check=False).stdout.strip()
             in ("running", "degraded"), timeout=120, interval=0.5, what=f"systemd in {host} up")
    lab.exec(host, "ip", "link", "set", "eth0", "up")
    # Taking a link down removes the routes through it, and nothing in the container adds the default
    # route back (without it Ansible's facts have no default_ipv4 and the next site.yml fails there).
    if not lab.exec(host, "ip", "-4", "route", "show", "default").stdout.strip():
        lab.exec(host, "ip", "route", "add", "default", "via", GATEWAY, "dev", "eth0", "metric", "100")
    for unit in ("haproxy", "keepalived"):
        if lab.exec(host, "systemctl", "is-active", unit, check=False).stdout.strip() != "active":
            lab.exec(host, "systemctl", "start", unit)


def answers(address: str) -> str:
    """The Galera node a new connection to this address reaches."""
    with connect(address, ACCOUNT, connect_timeout=2, read_timeout=5) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT @@wsrep_node_name")
        return cursor.fetchone()[0]


def settled(lab: BenchLab) -> str | None:
    """The VIP's one holder, once every other HAProxy host is a VRRP backup, the cluster is whole and the
    VIP and every HAProxy host's own address lead to the same writer; None until then. (A host whose link
    was down has marked every node down and needs `rise` checks to pass connections again.)"""
    found = holders(lab)
    if len(found) != 1:
        return None
    states = {host: vrrp_state(lab, host) for host in HAPROXY_HOSTS}
    if states[found[0]] != "MASTER" or any(state != "BACKUP" for host, state in states.items() if host != found[0]):
        return None
    if not lab.whole():
        return None
    writers = {answers(VIP)} | {answers(lab.ip(host)) for host in HAPROXY_HOSTS}
    return found[0] if len(writers) == 1 else None


def settle(lab: BenchLab) -> str:
    for host in HAPROXY_HOSTS:
        bring_back(lab, host)
    return wait_for(lambda: settled(lab), timeout=180, interval=0.5,
                    what=f"one VIP holder, the other HAProxy host a VRRP backup, writes through {VIP}")


class StallMeter(threading.Thread):
    """How late a 10 ms sleep on this machine wakes up: the writer runs here, and a machine whose CPUs are
    saturated (by other labs, say) leaves it unscheduled for seconds, which is no gap of the VIP's."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stopping = threading.Event()
        self.stalls: list[tuple[float, float]] = []  # (monotonic time woken, seconds late), when > 0.1 s

    def run(self):
        while not self.stopping.is_set():
            before = time.monotonic()
            time.sleep(0.01)
            late = time.monotonic() - before - 0.01
            if late > 0.1:
                self.stalls.append((time.monotonic(), late))

    def longest(self, start: float, end: float) -> float:
        """The longest stall that overlaps start..end."""
        return round(max((late for woken, late in self.stalls if woken >= start and woken - late <= end),
                         default=0.0), 2)


def one_try(lab: BenchLab, mode: str) -> dict:
    holder = settle(lab)
    meter = StallMeter()
    meter.start()
    writer = ContinuousWriter(VIP, 3306, ACCOUNT["user"], ACCOUNT["password"], ACCOUNT["database"],
                              rate=WRITE_RATE).start()
    time.sleep(3)
    fault_at, fault_wall = time.monotonic(), time.time()
    try:
        FAULTS[mode](lab, holder)
        fault_done_at = time.monotonic()
        wait_for(lambda: any(t > fault_done_at for _seq, t in writer.report.acknowledged), timeout=120,
                 interval=0.2, what=f"a write through {VIP} acknowledged after the fault")
        # The track script needs fall x interval (2 s) to give the VIP up; look after it had its chance.
        time.sleep(3)
        after = holders(lab)
        takeover = [(seconds, host) for host in HAPROXY_HOSTS if host != holder
                    for seconds, state in vrrp_transitions(lab, host, fault_wall) if state == "MASTER"]
    finally:
        restore_at = time.monotonic()
        bring_back(lab, holder)
    new_holder = settle(lab)
    time.sleep(3)
    report = writer.stop()
    meter.stopping.set()

    acked = report.acknowledged
    before = max(t for _seq, t in acked if t <= fault_at)
    first_after = min(t for _seq, t in acked if t > fault_done_at)
    outage = [t for _seq, t in acked if before <= t <= first_after]
    returned = [t for _seq, t in acked if t >= restore_at]
    checked = audit(report, {node: lab.ip(node) for node in NODES}, ACCOUNT["user"], ACCOUNT["password"],
                    ACCOUNT["database"])
    return {
        "mode": mode, "holder": holder, "fault_command_seconds": round(fault_done_at - fault_at, 2),
        "gap_seconds": round(max(b - a for a, b in itertools.pairwise(outage)), 2),
        "holders_after": after, "vip_moved": after != [holder],
        "takeover_seconds": min(takeover)[0] if takeover else None,
        "holder_after_return": new_holder,
        "return_stall_seconds": round(max((b - a for a, b in itertools.pairwise(returned)), default=0.0), 2),
        "host_stall_in_gap_seconds": meter.longest(before, first_after),
        "host_stall_max_seconds": meter.longest(acked[0][1], acked[-1][1]),
        "acknowledged": checked["acknowledged"], "failed": checked["failed"], "in_doubt": checked["in_doubt"],
        "in_doubt_committed": checked["in_doubt_committed"], "missing": checked["missing"],
        "lost": sum(len(seqs) for seqs in checked["missing"].values()),  # audit names up to 10 per node
        "errors": sorted({f"{code} {message}" for _s, _t, code, message in report.failed}),
        "timeline": {
            "fault_wall_clock": fault_wall,
            "acknowledged": [round(t - fault_at, 3) for _seq, t in acked],
            "failed": [[round(t - fault_at, 3), code] for _s, t, code, _m in report.failed],
            "restore_started": round(restore_at - fault_at, 3),
        },
    }


def summarise(results: list[dict], modes: list[str]) -> list[dict]:
    rows = []
    for mode in modes:
        tries = [r for r in results if r["mode"] == mode]
        gaps = [r["gap_seconds"] for r in tries]
        takeovers = [r["takeover_seconds"] for r in tries if r["takeover_seconds"] is not None]
        rows.append({
            "mode": mode, "tries": len(tries), "gap_min": min(gaps), "gap_median": statistics.median(gaps),
            "gap_max": max(gaps), "vip_moved": sum(r["vip_moved"] for r in tries),
            "takeover_median": statistics.median(takeovers) if takeovers else None,
            "returned_to_old_holder": sum(r["holder_after_return"] == r["holder"] for r in tries if r["vip_moved"]),
            "return_stall_median": statistics.median(r["return_stall_seconds"] for r in tries),
            "failed_writes": sum(r["failed"] for r in tries), "in_doubt": sum(r["in_doubt"] for r in tries),
            "in_doubt_committed": sum(r["in_doubt_committed"] for r in tries),
            "lost": sum(r["lost"] for r in tries),
            "host_stall_in_gap_max": max(r["host_stall_in_gap_seconds"] for r in tries),
        })
    return rows


def keepalived_settings(lab: BenchLab) -> dict:
    """keepalived's version, the VRRP version and advert interval the role wrote, and whether HAProxy keeps
    the writer in a shared stick table (a restarted HAProxy learns it from its peer), as deployed."""
    config = lab.exec(HAPROXY_HOSTS[0], "cat", "/etc/keepalived/keepalived.conf").stdout
    version = lab.exec(HAPROXY_HOSTS[0], "keepalived", "--version", check=False)
    found = {key: match[1] for key in ("version", "advert_int")
             if (match := re.search(rf"^\s*{key}\s+(\S+)", config, re.MULTILINE))}
    haproxy = lab.exec(HAPROXY_HOSTS[0], "cat", "/etc/haproxy/haproxy.cfg").stdout
    return {"keepalived": (version.stderr or version.stdout).splitlines()[0].strip(),
            "vrrp_version": found.get("version"), "advert_int": found.get("advert_int"),
            "sticky_writer": bool(re.search(r"^\s*stick on ", haproxy, re.MULTILINE))}


def describe(attempt: int, result: dict) -> str:
    takeover = result["takeover_seconds"]
    moved = f"moved to {','.join(result['holders_after'])}" if result["vip_moved"] else "stayed"
    return (f"try {attempt} {result['mode']:<6} {result['holder']}: gap {result['gap_seconds']:5.2f} s  VIP {moved}"
            f"{'' if takeover is None else f' (MASTER after {takeover:.2f} s)'}  return stall "
            f"{result['return_stall_seconds']:.2f} s  failed {result['failed']} in doubt {result['in_doubt']} "
            f"({result['in_doubt_committed']} committed) lost {result['lost']}  host stall in gap "
            f"{result['host_stall_in_gap_seconds']:.2f} s, in try {result['host_stall_max_seconds']:.2f} s  "
            f"{'; '.join(result['errors'])[:140]}")


def print_summary(summary: list[dict], tries: int, keepalived: dict) -> None:
    print(f"\nVIP failover ({VIP}), {tries} tries per mode, writes at {WRITE_RATE:.0f}/s, "
          f"VRRP version {keepalived['vrrp_version']}, advert_int {keepalived['advert_int']} s")
    print("| mode | gap min s | gap median s | gap max s | VIP moved | MASTER after, median s "
          "| return stall median s | failed writes | in doubt | lost |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in summary:
        takeover = "-" if row["takeover_median"] is None else f"{row['takeover_median']:.2f}"
        print(f"| {row['mode']} | {row['gap_min']:.2f} | {row['gap_median']:.2f} | {row['gap_max']:.2f} | "
              f"{row['vip_moved']} of {row['tries']} | {takeover} | {row['return_stall_median']:.2f} | "
              f"{row['failed_writes']} | {row['in_doubt']} ({row['in_doubt_committed']} committed) | {row['lost']} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("--modes", default=",".join(FAULTS))
    parser.add_argument("--set", action="append", default=[], metavar="VARIABLE=VALUE",
                        help="a role variable on top of the shipped defaults, e.g. keepalived_advert_interval=1 "
                             "(YAML value; repeatable)")
    add_lab_options(parser)
    args = parser.parse_args()
    modes = args.modes.split(",")
    unknown = sorted(set(modes) - set(FAULTS))
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(FAULTS)}")
    settings = role_settings(parser, args.set)
    if os.geteuid() != 0:
        parser.error("needs root (rootful podman)")

    with bench_lab(args) as lab:
        if args.reuse:  # an earlier run may have stopped here, with a host down or without its link
            for host in HAPROXY_HOSTS:
                bring_back(lab, host)
        lab.converge(args, settings)
        keepalived = keepalived_settings(lab)
        say(f"{keepalived['keepalived']}, VRRP version {keepalived['vrrp_version']}, "
            f"advert_int {keepalived['advert_int']} s, sticky writer {'on' if keepalived['sticky_writer'] else 'off'}")
        results = []
        for attempt in range(1, args.tries + 1):
            for mode in modes:
                results.append(one_try(lab, mode))
                say(describe(attempt, results[-1]))
        summary = summarise(results, modes)
        print_summary(summary, args.tries, keepalived)
        write_results(args.json, {"vip": VIP, "rate": WRITE_RATE, "settings": settings, **keepalived,
                                  "summary": summary, "tries": results})
    return 0 if all(row["lost"] == 0 for row in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
