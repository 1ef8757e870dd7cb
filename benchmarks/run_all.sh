#!/usr/bin/env bash
# Every benchmark, one after another, then docs/benchmarks.md and its plots (a section whose results
# are missing is kept as it was).
#   benchmarks/run_all.sh [--quick]      (--quick: 1 try / 1 rep each, to check the scripts)
# Each benchmark brings up its own lab (dbstack-bench 10.213.70.0/24, dbstack-deploybench
# 10.213.71.0/24, dbstack-transportbench 10.213.72.0/24) and removes it afterwards. Needs root; about 80 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "run_all.sh: needs root (rootful podman); re-run with sudo." >&2; exit 1; }
tries=5 reps=3 deploys=3
[ "${1:-}" = --quick ] && tries=1 reps=1 deploys=1

lab/labctl prepare-host
scripts/venv.sh
lab/labctl images --release bookworm
.venv/bin/pip install -q -r benchmarks/requirements.txt
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
export PYTHONPATH="$PWD/benchmarks:$PWD/molecule/shared"

results=.cache/benchmarks
mkdir -p "$results"
python3 - "$results/meta.json" <<'PY'
import json, os, platform, subprocess, sys, time
def out(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
os_release = dict(line.split("=", 1) for line in open("/etc/os-release").read().split("\n") if "=" in line)
json.dump({
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "machine": f"{os.cpu_count()} CPUs, {mem:.0f} GiB, {os_release['PRETTY_NAME'].strip(chr(34))}, kernel {platform.release()}",
    "versions": f"{out('podman', '--version')}, {out('.venv/bin/ansible', '--version').splitlines()[0]}, "
                f"lab images Debian 12 (MariaDB 10.11, HAProxy 2.6)",
}, open(sys.argv[1], "w"))
PY
python3 benchmarks/transport.py --rounds "$reps" --json "$results/transport.json"
python3 benchmarks/deploy_speed.py --tries "$deploys" --json "$results/deploy_speed.json"
python3 benchmarks/failover.py --tries "$tries" --profile default --json "$results/failover_default.json"
python3 benchmarks/failover.py --tries "$tries" --profile tuned --json "$results/failover_tuned.json"
python3 benchmarks/vip_failover.py --tries "$tries" --json "$results/vip_failover.json"
python3 benchmarks/haproxy_overhead.py --reps "$reps" --json "$results/haproxy_overhead.json"
python3 benchmarks/tls_overhead.py --reps "$reps" --json "$results/tls_overhead.json"
python3 benchmarks/health_check.py --json "$results/health_check.json"
python3 benchmarks/failback.py --tries "$deploys" --json "$results/failback.json"
python3 benchmarks/backup_restore.py --pairs "$reps" --json "$results/backup_restore.json"
python3 benchmarks/report.py "$results"
