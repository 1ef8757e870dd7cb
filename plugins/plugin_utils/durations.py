# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one implementation of the time-unit rules of dbstack.galera.

Three parties count time differently and this module is where they meet:

* MariaDB's ``wait_timeout`` is a whole number of seconds (1 .. 31536000).
* HAProxy reads a bare number as MILLISECONDS (``timeout client 28800`` is
  28.8 s, not 8 h), accepts exactly one unit suffix among us, ms, s, m, h, d,
  rounds up to whole milliseconds and refuses anything at or above 2**31 ms.
* Operators write durations for humans: ``15m``, ``1h30m``, ``90``.

Everything here is pure (no Ansible import, no module-level state that a call
could change), so the filters, the audit playbook's plugin and the unit tests
all share exactly the same rules.  Errors are ``DurationError`` (a
``ValueError``) whose message names the argument, shows the offending value
with ``repr()`` and says how to fix it; callers add their own name in front.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType

__all__ = [
    "DEFAULT_MARGIN",
    "HAPROXY_MAX_MS",
    "HAPROXY_MAX_SECONDS",
    "MARIADB_MAX_WAIT_TIMEOUT",
    "MARIADB_MIN_WAIT_TIMEOUT",
    "UNIT_SECONDS",
    "DurationError",
    "duration_seconds",
    "format_haproxy_time",
    "haproxy_time",
    "haproxy_time_has_unit",
    "haproxy_time_ms",
    "haproxy_time_problems",
    "haproxy_time_seconds",
    "haproxy_timeouts",
    "parse_duration",
    "parse_margin",
    "parse_wait_timeout",
]

# HAProxy keeps timers in a signed 32-bit count of milliseconds; parse_time_err()
# in src/tools.c reports PARSE_TIME_OVER for anything >= 2**31 ms (~24.8 days).
HAPROXY_MAX_MS = 2147483647
# The largest whole number of seconds HAProxy can hold (2147483 s = 2147483000 ms).
HAPROXY_MAX_SECONDS = HAPROXY_MAX_MS // 1000

# MariaDB's documented range for wait_timeout (365 days); larger values are
# silently clamped by the server, which would make our arithmetic a lie.
MARIADB_MIN_WAIT_TIMEOUT = 1
MARIADB_MAX_WAIT_TIMEOUT = 31536000

# Room on top of the longest task, relative so it grows with the task: Celery
# enforces task_time_limit from a supervisor that checks periodically, failure
# handlers and result-backend writes may still use the connection after the
# limit fires, and a configured limit is an estimate.  A quarter absorbs that
# slack for minute- and hour-long tasks, and with MariaDB's default
# wait_timeout (8 h) the cap only starts to apply to tasks above 6.4 h.
DEFAULT_MARGIN = "25%"

# Seconds per unit, exactly the suffixes HAProxy's parse_time_err() knows.
# Read-only so that no caller can change the rules for the next call.
UNIT_SECONDS = MappingProxyType(
    {
        "d": Fraction(86400),
        "h": Fraction(3600),
        "m": Fraction(60),
        "s": Fraction(1),
        "ms": Fraction(1, 1000),
        "us": Fraction(1, 1000000),
    }
)

# "ms"/"us" must be tried before "m"/"s" so that "500ms" is not read as 500 m + "s".
_UNIT_ALTERNATION = "|".join(sorted(UNIT_SECONDS, key=len, reverse=True))
_DECIMAL = r"\d+(?:\.\d+)?"
# re.ASCII everywhere: Python's \d also matches digits of other scripts, which
# int() would happily convert but HAProxy and MariaDB would not.
_BARE_NUMBER_RE = re.compile(_DECIMAL, re.ASCII)
_COMPONENT_RE = re.compile(rf"({_DECIMAL})({_UNIT_ALTERNATION})", re.ASCII)
_DURATION_RE = re.compile(rf"(?:{_DECIMAL}(?:{_UNIT_ALTERNATION}))+", re.ASCII)
_PERCENT_RE = re.compile(rf"({_DECIMAL})%", re.ASCII)
# HAProxy's own grammar: digits, then at most one unit, nothing else.
_HAPROXY_TIME_RE = re.compile(rf"(\d+)({_UNIT_ALTERNATION})?", re.ASCII)
# What HAProxy 2.6 accepts with only a warning, silently ignoring the tail.
_HAPROXY_TRAILING_RE = re.compile(rf"(\d+)({_UNIT_ALTERNATION})(.+)", re.ASCII | re.DOTALL)

