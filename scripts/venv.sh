#!/usr/bin/env bash
# Create (or refresh) .venv with the pinned development toolchain and link the
# checkout into .collections so `dbstack.galera.*` resolves from the work tree.
# Idempotent: a stamp holding the requirements' hash skips pip when nothing changed.
#
#   scripts/venv.sh               .venv: the pinned toolchain (ansible 14 bundle, ansible-core 2.21)
#   scripts/venv.sh --core 2.17   .venvs/core-2.17: an older supported ansible-core, pinned in
#                                 tests/compat/core-2.17.txt, for the compatibility stage
set -euo pipefail
cd "$(dirname "$0")/.."

core=""
if [ "${1:-}" = --core ]; then
  core=${2:?"usage: scripts/venv.sh [--core 2.17|2.18|2.19|2.20]"}
fi

# The Python each ansible-core runs on here: one it supports as a controller, 3.12 and 3.13 both used.
case "$core" in
  "") venv=.venv requirements=requirements-dev.txt pythons="3.12 3.13" ;;
  2.17 | 2.18) venv=.venvs/core-$core requirements=tests/compat/core-$core.txt pythons="3.12" ;;
  2.19 | 2.20) venv=.venvs/core-$core requirements=tests/compat/core-$core.txt pythons="3.13" ;;
  *)
    echo "ERROR: no pinned toolchain for ansible-core '$core'; supported: 2.17 2.18 2.19 2.20 (2.21 is .venv)" >&2
    exit 2
    ;;
esac

find_python() {
  local candidate version wanted
  for wanted in $pythons; do
    for candidate in "${PYTHON:-}" "python$wanted"; do
      [ -n "$candidate" ] || continue
      # pyenv shims exist for versions that are not selected: ask the interpreter itself.
      "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$wanted'.split('.'))))" >/dev/null 2>&1 &&
        { "$candidate" -c 'import sys; print(sys.executable)'; return 0; }
    done
    # pyenv installs are not on PATH for non-interactive shells.
    for version in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$wanted"*; do
      [ -x "$version/bin/python3" ] && { echo "$version/bin/python3"; return 0; }
    done
  done
  return 1
}

if [ ! -x "$venv/bin/python" ]; then
  python=$(find_python) || {
    echo "ERROR: Python ${pythons// / or } is needed for $venv (the ansible-core it pins supports it)." >&2
    echo "       Install one (e.g. 'pyenv install ${pythons%% *}') or set PYTHON=/path/to/python${pythons%% *}." >&2
    exit 1
  }
  echo "Creating $venv with $python"
  "$python" -m venv "$venv"
fi

stamp=$venv/.requirements.sha256
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -r "$requirements"
  # A bundle older than ansible 13 has no ansible.mariadb: install it the way such a user would
  # (ansible-galaxy), offline, from the main venv's bundle, next to the bundle's collections.
  site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  if [ -d "$site/ansible_collections" ] && [ ! -d "$site/ansible_collections/ansible/mariadb" ]; then
    [ -n "$core" ] && "$0" # the main venv, whose bundle holds ansible.mariadb
    main_site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    "$venv/bin/ansible-galaxy" collection install --offline -p "$site" "$main_site/ansible_collections/ansible/mariadb"
  fi
  echo "$want" > "$stamp"
fi

mkdir -p .collections/ansible_collections/dbstack
ln -sfn ../../.. .collections/ansible_collections/dbstack/galera
