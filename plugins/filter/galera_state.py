# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Galera cluster decisions of dbstack.galera as filters: a node's saved position (galera_grastate),
its state (galera_node_state), what the cluster needs (galera_cluster_plan), and after a full outage
each node's committed position (galera_recovery_position) and the node to bootstrap
(galera_bootstrap_choice).

The rules live in plugin_utils/galera_state.py; documentation in the sidecars of the same names.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.dbstack.galera.plugins.plugin_utils import galera_state as gs


def _list(value, name, what):
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise AnsibleFilterError(f"{name}: expected a list of {what}, got {type(value).__name__}")
    return list(value)


def _call(name, function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except gs.GaleraStateError as e:
        raise AnsibleFilterError(f"{name}: {e}") from e
    except (KeyError, TypeError) as e:
        raise AnsibleFilterError(f"{name}: unexpected input ({type(e).__name__}: {e})") from e


def galera_grastate(value):
    """grastate.dat (slurp result or text) -> {uuid, seqno, safe_to_bootstrap}."""
    return _call("galera_grastate", gs.grastate, value)


def galera_node_state(grastate, host, status_query):
    """grastate.dat (slurp result), host, the role's status query result -> the node's state."""
    return _call("galera_node_state", gs.node_state, host, grastate, status_query)


def galera_cluster_plan(states, config_changed=(), bootstrap_node=""):
    """Every node's state -> {action: bootstrap|extend|refuse, anchor, join, restart, cluster_uuids}."""
    states = _list(states, "galera_cluster_plan", "node states")
    config_changed = _list(config_changed, "galera_cluster_plan", "host names (config_changed)")
    return _call("galera_cluster_plan", gs.cluster_plan, states, config_changed, bootstrap_node or "")


def galera_recovery_position(grastate, host, recovery_output=""):
    """grastate.dat (slurp result), host, galera_recovery's output -> {host, uuid, seqno, safe_to_bootstrap}."""
    return _call("galera_recovery_position", gs.recovery_position, host, grastate, recovery_output or "")


def galera_bootstrap_choice(positions, force_node=""):
    """Every node's recovery position -> {positions, uuids, node, seqno}: the node to bootstrap."""
    positions = _list(positions, "galera_bootstrap_choice", "recovery positions")
    return _call("galera_bootstrap_choice", gs.bootstrap_choice, positions, force_node or "")


class FilterModule:
    """Galera cluster decision filters of dbstack.galera."""

    def filters(self):
        return {"galera_grastate": galera_grastate, "galera_node_state": galera_node_state,
                "galera_cluster_plan": galera_cluster_plan, "galera_recovery_position": galera_recovery_position,
                "galera_bootstrap_choice": galera_bootstrap_choice}
