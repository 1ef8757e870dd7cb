"""The time filters, called the way Ansible calls them: through FilterModule().filters().

Messages are compared with str(error), which is what Ansible prints (it appends
cause messages that the error does not already end with), so a stray chained
message would show up here as a failure.
"""

from __future__ import annotations

import math
import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dbstack.galera.plugins.plugin_utils.durations import DurationError

NAN = float("nan")
INF = float("inf")

DURATION_HELP = (
    "give seconds as a number or a string of digits (e.g. 900), or a string with units us, ms, s, m, h, d, "
    "largest first, no spaces (e.g. '90s', '15m', '1h30m')"
)
WAIT_HELP = "give MariaDB's wait_timeout in seconds as an integer, e.g. 28800"
MARGIN_HELP = "give seconds (e.g. 60), a duration string (e.g. '5m') or a percentage of the task length (e.g. '25%')"
HAPROXY_HELP = (
    "HAProxy accepts digits followed by at most one unit among us, ms, s, m, h, d (a bare number is milliseconds), "
    "e.g. '28800s'"
)
HAPROXY_MAX = "its timers stop at 2147483647 ms (~24.8 days, 2147483s)"
BOOLEAN = "is a boolean, not a duration (a boolean does not mean 1 or 0 seconds)"


def raises_exactly(call, message):
    """Run call, expect AnsibleFilterError with exactly `message`, return the error."""
    with pytest.raises(AnsibleFilterError) as caught:
        call()
    assert str(caught.value) == message
    return caught.value


# --------------------------------------------------------------------------- haproxy_timeouts


@pytest.mark.parametrize(
    ("wait_timeout", "kwargs", "seconds"),
    [
        pytest.param(28800, {"max_task_length": "15m"}, 1125, id="15m-plus-25%"),
        pytest.param(28800, {"max_task_length": 900}, 1125, id="int-seconds"),
        pytest.param("28800", {"max_task_length": "900"}, 1125, id="digit-strings"),
        pytest.param(" 28800 ", {"max_task_length": " 15m "}, 1125, id="surrounding-spaces"),
        pytest.param(28800.0, {"max_task_length": 900.0}, 1125, id="whole-floats"),
        pytest.param(28800, {"max_task_length": "1h30m"}, 6750, id="compound"),
        pytest.param(28800, {"max_task_length": "2h"}, 9000, id="hours"),
        pytest.param(172800, {"max_task_length": "1d"}, 108000, id="day"),
        pytest.param(28800, {"max_task_length": "1.5h"}, 6750, id="decimal-hours"),
        pytest.param(28800, {"max_task_length": "90s"}, 113, id="rounds-112.5-up"),
        pytest.param(28800, {"max_task_length": "500ms"}, 1, id="sub-second-rounds-up"),
        pytest.param(28800, {"max_task_length": 0.1, "margin": 0.2}, 1, id="exact-decimal-arithmetic"),
        pytest.param(28800, {"max_task_length": 101, "margin": "10%"}, 112, id="rounds-111.1-up"),
        pytest.param(28800, {"max_task_length": 10, "margin": 0.5}, 11, id="float-margin"),
        pytest.param(28800, {"max_task_length": 100, "margin": 60}, 160, id="margin-seconds"),
        pytest.param(28800, {"max_task_length": 100, "margin": "60"}, 160, id="margin-digit-string"),
        pytest.param(28800, {"max_task_length": 100, "margin": "60s"}, 160, id="margin-60s"),
        pytest.param(28800, {"max_task_length": 100, "margin": "1m"}, 160, id="margin-1m"),
        pytest.param(28800, {"max_task_length": 100, "margin": 0}, 100, id="margin-zero"),
        pytest.param(28800, {"max_task_length": 100, "margin": "0%"}, 100, id="margin-zero-percent"),
        pytest.param(28800, {"max_task_length": 100, "margin": "12.5%"}, 113, id="margin-decimal-percent"),
        pytest.param(28800, {"max_task_length": 1000, "margin": "200%"}, 3000, id="margin-above-100%"),
        pytest.param(3600, {"max_task_length": "50m"}, 3600, id="capped-at-wait-timeout"),
        pytest.param(28800, {"max_task_length": "7h"}, 28800, id="capped-8h"),
        pytest.param(28800, {"max_task_length": 28799}, 28800, id="task-one-second-short"),
        pytest.param(31536000, {"max_task_length": "1h"}, 4500, id="mariadb-max-wait"),
        pytest.param(31536000, {"max_task_length": "19d"}, 2052000, id="near-haproxy-max"),
        pytest.param(2147483, {"max_task_length": "24d"}, 2147483, id="exactly-haproxy-max"),
    ],
)
def test_haproxy_timeouts_values(filters, wait_timeout, kwargs, seconds):
    assert filters["haproxy_timeouts"](wait_timeout, **kwargs) == {
        "client": f"{seconds}s",
        "server": f"{seconds}s",
        "seconds": seconds,
    }


