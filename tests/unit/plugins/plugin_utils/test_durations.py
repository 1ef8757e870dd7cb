"""plugin_utils/durations.py used directly, as the audit plugin will use it (no Ansible involved)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from ansible_collections.dbstack.galera.plugins.plugin_utils import durations


def test_constants():
    assert durations.HAPROXY_MAX_MS == 2147483647 == 2**31 - 1
    assert durations.HAPROXY_MAX_SECONDS == 2147483
    assert durations.MARIADB_MAX_WAIT_TIMEOUT == 31536000 == 365 * 86400
    assert durations.MARIADB_MIN_WAIT_TIMEOUT == 1
    assert durations.DEFAULT_MARGIN == "25%"


def test_unit_table_matches_haproxy_and_cannot_be_changed():
    assert dict(durations.UNIT_SECONDS) == {
        "d": 86400,
        "h": 3600,
        "m": 60,
        "s": 1,
        "ms": Fraction(1, 1000),
        "us": Fraction(1, 1000000),
    }
    with pytest.raises(TypeError):
        durations.UNIT_SECONDS["w"] = Fraction(604800)


def test_errors_are_value_errors_without_any_filter_name():
    with pytest.raises(ValueError, match=r"^cannot interpret max_task_length='soon' as a duration; ") as caught:
        durations.haproxy_timeouts(28800, "soon")
    assert isinstance(caught.value, durations.DurationError)


@pytest.mark.parametrize(
    ("value", "has_unit"),
    [
        ("28800", False),
        (28800, False),
        ("0", False),
        ("28800s", True),
        (" 500ms ", True),
        ("1us", True),
        ("15m", True),
        ("2h", True),
        ("1d", True),
    ],
)
def test_haproxy_time_has_unit(value, has_unit):
    assert durations.haproxy_time_has_unit(value) is has_unit


@pytest.mark.parametrize("value", ["1h30m", "10sec", "-5s", "2147484s", "", True, None, 1.5])
def test_haproxy_time_has_unit_refuses_to_answer_for_values_haproxy_misreads(value):
    with pytest.raises(durations.DurationError, match=r"input="):
        durations.haproxy_time_has_unit(value)


def test_audit_names_the_directive_in_messages():
    with pytest.raises(
        durations.DurationError,
        match=r"^timeout client='1h30m' is not one HAProxy time: .* using '1h'; write '5400s' instead$",
    ):
        durations.haproxy_time_seconds("1h30m", name="timeout client")


@pytest.mark.parametrize(
    ("text", "milliseconds"),
    [("28800", 28800), ("28800s", 28800000), ("8h", 28800000), ("1us", 1), ("1001us", 2), ("0", 0)],
)
def test_haproxy_time_ms_is_what_haproxy_stores(text, milliseconds):
    assert durations.haproxy_time_ms(text) == milliseconds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(Fraction(28800), "28800s"), (28800, "28800s"), (0.25, "250ms"), (Fraction(1, 3), "334ms"), (2147483, "2147483s")],
)
def test_format_haproxy_time(seconds, text):
    assert durations.format_haproxy_time(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "message"),
    [
        (0, "input=0 must be greater than zero for an HAProxy timeout"),
        (True, "input=True is a boolean"),
        ("5s", "input='5s' is a str; give a number of seconds"),
        (2147484, "input=2147484 is more than HAProxy can represent"),
    ],
)
def test_format_haproxy_time_errors(seconds, message):
    with pytest.raises(durations.DurationError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        durations.format_haproxy_time(seconds)


def test_parse_margin_percentage_is_relative_to_the_task():
    assert durations.parse_margin("25%", Fraction(900)) == 225
    assert durations.parse_margin("12.5%", Fraction(8)) == 1
    assert durations.parse_margin("90s", Fraction(900)) == 90


def test_parse_duration_is_exact():
    assert durations.parse_duration(0.1) + durations.parse_duration(0.2) == Fraction(3, 10)
    assert durations.parse_duration("1h30m15s500ms") == Fraction(5415500, 1000)


def test_haproxy_time_problems_names_bare_numbers_and_refused_values_and_skips_unset_ones():
    problems = durations.haproxy_time_problems({"client": "28800", "server": "8h", "check": "", "queue": None,
                                                "connect": "-5s", "interval": 1500})
    assert problems == [
        'client="28800" has no unit, and HAProxy reads a bare number as MILLISECONDS (28800 ms = 28.8 s). '
        'Write the unit: "28800s" if you meant seconds.',
        "connect='-5s' must start with a digit (HAProxy takes no sign); " + durations._HAPROXY_TIME_HELP,
        'interval=1500 has no unit, and HAProxy reads a bare number as MILLISECONDS (1500 ms = 1.5 s). '
        'Write the unit: "1500s" if you meant seconds.',
    ]
    assert not durations.haproxy_time_problems({"client": "20m", "server": "1200000ms"})
    with pytest.raises(durations.DurationError, match="expected a mapping"):
        durations.haproxy_time_problems(["28800"])
