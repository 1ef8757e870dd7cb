# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that build the timeout audit's report from what each host found, and print it as a table.

The verdict logic lives in plugin_utils/audit_report.py; this module only reads
the audit's facts out of hostvars and adapts errors to Ansible.  Documentation is
in the sidecars timeout_audit_report.yml and timeout_audit_table.yml.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.dbstack.galera.plugins.plugin_utils import audit_report

_REPORT_ACCEPTED = ("haproxy_hosts", "galera_hosts", "haproxy_group", "galera_group")


def _host_list(name, value, filter_name):
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise AnsibleFilterError(f"{filter_name}: {name}={value!r} must be a list of inventory host names")
    return [str(host) for host in value]


def timeout_audit_report(hostvars, haproxy_hosts=None, galera_hosts=None, haproxy_group="haproxy",
                         galera_group="galera", **unexpected):
    """hostvars -> {"rows": [...], "findings": [...]} from the facts playbooks/audit_timeouts.yml sets on each host."""
    name = "timeout_audit_report"
    if unexpected:
        names = ", ".join(repr(key) for key in sorted(unexpected))
        raise AnsibleFilterError(
            f"{name}: unknown keyword argument(s) {names}; accepted: {', '.join(_REPORT_ACCEPTED)}"
        )
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError(f"{name}: expected hostvars (a mapping of host name to its variables), got "
                                 f"{type(hostvars).__name__}")
    haproxy = {}
    for host in _host_list("haproxy_hosts", haproxy_hosts, name):
        variables = hostvars.get(host) or {}
        haproxy[host] = {"error": variables.get("__audit_error") or "", "results": variables.get("__audit_results")}
    galera = {}
    for node in _host_list("galera_hosts", galera_hosts, name):
        variables = hostvars.get(node) or {}
        query = variables.get("__audit_mariadb") or {}
        galera[node] = {"wait_timeout": variables.get("__audit_wait_timeout"),
                        "interactive_timeout": variables.get("__audit_interactive_timeout"),
                        "error": query.get("msg") if isinstance(query, Mapping) else None}
    return audit_report.build_report(haproxy, galera, str(haproxy_group), str(galera_group))


def timeout_audit_table(rows):
    """Report rows -> the aligned text table the audit prints."""
    name = "timeout_audit_table"
    if isinstance(rows, (str, bytes, Mapping)) or not hasattr(rows, "__iter__"):
        raise AnsibleFilterError(f"{name}: expected the report's rows (a list of lists), got {type(rows).__name__}")
    rows = list(rows)
    for row in rows:
        if isinstance(row, (str, bytes, Mapping)) or len(row) != len(audit_report.HEADER):
            raise AnsibleFilterError(f"{name}: each row needs {len(audit_report.HEADER)} cells "
                                     f"({', '.join(audit_report.HEADER)}), got {row!r}")
    return audit_report.format_table(rows)


class FilterModule:
    """Report filters of dbstack.galera's timeout audit."""

    def filters(self):
        return {"timeout_audit_report": timeout_audit_report, "timeout_audit_table": timeout_audit_table}
