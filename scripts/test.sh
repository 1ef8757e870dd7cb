#!/usr/bin/env bash
# The project's test tiers (README, "Development"):
#   scripts/test.sh check          lint, unit, sanity: pure Python and the venv, no root, no podman (`make check`)
#   scripts/test.sh                everything CI runs (`make test`, `.ci/run`)
#   scripts/test.sh lint|unit|sanity|integration|lab|readme|compat
#   scripts/test.sh molecule [SCENARIO[@CORE]...]   whole scenarios, one after another
# Installs what it needs itself: the pinned venv (scripts/venv.sh); for the tiers beyond `check`, host
# packages and podman settings (lab/labctl prepare-host) and the lab images (lab/labctl images).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg" ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
# Scenarios live in molecule/ (docs/lab.md says why not extensions/molecule).
export MOLECULE_GLOB="molecule/*/molecule.yml"

# Each scenario has its own /24 and name prefix (docs/lab.md), so scenarios can run at once; what
# decides where one runs in `make test` is whether its tests time anything.
#  - BESIDE: scenarios none of whose tests measure time under load, run whole (molecule test) in the
#    first stage, beside the checks: the timeouts scenario sleeps through idle timeouts whose closest
#    margin is 3 s (tasks of 8 s against HAProxy's 5 s), and an older core's run skips the tests that
#    measure the deployment and the drills.
#  - TIMED: scenarios whose tests time failovers, stalls and copy rates. Their create, converge and
#    idempotence steps measure nothing, so they run in the first stage too ("prepare"); their verify
#    steps run in the second stage: the drills (default) alone, then the galera scenario's verify on
#    both releases side by side (two timed bounds there, a failover under 10 s that takes 2-3 s and a
#    4 s paced unpack under 10 s; CPU-bound work beside them stretches neither past its bound).
#  - ON THE OLDEST CORE: the default scenario's tests again, with ansible-core 2.17, on the lab its
#    prepare left (after it, in stage 1): 2.17's site.yml run changes nothing there (it would deploy
#    what 2.21 deployed), then every test but the drills and the deployment's measurements. 2.17's
#    first deployment is the README test's (README_CORE), in the background lane.
BESIDE_SCENARIOS=(timeouts)
TIMED_SCENARIOS=(default galera galera_trixie)
OLDEST_CORE_PASS=default@2.17
README_CORE=2.17
# The ansible-core releases meta/runtime.yml claims besides .venv's 2.21.
OLDER_CORES=(2.17 2.18 2.19 2.20)
# A scenario run on an older core gets a lab of its own (name, subnet), so that it can run while the
# same scenario's lab for .venv's core is up.
declare -A OLDER_CORE_LABS=([default@2.17]="dbstack-default-2-17 10.213.21.0/24")
# The integration tests that time the real haproxy against the parser (to 0.2 s): run alone, once.
HAPROXY_TIMING="times_haproxy"

# CPU seconds the whole machine has spent (user + system, every process and lab host): what a stage
# costs when it runs beside others, printed with each stage's start.
machine_cpu() { awk '/^cpu /{printf "%d", ($2 + $3 + $4 + $7 + $8) / 100}' /proc/stat; }
stage() { printf '\n=== %s (%s, machine CPU %s s)\n' "$1" "$(date -u +%H:%M:%S)" "$(machine_cpu)"; }

