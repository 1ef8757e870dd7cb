# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter that reads a deployed haproxy.cfg and reports the MySQL listener's effective timeouts.

All rules live in plugin_utils/haproxy_config.py (configuration, inheritance)
and plugin_utils/durations.py (time units); this module only adapts them to
Jinja.  Documentation is in the sidecar haproxy_listener_timeouts.yml.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

_NAME = "haproxy_listener_timeouts"
_ACCEPTED = ("listener", "port", "max_task_length", "wait_timeout", "source", "check_output", "check_rc")


def haproxy_listener_timeouts(
    config,
    listener=None,
    port=None,
    max_task_length=None,
    wait_timeout=None,
    source="haproxy.cfg",
    check_output=None,
    check_rc=0,
    **unexpected,
):
    """haproxy.cfg text -> one entry per MySQL listener/backend path, audited when max_task_length is given."""
    # The parser is imported here, not above: Ansible loads every filter file of the collection in each
    # worker process that resolves any of its filters, and only the audit and status calls this one.
    from ansible_collections.dbstack.galera.plugins.plugin_utils import durations, haproxy_config

    if unexpected:
        names = ", ".join(repr(name) for name in sorted(unexpected))
        raise AnsibleFilterError(f"{_NAME}: unknown keyword argument(s) {names}; accepted: {', '.join(_ACCEPTED)}")
    if not isinstance(config, str):
        raise AnsibleFilterError(
            f"{_NAME}: expected the text of haproxy.cfg, got {type(config).__name__}; "
            f"with ansible.builtin.slurp, pass its content through ansible.builtin.b64decode first"
        )
    if listener is not None and not isinstance(listener, str):
        raise AnsibleFilterError(f"{_NAME}: listener={listener!r} must be the name of a frontend or listen section")
    # Inventory and -e values arrive as strings; "3306" is a port, "3306x" is not.
    if port is None:
        port = haproxy_config.DEFAULT_MYSQL_PORT
    elif isinstance(port, str) and port.strip().isdigit():
        port = int(port.strip())
    try:
        results = haproxy_config.listener_timeouts(config, listener or None, port, source)
        if max_task_length is None:
            return results
        for result in results:
            checks = haproxy_config.audit_listener(result, max_task_length, wait_timeout, source)
            if check_output:
                checks.extend(haproxy_config.haproxy_check_rows(result, check_output, check_rc or 0, source))
            result["checks"] = checks
            result["findings"] = [finding for check in checks for finding in check["findings"]]
            result["ok"] = not result["findings"]
        return results
    except (haproxy_config.HaproxyConfigError, durations.DurationError) as e:
        raise AnsibleFilterError(f"{_NAME}: {e}") from e


class FilterModule:
    """Audit filter of dbstack.galera: effective timeouts of a deployed HAProxy MySQL listener."""

    def filters(self):
        return {"haproxy_listener_timeouts": haproxy_listener_timeouts}
