#!/usr/bin/env bash
# ansible-test insists on running from .../ansible_collections/NAMESPACE/NAME, so sanity runs
# on a copy of the tracked files in that shape. Only tests that need nothing from outside
# this venv run; README's development section says which are left out and why.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
# Which ansible-core runs the tests: a venv of scripts/venv.sh (by default the pinned .venv).
venv=$(realpath "${DBSTACK_VENV:-.venv}")
# Outside the checkout: inside it, ansible-test would list files through this repo's git
# and find the copy ignored.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/dbstack-sanity.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
work=$scratch/ansible_collections/dbstack/galera
mkdir -p "$work"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work"
cd "$work"
# ansible-test bootstraps pip in each sanity venv with a script from a host that is not
# reachable here; seed its cache with a stand-in that uses ensurepip + PyPI instead.
pip_version=$(grep -oP "^\s+pip='\K[0-9.]+" "$("$venv/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py")
mkdir -p ~/.ansible/test/cache
cp "$top/scripts/ansible_test_get_pip.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
python=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$venv/bin/ansible-test" sanity --color no --python "$python" "$@"
