# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn MariaDB and Celery durations into HAProxy time values.

All rules live in plugin_utils/durations.py; this module only adapts them to
Jinja: one function per filter, each reporting errors under its own name.
Documentation is in the sidecar NAME.yml next to this file, one per filter.
"""

from __future__ import annotations

from contextlib import contextmanager

from ansible.errors import AnsibleFilterError

from ansible_collections.dbstack.galera.plugins.plugin_utils import durations


@contextmanager
def _errors_as(filter_name):
    """Re-raise rule violations as AnsibleFilterError prefixed with the filter's name."""
    try:
        yield
    except durations.DurationError as e:
        raise AnsibleFilterError(f"{filter_name}: {e}") from e


def _reject_unexpected(filter_name, unexpected, accepted=()):
    """Python's own TypeError names the stray keyword but not the ones that would work."""
    if not unexpected:
        return
    names = ", ".join(repr(name) for name in sorted(unexpected))
    allowed = f"accepted: {', '.join(accepted)}" if accepted else "it takes no keyword arguments"
    raise AnsibleFilterError(f"{filter_name}: unknown keyword argument(s) {names}; {allowed}")


def haproxy_timeouts(wait_timeout, max_task_length, margin=durations.DEFAULT_MARGIN, **unexpected):
    """MariaDB wait_timeout (s) + longest task -> equal HAProxy client/server timeouts."""
    _reject_unexpected("haproxy_timeouts", unexpected, accepted=("max_task_length", "margin"))
    with _errors_as("haproxy_timeouts"):
        return durations.haproxy_timeouts(wait_timeout, max_task_length, margin)


def haproxy_time(duration, **unexpected):
    """Seconds or a duration string -> HAProxy time string that always carries a unit."""
    _reject_unexpected("haproxy_time", unexpected)
    with _errors_as("haproxy_time"):
        return durations.haproxy_time(duration)


def duration_seconds(duration, name="input", **unexpected):
    """Seconds or a duration string (compound allowed) -> seconds, int when whole; errors name `name`."""
    _reject_unexpected("duration_seconds", unexpected, accepted=("name",))
    with _errors_as("duration_seconds"):
        return durations.duration_seconds(duration, str(name))


def haproxy_time_seconds(haproxy_time_value, **unexpected):
    """An HAProxy time value read with HAProxy's rules (bare number = ms) -> seconds."""
    _reject_unexpected("haproxy_time_seconds", unexpected)
    with _errors_as("haproxy_time_seconds"):
        return durations.haproxy_time_seconds(haproxy_time_value)


def haproxy_time_problems(settings, **unexpected):
    """{variable: HAProxy time} -> a sentence per value HAProxy would misread (a bare number) or refuse."""
    _reject_unexpected("haproxy_time_problems", unexpected)
    with _errors_as("haproxy_time_problems"):
        return durations.haproxy_time_problems(settings)


class FilterModule:
    """HAProxy/MariaDB time-unit filters of dbstack.galera."""

    def filters(self):
        return {
            "haproxy_timeouts": haproxy_timeouts,
            "haproxy_time": haproxy_time,
            "duration_seconds": duration_seconds,
            "haproxy_time_seconds": haproxy_time_seconds,
            "haproxy_time_problems": haproxy_time_problems,
        }