def test_positional_arguments_match_the_documented_order(filters):
    assert filters["haproxy_timeouts"](28800, "15m", "60s") == filters["haproxy_timeouts"](
        28800, max_task_length="15m", margin="60s"
    )


def test_default_margin_is_a_quarter_of_the_task(filters):
    assert filters["haproxy_timeouts"](28800, max_task_length=800)["seconds"] == 1000


def test_eight_hours_is_28800s_and_haproxy_reads_28800000_ms(filters):
    result = filters["haproxy_timeouts"](28800, max_task_length="7h")
    assert result["client"] == "28800s"
    milliseconds = filters["haproxy_time_seconds"](result["client"]) * 1000
    assert milliseconds == 28800000
    # The figure a widely read write-up printed for 8 h is 3h 46m 40s short.
    assert milliseconds != 28000000
    # And the trap itself: the bare number HAProxy would read as 28.8 seconds.
    assert filters["haproxy_time_seconds"]("28800") == 28.8


@pytest.mark.parametrize(
    ("wait_timeout", "kwargs", "message"),
    [
        # wait_timeout (the filter's input)
        (
            "abc",
            {"max_task_length": "15m"},
            "haproxy_timeouts: cannot interpret wait_timeout='abc': MariaDB takes wait_timeout as plain seconds "
            f"without units; {WAIT_HELP}",
        ),
        (
            "8h",
            {"max_task_length": "15m"},
            "haproxy_timeouts: cannot interpret wait_timeout='8h': MariaDB takes wait_timeout as plain seconds "
            f"without units; {WAIT_HELP}",
        ),
        (
            "",
            {"max_task_length": "15m"},
            "haproxy_timeouts: cannot interpret wait_timeout='': MariaDB takes wait_timeout as plain seconds "
            f"without units; {WAIT_HELP}",
        ),
        (True, {"max_task_length": "15m"}, f"haproxy_timeouts: wait_timeout=True {BOOLEAN}; {WAIT_HELP}"),
        (None, {"max_task_length": "15m"}, f"haproxy_timeouts: wait_timeout=None is missing a value; {WAIT_HELP}"),
        (NAN, {"max_task_length": "15m"}, f"haproxy_timeouts: wait_timeout=nan is not a finite number; {WAIT_HELP}"),
        (INF, {"max_task_length": "15m"}, f"haproxy_timeouts: wait_timeout=inf is not a finite number; {WAIT_HELP}"),
        (
            28800.5,
            {"max_task_length": "15m"},
            "haproxy_timeouts: wait_timeout=28800.5 is not a whole number of seconds; MariaDB counts wait_timeout "
            f"in whole seconds: {WAIT_HELP}",
        ),
        (0, {"max_task_length": "15m"}, f"haproxy_timeouts: wait_timeout=0 is below MariaDB's minimum of 1 s; {WAIT_HELP}"),
        (-1, {"max_task_length": "15m"}, f"haproxy_timeouts: wait_timeout=-1 is below MariaDB's minimum of 1 s; {WAIT_HELP}"),
        (
            31536001,
            {"max_task_length": "15m"},
            "haproxy_timeouts: wait_timeout=31536001 is above MariaDB's maximum of 31536000 s (365 days), which "
            "MariaDB would silently clamp; set it to 31536000 or less",
        ),
        ([28800], {"max_task_length": "15m"}, f"haproxy_timeouts: wait_timeout=[28800] is a list; {WAIT_HELP}"),
        # max_task_length
        (
            28800,
            {"max_task_length": "15 min"},
            f"haproxy_timeouts: cannot interpret max_task_length='15 min' as a duration; {DURATION_HELP}",
        ),
        (
            28800,
            {"max_task_length": "15M"},
            f"haproxy_timeouts: cannot interpret max_task_length='15M' as a duration; {DURATION_HELP}",
        ),
        (
            28800,
            {"max_task_length": "1e3"},
            f"haproxy_timeouts: cannot interpret max_task_length='1e3' as a duration; {DURATION_HELP}",
        ),
        (
            28800,
            {"max_task_length": ""},
            f"haproxy_timeouts: cannot interpret max_task_length='' as a duration; {DURATION_HELP}",
        ),
        (
            28800,
            {"max_task_length": "1m1h"},
            "haproxy_timeouts: cannot interpret max_task_length='1m1h' as a duration: units must go from largest "
            "to smallest, each at most once (e.g. '1h30m')",
        ),
        (
            28800,
            {"max_task_length": "1h1h"},
            "haproxy_timeouts: cannot interpret max_task_length='1h1h' as a duration: units must go from largest "
            "to smallest, each at most once (e.g. '1h30m')",
        ),
        (28800, {"max_task_length": True}, f"haproxy_timeouts: max_task_length=True {BOOLEAN}; {DURATION_HELP}"),
        (28800, {"max_task_length": False}, f"haproxy_timeouts: max_task_length=False {BOOLEAN}; {DURATION_HELP}"),
        (
            28800,
            {"max_task_length": None},
            f"haproxy_timeouts: max_task_length=None is missing a value; {DURATION_HELP}",
        ),
        (
            28800,
            {"max_task_length": NAN},
            f"haproxy_timeouts: max_task_length=nan is not a finite number; {DURATION_HELP}",
        ),
        (
            28800,
            {"max_task_length": -INF},
            f"haproxy_timeouts: max_task_length=-inf is not a finite number; {DURATION_HELP}",
        ),
        (28800, {"max_task_length": 0}, "haproxy_timeouts: max_task_length=0 is zero; it must be greater than zero"),
        (28800, {"max_task_length": "0s"}, "haproxy_timeouts: max_task_length='0s' is zero; it must be greater than zero"),
        (
            28800,
            {"max_task_length": -5},
            "haproxy_timeouts: max_task_length=-5 is negative; a duration must be positive",
        ),
        (
            28800,
            {"max_task_length": "-5m"},
            "haproxy_timeouts: max_task_length='-5m' is negative; a duration must be positive",
        ),
        (
            28800,
            {"max_task_length": {}},
            f"haproxy_timeouts: max_task_length={{}} is a dict, not a duration; {DURATION_HELP}",
        ),
        (
            28800,
            {"max_task_length": 28800},
            "haproxy_timeouts: max_task_length=28800 (28800 s) is not shorter than wait_timeout=28800 (28800 s): "
            "MariaDB would end the idle session itself before the task is done; raise MariaDB's wait_timeout to "
            "at least 36000 s (task plus margin='25%') or shorten the task",
        ),
        (
            "28800",
            {"max_task_length": "9h", "margin": "30m"},
            "haproxy_timeouts: max_task_length='9h' (32400 s) is not shorter than wait_timeout='28800' (28800 s): "
            "MariaDB would end the idle session itself before the task is done; raise MariaDB's wait_timeout to "
            "at least 34200 s (task plus margin='30m') or shorten the task",
        ),
        # margin
        (
            28800,
            {"max_task_length": "15m", "margin": -1},
            f"haproxy_timeouts: margin=-1 is negative; the margin must be zero or more: {MARGIN_HELP}",
        ),
        (
            28800,
            {"max_task_length": "15m", "margin": "-5%"},
            f"haproxy_timeouts: margin='-5%' is negative; the margin must be zero or more: {MARGIN_HELP}",
        ),
        (
            28800,
            {"max_task_length": "15m", "margin": "-1m"},
            f"haproxy_timeouts: margin='-1m' is negative; the margin must be zero or more: {MARGIN_HELP}",
        ),
        (
            28800,
            {"max_task_length": "15m", "margin": "abc"},
            f"haproxy_timeouts: cannot interpret margin='abc' as a margin; {MARGIN_HELP}",
        ),
        (
            28800,
            {"max_task_length": "15m", "margin": "25 %"},
            f"haproxy_timeouts: cannot interpret margin='25 %' as a margin; {MARGIN_HELP}",
        ),
        (28800, {"max_task_length": "15m", "margin": True}, f"haproxy_timeouts: margin=True {BOOLEAN}; {MARGIN_HELP}"),
        (
            28800,
            {"max_task_length": "15m", "margin": None},
            f"haproxy_timeouts: margin=None is missing a value; {MARGIN_HELP}",
        ),
        (
            28800,
            {"max_task_length": "15m", "margin": NAN},
            f"haproxy_timeouts: margin=nan is not a finite number; {DURATION_HELP}",
        ),
        # a result HAProxy cannot hold
        (
            31536000,
            {"max_task_length": "20d"},
            "haproxy_timeouts: the timeout for max_task_length='20d' plus margin='25%' would be 2160000s, more than "
            "HAProxy can represent (its timers stop at 2147483647 ms, ~24.8 days, 2147483s); shorten the task or "
            "the margin, or lower wait_timeout=31536000 to 2147483 or less",
        ),
        (
            2147484,
            {"max_task_length": "24d", "margin": "1d"},
            "haproxy_timeouts: the timeout for max_task_length='24d' plus margin='1d' would be 2147484s, more than "
            "HAProxy can represent (its timers stop at 2147483647 ms, ~24.8 days, 2147483s); shorten the task or "
            "the margin, or lower wait_timeout=2147484 to 2147483 or less",
        ),
        # unknown keyword arguments
        (
            28800,
            {"max_task_length": "15m", "marign": "10%"},
            "haproxy_timeouts: unknown keyword argument(s) 'marign'; accepted: max_task_length, margin",
        ),
    ],
)
def test_haproxy_timeouts_errors(filters, wait_timeout, kwargs, message):
    raises_exactly(lambda: filters["haproxy_timeouts"](wait_timeout, **kwargs), message)


