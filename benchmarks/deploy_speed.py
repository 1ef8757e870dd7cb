"""Deploy speed: playbooks/site.yml on fresh lab hosts (images cached), then an idempotent re-run.

    .venv/bin/python benchmarks/deploy_speed.py [--tries 3] [--release bookworm|trixie] [--json FILE]

Each try brings up six new hosts (3 Galera, 2 HAProxy behind the virtual IP, app) on its own lab (dbstack-deploybench,
10.213.71.0/24) with the settings `make lab` uses (inventories/lab/group_vars), runs site.yml
(the whole stack, smoke app included), then runs it again and counts changed tasks from the
recap. Lab start-up time is reported apart: it is the lab's cost, not the collection's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "molecule" / "shared"))

from labdb import run_playbook  # noqa: E402  pylint: disable=wrong-import-position

LAB_NAME = "dbstack-deploybench"
LAB_SUBNET = "10.213.71.0/24"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def labctl(*args: str, check: bool = True) -> None:
    subprocess.run([str(REPO / "lab" / "labctl"), *args], check=check, capture_output=True, text=True)


def site(inventory: Path) -> tuple[float, int, str]:
    started = time.monotonic()
    process = run_playbook("playbooks/site.yml", inventory=inventory)
    elapsed = time.monotonic() - started
    changed = sum(int(match[2]) for match in RECAP.findall(process.stdout))
    return elapsed, changed, process.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--release", choices=("bookworm", "trixie"), default="bookworm")
    parser.add_argument("--json", help="write the measurements to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("needs root (rootful podman)")

    workdir = REPO / ".lab" / LAB_NAME
    workdir.mkdir(parents=True, exist_ok=True)
    inventory = workdir / "hosts.yml"
    group_vars = workdir / "group_vars"
    if not group_vars.is_symlink():
        group_vars.symlink_to(REPO / "inventories" / "lab" / "group_vars")
    labctl("images", "--release", args.release)

    tries = []
    try:
        for attempt in range(1, args.tries + 1):
            labctl("down", "--name", LAB_NAME, check=False)
            started = time.monotonic()
            labctl("up", "--name", LAB_NAME, "--subnet", LAB_SUBNET, "--release", args.release,
                   "--inventory", str(inventory))
            lab_up = time.monotonic() - started
            fresh, fresh_changed, _fresh_log = site(inventory)
            rerun, rerun_changed, rerun_log = site(inventory)
            tries.append({"lab_up_seconds": round(lab_up, 1), "fresh_seconds": round(fresh, 1),
                          "fresh_changed": fresh_changed, "rerun_seconds": round(rerun, 1),
                          "rerun_changed": rerun_changed})
            print(f"try {attempt}: lab up {lab_up:.1f} s, site.yml fresh {fresh:.1f} s ({fresh_changed} changed), "
                  f"re-run {rerun:.1f} s ({rerun_changed} changed)", flush=True)
            if rerun_changed:
                print(rerun_log[-4000:], file=sys.stderr)
    finally:
        labctl("down", "--name", LAB_NAME, check=False)

    fresh = [t["fresh_seconds"] for t in tries]
    rerun = [t["rerun_seconds"] for t in tries]
    print(f"\nsite.yml on 6 hosts ({args.release}), {len(tries)} tries")
    print("| run | min s | median s | max s | changed tasks | target |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(f"| fresh | {min(fresh):.1f} | {statistics.median(fresh):.1f} | {max(fresh):.1f} | "
          f"{', '.join(str(t['fresh_changed']) for t in tries)} | <= 120 s |")
    print(f"| re-run | {min(rerun):.1f} | {statistics.median(rerun):.1f} | {max(rerun):.1f} | "
          f"{', '.join(str(t['rerun_changed']) for t in tries)} | <= 15 s, 0 changed |")
    if args.json:
        Path(args.json).write_text(json.dumps({"release": args.release, "tries": tries}, indent=1))
    return 0 if all(t["rerun_changed"] == 0 for t in tries) else 1


if __name__ == "__main__":
    sys.exit(main())
