"""Per-task cost: the lab's SSH (as users reach their hosts) against the podman exec the lab used before.

    .venv/bin/python benchmarks/transport.py [--rounds 5] [--tasks 40] [--json FILE]

One lab of three hosts (dbstack-transportbench, 10.213.72.0/24). The same playbook runs over both
transports, in turn (SSH, podman, SSH, podman, ...), against the same hosts in the same run:
  - ssh:    the inventory labctl writes: Ansible's ssh connection as `deploy` with the lab's key,
            pipelining and ControlPersist from ansible.cfg, `become: true` (sudo) for every task;
  - podman: containers.podman.podman to the same containers as root, pipelining on, no become: what
            the lab did before.
The playbook has N small tasks on every host (a command, a stat, a copy of unchanged content, in turn);
per-task cost = (time of the play with N tasks - time of the same play with none) / N, so that
ansible-playbook's start-up and the inventory are not counted. Medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "molecule" / "shared"))

from labdb import run_playbook  # noqa: E402  pylint: disable=wrong-import-position

LAB_NAME = "dbstack-transportbench"
LAB_SUBNET = "10.213.72.0/24"
LAB_HOSTS = "galera1:galera,haproxy1:haproxy,app1:app"
TASK_KINDS = (
    {"name": "Run a command", "ansible.builtin.command": "true", "changed_when": False},
    {"name": "Read a file's state", "ansible.builtin.stat": {"path": "/etc/hostname"}},
    {"name": "Write unchanged content",
     "ansible.builtin.copy": {"content": "dbstack transport bench\n", "dest": "/root/dbstack-transport-bench",
                              "mode": "0600"}},
)


def labctl(*args: str) -> None:
    subprocess.run([str(REPO / "lab" / "labctl"), *args], check=True, capture_output=True, text=True)


def playbook(path: Path, tasks: int) -> None:
    plays = [{"name": "Transport bench", "hosts": "all", "gather_facts": False,
              "become": "{{ bench_become | bool }}",
              "tasks": [{**TASK_KINDS[number % len(TASK_KINDS)]} for number in range(tasks)]}]
    path.write_text(yaml.safe_dump(plays, sort_keys=False))


def podman_inventory(lab: dict, path: Path) -> None:
    hosts = {h["host"]: {"ansible_host": h["container"]} for h in lab["hosts"]}
    path.write_text(yaml.safe_dump({"all": {
        "vars": {"ansible_connection": "containers.podman.podman", "ansible_user": "root",
                 "ansible_python_interpreter": "/usr/bin/python3", "bench_become": False},
        "hosts": hosts}}))


def timed(book: Path, inventory: Path, extra: dict) -> float:
    """Seconds one run took; a failed or unreachable host fails the benchmark (run_playbook checks the exit code)."""
    started = time.monotonic()
    run_playbook(book, inventory=inventory, extra_vars=extra)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("needs root (rootful podman)")

    workdir = REPO / ".lab" / LAB_NAME
    workdir.mkdir(parents=True, exist_ok=True)
    description = workdir / "lab.json"
    ssh_inventory = workdir / "hosts.yml"
    labctl("down", "--name", LAB_NAME)
    labctl("up", "--name", LAB_NAME, "--subnet", LAB_SUBNET, "--hosts", LAB_HOSTS, "--inventory", str(ssh_inventory),
           "--json", str(description))
    lab = json.loads(description.read_text())
    samples: dict[str, dict[str, list[float]]] = {"ssh": {"empty": [], "full": []},
                                                  "podman": {"empty": [], "full": []}}
    try:
        with tempfile.TemporaryDirectory() as temp:
            empty, full, podman = Path(temp) / "empty.yml", Path(temp) / "full.yml", Path(temp) / "podman.yml"
            playbook(empty, 0)
            playbook(full, args.tasks)
            podman_inventory(lab, podman)
            transports = {"ssh": (ssh_inventory, {"bench_become": True}), "podman": (podman, {})}
            # One warm-up each: the first copy writes the file, later ones find it unchanged.
            for inventory, extra in transports.values():
                timed(full, inventory, extra)
            for round_number in range(1, args.rounds + 1):
                for transport, (inventory, extra) in transports.items():
                    for kind, book in (("empty", empty), ("full", full)):
                        samples[transport][kind].append(timed(book, inventory, extra))
                line = ", ".join(f"{t} {(samples[t]['full'][-1] - samples[t]['empty'][-1]) / args.tasks * 1000:.0f} ms"
                                 for t in transports)
                print(f"round {round_number}: per task {line}", flush=True)
    finally:
        labctl("down", "--name", LAB_NAME)

    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "hosts": len(lab["hosts"]),
               "tasks": args.tasks, "rounds": args.rounds, "transports": {}}
    print(f"\n{args.tasks} tasks on {len(lab['hosts'])} hosts, {args.rounds} rounds, medians")
    print("| transport | play with no task s | play with the tasks s | per task ms |")
    print("| --- | --- | --- | --- |")
    for transport, kinds in samples.items():
        per_task = [(full - empty) / args.tasks * 1000 for full, empty in zip(kinds["full"], kinds["empty"])]
        row = {"empty_median": statistics.median(kinds["empty"]), "full_median": statistics.median(kinds["full"]),
               "per_task_ms_median": statistics.median(per_task), "per_task_ms": per_task}
        results["transports"][transport] = row
        print(f"| {transport} | {row['empty_median']:.2f} | {row['full_median']:.2f} | {row['per_task_ms_median']:.0f} |")
    ratio = results["transports"]["podman"]["per_task_ms_median"] / results["transports"]["ssh"]["per_task_ms_median"]
    print(f"podman exec costs {ratio:.1f}x what SSH does per task")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
