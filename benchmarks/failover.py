"""Failover benchmark: how long writes through HAProxy stop when the writer dies.

A client writes continuously through HAProxy (20 INSERTs/s, autocommit, each acknowledgement
recorded). The current writer is then broken in one of three ways:

  kill          kill -9 of mariadbd (Debian's unit restarts it; the health check keeps it out until Synced)
  service-stop  systemctl stop mariadb (a clean leave; the HAProxy role's own failover test, repeated)
  stop          the host container stopped (systemd shuts MariaDB down: a clean leave)
  silent        the host's network link taken down first, then the container stopped: no FIN, no RST

The gap is the longest time without an acknowledged write from the fault's start until a write
is acknowledged after it has fully happened (a container stop takes seconds; writes may go on
meanwhile).
After each try the node comes back; the longest stall while it rejoins is reported too, and every
acknowledged write is looked up on all three nodes (lost = acknowledged but missing anywhere).

    .venv/bin/python benchmarks/failover.py [--tries 5] [--modes service-stop,kill,stop,silent] [--profile default|tuned]
                           [--json FILE] [--keep]

Runs on the benchmarks' lab (benchlab.py), deployed with playbooks/site.yml; the profile chooses
the failure-detection settings (benchlab.PROFILES).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path

from benchlab import ACCOUNT, LAB_NAME, NODES, PROFILES, BenchLab, run, say
from labdb import wait_for
from writer import ContinuousWriter, rows_on

WRITE_RATE = 20.0


FAULTS = {
    "kill": lambda lab, node: lab.exec(node, "pkill", "-KILL", "-x", "mariadbd"),
    "service-stop": lambda lab, node: lab.exec(node, "systemctl", "stop", "mariadb"),
    "stop": lambda lab, node: run("podman", "stop", "--time", "20", lab.container(node)),
    "silent": lambda lab, node: (lab.exec(node, "ip", "link", "set", "eth0", "down"),
                                 run("podman", "stop", "--time", "20", lab.container(node))),
}


def restore(lab: BenchLab, mode: str, node: str) -> None:
    if mode in ("stop", "silent"):
        run("podman", "start", lab.container(node))
    elif mode == "service-stop":
        lab.exec(node, "systemctl", "start", "mariadb")


def eviction_timeline(lab: BenchLab, victim: str, fault_wall: float) -> dict:
    """When each survivor first suspected a peer, and installed a Primary view without the victim,
    in seconds after the fault, from its Galera log (journald, shared clock with this host)."""
    marks = {"suspected": "suspecting node",
             "primary_without_victim": "New COMPONENT: primary = yes, bootstrap = no, my_idx = "}
    timeline = {}
    for node in NODES:
        if node == victim:
            continue
        log = lab.exec(node, "journalctl", "--unit=mariadb", f"--since=@{fault_wall:.0f}", "--output=short-unix",
                       "--no-pager", check=False).stdout.splitlines()
        seen = {}
        for line in log:
            stamp = float(line.split(" ", 1)[0])
            if stamp < fault_wall:
                continue
            for name, text in marks.items():
                if name not in seen and text in line and (name != "primary_without_victim"
                                                          or f"memb_num = {len(NODES) - 1}" in line):
                    seen[name] = round(stamp - fault_wall, 2)
        timeline[node] = seen
    return timeline


def eviction_seconds(timeline: dict) -> float | None:
    """When the last survivor installed its Primary view without the victim; None if one never did."""
    times = [marks.get("primary_without_victim") for marks in timeline.values()]
    return max(times) if times and None not in times else None


def one_try(lab: BenchLab, mode: str) -> dict:
    wait_for(lab.whole, timeout=180, interval=1, what="the cluster whole, HAProxy with a writer")
    victim = lab.writer()
    writer = ContinuousWriter(lab.ip("haproxy1"), 3306, ACCOUNT["user"], ACCOUNT["password"], ACCOUNT["database"],
                              rate=WRITE_RATE).start()
    time.sleep(3)
    fault_at = time.monotonic()
    fault_wall = time.time()
    FAULTS[mode](lab, victim)
    fault_done_at = time.monotonic()
    # A container stop takes seconds, and writes may go on meanwhile: the outage is over only once
    # a write is acknowledged after the fault has fully happened.
    wait_for(lambda: any(t > fault_done_at for _seq, t in writer.report.acknowledged), timeout=120, interval=0.2,
             what="a write acknowledged after the fault")
    time.sleep(3)
    recovered_from = time.monotonic()
    restore(lab, mode, victim)
    wait_for(lab.whole, timeout=240, interval=1, what=f"{victim} back and Synced")
    time.sleep(3)
    report = writer.stop()

    acked = report.acknowledged
    before = max(t for _seq, t in acked if t <= fault_at)
    after = min(t for _seq, t in acked if t > fault_done_at)
    outage = [t for _seq, t in acked if before <= t <= after]
    rejoin_times = [t for _seq, t in acked if t >= recovered_from]
    rejoin_gap = max((b - a for a, b in itertools.pairwise(rejoin_times)), default=0.0)
    eviction = eviction_timeline(lab, victim, fault_wall)
    acked_seqs = {seq for seq, _t in acked}
    stored = {node: rows_on(lab.ip(node), 3306, ACCOUNT["user"], ACCOUNT["password"], ACCOUNT["database"])
              for node in NODES}
    lost = {node: len(acked_seqs - rows) for node, rows in stored.items()}
    return {
        "mode": mode, "victim": victim, "fault_command_seconds": round(fault_done_at - fault_at, 2),
        "gap_seconds": round(max(b - a for a, b in itertools.pairwise(outage)), 2), "rejoin_stall_seconds": round(rejoin_gap, 2),
        "acknowledged": len(acked), "failed": len(report.failed), "in_doubt": len(report.in_doubt),
        "in_doubt_committed": len(set(report.in_doubt) & stored[NODES[0]]),
        "evicted_seconds": eviction_seconds(eviction),
        "lost": sum(lost.values()), "errors": sorted({f"{code} {message}" for _s, _t, code, message in report.failed}),
        "timeline": {
            "fault_wall_clock": fault_wall,
            "acknowledged": [round(t - fault_at, 3) for _seq, t in acked],
            "failed": [[round(t - fault_at, 3), code] for _s, t, code, _m in report.failed],
            "restore_started": round(recovered_from - fault_at, 3),
            "eviction": eviction,
        },
    }


def summarise(results: list[dict], modes: list[str]) -> list[dict]:
    rows = []
    for mode in modes:
        tries = [r for r in results if r["mode"] == mode]
        gaps = [r["gap_seconds"] for r in tries]
        stalls = [r["rejoin_stall_seconds"] for r in tries]
        rows.append({
            "mode": mode, "tries": len(tries), "gap_min": min(gaps), "gap_median": statistics.median(gaps),
            "gap_max": max(gaps), "rejoin_stall_median": statistics.median(stalls),
            "failed_writes": sum(r["failed"] for r in tries), "in_doubt": sum(r["in_doubt"] for r in tries),
            "in_doubt_committed": sum(r["in_doubt_committed"] for r in tries),
            "lost": sum(r["lost"] for r in tries),
        })
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("--modes", default="service-stop,kill,stop,silent")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default")
    parser.add_argument("--release", choices=("bookworm", "trixie"), default="bookworm")
    parser.add_argument("--json", help="write every try and the summary to this file")
    parser.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the lab --keep left up, as deployed then")
    args = parser.parse_args()
    modes = args.modes.split(",")
    unknown = sorted(set(modes) - set(FAULTS))
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(FAULTS)}")
    if os.geteuid() != 0:
        parser.error("needs root (rootful podman)")

    lab = BenchLab(args.release)
    if args.reuse:
        lab.load()
    else:
        lab.down()
        say(f"lab {LAB_NAME} up ({args.release})")
        lab.up()
    try:
        lab.converge(args, PROFILES[args.profile], what=f" with profile {args.profile}")
        results = []
        for attempt in range(1, args.tries + 1):
            for mode in modes:
                result = one_try(lab, mode)
                results.append(result)
                say(f"try {attempt} {mode:<6} gap {result['gap_seconds']:5.2f} s  rejoin stall "
                    f"{result['rejoin_stall_seconds']:5.2f} s  failed {result['failed']} in doubt "
                    f"{result['in_doubt']} ({result['in_doubt_committed']} committed) lost {result['lost']}  evicted after "
                    f"{'unknown' if result['evicted_seconds'] is None else format(result['evicted_seconds'], '.2f') + ' s'}  "
                    f"{'; '.join(result['errors'])[:140]}")
        summary = summarise(results, modes)
        print(f"\nfailover, profile {args.profile}, {args.tries} tries per mode, writes at {WRITE_RATE:.0f}/s")
        print("| mode | gap min s | gap median s | gap max s | rejoin stall median s | failed writes | in doubt | lost |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in summary:
            print(f"| {row['mode']} | {row['gap_min']:.2f} | {row['gap_median']:.2f} | {row['gap_max']:.2f} | "
                  f"{row['rejoin_stall_median']:.2f} | {row['failed_writes']} | {row['in_doubt']} | {row['lost']} |")
        if args.json:
            Path(args.json).write_text(json.dumps({"profile": args.profile, "settings": PROFILES[args.profile],
                                                   "release": args.release, "summary": summary,
                                                   "tries": results}, indent=1))
        return 0 if all(row["lost"] == 0 for row in summary) else 1
    finally:
        if not args.keep:
            lab.down()


if __name__ == "__main__":
    sys.exit(main())
