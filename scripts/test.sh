#!/usr/bin/env bash
# Everything CI runs (`make test`), or one stage: scripts/test.sh lint|unit|sanity|compat|molecule [SCENARIO...]
# Installs what it needs itself: host packages and podman settings (lab/labctl prepare-host),
# the pinned venv (scripts/venv.sh), the lab images (lab/labctl images).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg" ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
# Scenarios live in molecule/ (docs/lab.md says why not extensions/molecule).
export MOLECULE_GLOB="molecule/*/molecule.yml"

# One after another, each in its own /24 and name prefix (see docs/lab.md). NAME@2.17 runs the
# scenario with that ansible-core's venv (scripts/venv.sh --core 2.17) instead of .venv.
SCENARIOS=(default default@2.17 galera timeouts galera_trixie drills)
# The ansible-core releases meta/runtime.yml claims besides .venv's 2.21.
OLDER_CORES=(2.17 2.18 2.19 2.20)

stage() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

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

compat() {
  local core
  for core in "${OLDER_CORES[@]}"; do
    stage "unit and sanity tests on ansible-core $core"
    scripts/venv.sh --core "$core"
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
  all) lint; unit; sanity; compat; molecule_scenarios ;;
  *) echo "usage: scripts/test.sh [lint|unit|sanity|compat|molecule [SCENARIO[@CORE]...]]" >&2; exit 2 ;;
esac
echo "all requested test stages passed ($SECONDS s)"
