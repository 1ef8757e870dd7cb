"""The filters against the real HAProxy binary, not against our idea of it.

`make host` installs Debian's haproxy; CI does the same before the tests.  A
missing binary fails these tests instead of skipping them: a green run must
mean HAProxy itself accepted what the filters produce.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import haproxy_live
import jinja2
import pytest
from ansible.errors import AnsibleFilterError

HAPROXY_CANDIDATES = ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")

LISTEN_MYSQL = """\
global
    log stdout format raw local0

defaults
    mode tcp
    timeout connect 5s

{% set timeouts = wait_timeout | haproxy_timeouts(max_task_length=max_task_length) %}
listen mysql
    bind 127.0.0.1:3307
    mode tcp
    timeout connect 5s
    timeout client {{ timeouts.client }}
    timeout server {{ timeouts.server }}
    server galera1 127.0.0.1:3306 check
"""


@pytest.fixture(scope="module")
def haproxy():
    found = shutil.which("haproxy") or next((c for c in HAPROXY_CANDIDATES if os.access(c, os.X_OK)), None)
    if found is None:
        pytest.fail(
            "haproxy is not installed (not on PATH, nor at " + ", ".join(HAPROXY_CANDIDATES) + "); "
            "run `make host` to install it - these tests check the filters against the real binary",
            pytrace=False,
        )
    return found


def check_config(haproxy, path, text):
    path.write_text(text)
    return subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True, timeout=30, check=False)


def config_with_client_timeout(value):
    return (
        "global\n    log stdout format raw local0\n"
        "defaults\n    mode tcp\n    timeout connect 5s\n"
        "listen mysql\n    bind 127.0.0.1:3307\n"
        f"    timeout client {value}\n    timeout server 10s\n"
        "    server galera1 127.0.0.1:3306\n"
    )


@pytest.mark.parametrize(
    ("wait_timeout", "max_task_length", "expected"),
    [
        (28800, "15m", "1125s"),
        (28800, "7h", "28800s"),
        (3600, "50m", "3600s"),
        (28800, "500ms", "1s"),
        (31536000, "19d", "2052000s"),
        (2147483, "24d", "2147483s"),
    ],
)
def test_rendered_listen_section_is_valid_for_haproxy(haproxy, filters, tmp_path, wait_timeout, max_task_length, expected):
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    environment.filters.update(filters)
    rendered = environment.from_string(LISTEN_MYSQL).render(wait_timeout=wait_timeout, max_task_length=max_task_length)
    assert f"    timeout client {expected}\n    timeout server {expected}\n" in rendered

    result = check_config(haproxy, tmp_path / "haproxy.cfg", rendered)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration file is valid" in result.stdout
    assert "[WARNING]" not in result.stdout + result.stderr


def test_the_limit_is_haproxys_own(haproxy, filters, tmp_path):
    """One second more than our ceiling and HAProxy itself refuses the line."""
    assert filters["haproxy_time"](2147483) == "2147483s"
    with pytest.raises(AnsibleFilterError, match="more than HAProxy can represent"):
        filters["haproxy_time"](2147484)

    accepted = check_config(haproxy, tmp_path / "max.cfg", config_with_client_timeout("2147483s"))
    refused = check_config(haproxy, tmp_path / "over.cfg", config_with_client_timeout("2147484s"))

    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert refused.returncode != 0
    assert "timer overflow in argument '2147484s' to 'timeout client'" in refused.stdout + refused.stderr
    assert "maximum value is 2147483647 ms" in refused.stdout + refused.stderr


@pytest.mark.parametrize(
    ("value", "haproxy_verdict"),
    [
        ("28800", "valid"),
        ("28800s", "valid"),
        ("2147483647", "valid"),
        ("2147483s", "valid"),
        ("35791m", "valid"),
        ("596h", "valid"),
        ("24d", "valid"),
        ("500us", "valid"),
        ("1ms", "valid"),
        ("0", "valid"),
        ("2147483648", "refused"),
        ("2147484s", "refused"),
        ("35792m", "refused"),
        ("597h", "refused"),
        ("25d", "refused"),
        ("10S", "refused"),
        ("+10s", "refused"),
        ("-10s", "refused"),
        ("10.5s", "refused"),
        ("10x", "refused"),
        ("10 s", "refused"),
        ("1h30m", "warning"),
        ("10sec", "warning"),
    ],
)
def test_haproxy_time_seconds_agrees_with_haproxy(haproxy, filters, tmp_path, value, haproxy_verdict):
    """Our reading of HAProxy's grammar, checked value by value against haproxy -c.

    "warning" marks text HAProxy 2.6 accepts while ignoring everything after the
    unit; the filter refuses those on purpose, so an audit flags them.
    """
    result = check_config(haproxy, tmp_path / "haproxy.cfg", config_with_client_timeout(value))
    output = result.stdout + result.stderr

    if haproxy_verdict == "valid":
        assert result.returncode == 0, output
        assert isinstance(filters["haproxy_time_seconds"](value), (int, float))
    elif haproxy_verdict == "refused":
        assert result.returncode != 0, output
        with pytest.raises(AnsibleFilterError):
            filters["haproxy_time_seconds"](value)
    else:
        assert result.returncode == 0, output
        assert f"after the timer value '{value}'" in output
        with pytest.raises(AnsibleFilterError, match="would ignore .* with only a warning"):
            filters["haproxy_time_seconds"](value)


IDLE_LISTENER = (
    "global\n    log stdout format raw local0\n"
    "defaults\n    mode tcp\n    timeout connect 5s\n"
    "listen idle\n    bind @LISTEN@\n"
    "    timeout client {value}\n    timeout server {value}\n"
    "    server galera1 @SERVER@\n"
)


@pytest.mark.times_haproxy
def test_a_bare_number_is_milliseconds_for_the_running_haproxy(haproxy, filters):
    """The trap itself, observed: "300" closes an idle connection after 0.3 s, "300s" does not."""
    greeter = haproxy_live.Greeter()
    try:
        bare = haproxy_live.measure(IDLE_LISTENER.format(value="300"), greeter, horizon=10)
        with_unit = haproxy_live.measure(IDLE_LISTENER.format(value="300s"), greeter, horizon=1.5)
    finally:
        greeter.stop()
    assert bare.cut is not None and abs(bare.cut - filters["haproxy_time_seconds"]("300")) <= 0.2, bare
    assert with_unit.greeted and with_unit.cut is None, with_unit
