"""Record when this whole machine stops running processes: a wake-up every 100 ms that comes more than
a second late is a stall of the machine (or of this process's CPU), logged with its length, the load and
the CPU time the hypervisor took (steal). `make test` runs it for the whole run and prints what it saw, so
that a drill that fails on a stall (keepalived: "A thread timer expired 20.7 s ago") can be told apart
from a bug: a stall this watcher saw too happened to every process on the machine.

    python3 scripts/stall_watch.py LOGFILE          (runs until killed; standard library only)
    python3 scripts/stall_watch.py --summary LOGFILE
"""

from __future__ import annotations

import sys
import time

INTERVAL = 0.1
LATE = 1.0


def steal_ticks() -> int:
    with open("/proc/stat", encoding="ascii") as stat:
        fields = stat.readline().split()
    return int(fields[8]) if len(fields) > 8 else 0


def load() -> str:
    with open("/proc/loadavg", encoding="ascii") as average:
        return " ".join(average.read().split()[:3])


def watch(path: str) -> None:
    ticks_per_second = 100
    with open(path, "a", encoding="utf-8", buffering=1) as log:
        log.write(f"{time.strftime('%H:%M:%S')} watching: a wake-up {LATE:.1f} s late or more is logged\n")
        steal = steal_ticks()
        expected = time.monotonic() + INTERVAL
        while True:
            time.sleep(max(0.0, expected - time.monotonic()))
            now = time.monotonic()
            late = now - expected
            if late >= LATE:
                stolen = (steal_ticks() - steal) / ticks_per_second
                log.write(f"{time.strftime('%H:%M:%S')} STALL {late:.1f} s (load {load()}, steal since the last "
                          f"wake-up {stolen:.1f} s)\n")
            steal = steal_ticks()
            expected = now + INTERVAL


def summary(path: str) -> int:
    try:
        with open(path, encoding="utf-8") as log:
            stalls = [line.rstrip() for line in log if " STALL " in line]
    except FileNotFoundError:
        print(f"stall watch: no log at {path}")
        return 0
    longest = max((float(line.split(" STALL ")[1].split()[0]) for line in stalls), default=0.0)
    print(f"stall watch: {len(stalls)} stall(s) of the whole machine of 1 s or more, the longest {longest:.1f} s")
    for line in stalls:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--summary":
        sys.exit(summary(sys.argv[2]))
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        watch(sys.argv[1])
    except KeyboardInterrupt:
        pass
