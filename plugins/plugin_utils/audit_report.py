# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The timeout audit's report: one table row per host and check, and every finding, from what each host found.

playbooks/audit_timeouts.yml gathers, per HAProxy host, the audited results of
haproxy_listener_timeouts (or why they are missing) and, per Galera node, the live
wait_timeout/interactive_timeout (or why they could not be read).  This module
turns them into the verdict, so that the logic is unit-tested in one place
instead of living in Jinja.  Pure Python, no Ansible import.
"""

from __future__ import annotations

__all__ = ["HEADER", "build_report", "format_table"]

HEADER = ("HOST", "LISTENER", "CHECK", "WRITTEN", "LINE (SECTION)", "SECONDS", "MEANING", "RESULT")

_MSG_EMPTY_GROUP = (
    "group {group} has no hosts in this inventory, so {effect}; set {variable} (with -e) to the group of your {what}"
)
_MSG_NOT_AUDITED = (
    "{host}: not audited: the host failed or was unreachable before its configuration was read (see the task output "
    "above)"
)
_MSG_NOT_READ = (
    "{node}: cannot read wait_timeout: {reason}. Fix: make the node reachable, or set audit_mysql_login_user, "
    "audit_mysql_login_password and audit_mysql_login_unix_socket (or audit_mysql_login_host) to an account that may "
    "SELECT @@GLOBAL.wait_timeout"
)
_NOT_EVALUATED = ("-", "configuration", "-", "-", "-", "not evaluated", "FAIL")


def _text(value):
    return "-" if value is None else str(value)


def build_report(haproxy, galera, haproxy_group="haproxy", galera_group="galera"):
    """``{"rows": [...], "findings": [...]}`` for the audit.

    ``haproxy`` maps each HAProxy host, in inventory order, to ``{"error": str}``
    (its configuration could not be evaluated), ``{"results": [...]}`` (the
    audited output of haproxy_listener_timeouts) or ``{}`` (it failed before).
    ``galera`` maps each Galera node to ``{"wait_timeout": ..., "interactive_timeout":
    ...}`` or ``{"error": str}``.  Each row has the columns of HEADER.
    """
    rows = []
    findings = []
    if not haproxy:
        findings.append(_MSG_EMPTY_GROUP.format(group=haproxy_group, effect="no HAProxy was audited",
                                                variable="audit_haproxy_group", what="HAProxy hosts"))
    if not galera:
        findings.append(_MSG_EMPTY_GROUP.format(group=galera_group, effect="MariaDB's wait_timeout was not read",
                                                variable="audit_galera_group", what="Galera nodes"))
    for host, state in haproxy.items():
        state = state or {}
        if state.get("error"):
            rows.append([host, *_NOT_EVALUATED])
            findings.append(state["error"])
        elif state.get("results") is None:
            rows.append([host, *_NOT_EVALUATED])
            findings.append(_MSG_NOT_AUDITED.format(host=host))
        else:
            for result in state["results"]:
                listener = result["listener"]
                if result["backend"] != listener:
                    listener = f"{listener}>{result['backend']}"
                for check in result["checks"]:
                    where = "-" if check["line"] is None else f"{check['line']} {check['section']}"
                    seconds = "none" if check["seconds"] is None else str(check["seconds"])
                    rows.append([host, listener, check["check"], _text(check["written"]), where, seconds,
                                 check["meaning"], "FAIL" if check["findings"] else "ok"])
                findings.extend(result["findings"])
    for node, state in galera.items():
        state = state or {}
        if state.get("wait_timeout") is not None:
            wait, interactive = str(state["wait_timeout"]), str(state.get("interactive_timeout"))
            rows.append([node, "-", "wait_timeout", wait, "-", wait, "MariaDB closes idle sessions", "ok"])
            rows.append([node, "-", "interactive_timeout", interactive, "-", interactive,
                         "interactive clients only (not Django)", "ok"])
        else:
            reason = state.get("error") or "the node failed or was unreachable earlier"
            rows.append([node, "-", "wait_timeout", "-", "-", "-", "not read", "FAIL"])
            findings.append(_MSG_NOT_READ.format(node=node, reason=reason))
    return {"rows": rows, "findings": findings}


def format_table(rows, header=HEADER):
    """The rows under ``header``, each column as wide as its widest cell, two spaces apart, right ends trimmed."""
    table = [list(header)] + [list(row) for row in rows]
    widths = [max(len(str(row[column])) for row in table) for column in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table)
