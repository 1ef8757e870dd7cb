"""Make the working tree importable as ansible_collections.dbstack.galera, for tests/unit and tests/integration.

`make venv` (scripts/venv.sh) links the checkout into .collections, so the
plugins are imported from the files being edited, not from an installed copy.
Both trees' conftest.py import this module: one place says how the plugins are
found, and both give their tests the same fixtures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_ROOT = REPO_ROOT / ".collections"

if str(COLLECTIONS_ROOT) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_ROOT))


def require_collection_link():
    """Refuse to run when .collections does not lead to this checkout: the tests would import another copy."""
    link = COLLECTIONS_ROOT / "ansible_collections" / "dbstack" / "galera"
    if not (link / "galaxy.yml").is_file():
        raise pytest.UsageError(f"{link} does not point at this checkout; run `make venv` first")


@pytest.fixture(scope="session")
def filters():
    """The name -> function map exactly as Ansible gets it."""
    from ansible_collections.dbstack.galera.plugins.filter.haproxy_timeouts import FilterModule

    return FilterModule().filters()
