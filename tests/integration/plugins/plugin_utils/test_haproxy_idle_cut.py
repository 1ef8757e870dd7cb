"""The parser's idle cut against the real haproxy: every corpus case is run on loopback and measured.

For each configuration of haproxy_corpus.CASES, HAProxy is started on a 127.0.x.y address in front
of a stand-in node that greets like mysqld; one connection reads the greeting, stays idle, and the
time until HAProxy closes it is compared with ``listener_timeouts()[0]["idle_cut"]`` (within
TOLERANCE).  Where ``haproxy -c`` refuses the file, the parser must refuse it too, and both
messages must carry the case's phrase.  All cases run at once (threads: each mostly waits), measured
once per session. The corpus itself (tests/unit/plugins/plugin_utils/haproxy_corpus.py) is checked by the
unit test of the same name.

A missing binary fails these tests instead of skipping them: a green run must mean HAProxy agreed.

The host's haproxy is Debian 12's 2.6.  To measure with another version, point
DBSTACK_HAPROXY_CONTAINER at a podman container that has haproxy and python3, e.g. a Debian 13 lab
host (HAProxy 3.0)::

    lab/labctl up --name dbstack-h14 --subnet 10.213.95.0/24 --hosts h1:haproxy --release trixie
    podman exec dbstack-h14-h1 apt-get install -y haproxy python3
    export DBSTACK_HAPROXY_CONTAINER=dbstack-h14-h1
    .venv/bin/python -m pytest tests/integration/plugins/plugin_utils/test_haproxy_idle_cut.py
    lab/labctl down --name dbstack-h14
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import haproxy_corpus
import haproxy_live
import pytest
from haproxy_corpus import CASES, HORIZON

from ansible_collections.dbstack.galera.plugins.plugin_utils import haproxy_config as hc

pytestmark = pytest.mark.times_haproxy

TOLERANCE = 0.2
WORKERS = 16
# What the parser reads: any address will do, the listener is found by its port.
PARSER_LISTEN, PARSER_SERVER = "127.0.0.1:3306", "127.0.0.1:3307"


@pytest.fixture(scope="module")
def measured():
    started = time.monotonic()
    container = os.environ.get("DBSTACK_HAPROXY_CONTAINER")
    if container:
        corpus = Path(haproxy_corpus.__file__)
        version, results = haproxy_live.in_container(container, corpus, HORIZON)
    else:
        if haproxy_live.HAPROXY is None:
            pytest.fail("haproxy is not installed; run `make host` - the corpus is measured with the real binary",
                        pytrace=False)
        version = haproxy_live.version()
        results = haproxy_live.measure_all(CASES, HORIZON, WORKERS)
    results["__elapsed__"] = time.monotonic() - started
    results["__version__"] = version
    return results


def parser_answer(case):
    text = haproxy_live.render(case["config"], PARSER_LISTEN, PARSER_SERVER)
    return hc.listener_timeouts(text, port=3306, source="corpus.cfg")


@pytest.mark.parametrize("name", sorted(CASES))
def test_parser_agrees_with_haproxy(measured, name):
    case = CASES[name]
    seen = measured[name]
    if "refused" in case:
        assert seen.refused is not None, f"HAProxy accepted it: {seen.check_output}"
        assert case["refused"] in seen.refused, seen.refused
        with pytest.raises(hc.HaproxyConfigError) as e:
            parser_answer(case)
        assert case["refused"] in str(e.value)
        return
    assert seen.refused is None, seen.refused
    if "warning" in case:
        assert any(case["warning"] in warning for warning in seen.warnings), seen.warnings
    claim = parser_answer(case)[0]["idle_cut"]
    assert claim["greets"] == seen.greeted, (claim, seen)
    if claim["milliseconds"] is None:
        assert seen.cut is None, f"the parser says never; HAProxy cut after {seen.cut:.3f} s"
    else:
        assert seen.cut is not None, f"the parser says {claim}; HAProxy kept it open {HORIZON} s"
        assert abs(seen.cut - claim["milliseconds"] / 1000) <= TOLERANCE, (claim, seen.cut)


def test_the_harness_is_quick(measured):
    assert measured["__elapsed__"] < 60, measured["__elapsed__"]


def test_measured_with_haproxy_2_6_or_3_0(measured):
    """The versions the roles support: Debian 12's 2.6 on the host, Debian 13's 3.0 in a lab container."""
    assert measured["__version__"].startswith(("HAProxy version 2.6.", "HAProxy version 3.0.")), measured["__version__"]