# Where a run's CPU went, printed at its end: on two cores the run takes at least its CPU seconds over
# two, so that is what to cut. Each job's own processes count in a cgroup v1 cpuacct group below
# CPU_ACCOUNTS (cpuacct only: how the scheduler shares the machine does not change), and each lab's
# hosts over their whole life as labctl removes the lab (DBSTACK_LAB_CPU_LOG): idle hosts cost too.
CPU_ACCOUNTS=/sys/fs/cgroup/cpuacct/dbstack_ci
LAB_CPU_LOG="$PWD/.test-logs/lab-cpu.tsv"
reset_cpu_accounts() {
  mkdir -p "$(dirname "$LAB_CPU_LOG")"
  : > "$LAB_CPU_LOG"
  export DBSTACK_LAB_CPU_LOG="$LAB_CPU_LOG"
  RUN_CPU_START=$(machine_cpu)
  [ -d /sys/fs/cgroup/cpuacct ] || return 0
  mkdir -p "$CPU_ACCOUNTS"
  local group
  for group in "$CPU_ACCOUNTS"/*/; do
    [ -d "$group" ] || continue
    rmdir "$group" 2>/dev/null || echo 0 > "$group/cpuacct.usage"
  done
}

# account_as NAME: this shell and what it starts, lab hosts aside, count as NAME's.
account_as() {
  [ -d "$CPU_ACCOUNTS" ] || return 0
  mkdir -p "$CPU_ACCOUNTS/$1"
  echo "$BASHPID" > "$CPU_ACCOUNTS/$1/cgroup.procs"
}

cpu_report() {
  stage "where the run's CPU went"
  local group
  for group in "$CPU_ACCOUNTS"/*/; do
    [ -f "$group/cpuacct.usage" ] || continue
    printf '  %-34s %6d CPU s\n' "job $(basename "$group")" "$(awk '{printf "%d", $1 / 1e9}' "$group/cpuacct.usage")"
  done
  awk -F'\t' '{printf "  %-34s %6d CPU s (%d hosts, up %d s)\n", "lab " $1, $3, $2, $4; sum += $3}
    END {printf "  %-34s %6d CPU s\n", "labs together", sum}' "$LAB_CPU_LOG"
  [ -f "/sys/fs/cgroup/cpuacct/$BACKGROUND_CGROUP/cpuacct.usage" ] &&
    printf '  %-34s %6d CPU s (its labs included)\n' "background lane" "$(background_cpu)"
  printf '  %-34s %6d CPU s in %d s\n' "the machine" "$(( $(machine_cpu) - RUN_CPU_START ))" "$SECONDS"
}

