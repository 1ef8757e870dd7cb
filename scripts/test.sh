#!/usr/bin/env bash
# Everything CI runs (`make test`), or one stage: scripts/test.sh lint|unit|sanity|molecule [SCENARIO...]
# Installs what it needs itself: host packages and podman settings (lab/labctl prepare-host),
# the pinned venv (scripts/venv.sh), the lab images (lab/labctl images).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg" ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
# Scenarios live in molecule/ (docs/lab.md says why not extensions/molecule).
export MOLECULE_GLOB="molecule/*/molecule.yml"

# One after another, each in its own /24 and name prefix (see docs/lab.md).
SCENARIOS=(default galera timeouts galera_trixie drills)

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

molecule_scenarios() {
  local scenario started
  lab/labctl images --release all
  for scenario in "${@:-${SCENARIOS[@]}}"; do
    stage "molecule test -s $scenario"
    started=$SECONDS
    molecule test -s "$scenario"
    echo "scenario $scenario: $((SECONDS - started)) s"
  done
}

lab/labctl prepare-host
scripts/venv.sh

case "${1:-all}" in
  lint) lint ;;
  unit) unit ;;
  sanity) sanity ;;
  molecule) shift; molecule_scenarios "$@" ;;
  all) lint; unit; sanity; molecule_scenarios ;;
  *) echo "usage: scripts/test.sh [lint|unit|sanity|molecule [SCENARIO...]]" >&2; exit 2 ;;
esac
echo "all requested test stages passed ($SECONDS s)"