def test_errors_keep_their_cause(filters):
    error = raises_exactly(
        lambda: filters["haproxy_timeouts"](28800, max_task_length=True),
        f"haproxy_timeouts: max_task_length=True {BOOLEAN}; {DURATION_HELP}",
    )
    assert isinstance(error.__cause__, DurationError)
    assert isinstance(error.__cause__, ValueError)


def test_max_task_length_is_required(filters):
    with pytest.raises(TypeError, match=r"haproxy_timeouts\(\) missing 1 required positional argument: 'max_task_length'"):
        filters["haproxy_timeouts"](28800)


# --------------------------------------------------------------------------- haproxy_time


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (5, "5s"),
        ("5", "5s"),
        ("5s", "5s"),
        (28800, "28800s"),
        ("8h", "28800s"),
        ("1h30m", "5400s"),
        ("15m", "900s"),
        ("1d", "86400s"),
        (1.5, "1500ms"),
        ("1.5s", "1500ms"),
        ("1500ms", "1500ms"),
        ("2000ms", "2s"),
        (0.0005, "1ms"),
        ("1us", "1ms"),
        ("1001us", "2ms"),
        (0.9999, "1s"),
        (2147483, "2147483s"),
        (2147483.647, "2147483647ms"),
    ],
)
def test_haproxy_time_values(filters, duration, expected):
    assert filters["haproxy_time"](duration) == expected


