#!/usr/bin/env bash
# Create (or refresh) .venv with the pinned development toolchain and link the
# checkout into .collections so `dbstack.galera.*` resolves from the work tree.
# Idempotent: a stamp holding the requirements' hash skips pip when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local candidate version
  for candidate in "${PYTHON:-}" python3.12 python3.13; do
    [ -n "$candidate" ] || continue
    # pyenv shims exist for versions that are not selected: ask the interpreter itself.
    "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 &&
      { "$candidate" -c 'import sys; print(sys.executable)'; return 0; }
  done
  # pyenv installs are not on PATH for non-interactive shells.
  for version in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12* "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*; do
    [ -x "$version/bin/python3" ] && { echo "$version/bin/python3"; return 0; }
  done
  return 1
}

if [ ! -x .venv/bin/python ]; then
  python=$(find_python) || {
    echo "ERROR: Python 3.12 or 3.13 is needed (the ansible 14 bundle requires >= 3.12)." >&2
    echo "       Install one (e.g. 'pyenv install 3.12') or set PYTHON=/path/to/python3.12." >&2
    exit 1
  }
  echo "Creating .venv with $python"
  "$python" -m venv .venv
fi

stamp=.venv/.requirements.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

mkdir -p .collections/ansible_collections/dbstack
ln -sfn ../../.. .collections/ansible_collections/dbstack/galera
