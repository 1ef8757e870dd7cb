"""The parser's idle cut against the real haproxy: every corpus case is run on loopback and measured.

For each configuration of haproxy_corpus.CASES, HAProxy is started on a 127.0.x.y address in front
of a stand-in node that greets like mysqld; one connection reads the greeting, stays idle, and the
time until HAProxy closes it is compared with ``listener_timeouts()[0]["idle_cut"]`` (within
TOLERANCE).  Where ``haproxy -c`` refuses the file, the parser must refuse it too, and both
messages must carry the case's phrase.  All cases run at once (threads: each mostly waits), measured
once per session.

A missing binary fails these tests instead of skipping them: a green run must mean HAProxy agreed.
"""

from __future__ import annotations

import concurrent.futures
import time

import haproxy_live
import pytest
from haproxy_corpus import CASES, HORIZON

from ansible_collections.dbstack.galera.plugins.plugin_utils import haproxy_config as hc

TOLERANCE = 0.2
WORKERS = 16
# What the parser reads: any address will do, the listener is found by its port.
PARSER_LISTEN, PARSER_SERVER = "127.0.0.1:3306", "127.0.0.1:3307"


@pytest.fixture(scope="module")
def measured():
    if haproxy_live.HAPROXY is None:
        pytest.fail("haproxy is not installed; run `make host` - the corpus is measured with the real binary",
                    pytrace=False)
    greeter = haproxy_live.Greeter()
    started = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            futures = {name: pool.submit(haproxy_live.measure, case["config"], greeter, HORIZON)
                       for name, case in CASES.items()}
            results = {name: future.result() for name, future in futures.items()}
    finally:
        greeter.stop()
    results["__elapsed__"] = time.monotonic() - started
    return results


def parser_answer(case):
    text = haproxy_live.render(case["config"], PARSER_LISTEN, PARSER_SERVER)
    return hc.listener_timeouts(text, port=3306, source="corpus.cfg")


def test_the_corpus_is_large_and_distinct():
    assert len(CASES) >= 30
    assert len({case["config"] for case in CASES.values()}) == len(CASES)


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