_DURATION_HELP = (
    "give seconds as a number or a string of digits (e.g. 900), or a string with "
    "units us, ms, s, m, h, d, largest first, no spaces (e.g. '90s', '15m', '1h30m')"
)
_HAPROXY_TIME_HELP = (
    "HAProxy accepts digits followed by at most one unit among us, ms, s, m, h, d "
    "(a bare number is milliseconds), e.g. '28800s'"
)


class DurationError(ValueError):
    """A duration, HAProxy time or MariaDB timeout that cannot be used as given."""


def _number_to_fraction(value, name):
    """Exact value of an int or float; floats keep the digits the user typed."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DurationError(f"{name}={value!r} is not a finite number; {_DURATION_HELP}")
        # repr() is the shortest string that round-trips, so 0.1 stays 1/10
        # instead of 0.1000000000000000055..., which would round up a millisecond.
        return Fraction(repr(value))
    return Fraction(int(value))


def _reject_non_values(value, name, help_text):
    """Booleans and None are not durations, whatever Python's int(True) says."""
    if isinstance(value, bool):
        raise DurationError(
            f"{name}={value!r} is a boolean, not a duration (a boolean does not mean 1 or 0 seconds); {help_text}"
        )
    if value is None:
        raise DurationError(f"{name}={value!r} is missing a value; {help_text}")


def parse_duration(value, name="value", *, allow_zero=False):
    """Return the duration ``value`` in seconds as an exact Fraction.

    A number, or a string of digits, means seconds.  A string may carry units
    (``90s``, ``15m``, ``1h30m``, ``1.5h``, ``500ms``); several components must
    be written largest unit first, each unit once, without spaces.
    """
    _reject_non_values(value, name, _DURATION_HELP)
    if isinstance(value, (int, float)):
        seconds = _number_to_fraction(value, name)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("-") and _is_duration_text(text[1:]):
            raise DurationError(f"{name}={value!r} is negative; a duration must be positive")
        if _BARE_NUMBER_RE.fullmatch(text):
            seconds = Fraction(text)
        elif _DURATION_RE.fullmatch(text):
            seconds = _sum_components(text, value, name)
        else:
            raise DurationError(f"cannot interpret {name}={value!r} as a duration; {_DURATION_HELP}")
    else:
        raise DurationError(
            f"{name}={value!r} is a {type(value).__name__}, not a duration; {_DURATION_HELP}"
        )

    if seconds < 0:
        raise DurationError(f"{name}={value!r} is negative; a duration must be positive")
    if seconds == 0 and not allow_zero:
        raise DurationError(f"{name}={value!r} is zero; it must be greater than zero")
    return seconds


def _is_duration_text(text):
    return bool(_BARE_NUMBER_RE.fullmatch(text) or _DURATION_RE.fullmatch(text))


def _sum_components(text, value, name):
    total = Fraction(0)
    previous_unit_seconds = None
    for number, unit in _COMPONENT_RE.findall(text):
        unit_seconds = UNIT_SECONDS[unit]
        # Largest-first, each unit once: "30m1h" or "1m1m" are more likely typos
        # than intentions, and accepting them would hide the typo.
        if previous_unit_seconds is not None and unit_seconds >= previous_unit_seconds:
            raise DurationError(
                f"cannot interpret {name}={value!r} as a duration: units must go from largest "
                f"to smallest, each at most once (e.g. '1h30m')"
            )
        previous_unit_seconds = unit_seconds
        total += Fraction(number) * unit_seconds
    return total


