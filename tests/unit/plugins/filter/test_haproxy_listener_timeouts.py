"""The haproxy_listener_timeouts filter as Ansible calls it: results, audit, errors, documentation."""

from __future__ import annotations

import subprocess

import pytest
from ansible.errors import AnsibleFilterError
from ansible_cli import ansible_doc, run_tasks, sidecar, sidecar_examples
from mysql_listener import mysql_listener

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


def test_ansible_doc_renders():
    assert "MILLISECONDS" in ansible_doc("haproxy_listener_timeouts").stdout


def test_sidecar_documents_exactly_the_accepted_options():
    options = sidecar("haproxy_listener_timeouts")["DOCUMENTATION"]["options"]
    assert set(options) == {"_input", "listener", "port", "max_task_length", "wait_timeout", "source", "check_output",
                            "check_rc"}
    assert options["port"]["default"] == 3306
    assert options["source"]["default"] == "haproxy.cfg"


def test_examples_run_in_a_real_playbook(tmp_path):
    result = run_tasks(tmp_path, sidecar_examples("haproxy_listener_timeouts"), result_format="yaml")
    # The YAML callback wraps long strings; compare words, not lines.
    output = " ".join(result.stdout.split())
    assert "value: 20m" in output
    assert "timeout client 50000'' = 50 s, not 50000 s: HAProxy reads a number without a unit as MILLISECONDS" in output


FRONTEND_WITH_IGNORED_LINE = """\
defaults
    mode tcp
    timeout connect 5s
frontend mysql
    bind 127.0.0.1:3306
    timeout client 20m
    timeout tunnel 1s
    default_backend galera
backend galera
    timeout server 20m
    server galera1 127.0.0.1:3307
listen other
    bind 127.0.0.1:3310
    server galera1 127.0.0.1:3307
"""


def haproxy_check(tmp_path, text):
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    done = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True, timeout=60, check=False)
    return done.stdout + done.stderr, done.returncode


def test_haproxy_check_warnings_about_the_listener_are_findings(audit_filter, tmp_path):
    """The real haproxy -c: its warning about the MySQL frontend becomes a finding, the other proxy's do not."""
    output, rc = haproxy_check(tmp_path, FRONTEND_WITH_IGNORED_LINE)
    assert rc == 0 and "missing timeouts for proxy 'other'" in output, output
    (result,) = audit_filter(FRONTEND_WITH_IGNORED_LINE, max_task_length="15m", check_output=output, check_rc=rc,
                             source="haproxy1:/etc/haproxy/haproxy.cfg")
    (row,) = [row for row in result["checks"] if row["check"] == "haproxy -c"]
    assert row["meaning"] == "1 warning(s)"
    assert row["findings"] == [
        f"haproxy1:/etc/haproxy/haproxy.cfg: haproxy -c on this host warns about frontend 'mysql': parsing "
        f"[{tmp_path}/haproxy.cfg:7] : 'timeout tunnel' will be ignored because frontend 'mysql' has no backend "
        f"capability. Fix: correct the line HAProxy names; a warned line does not do what it says"
    ]


def test_a_file_haproxy_refuses_on_the_host_is_a_finding(audit_filter, tmp_path):
    # The audit reads 'option mysql-check' wrongly spelled as nothing it knows; HAProxy refuses it.
    text = CONFIG + "    option mysql-chek\n"
    output, rc = haproxy_check(tmp_path, text)
    assert rc != 0
    (result,) = audit_filter(text, max_task_length="15m", check_output=output, check_rc=rc)
    (row,) = [row for row in result["checks"] if row["check"] == "haproxy -c"]
    assert row["meaning"] == "HAProxy refuses the file"
    assert row["findings"][0].startswith("haproxy.cfg: haproxy -c on this host refuses the file: parsing [")
    assert "mysql-chek" in row["findings"][0]


def test_no_check_output_no_row(audit_filter):
    (result,) = audit_filter(CONFIG, max_task_length="15m", check_output="Configuration file is valid\n")
    assert "haproxy -c" not in [row["check"] for row in result["checks"]]
