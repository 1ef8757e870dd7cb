"""The idle-cut corpus (haproxy_corpus.py) is worth measuring: many cases, no two alike.

tests/integration/plugins/plugin_utils/test_haproxy_idle_cut.py runs every case with the real haproxy
on loopback and compares the cut it measures with the parser's ``idle_cut``.
"""

from __future__ import annotations

from haproxy_corpus import CASES


def test_the_corpus_is_large_and_distinct():
    assert len(CASES) >= 30
    assert len({case["config"] for case in CASES.values()}) == len(CASES)
