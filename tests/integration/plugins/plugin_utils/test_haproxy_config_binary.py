"""The parser's fixtures against the real HAProxy: every one is a configuration HAProxy accepts.

Debian's haproxy (/usr/sbin/haproxy; `make host` and CI install it).  A
missing binary fails these tests instead of skipping them: a green run must
mean HAProxy itself accepted the configurations the parser is tested on, and
agreed with it where HAProxy says something (ignored lines, missing timeouts).
What a running HAProxy does to an idle connection, and what it refuses and why, is
measured for every case of haproxy_corpus.py by test_haproxy_idle_cut.py.
"""

from __future__ import annotations

import haproxy_live
import pytest
from haproxy_fixtures import CONFIGS

# What HAProxy warns about per fixture: the parser must agree with each warning.
EXPECTED_WARNINGS = {
    # The audit reports "NO timeout" for the same proxy.
    "missing_and_zero": ["missing timeouts for proxy 'mysql'"],
    # The audit ignores exactly these lines, as HAProxy does.
    "frontend_backend": [
        "'timeout server' will be ignored because frontend 'mysql_in' has no backend capability",
        "'timeout client' will be ignored because backend 'galera' has no frontend capability",
    ],
}


@pytest.fixture(scope="module")
def haproxy():
    if haproxy_live.HAPROXY is None:
        pytest.fail(
            "haproxy is not installed (not on PATH, nor in /usr/sbin or /usr/local/sbin); "
            "run `make host` to install it - these tests check the parser's fixtures against the real binary",
            pytrace=False,
        )
    return haproxy_live.HAPROXY


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fixture_is_a_configuration_haproxy_accepts(haproxy, tmp_path, name):
    path = tmp_path / f"{name}.cfg"
    path.write_text(CONFIGS[name])
    result = haproxy_live.haproxy_check(path)
    output = result.stdout + result.stderr

    assert result.returncode == 0, output
    assert "Configuration file is valid" in output
    warnings = [line for line in output.splitlines() if "[WARNING]" in line]
    expected = EXPECTED_WARNINGS.get(name, [])
    assert len(warnings) == len(expected), output
    for text in expected:
        assert text in output
