"""The integration tests: the ones that run real programs (haproxy, ansible-playbook, ansible-doc, tar
and zstd, the roles' scripts) or servers on loopback, on the working tree's collection.

They need those programs on the machine (`make host` installs haproxy); tests/unit needs none. The pure
helpers both trees use (working_tree, sidecars, the haproxy corpus and fixtures, ...) have one copy, in
tests/unit, whose directories are put on sys.path here; this tree's own helpers (ansible_cli,
haproxy_live) are in this directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
UNIT = HERE.parent / "unit"

for directory in (UNIT / "roles", UNIT / "plugins" / "plugin_utils", UNIT / "plugins" / "filter", UNIT, HERE):
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))

# Found through the sys.path above, so imported after it.
import working_tree  # noqa: E402  pylint: disable=wrong-import-position

filters = working_tree.filters


def pytest_configure(config):
    working_tree.require_collection_link()
    # scripts/test.sh runs these alone, on an otherwise idle machine, and leaves them out elsewhere.
    config.addinivalue_line("markers", "times_haproxy: times the real haproxy's idle cut to 0.2 s, so it runs "
                                       "with nothing else on the machine: load delays HAProxy's timers")
