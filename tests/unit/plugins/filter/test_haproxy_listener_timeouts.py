"""The haproxy_listener_timeouts filter as Ansible calls it: results, audit, errors, documentation.

tests/integration runs ansible-doc and the EXAMPLES, and feeds the audit what the real haproxy -c says."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from mysql_listener import mysql_listener
from sidecars import sidecar

from ansible_collections.dbstack.galera.plugins.filter.haproxy_listener_timeouts import FilterModule


CONFIG = mysql_listener("50000")


@pytest.fixture(scope="module")
def audit_filter():
    return FilterModule().filters()["haproxy_listener_timeouts"]


def test_registered_under_its_own_name():
    assert list(FilterModule().filters()) == ["haproxy_listener_timeouts"]


def test_without_task_length_only_values(audit_filter):
    (result,) = audit_filter(CONFIG)
    assert result["timeouts"]["client"]["value"] == "50000"
    assert "checks" not in result and "findings" not in result


def test_audit_with_string_port_and_wait_timeout_per_node(audit_filter):
    (result,) = audit_filter(CONFIG, port="3306", max_task_length="15m", wait_timeout={"galera1": "28800"},
                             source="haproxy1:/etc/haproxy/haproxy.cfg")
    assert result["ok"] is False
    assert result["findings"][0] == (
        "haproxy1:/etc/haproxy/haproxy.cfg:6 (listen 'mysql'): 'timeout client 50000' = 50 s, not 50000 s: HAProxy "
        "reads a number without a unit as MILLISECONDS. Fix: always write the unit, e.g. 'timeout client 1125s'"
    )
    assert len(result["findings"]) == 4
    assert [row["check"] for row in result["checks"]][-1] == "MariaDB wait_timeout"


def test_empty_listener_means_find_by_port(audit_filter):
    assert audit_filter(CONFIG, listener="")[0]["listener"] == "mysql"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((CONFIG,), {"listner": "mysql"},
         "haproxy_listener_timeouts: unknown keyword argument(s) 'listner'; accepted: listener, port, "
         "max_task_length, wait_timeout, source, check_output, check_rc"),
        ((b"listen mysql",), {},
         "haproxy_listener_timeouts: expected the text of haproxy.cfg, got bytes; with ansible.builtin.slurp, pass "
         "its content through ansible.builtin.b64decode first"),
        ((CONFIG,), {"listener": 3306},
         "haproxy_listener_timeouts: listener=3306 must be the name of a frontend or listen section"),
        ((CONFIG,), {"port": "mysql"},
         "haproxy_listener_timeouts: port='mysql' is not a TCP port; give an integer from 1 to 65535, e.g. 3306"),
        ((CONFIG,), {"listener": "db"},
         "haproxy_listener_timeouts: haproxy.cfg: no frontend or listen section named 'db' (found: listen 'mysql' "
         "(binds :3306)); set the listener name to one of them, or leave it empty to find the one binding port 3306"),
        ((CONFIG,), {"max_task_length": "soon"},
         "haproxy_listener_timeouts: cannot interpret max_task_length='soon' as a duration; give seconds as a "
         "number or a string of digits (e.g. 900), or a string with units us, ms, s, m, h, d, largest first, no "
         "spaces (e.g. '90s', '15m', '1h30m')"),
        ((CONFIG,), {"max_task_length": "15m", "wait_timeout": "8h"},
         "haproxy_listener_timeouts: cannot interpret wait_timeout='8h': MariaDB takes wait_timeout as plain seconds "
         "without units; give MariaDB's wait_timeout in seconds as an integer, e.g. 28800"),
    ],
)
def test_errors_name_the_filter_the_argument_and_the_fix(audit_filter, args, kwargs, message):
    with pytest.raises(AnsibleFilterError) as e:
        audit_filter(*args, **kwargs)
    assert str(e.value) == message


def test_sidecar_documents_exactly_the_accepted_options():
    options = sidecar("haproxy_listener_timeouts")["DOCUMENTATION"]["options"]
    assert set(options) == {"_input", "listener", "port", "max_task_length", "wait_timeout", "source", "check_output",
                            "check_rc"}
    assert options["port"]["default"] == 3306
    assert options["source"]["default"] == "haproxy.cfg"


def test_no_check_output_no_row(audit_filter):
    (result,) = audit_filter(CONFIG, max_task_length="15m", check_output="Configuration file is valid\n")
    assert "haproxy -c" not in [row["check"] for row in result["checks"]]
