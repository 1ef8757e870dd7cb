"""The haproxy_listener_timeouts filter through real programs: ansible-doc renders its sidecar, its EXAMPLES
run in a real playbook, and what the real haproxy -c says about a file becomes the audit's findings.
tests/unit tests the filter itself."""

from __future__ import annotations

import subprocess

import pytest
from ansible_cli import ansible_doc, run_tasks
from mysql_listener import mysql_listener
from sidecars import sidecar_examples

from ansible_collections.dbstack.galera.plugins.filter.haproxy_listener_timeouts import FilterModule


CONFIG = mysql_listener("50000")


@pytest.fixture(scope="module")
def audit_filter():
    return FilterModule().filters()["haproxy_listener_timeouts"]


def test_ansible_doc_renders():
    assert "MILLISECONDS" in ansible_doc("haproxy_listener_timeouts").stdout


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