def _as_plain_number(seconds):
    """int when whole (what a template author expects to see), else float."""
    if seconds.denominator == 1:
        return int(seconds)
    return float(seconds)


def duration_seconds(value, name="input"):
    """A duration (number = seconds, or unit string) as seconds: int if whole, else float."""
    return _as_plain_number(parse_duration(value, name, allow_zero=True))


def format_haproxy_time(seconds, name="input", shown=None):
    """Render ``seconds`` (a positive number) as an HAProxy time that always has a unit.

    Whole seconds give ``"NNNs"``; anything else is rounded UP to whole
    milliseconds, ``"NNNms"`` (HAProxy itself rounds up too, so this never
    shortens a timeout).  Values HAProxy cannot hold raise DurationError, whose
    message shows ``shown`` (the value as the caller wrote it) when given.
    """
    shown = seconds if shown is None else shown
    if isinstance(seconds, Fraction):
        exact = seconds
    else:
        _reject_non_values(seconds, name, "give a number of seconds")
        if not isinstance(seconds, (int, float)):
            raise DurationError(f"{name}={shown!r} is a {type(seconds).__name__}; give a number of seconds")
        exact = _number_to_fraction(seconds, name)
    if exact <= 0:
        raise DurationError(f"{name}={shown!r} must be greater than zero for an HAProxy timeout")
    milliseconds = math.ceil(exact * 1000)
    if milliseconds > HAPROXY_MAX_MS:
        raise DurationError(
            f"{name}={shown!r} is more than HAProxy can represent: its timers stop at {HAPROXY_MAX_MS} ms "
            f"(~24.8 days, {HAPROXY_MAX_SECONDS}s); use a shorter duration"
        )
    if milliseconds % 1000 == 0:
        return f"{milliseconds // 1000}s"
    return f"{milliseconds}ms"


def haproxy_time(value, name="input"):
    """A duration (number = seconds, or unit string) as an HAProxy time string with a unit."""
    return format_haproxy_time(parse_duration(value, name), name, shown=value)


def haproxy_time_ms(value, name="input"):
    """Read ``value`` exactly as HAProxy reads a timeout and return its milliseconds.

    Mirrors parse_time_err() with TIME_UNIT_MS (HAProxy's src/tools.c): the text
    must start with a digit (no sign, no decimal point), may end with ONE unit
    among us, ms, s, m, h, d, and a bare number is milliseconds.  Sub-millisecond
    values round up, as HAProxy does.  Surrounding whitespace is dropped, as
    HAProxy's config tokenizer does; whitespace inside would be two words.

    Deliberately stricter than HAProxy in two places, because an audit must not
    pass what HAProxy only half-understands:

    * text after the unit (``1h30m``, ``10sec``) only earns a warning in
      HAProxy 2.6 and the tail is ignored (``1h30m`` becomes 1 h); here it is an
      error naming what HAProxy would really use;
    * HAProxy does not check its digit loop for 64-bit overflow, so absurdly
      long numbers wrap around (``18446744073709551616`` becomes 0, i.e. no
      timeout); here anything at or above 2**31 ms is reported as overflow.

    ``0`` is returned as 0: HAProxy accepts it and treats it as "no timeout".
    Integers are read as the text HAProxy would see in the config, so ``28800``
    means 28800 ms.
    """
    _reject_non_values(value, name, _HAPROXY_TIME_HELP)
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise DurationError(
            f"{name}={value!r} is a {type(value).__name__}; an HAProxy time is written as text. {_HAPROXY_TIME_HELP}"
        )

    match = _HAPROXY_TIME_RE.fullmatch(text)
    if match is None:
        raise DurationError(_haproxy_grammar_error(value, text, name))
    digits, unit = match.groups()
    milliseconds_per_unit = UNIT_SECONDS[unit] * 1000 if unit else Fraction(1)
    milliseconds = math.ceil(int(digits) * milliseconds_per_unit)
    if milliseconds > HAPROXY_MAX_MS:
        raise DurationError(
            f"{name}={value!r} overflows HAProxy's timers, which stop at {HAPROXY_MAX_MS} ms "
            f"(~24.8 days, {HAPROXY_MAX_SECONDS}s); HAProxy refuses this value"
        )
    return milliseconds


