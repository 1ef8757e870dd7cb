# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the mariadb_galera role decides from what it observed on the nodes.

The role's tasks gather (grastate.dat, the server's wsrep status, galera_recovery's output) and act
(bootstrap, join, restart); the decisions between the two live here, with unit tests of their own:

* grastate(): a node's saved position, read from grastate.dat the way Galera writes it.
* node_state(): one node's state for the cluster decisions.
* cluster_plan(): bootstrap a cluster that never ran, extend a running Primary component, or refuse
  to guess when the cluster ran before but no node is Primary (recovery is then a separate,
  explicit step).
* recovery_position() and bootstrap_choice(): after a full outage, each node's committed position
  and the one node to bootstrap: the highest seqno wins, never a node that is behind another.
"""

from __future__ import annotations

import base64
import re

# A node that never joined a cluster, or whose grastate.dat was reset, has this uuid.
NO_UUID = "00000000-0000-0000-0000-000000000000"

_UUID = re.compile(r"^uuid:\s*(\S+)", re.MULTILINE)
_SEQNO = re.compile(r"^seqno:\s*(-?\d+)", re.MULTILINE)
_SAFE = re.compile(r"^safe_to_bootstrap:\s*1\b", re.MULTILINE)
# galera_recovery prints the recovered position as --wsrep_start_position=UUID:SEQNO.
_RECOVERED = re.compile(r"wsrep_start_position=([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):(-?\d+)")


class GaleraStateError(ValueError):
    """The observed data cannot be read as what it should be."""


def file_text(value) -> str:
    """grastate.dat's text from the registered result of ansible.builtin.slurp (empty when the file
    is missing or the slurp failed) or from the text itself."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "content" not in value:
            return ""
        try:
            return base64.b64decode(value["content"]).decode("utf-8", errors="replace")
        except (ValueError, TypeError) as e:
            raise GaleraStateError(f"the slurped content is not base64: {e}") from e
    raise GaleraStateError(f"expected grastate.dat's text or a slurp result, got {type(value).__name__}")


def grastate(value) -> dict:
    """{'uuid', 'seqno', 'safe_to_bootstrap'}; a missing file or field reads as no position (-1)."""
    text = file_text(value)
    uuid = _UUID.search(text)
    seqno = _SEQNO.search(text)
    return {"uuid": uuid.group(1) if uuid else "", "seqno": int(seqno.group(1)) if seqno else -1,
            "safe_to_bootstrap": bool(_SAFE.search(text))}


def has_history(uuid: str) -> bool:
    return uuid not in ("", NO_UUID)


def node_state(host: str, grastate_value, status_query) -> dict:
    """One node's state from its grastate.dat and the role's status query.

    `status_query` is the registered result of the role's ansible.mariadb.mariadb_query (the wsrep
    status rows, the node's own schemas, the provider options); without query_result the server did
    not answer, so it is not running.
    """
    saved = grastate(grastate_value)
    rows = status_query.get("query_result") if isinstance(status_query, dict) else None
    running = rows is not None
    if running and (not isinstance(rows, list) or len(rows) < 2):
        raise GaleraStateError(f"{host}: the status query returned {rows!r}, expected the status rows and the schemas")
    status = {row["Variable_name"]: row["Value"] for row in rows[0]} if running else {}
    return {
        "host": host,
        "running": running,
        "primary": status.get("wsrep_cluster_status", "") == "Primary",
        "local_state": int(status.get("wsrep_local_state", 0) or 0),
        "cluster_size": int(status.get("wsrep_cluster_size", 0) or 0),
        "cluster_uuid": status.get("wsrep_cluster_state_uuid", ""),
        "grastate_uuid": saved["uuid"],
        "grastate_seqno": saved["seqno"],
        "has_history": has_history(saved["uuid"]),
        "own_databases": [row["name"] for row in rows[1]] if running else [],
    }


def cluster_plan(states: list, config_changed=(), bootstrap_node: str = "") -> dict:
    """What the cluster needs, from every node's node_state() in inventory order.

    * some node is in a Primary component: 'extend' it from the first such node; every other node
      joins; Primary nodes whose configuration changed restart one at a time;
    * none is, but some node has a cluster history: 'refuse' (a bootstrap could start from a node that
      is behind another and lose committed writes; recover.yml decides by seqno);
    * no node has ever been in a cluster: 'bootstrap' from `bootstrap_node` (else the first node).
    `cluster_uuids` lists the Primary components' state UUIDs: more than one is a split cluster.
    """
    if not states:
        raise GaleraStateError("no node states: the Galera group is empty")
    nodes = [state["host"] for state in states]
    if bootstrap_node and bootstrap_node not in nodes:
        raise GaleraStateError(f"bootstrap node {bootstrap_node!r} is not one of the Galera nodes ({', '.join(nodes)})")
    primary = [state for state in states if state["primary"]]
    if primary:
        primary_hosts = [state["host"] for state in primary]
        return {"action": "extend", "anchor": primary_hosts[0],
                "join": [host for host in nodes if host not in primary_hosts],
                "restart": [host for host in primary_hosts if host in set(config_changed)],
                "cluster_uuids": list(dict.fromkeys(state["cluster_uuid"] for state in primary))}
    if any(state["has_history"] for state in states):
        return {"action": "refuse", "anchor": "", "join": [], "restart": [], "cluster_uuids": []}
    anchor = bootstrap_node or nodes[0]
    return {"action": "bootstrap", "anchor": anchor, "join": [host for host in nodes if host != anchor],
            "restart": [], "cluster_uuids": []}


def recovery_position(host: str, grastate_value, recovery_output: str = "") -> dict:
    """A stopped node's committed position: InnoDB's, recovered by galera_recovery, where grastate.dat
    has none (seqno -1 after a crash), else grastate.dat's."""
    saved = grastate(grastate_value)
    recovered = _RECOVERED.search(recovery_output or "")
    if recovered:
        return {"host": host, "uuid": recovered.group(1), "seqno": int(recovered.group(2)),
                "safe_to_bootstrap": saved["safe_to_bootstrap"]}
    return {"host": host, "uuid": saved["uuid"], "seqno": saved["seqno"], "safe_to_bootstrap": saved["safe_to_bootstrap"]}


def bootstrap_choice(positions: list, force_node: str = "") -> dict:
    """The node to bootstrap after a full outage: the highest seqno among the nodes with a known
    position; among equals the one Galera marked safe_to_bootstrap, else the first. `node` is ''
    when no node knows its position; `uuids` with more than one entry means the positions belong
    to different cluster histories and cannot be compared. `force_node` overrides the choice."""
    hosts = [position["host"] for position in positions]
    if force_node and force_node not in hosts:
        raise GaleraStateError(f"mariadb_galera_force_bootstrap_node={force_node!r} is not one of the Galera nodes "
                               f"({', '.join(hosts)})")
    valid = [p for p in positions if p["seqno"] >= 0 and has_history(p["uuid"])]
    best = max((p["seqno"] for p in valid), default=-1)
    tied = [p for p in valid if p["seqno"] == best]
    ranked = [p for p in tied if p["safe_to_bootstrap"]] + tied
    return {"positions": positions, "uuids": list(dict.fromkeys(p["uuid"] for p in valid)),
            "node": force_node or (ranked[0]["host"] if ranked else ""), "seqno": best}