@pytest.mark.parametrize(
    ("duration", "message"),
    [
        (0, "haproxy_time: input=0 is zero; it must be greater than zero"),
        ("0s", "haproxy_time: input='0s' is zero; it must be greater than zero"),
        (-1, "haproxy_time: input=-1 is negative; a duration must be positive"),
        (True, f"haproxy_time: input=True {BOOLEAN}; {DURATION_HELP}"),
        (None, f"haproxy_time: input=None is missing a value; {DURATION_HELP}"),
        (NAN, f"haproxy_time: input=nan is not a finite number; {DURATION_HELP}"),
        (INF, f"haproxy_time: input=inf is not a finite number; {DURATION_HELP}"),
        ("abc", f"haproxy_time: cannot interpret input='abc' as a duration; {DURATION_HELP}"),
        (
            2147484,
            f"haproxy_time: input=2147484 is more than HAProxy can represent: {HAPROXY_MAX}; use a shorter duration",
        ),
        (
            "2147483648ms",
            f"haproxy_time: input='2147483648ms' is more than HAProxy can represent: {HAPROXY_MAX}; "
            "use a shorter duration",
        ),
        ("25d", f"haproxy_time: input='25d' is more than HAProxy can represent: {HAPROXY_MAX}; use a shorter duration"),
    ],
)
def test_haproxy_time_errors(filters, duration, message):
    raises_exactly(lambda: filters["haproxy_time"](duration), message)