def _haproxy_grammar_error(value, text, name):
    trailing = _HAPROXY_TRAILING_RE.fullmatch(text)
    if trailing is not None:
        digits, unit, tail = trailing.groups()
        used = f"{digits}{unit}"
        hint = ""
        try:
            hint = f"; write {haproxy_time(text, name)!r} instead"
        except DurationError:
            pass
        return (
            f"{name}={value!r} is not one HAProxy time: HAProxy takes a single unit and would "
            f"ignore {tail!r} with only a warning, using {used!r}{hint}"
        )
    if any(character.isspace() for character in text):
        return (
            f"{name}={value!r} contains whitespace: HAProxy would read two words and refuse the line; "
            f"{_HAPROXY_TIME_HELP}"
        )
    if text and not text[0].isdigit():
        return f"{name}={value!r} must start with a digit (HAProxy takes no sign); {_HAPROXY_TIME_HELP}"
    return f"cannot interpret {name}={value!r} as an HAProxy time; {_HAPROXY_TIME_HELP}"


def haproxy_time_seconds(value, name="input"):
    """Read ``value`` with HAProxy's rules (bare number = ms) and return seconds.

    int when the result is whole seconds, else float.
    """
    return _as_plain_number(Fraction(haproxy_time_ms(value, name), 1000))


def haproxy_time_has_unit(value, name="input"):
    """True when the HAProxy time ``value`` carries an explicit unit.

    ``"28800"`` is False (HAProxy reads 28.8 s), ``"28800s"`` is True.  Values
    HAProxy would refuse or misread raise DurationError rather than answer.
    """
    haproxy_time_ms(value, name)
    return not isinstance(value, int) and not value.strip().isdigit()


def haproxy_time_problems(settings):
    """{variable: HAProxy time} -> one sentence per value HAProxy would misread or refuse.

    Empty values (not set) are skipped. A bare number is the trap this collection exists for:
    HAProxy reads it as milliseconds, so each one is named with what HAProxy would make of it.
    """
    if not isinstance(settings, Mapping):
        raise DurationError(f"expected a mapping of variable names to HAProxy times, got {type(settings).__name__}")
    problems = []
    for name, value in settings.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            if haproxy_time_has_unit(value, name):
                continue
            seconds = _as_plain_number(Fraction(haproxy_time_ms(value, name), 1000))
            problems.append(f"{name}={json.dumps(value)} has no unit, and HAProxy reads a bare number as "
                            f"MILLISECONDS ({value} ms = {seconds} s). Write the unit: \"{str(value).strip()}s\" "
                            "if you meant seconds.")
        except DurationError as e:
            problems.append(str(e))
    return problems


