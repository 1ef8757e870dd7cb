#!/usr/bin/env bash
# How fast the lab is, on this machine: the three numbers docs/lab.md quotes.
#   (a) `labctl up` of the five default hosts with images cached, until systemd runs in all (target <= 30 s)
#   (b) `labctl down` of that lab (target <= 20 s)
#   (c) host preparation + images rebuilt from nothing (debootstrap + systemd layer; target <= 5 min)
# Usage: benchmarks/lab_speed.sh [--release bookworm|trixie|all] [--runs N] [--skip-rebuild]
# Uses its own lab name and subnet (dbstack-trybench, 10.213.26.0/24) so it never touches other labs.
set -euo pipefail
cd "$(dirname "$0")/.."

release=bookworm runs=3 rebuild=1
while [ $# -gt 0 ]; do
  case "$1" in
    --release) release=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --skip-rebuild) rebuild=0; shift ;;
    *) echo "usage: $0 [--release bookworm|trixie|all] [--runs N] [--skip-rebuild]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "lab_speed.sh: needs root (rootful podman); re-run with sudo." >&2; exit 1; }

name=dbstack-trybench subnet=10.213.26.0/24 labctl=lab/labctl
up_release=$release; [ "$release" = all ] && up_release=bookworm
trap '$labctl down --name $name >/dev/null 2>&1 || true' EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
quiet() { local log; log=$(mktemp); if ! "$@" >"$log" 2>&1; then cat "$log" >&2; rm -f "$log"; exit 1; fi; rm -f "$log"; }

results=()
if [ "$rebuild" = 1 ]; then
  t0=$(now); quiet "$labctl" prepare-host; t1=$(now)
  quiet "$labctl" images --release "$release" --rebuild; t2=$(now)
  results+=("host preparation (packages already installed: $(secs "$t0" "$t1") s)|$(secs "$t0" "$t1")|")
  results+=("images --rebuild --release $release (debootstrap + systemd layer)|$(secs "$t1" "$t2")|")
  results+=("(c) host prep + images from nothing|$(secs "$t0" "$t2")|<= 300")
else
  quiet "$labctl" images --release "$up_release"
fi

$labctl down --name "$name" >/dev/null
ups=() downs=()
for _ in $(seq "$runs"); do
  t0=$(now); quiet "$labctl" up --name "$name" --subnet "$subnet" --release "$up_release"; t1=$(now)
  quiet "$labctl" down --name "$name"; t2=$(now)
  ups+=("$(secs "$t0" "$t1")"); downs+=("$(secs "$t1" "$t2")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
results+=("(a) up, 5 hosts to systemd running, images cached ($up_release; runs: ${ups[*]})|$(median "${ups[@]}")|<= 30")
results+=("(b) down, 5 hosts + network (runs: ${downs[*]})|$(median "${downs[@]}")|<= 20")

printf '\n%-84s %8s %8s\n' "step" "seconds" "target"
for r in "${results[@]}"; do
  IFS='|' read -r step value target <<<"$r"
  printf '%-84s %8s %8s\n' "$step" "$value" "$target"
done
printf '\nmachine: %s cores, %s GiB RAM, podman %s, %s\n' "$(nproc)" \
  "$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" \
  "$(podman version --format '{{.Client.Version}}')" "$(. /etc/os-release; echo "$PRETTY_NAME")"