# --------------------------------------------------------------------------- duration_seconds


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        ("1h30m", 5400),
        ("2h15m30s", 8130),
        ("1.5h", 5400),
        ("900", 900),
        (900, 900),
        (" 15m ", 900),
        ("1d", 86400),
        ("1500ms", 1.5),
        ("500us", 0.0005),
        (1.5, 1.5),
        ("0", 0),
        (0, 0),
    ],
)
def test_duration_seconds_values(filters, duration, expected):
    result = filters["duration_seconds"](duration)
    assert result == expected
    # Whole seconds come back as int so templates print "5400", not "5400.0".
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("duration", "message"),
    [
        ("1h 30m", f"duration_seconds: cannot interpret input='1h 30m' as a duration; {DURATION_HELP}"),
        (
            "30m1h",
            "duration_seconds: cannot interpret input='30m1h' as a duration: units must go from largest to "
            "smallest, each at most once (e.g. '1h30m')",
        ),
        ("15M", f"duration_seconds: cannot interpret input='15M' as a duration; {DURATION_HELP}"),
        ("1h30", f"duration_seconds: cannot interpret input='1h30' as a duration; {DURATION_HELP}"),
        ("-1", "duration_seconds: input='-1' is negative; a duration must be positive"),
        (-1, "duration_seconds: input=-1 is negative; a duration must be positive"),
        (True, f"duration_seconds: input=True {BOOLEAN}; {DURATION_HELP}"),
        (None, f"duration_seconds: input=None is missing a value; {DURATION_HELP}"),
        (NAN, f"duration_seconds: input=nan is not a finite number; {DURATION_HELP}"),
        ([], f"duration_seconds: input=[] is a list, not a duration; {DURATION_HELP}"),
        ("\u0663s", f"duration_seconds: cannot interpret input='\u0663s' as a duration; {DURATION_HELP}"),
    ],
)
def test_duration_seconds_errors(filters, duration, message):
    raises_exactly(lambda: filters["duration_seconds"](duration), message)


def test_duration_seconds_errors_name_the_variable_given(filters):
    raises_exactly(lambda: filters["duration_seconds"]("soon", name="dbstack_max_task_length"),
                   f"duration_seconds: cannot interpret dbstack_max_task_length='soon' as a duration; {DURATION_HELP}")
    assert filters["duration_seconds"]("15m", name="dbstack_max_task_length") == 900


def test_duration_seconds_names_the_keywords_it_takes(filters):
    raises_exactly(lambda: filters["duration_seconds"]("15m", nmae="x"),
                   "duration_seconds: unknown keyword argument(s) 'nmae'; accepted: name")