def parse_wait_timeout(value, name="wait_timeout"):
    """MariaDB's wait_timeout as an int of seconds, within MariaDB's own range."""
    help_text = "give MariaDB's wait_timeout in seconds as an integer, e.g. 28800"
    _reject_non_values(value, name, help_text)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DurationError(f"{name}={value!r} is not a finite number; {help_text}")
        if not value.is_integer():
            raise DurationError(
                f"{name}={value!r} is not a whole number of seconds; MariaDB counts wait_timeout in "
                f"whole seconds: {help_text}"
            )
        seconds = int(value)
    elif isinstance(value, int):
        seconds = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        seconds = int(value.strip())
    elif isinstance(value, str):
        raise DurationError(
            f"cannot interpret {name}={value!r}: MariaDB takes wait_timeout as plain seconds without "
            f"units; {help_text}"
        )
    else:
        raise DurationError(f"{name}={value!r} is a {type(value).__name__}; {help_text}")

    if seconds < MARIADB_MIN_WAIT_TIMEOUT:
        raise DurationError(
            f"{name}={value!r} is below MariaDB's minimum of {MARIADB_MIN_WAIT_TIMEOUT} s; {help_text}"
        )
    if seconds > MARIADB_MAX_WAIT_TIMEOUT:
        raise DurationError(
            f"{name}={value!r} is above MariaDB's maximum of {MARIADB_MAX_WAIT_TIMEOUT} s (365 days), "
            f"which MariaDB would silently clamp; set it to {MARIADB_MAX_WAIT_TIMEOUT} or less"
        )
    return seconds


def parse_margin(value, task_seconds, name="margin"):
    """The margin in seconds (Fraction): a duration, or a percentage of ``task_seconds``."""
    help_text = (
        "give seconds (e.g. 60), a duration string (e.g. '5m') or a percentage of the "
        f"task length (e.g. {DEFAULT_MARGIN!r})"
    )
    _reject_non_values(value, name, help_text)
    if isinstance(value, (int, float)) and math.isfinite(value) and value < 0:
        raise DurationError(f"{name}={value!r} is negative; the margin must be zero or more: {help_text}")
    if not isinstance(value, str):
        return parse_duration(value, name, allow_zero=True)

    text = value.strip()
    if text.startswith("-"):
        raise DurationError(f"{name}={value!r} is negative; the margin must be zero or more: {help_text}")
    percent = _PERCENT_RE.fullmatch(text)
    if percent is not None:
        return task_seconds * Fraction(percent.group(1)) / 100
    if not _is_duration_text(text):
        raise DurationError(f"cannot interpret {name}={value!r} as a margin; {help_text}")
    return parse_duration(value, name, allow_zero=True)


def haproxy_timeouts(wait_timeout, max_task_length, margin=DEFAULT_MARGIN):
    """HAProxy ``timeout client``/``timeout server`` for connections to MariaDB.

    The value is at least max_task_length + margin (rounded up to whole
    seconds) so that a task holding its connection idle is not cut by HAProxy,
    and at most wait_timeout, because MariaDB ends idle sessions there anyway.
    Client and server are equal: in TCP mode an idle connection is idle in both
    directions and HAProxy ends it at the smaller of the two.

    Returns ``{"client": "NNNs", "server": "NNNs", "seconds": NNN}``.
    """
    wait_seconds = parse_wait_timeout(wait_timeout)
    task_seconds = parse_duration(max_task_length, "max_task_length")
    margin_seconds = parse_margin(margin, task_seconds)
    needed = math.ceil(task_seconds + margin_seconds)
    if task_seconds >= wait_seconds:
        raise DurationError(
            f"max_task_length={max_task_length!r} ({_as_plain_number(task_seconds)} s) is not shorter than "
            f"wait_timeout={wait_timeout!r} ({wait_seconds} s): MariaDB would end the idle session itself "
            f"before the task is done; raise MariaDB's wait_timeout to at least {needed} s "
            f"(task plus margin={margin!r}) or shorten the task"
        )

    seconds = min(needed, wait_seconds)
    if seconds > HAPROXY_MAX_SECONDS:
        raise DurationError(
            f"the timeout for max_task_length={max_task_length!r} plus margin={margin!r} would be {seconds}s, "
            f"more than HAProxy can represent (its timers stop at {HAPROXY_MAX_MS} ms, ~24.8 days, "
            f"{HAPROXY_MAX_SECONDS}s); shorten the task or the margin, or lower wait_timeout={wait_timeout!r} "
            f"to {HAPROXY_MAX_SECONDS} or less"
        )
    value = f"{seconds}s"
    return {"client": value, "server": value, "seconds": seconds}
