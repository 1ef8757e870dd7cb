#!/usr/bin/env bash
# Everything CI runs (`make test`), or one stage: scripts/test.sh lint|unit|sanity|compat|molecule [SCENARIO...]
# Installs what it needs itself: host packages and podman settings (lab/labctl prepare-host),
# the pinned venv (scripts/venv.sh), the lab images (lab/labctl images).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg" ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
# Scenarios live in molecule/ (docs/lab.md says why not extensions/molecule).
export MOLECULE_GLOB="molecule/*/molecule.yml"

# Each in its own /24 and name prefix (see docs/lab.md). NAME@2.17 runs the scenario with that
# ansible-core's venv (scripts/venv.sh --core 2.17) instead of .venv.
# `make test` runs SIDE_BY_SIDE_SCENARIOS beside lint, unit, sanity and compat: neither measures
# timing under load (the timeouts scenario mostly sleeps through idle timeouts, 40 s against 50 s at
# the closest; an older core's run skips the tests that measure the deployment), and together they
# keep the 2-core machine busy instead of waiting. ALONE_SCENARIOS time failovers and rates, so they
# run one after another with nothing beside them.
SIDE_BY_SIDE_SCENARIOS=(timeouts default@2.17)
ALONE_SCENARIOS=(default galera galera_trixie drills)
SCENARIOS=("${ALONE_SCENARIOS[@]}" "${SIDE_BY_SIDE_SCENARIOS[@]}")
# The ansible-core releases meta/runtime.yml claims besides .venv's 2.21.
OLDER_CORES=(2.17 2.18 2.19 2.20)

stage() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

# side_by_side NAME 'COMMANDS' [NAME 'COMMANDS'...]: runs each in the background with its output in
# .test-logs/NAME.log, then prints each log whole, in the order given, as its job ends; fails when
# one failed, after all ended (a stage cut short would leave containers running).
side_by_side() {
  local logs="$PWD/.test-logs" names=() pids=() failed=() i
  mkdir -p "$logs"
  while [ $# -gt 0 ]; do
    names+=("$1")
    ( set -euo pipefail; eval "$2" ) > "$logs/$1.log" 2>&1 &
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
  stage "unit tests (pytest), and labctl's own tests on a one-host lab"
  pytest -q tests/unit tests/lab
}

sanity() {
  stage "ansible-test sanity (offline subset, see README)"
  scripts/sanity.sh
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

compat_tests() {
  local core
  for core in "${OLDER_CORES[@]}"; do
    stage "unit and sanity tests on ansible-core $core"
    PATH="$PWD/.venvs/core-$core/bin:$PATH" pytest -q tests/unit
    DBSTACK_VENV=".venvs/core-$core" scripts/sanity.sh
  done
}

molecule_scenarios() {
  local entry scenario core started
  lab/labctl images --release all
  for entry in "${@:-${SCENARIOS[@]}}"; do
    scenario=${entry%@*}
    core=${entry#"$scenario"}
    core=${core#@}
    started=$SECONDS
    if [ -n "$core" ]; then
      scripts/venv.sh --core "$core"
      stage "molecule test -s $scenario on ansible-core $core"
      PATH="$PWD/.venvs/core-$core/bin:$PATH" DBSTACK_OLDER_CORE="$core" molecule test -s "$scenario"
    else
      stage "molecule test -s $scenario"
      molecule test -s "$scenario"
    fi
    echo "scenario $entry: $((SECONDS - started)) s"
  done
}

lab/labctl prepare-host
scripts/venv.sh

case "${1:-all}" in
  lint) lint ;;
  unit) unit ;;
  sanity) sanity ;;
  compat) compat ;;
  molecule) shift; molecule_scenarios "$@" ;;
  all)
    # The checks and compat take the CPU while the two scenarios beside them mostly wait (see
    # SIDE_BY_SIDE_SCENARIOS); the first scenario to start builds the images, under labctl's lock,
    # which labctl's own test in `unit` waits on too. The venvs are made first: two jobs must not
    # build one.
    older_venvs
    jobs=(checks "lint; unit; sanity; compat_tests")
    for entry in "${SIDE_BY_SIDE_SCENARIOS[@]}"; do
      jobs+=("$entry" "molecule_scenarios $entry")
    done
    side_by_side "${jobs[@]}"
    molecule_scenarios "${ALONE_SCENARIOS[@]}"
    ;;
  *) echo "usage: scripts/test.sh [lint|unit|sanity|compat|molecule [SCENARIO[@CORE]...]]" >&2; exit 2 ;;
esac
echo "all requested test stages passed ($SECONDS s)"
