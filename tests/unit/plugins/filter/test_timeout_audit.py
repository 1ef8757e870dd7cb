"""The timeout audit's report filters: the verdict the playbook prints, built in Python and tested here.

tests/integration renders their sidecars in ansible-doc and runs their EXAMPLES."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from mysql_listener import mysql_listener

from ansible_collections.dbstack.galera.plugins.filter.haproxy_listener_timeouts import haproxy_listener_timeouts
from ansible_collections.dbstack.galera.plugins.filter.timeout_audit import FilterModule
from ansible_collections.dbstack.galera.plugins.plugin_utils import audit_report

NAMES = ("timeout_audit_report", "timeout_audit_table")

CONFIG = mysql_listener("1125s")
NOT_READ = (
    "galera2: cannot read wait_timeout: unable to connect. Fix: make the node reachable, or set "
    "audit_mysql_login_user, audit_mysql_login_password and audit_mysql_login_unix_socket (or audit_mysql_login_host) "
    "to an account that may SELECT @@GLOBAL.wait_timeout"
)


@pytest.fixture(scope="module")
def report():
    return FilterModule().filters()["timeout_audit_report"]


@pytest.fixture(scope="module")
def table():
    return FilterModule().filters()["timeout_audit_table"]


def audited(config=CONFIG):
    return haproxy_listener_timeouts(config, max_task_length="15m", wait_timeout={"galera1": 28800},
                                     source="haproxy1:/etc/haproxy/haproxy.cfg")


def hostvars():
    return {
        "haproxy1": {"__audit_results": audited(), "__audit_error": ""},
        "haproxy2": {"__audit_error": "haproxy2: cannot read /etc/haproxy/haproxy.cfg: File not found."},
        "haproxy3": {},
        "galera1": {"__audit_wait_timeout": "28800", "__audit_interactive_timeout": 28800},
        "galera2": {"__audit_mariadb": {"msg": "unable to connect"}},
    }


def test_registered_under_their_own_names():
    assert tuple(FilterModule().filters()) == NAMES


def test_rows_and_findings_for_every_kind_of_host(report):
    result = report(hostvars(), haproxy_hosts=["haproxy1", "haproxy2", "haproxy3"],
                    galera_hosts=["galera1", "galera2"])
    assert result["rows"][:2] == [
        ["haproxy1", "mysql", "timeout client", "1125s", "6 listen 'mysql'", "1125", "idle limit", "ok"],
        ["haproxy1", "mysql", "timeout server", "1125s", "7 listen 'mysql'", "1125", "idle limit", "ok"],
    ]
    assert result["rows"][-5:] == [
        ["haproxy2", "-", "configuration", "-", "-", "-", "not evaluated", "FAIL"],
        ["haproxy3", "-", "configuration", "-", "-", "-", "not evaluated", "FAIL"],
        ["galera1", "-", "wait_timeout", "28800", "-", "28800", "MariaDB closes idle sessions", "ok"],
        ["galera1", "-", "interactive_timeout", "28800", "-", "28800", "interactive clients only (not Django)",
         "ok"],
        ["galera2", "-", "wait_timeout", "-", "-", "-", "not read", "FAIL"],
    ]
    assert result["findings"] == [
        "haproxy2: cannot read /etc/haproxy/haproxy.cfg: File not found.",
        "haproxy3: not audited: the host failed or was unreachable before its configuration was read (see the task "
        "output above)",
        NOT_READ,
    ]


def test_a_frontend_backend_pair_is_named_with_an_arrow_and_its_findings_kept(report):
    config = CONFIG.replace("listen mysql", "frontend mysql").replace(
        "    server galera1", "    default_backend galera\nbackend galera\n    timeout server 50000\n    server galera1")
    result = report({"haproxy1": {"__audit_results": audited(config)}}, haproxy_hosts=["haproxy1"],
                    galera_hosts=[])
    assert {row[1] for row in result["rows"]} == {"mysql>galera"}
    assert any("'timeout server 50000' = 50 s" in finding for finding in result["findings"])


def test_empty_groups_name_the_variable_to_set(report):
    result = report({}, haproxy_hosts=[], galera_hosts=[], haproxy_group="lb", galera_group="db")
    assert result == {"rows": [], "findings": [
        "group lb has no hosts in this inventory, so no HAProxy was audited; set audit_haproxy_group (with -e) to the "
        "group of your HAProxy hosts",
        "group db has no hosts in this inventory, so MariaDB's wait_timeout was not read; set audit_galera_group "
        "(with -e) to the group of your Galera nodes",
    ]}


def test_table_aligns_columns_and_trims_line_ends(table):
    rows = [["galera1", "-", "wait_timeout", "28800", "-", "28800", "MariaDB closes idle sessions", "ok"],
            ["haproxy1", "mysql", "timeout client", "1125s", "6 listen 'mysql'", "1125", "idle limit", "FAIL"]]
    assert table(rows).split("\n") == [
        "HOST      LISTENER  CHECK           WRITTEN  LINE (SECTION)    SECONDS  MEANING                       RESULT",
        "galera1   -         wait_timeout    28800    -                 28800    MariaDB closes idle sessions  ok",
        "haproxy1  mysql     timeout client  1125s    6 listen 'mysql'  1125     idle limit                    FAIL",
    ]


def test_wrong_inputs_are_named(report, table):
    with pytest.raises(AnsibleFilterError, match=r"timeout_audit_report: unknown keyword argument\(s\) 'group'"):
        report({}, group="x")
    with pytest.raises(AnsibleFilterError, match="timeout_audit_report: haproxy_hosts='haproxy1' must be a list"):
        report({}, haproxy_hosts="haproxy1")
    with pytest.raises(AnsibleFilterError, match="timeout_audit_table: each row needs 8 cells"):
        table([["a", "b"]])


def test_report_is_pure_python():
    assert audit_report.build_report({}, {"g": {"wait_timeout": 5, "interactive_timeout": 6}})["rows"][1][3] == "6"
