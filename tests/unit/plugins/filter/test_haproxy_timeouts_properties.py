"""Property-based tests: for any valid inputs, what the filters emit is what HAProxy needs.

The strategies build each input together with its exact value (a Fraction) from
their own unit table, so the expectations do not borrow the code under test.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ansible_collections.dbstack.galera.plugins.plugin_utils.durations import haproxy_time_ms

HAPROXY_MAX_MS = 2147483647
MARIADB_MAX_WAIT_TIMEOUT = 31536000
# Independent of the module's table on purpose.
SECONDS_PER_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": Fraction(1, 1000), "us": Fraction(1, 1000000)}
HAPROXY_TIME_WITH_UNIT = re.compile(r"[0-9]+(s|ms)")

FAST = settings(max_examples=300, deadline=None)


def compound(milliseconds):
    """'1d2h3m4s5ms'-style text for a whole number of milliseconds, zero parts left out."""
    parts = []
    remaining = milliseconds
    for unit, size in (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


@st.composite
def durations(draw, min_ms=1, max_ms=30 * 86400 * 1000):
    """(how it is written, exact seconds) for a duration between min_ms and max_ms."""
    # Half the draws from the upper half, so limits (wait_timeout, HAProxy's max) get hit often.
    milliseconds = draw(st.one_of(st.integers(min_ms, max_ms), st.integers(max(min_ms, max_ms // 2), max_ms)))
    exact = Fraction(milliseconds, 1000)
    forms = [compound(milliseconds), f"{milliseconds}ms", f"{milliseconds * 1000}us"]
    if milliseconds % 1000 == 0:
        seconds = milliseconds // 1000
        forms += [seconds, str(seconds), f"{seconds}s", float(seconds)]
    else:
        # repr() keeps the typed digits, which is how the filters read floats.
        forms.append(float(f"{milliseconds // 1000}.{milliseconds % 1000:03d}"))
    return draw(st.sampled_from(forms)), exact


@st.composite
def margins(draw, task_seconds):
    """(how the margin is written, exact seconds) - a percentage, seconds or a duration."""
    kind = draw(st.sampled_from(["percent", "seconds", "duration"]))
    if kind == "percent":
        hundredths = draw(st.integers(0, 30000))
        text = f"{hundredths // 100}.{hundredths % 100:02d}%"
        return text, task_seconds * Fraction(hundredths, 100) / 100
    if kind == "seconds":
        seconds = draw(st.integers(0, 10**6))
        return seconds, Fraction(seconds)
    return draw(durations(min_ms=0, max_ms=10 * 86400 * 1000))


@FAST
@given(data=st.data())
def test_haproxy_timeouts_invariants(filters, data):
    wait_seconds = data.draw(st.integers(1, MARIADB_MAX_WAIT_TIMEOUT), label="wait_timeout")
    wait_timeout = data.draw(st.sampled_from([wait_seconds, str(wait_seconds)]), label="written as")
    # The task must be shorter than wait_timeout; let it reach right up to it.
    task, task_seconds = data.draw(durations(max_ms=min(wait_seconds * 1000 - 1, 40 * 86400 * 1000)), label="task")
    margin, margin_seconds = data.draw(margins(task_seconds), label="margin")

    expected = min(math.ceil(task_seconds + margin_seconds), wait_seconds)
    # Shown by --hypothesis-show-statistics: every branch below is exercised.
    event("beyond HAProxy" if expected * 1000 > HAPROXY_MAX_MS else "capped" if expected == wait_seconds else "task+margin")
    if expected * 1000 > HAPROXY_MAX_MS:
        with pytest.raises(AnsibleFilterError, match="more than HAProxy can represent"):
            filters["haproxy_timeouts"](wait_timeout, max_task_length=task, margin=margin)
        return

    result = filters["haproxy_timeouts"](wait_timeout, max_task_length=task, margin=margin)
    seconds = result["seconds"]

    assert result["client"] == result["server"]
    assert re.fullmatch(r"[0-9]+s", result["client"]), "an explicit unit, never a bare number"
    # Read back with HAProxy's rules, the string means exactly `seconds`.
    assert haproxy_time_ms(result["client"]) == seconds * 1000
    assert filters["haproxy_time_seconds"](result["client"]) == seconds
    assert seconds * 1000 <= HAPROXY_MAX_MS
    assert seconds <= wait_seconds
    assert seconds >= task_seconds + margin_seconds or seconds == wait_seconds
    # And no more than needed: the smallest whole second that satisfies both.
    assert seconds == expected


@FAST
@given(duration=durations(max_ms=26 * 86400 * 1000))
def test_haproxy_time_rounds_up_to_a_unit_haproxy_reads_back(filters, duration):
    written, exact = duration
    needed_ms = math.ceil(exact * 1000)
    if needed_ms > HAPROXY_MAX_MS:
        with pytest.raises(AnsibleFilterError, match="more than HAProxy can represent"):
            filters["haproxy_time"](written)
        return

    emitted = filters["haproxy_time"](written)
    assert HAPROXY_TIME_WITH_UNIT.fullmatch(emitted)
    milliseconds = haproxy_time_ms(emitted)
    assert milliseconds == needed_ms
    assert exact <= Fraction(milliseconds, 1000) < exact + Fraction(1, 1000)
    assert filters["duration_seconds"](emitted) == filters["haproxy_time_seconds"](emitted)


@FAST
@given(duration=durations(min_ms=0))
def test_duration_seconds_is_exact(filters, duration):
    written, exact = duration
    result = filters["duration_seconds"](written)
    if exact.denominator == 1:
        assert isinstance(result, int) and not isinstance(result, bool)
        assert result == exact
    else:
        assert result == float(exact)


@FAST
@given(digits=st.integers(0, 10**13), unit=st.sampled_from(["", "us", "ms", "s", "m", "h", "d"]))
def test_haproxy_time_seconds_follows_haproxy_arithmetic(filters, digits, unit):
    # A bare number is milliseconds; anything else rounds up to whole milliseconds.
    milliseconds = math.ceil(digits * (SECONDS_PER_UNIT[unit] * 1000 if unit else 1))
    text = f"{digits}{unit}"
    if milliseconds > HAPROXY_MAX_MS:
        with pytest.raises(AnsibleFilterError, match="overflows HAProxy's timers"):
            filters["haproxy_time_seconds"](text)
        return
    assert filters["haproxy_time_seconds"](text) == milliseconds / 1000