# --------------------------------------------------------------------------- haproxy_time_seconds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("28800", 28.8),
        (28800, 28.8),
        ("28800s", 28800),
        ("28800000", 28800),
        ("480m", 28800),
        ("8h", 28800),
        ("15m", 900),
        ("1d", 86400),
        ("500ms", 0.5),
        ("500us", 0.001),
        ("1us", 0.001),
        ("1500us", 0.002),
        ("0", 0),
        ("0s", 0),
        (" 10s ", 10),
        ("2147483647", 2147483.647),
        ("2147483s", 2147483),
        ("35791m", 2147460),
        ("596h", 2145600),
        ("24d", 2073600),
    ],
)
def test_haproxy_time_seconds_values(filters, value, expected):
    result = filters["haproxy_time_seconds"](value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "2147483648",
            "haproxy_time_seconds: input='2147483648' overflows HAProxy's timers, which stop at 2147483647 ms "
            "(~24.8 days, 2147483s); HAProxy refuses this value",
        ),
        (
            "2147484s",
            "haproxy_time_seconds: input='2147484s' overflows HAProxy's timers, which stop at 2147483647 ms "
            "(~24.8 days, 2147483s); HAProxy refuses this value",
        ),
        (
            "25d",
            "haproxy_time_seconds: input='25d' overflows HAProxy's timers, which stop at 2147483647 ms "
            "(~24.8 days, 2147483s); HAProxy refuses this value",
        ),
        (
            "18446744073709551616",
            "haproxy_time_seconds: input='18446744073709551616' overflows HAProxy's timers, which stop at "
            "2147483647 ms (~24.8 days, 2147483s); HAProxy refuses this value",
        ),
        (
            "1h30m",
            "haproxy_time_seconds: input='1h30m' is not one HAProxy time: HAProxy takes a single unit and would "
            "ignore '30m' with only a warning, using '1h'; write '5400s' instead",
        ),
        (
            "10sec",
            "haproxy_time_seconds: input='10sec' is not one HAProxy time: HAProxy takes a single unit and would "
            "ignore 'ec' with only a warning, using '10s'",
        ),
        (
            "10 s",
            "haproxy_time_seconds: input='10 s' contains whitespace: HAProxy would read two words and refuse the "
            f"line; {HAPROXY_HELP}",
        ),
        ("+10s", f"haproxy_time_seconds: input='+10s' must start with a digit (HAProxy takes no sign); {HAPROXY_HELP}"),
        ("-10s", f"haproxy_time_seconds: input='-10s' must start with a digit (HAProxy takes no sign); {HAPROXY_HELP}"),
        ("10.5s", f"haproxy_time_seconds: cannot interpret input='10.5s' as an HAProxy time; {HAPROXY_HELP}"),
        ("10S", f"haproxy_time_seconds: cannot interpret input='10S' as an HAProxy time; {HAPROXY_HELP}"),
        ("10x", f"haproxy_time_seconds: cannot interpret input='10x' as an HAProxy time; {HAPROXY_HELP}"),
        ("", f"haproxy_time_seconds: cannot interpret input='' as an HAProxy time; {HAPROXY_HELP}"),
        (True, f"haproxy_time_seconds: input=True {BOOLEAN}; {HAPROXY_HELP}"),
        (None, f"haproxy_time_seconds: input=None is missing a value; {HAPROXY_HELP}"),
        (
            10.5,
            f"haproxy_time_seconds: input=10.5 is a float; an HAProxy time is written as text. {HAPROXY_HELP}",
        ),
    ],
)
def test_haproxy_time_seconds_errors(filters, value, message):
    raises_exactly(lambda: filters["haproxy_time_seconds"](value), message)


# --------------------------------------------------------------------------- all filters


ONE_ARGUMENT_FILTERS = ["haproxy_time", "haproxy_time_seconds"]  # duration_seconds also takes name=


def test_filter_module_registers_exactly_the_documented_filters(filters):
    assert sorted(filters) == ["duration_seconds", "haproxy_time", "haproxy_time_problems", "haproxy_time_seconds",
                               "haproxy_timeouts"]


@pytest.mark.parametrize("name", ["haproxy_timeouts", *ONE_ARGUMENT_FILTERS])
def test_each_filter_reports_errors_under_its_own_name(filters, name):
    """Guards against messages copy-pasted between filters naming the wrong one."""
    arguments = {"max_task_length": "15m"} if name == "haproxy_timeouts" else {}
    with pytest.raises(AnsibleFilterError) as caught:
        filters[name](True, **arguments)
    assert str(caught.value).startswith(f"{name}: ")


@pytest.mark.parametrize("name", ONE_ARGUMENT_FILTERS)
def test_one_argument_filters_reject_keywords(filters, name):
    raises_exactly(
        lambda: filters[name]("5s", unit="ms"),
        f"{name}: unknown keyword argument(s) 'unit'; it takes no keyword arguments",
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda f: f["haproxy_timeouts"](28800, max_task_length="15m")["client"],
        lambda f: f["haproxy_timeouts"](28800, max_task_length=1)["client"],
        lambda f: f["haproxy_timeouts"](1, max_task_length="1ms", margin=0)["client"],
        lambda f: f["haproxy_time"](28800),
        lambda f: f["haproxy_time"]("1ms"),
        lambda f: f["haproxy_time"](0.0001),
    ],
)
def test_a_bare_number_is_never_emitted(filters, call):
    emitted = call(filters)
    assert re.fullmatch(r"[0-9]+(s|ms)", emitted)
    assert not emitted.isdigit()


def test_repeated_calls_do_not_influence_each_other(filters):
    """No module-level state: a margin or unit used once must not leak into the next call."""
    first = filters["haproxy_timeouts"](28800, max_task_length="15m")
    filters["haproxy_timeouts"](28800, max_task_length="1h", margin="200%")
    filters["duration_seconds"]("1500us")
    assert filters["haproxy_timeouts"](28800, max_task_length="15m") == first
    assert math.isclose(filters["haproxy_time_seconds"]("1500us"), 0.002)
