"""The audit's idle-cut corpus, measured with the HAProxy this scenario deployed.

The integration tests measure every corpus configuration with the host's HAProxy (Debian 12: 2.6) and
require the parser's idle cut to equal what HAProxy does. A scenario whose HAProxy hosts run another
version (galera_trixie: Debian 13, HAProxy 3.0) runs the same test with the HAProxy of one of its hosts
(DBSTACK_HAPROXY_CONTAINER, see tests/integration/plugins/plugin_utils/test_haproxy_idle_cut.py), so the
audit's verdict is checked against both versions the roles support, in CI.
"""

from __future__ import annotations

import os
import subprocess
import sys

from labdb import PROJECT, node_host

CORPUS_TEST = PROJECT / "tests" / "integration" / "plugins" / "plugin_utils" / "test_haproxy_idle_cut.py"


def test_the_parser_agrees_with_this_scenarios_haproxy_on_every_corpus_case(lab):
    name = lab["groups"]["haproxy"][0]
    version = node_host(lab, name).check_output("haproxy -v").splitlines()[0]
    host_version = subprocess.run(["haproxy", "-v"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
    assert version.split()[2][:3] != host_version.split()[2][:3], \
        f"{name} runs the host's HAProxy version ({version}): the integration tests measure that one already"
    # The inner run is a plain pytest run: no lab plugin, no durations table.
    env = {**os.environ, "DBSTACK_HAPROXY_CONTAINER": lab["hosts"][name]["container"], "PYTEST_ADDOPTS": ""}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CORPUS_TEST)],
                            cwd=PROJECT, env=env, capture_output=True, text=True, check=False, timeout=900)
    assert result.returncode == 0, f"measured with {version}:\n{result.stdout[-6000:]}"
    assert " passed" in result.stdout and " skipped" not in result.stdout, result.stdout[-2000:]