# side_by_side NAME 'COMMANDS' [NAME 'COMMANDS'...]: runs each in the background with its output in
# .test-logs/NAME.log, then prints each log whole, in the order given, as its job ends; fails when
# one failed, after all ended (a stage cut short would leave containers running).
side_by_side() {
  local logs="$PWD/.test-logs" names=() pids=() failed=() i started=$SECONDS
  mkdir -p "$logs"
  while [ $# -gt 0 ]; do
    names+=("$1")
    ( set -euo pipefail; account_as "$1"; eval "$2" ) > "$logs/$1.log" 2>&1 &
    pids+=($!)
    shift 2
  done
  stage "side by side: ${names[*]}"
  for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
      stage "${names[$i]} passed; its output:"
    else
      failed+=("${names[$i]}")
      stage "${names[$i]} FAILED; its output:"
    fi
    cat "$logs/${names[$i]}.log"
  done
  echo "side by side: ${names[*]}: $((SECONDS - started)) s"
  if [ ${#failed[@]} -gt 0 ]; then
    echo "side by side: failed: ${failed[*]}" >&2
    return 1
  fi
}

lint() {
  stage "ansible-lint, production profile"
  ansible-lint --profile production --offline
}

unit() {
  stage "unit tests: pure Python (pytest tests/unit)"
  pytest -q tests/unit
}

sanity() {
  stage "ansible-test sanity (offline, see README)"
  scripts/sanity.sh
}

check() {
  lint
  unit
  sanity
}

# integration [PYTEST ARGS]: the tests that run real programs on this machine (haproxy, ansible-playbook).
integration() {
  stage "integration tests: real haproxy and ansible-playbook on loopback ${*:+($*)}"
  pytest -q tests/integration "$@"
}

lab_tests() {
  stage "labctl's own tests on labs of their own (tests/lab)"
  pytest -q tests/lab
}

# The README's minimal inventory deployed as a new user would, on a lab of its own (tests/readme), with
# the oldest ansible-core `make test` runs: its first deployment.
README_LAB=dbstack-readme
readme_test() {
  lab/labctl images
  scripts/venv.sh --core "$README_CORE"
  stage "the README's minimal inventory on ansible-core $README_CORE, deployed and re-run (tests/readme)"
  PATH="$PWD/.venvs/core-$README_CORE/bin:$PATH" pytest -q -s tests/readme
}

older_venvs() {
  local core
  for core in "${OLDER_CORES[@]}"; do
    scripts/venv.sh --core "$core"
  done
}

compat() {
  older_venvs
  compat_tests
}

# Unit, integration and sanity tests on each older core. The haproxy timing corpus is left out: it
# compares the parser, which imports nothing from ansible-core, with the haproxy binary, so it gives the
# same answer on every core (the unit tests run the parser on each core's Python).
compat_tests() {
  local core
  for core in "${OLDER_CORES[@]}"; do
    stage "unit, integration and sanity tests on ansible-core $core"
    PATH="$PWD/.venvs/core-$core/bin:$PATH" pytest -q tests/unit
    PATH="$PWD/.venvs/core-$core/bin:$PATH" pytest -q tests/integration -m "not $HAPROXY_TIMING"
    DBSTACK_VENV=".venvs/core-$core" scripts/sanity.sh
  done
}

# The background lane: compat and the BACKGROUND scenarios, which time nothing and wait for no other job,
# run from the start to the end of the run in a cpu cgroup of a tenth of the weight of the others, with
# every lab host they start (labctl's DBSTACK_LAB_CGROUP_PARENT). In stage 1 the other jobs keep both
# cores busy and it gets about a tenth of them; in stage 2 it takes the CPU the timed verifies leave idle
# while they wait on failovers, restarts and timeouts, and at most a tenth while they want it all
# (measured in stage 1: two busy loops in the cgroup got 0.8 s of CPU in 10 s). Not cpu.idle, whose
# weight is 3: the lane runs Galera nodes of its own, which must keep a share while a drill saturates
# the machine for 60 s. Its scenario waits for stage 1 to end: a lab booting at a tenth of the CPU would
# hold labctl's boot lock (one lab boots at a time) while stage 1's labs wait for it.
BACKGROUND_CGROUP=dbstack_background
# Of cgroup v1's cpu.shares, against 1024 for every other group and for each process outside one.
BACKGROUND_CPU_SHARES=102
STAGE_1_DONE="$PWD/.test-logs/stage-1-done"

# Whether the background lane can run beside the others: cgroup v1's cpu and cpuacct controllers and
# podman's cgroupfs manager, as on this lab's machines. Elsewhere it runs after stage 2 instead.
background_cgroup_ready() {
  [ -d /sys/fs/cgroup/cpu ] && [ -d /sys/fs/cgroup/cpuacct ] || return 1
  [ "$(podman info --format '{{.Host.CgroupManager}}' 2>/dev/null)" = cgroupfs ] || return 1
  mkdir -p "/sys/fs/cgroup/cpu/$BACKGROUND_CGROUP" "/sys/fs/cgroup/cpuacct/$BACKGROUND_CGROUP" || return 1
  echo "$BACKGROUND_CPU_SHARES" > "/sys/fs/cgroup/cpu/$BACKGROUND_CGROUP/cpu.shares"
  # The cgroup outlives a run: count this run's CPU only.
  echo 0 > "/sys/fs/cgroup/cpuacct/$BACKGROUND_CGROUP/cpuacct.usage" || true
}

# background_lane: moves itself (and so everything it starts) into the cgroup, then runs the lane.
background_lane() {
  local hierarchy
  for hierarchy in cpu cpuacct; do
    echo "$BASHPID" > "/sys/fs/cgroup/$hierarchy/$BACKGROUND_CGROUP/cgroup.procs"
  done
  export DBSTACK_LAB_CGROUP_PARENT="/$BACKGROUND_CGROUP"
  compat_tests
  stage "background lane: waiting for stage 1 to end"
  while [ ! -e "$STAGE_1_DONE" ]; do sleep 5; done
  readme_test
}

# CPU seconds the background lane has used, its lab hosts included.
background_cpu() { awk '{printf "%d", $1 / 1e9}' "/sys/fs/cgroup/cpuacct/$BACKGROUND_CGROUP/cpuacct.usage"; }

# with_scenario ENTRY COMMAND...: runs COMMAND with the venv, lab identity and molecule state of a
# scenario entry (NAME or NAME@CORE).
with_scenario() {
  local entry=$1 scenario=${1%@*} core=""
  shift
  [ "$entry" != "$scenario" ] && core=${entry#*@}
  if [ -z "$core" ]; then
    "$@"
    return
  fi
  local lab
  read -ra lab <<< "${OLDER_CORE_LABS[$entry]:?"no lab of its own for $entry in OLDER_CORE_LABS"}"
  scripts/venv.sh --core "$core"
  PATH="$PWD/.venvs/core-$core/bin:$PATH" DBSTACK_OLDER_CORE="$core" \
    DBSTACK_LAB_NAME="${lab[0]}" DBSTACK_LAB_SUBNET="${lab[1]}" \
    MOLECULE_EPHEMERAL_DIRECTORY="${XDG_CACHE_HOME:-$HOME/.cache}/molecule-dbstack/$scenario-$core" "$@"
}

# molecule_scenarios ENTRY...: each scenario whole (molecule test), one after another.
molecule_scenarios() {
  local entry started
  lab/labctl images --release all
  for entry in "$@"; do
    started=$SECONDS
    stage "molecule test -s $entry"
    with_scenario "$entry" molecule test -s "${entry%@*}"
    echo "scenario $entry: $((SECONDS - started)) s"
  done
}

# prepare ENTRY: the untimed first half of `molecule test` (destroy what a killed run left, syntax,
# create, converge, idempotence); verify ENTRY then runs the tests and destroys the lab.
prepare() {
  local entry=$1 step started=$SECONDS
  for step in destroy syntax create converge idempotence; do
    stage "molecule $step -s $entry"
    with_scenario "$entry" molecule "$step" -s "${entry%@*}"
  done
  echo "scenario $entry prepared: $((SECONDS - started)) s"
}

verify() {
  local entry=$1 started=$SECONDS rc=0
  stage "molecule verify -s $entry"
  with_scenario "$entry" molecule verify -s "${entry%@*}" || rc=$?
  with_scenario "$entry" molecule destroy -s "${entry%@*}"
  echo "scenario $entry verified: $((SECONDS - started)) s"
  return "$rc"
}

# on_oldest_core SCENARIO@CORE: that core's site.yml run (molecule idempotence: nothing changes) and the
# scenario's tests but the drills and measurements, on the lab the scenario's prepare left for .venv's core.
on_oldest_core() {
  local scenario=${1%@*} core=${1#*@} step started=$SECONDS
  scripts/venv.sh --core "$core"
  for step in idempotence verify; do
    stage "molecule $step -s $scenario with ansible-core $core, on the lab its prepare left"
    PATH="$PWD/.venvs/core-$core/bin:$PATH" DBSTACK_OLDER_CORE="$core" molecule "$step" -s "$scenario"
  done
  echo "scenario $scenario on ansible-core $core: $((SECONDS - started)) s"
}

# What a run killed half-way leaves behind: every scenario's lab, by name.
destroy_all() {
  local entry
  # default@2.17: the lab of its own that earlier runs gave it.
  for entry in "${TIMED_SCENARIOS[@]}" "${BESIDE_SCENARIOS[@]}" "$OLDEST_CORE_PASS"; do
    with_scenario "$entry" molecule destroy -s "${entry%@*}" >/dev/null 2>&1 || true
  done
  lab/labctl down --name "$README_LAB" >/dev/null 2>&1 || true
}

# Whether the whole machine stopped running processes at some point of the run (scripts/stall_watch.py),
# printed at the end whatever the outcome: a drill that failed on such a stall failed on the machine.
STALL_LOG="$PWD/.test-logs/stalls.log"
start_stall_watch() {
  mkdir -p "$(dirname "$STALL_LOG")"
  : > "$STALL_LOG"
  nice -n -5 python3 scripts/stall_watch.py "$STALL_LOG" &
  STALL_WATCH=$!
}
stop_stall_watch() {
  kill "$STALL_WATCH" 2>/dev/null || true
  python3 scripts/stall_watch.py --summary "$STALL_LOG"
}

finish() {
  # The background lane is a session of its own (setsid): end all of it before its labs go.
  [ -n "${BACKGROUND_LANE:-}" ] && kill -TERM -- "-$BACKGROUND_LANE" 2>/dev/null
  destroy_all
  stop_stall_watch
}

everything() {
  lab/labctl prepare-host
  scripts/venv.sh
  reset_cpu_accounts
  start_stall_watch
  trap stop_stall_watch EXIT
  # The older cores' venvs (pip, mostly waiting on PyPI) and the images (debootstrap and apt, waiting
  # on the mirror) are made at once.
  local setup=(images "lab/labctl images --release all") core
  for core in "${OLDER_CORES[@]}"; do
    setup+=("venv-$core" "scripts/venv.sh --core $core")
  done
  side_by_side "${setup[@]}"
  # Stage 1: nothing here times anything under load. Three lanes, each one job after another: the work
  # is mostly CPU on two cores, and more lanes only made every job slower (seven at once: a load of 20-40,
  # converges of 35-40 min instead of 4). The background lane runs beside all of it, at a tenth of the
  # weight.
  trap finish EXIT
  rm -f "$STAGE_1_DONE"
  local logs="$PWD/.test-logs" background_started=$SECONDS background_rc=0 beside=1
  if background_cgroup_ready; then
    setsid scripts/test.sh background-lane > "$logs/background.log" 2>&1 &
    BACKGROUND_LANE=$!
    stage "background lane started (cgroup $BACKGROUND_CGROUP, cpu.shares $BACKGROUND_CPU_SHARES)"
  else
    beside=0
    stage "background lane: no cgroup v1 cpu controller with podman's cgroupfs manager here; it runs after stage 2"
  fi
  side_by_side checks "check; integration -m 'not $HAPROXY_TIMING'; lab_tests; prepare galera_trixie" \
    beside "molecule_scenarios ${BESIDE_SCENARIOS[*]}; prepare galera" \
    prepare "prepare default; on_oldest_core $OLDEST_CORE_PASS"
  touch "$STAGE_1_DONE"
  # Stage 2: the timing corpus and the drills alone, then the galera scenario on both releases side by
  # side; the background lane's tenth beside them.
  local failed=()
  integration -m "$HAPROXY_TIMING" || failed+=(haproxy-timing)
  (account_as verify-default; verify default) || failed+=(default)
  side_by_side verify-galera "verify galera" verify-galera_trixie "verify galera_trixie" || failed+=(galera)
  if [ "$beside" = 1 ]; then
    stage "waiting for the background lane"
    wait "$BACKGROUND_LANE" || background_rc=$?
    BACKGROUND_LANE=""
    stage "background lane ended after $((SECONDS - background_started)) s, $(background_cpu) CPU s; its output:"
    cat "$logs/background.log"
  else
    (compat_tests; readme_test) || background_rc=$?
  fi
  [ "$background_rc" = 0 ] || failed+=(background)
  trap - EXIT
  stop_stall_watch
  cpu_report
  if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}" >&2
    return 1
  fi
}

case "${1:-all}" in
  check) scripts/venv.sh; check ;;
  lint | unit | sanity) scripts/venv.sh; "$1" ;;
  integration) lab/labctl prepare-host; scripts/venv.sh; integration ;;
  lab) lab/labctl prepare-host; scripts/venv.sh; lab_tests ;;
  readme) lab/labctl prepare-host; scripts/venv.sh; readme_test ;;
  compat) scripts/venv.sh; compat ;;
  molecule)
    shift
    lab/labctl prepare-host
    scripts/venv.sh
    [ $# -gt 0 ] || set -- "${TIMED_SCENARIOS[@]}" "${BESIDE_SCENARIOS[@]}" "$OLDEST_CORE_PASS"
    molecule_scenarios "$@"
    ;;
  all) everything ;;
  # Run by `everything` only, in a session of its own.
  background-lane) background_lane ;;
  *) echo "usage: scripts/test.sh [check|lint|unit|sanity|integration|lab|readme|compat|molecule [SCENARIO[@CORE]...]]" >&2; exit 2 ;;
esac
echo "all requested test stages passed ($SECONDS s)"
