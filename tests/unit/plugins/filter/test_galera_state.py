"""The mariadb_galera role's cluster decisions, through the filters the role calls.

The grastate.dat texts are what MariaDB 10.11 / Galera 4 wrote on the lab (running, cleanly stopped,
crashed, never joined); galera_recovery's line is the format of MariaDB's scripts/galera_recovery.sh.
The molecule galera scenario runs the same decisions end to end (bootstrap, join, restart, refusal,
recovery after every node was killed); tests/integration renders the sidecars in ansible-doc and runs
their EXAMPLES.
"""

from __future__ import annotations

import base64

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dbstack.galera.plugins.filter.galera_state import FilterModule

UUID = "f1b5f74f-ec94-11f1-8d89-5ed20306a317"
OTHER_UUID = "0a6e3e55-ec95-11f1-a1b2-2a9c1b7d5e10"
RUNNING = f"# GALERA saved state\nversion: 2.1\nuuid:    {UUID}\nseqno:   -1\nsafe_to_bootstrap: 0\n"
STOPPED = f"# GALERA saved state\nversion: 2.1\nuuid:    {UUID}\nseqno:   1234\nsafe_to_bootstrap: 1\n"
NEVER_JOINED = ("# GALERA saved state\nversion: 2.1\nuuid:    00000000-0000-0000-0000-000000000000\n"
                "seqno:   -1\nsafe_to_bootstrap: 0\n")
RECOVERED = f"--wsrep_start_position={UUID}:1240\n"
RECOVERED_WITH_GTID = f"--wsrep_start_position={UUID}:1240,0-1-1240\n"


@pytest.fixture(scope="module")
def f():
    return FilterModule().filters()


def slurped(text):
    return {"content": base64.b64encode(text.encode()).decode(), "encoding": "base64", "failed": False}


def status(cluster_status="Primary", local_state="4", size="3", uuid=UUID, schemas=()):
    rows = [{"Variable_name": "wsrep_cluster_status", "Value": cluster_status},
            {"Variable_name": "wsrep_local_state", "Value": local_state},
            {"Variable_name": "wsrep_cluster_size", "Value": size},
            {"Variable_name": "wsrep_cluster_state_uuid", "Value": uuid},
            {"Variable_name": "wsrep_ready", "Value": "ON"}]
    return {"query_result": [rows, [{"name": name} for name in schemas], []], "failed": False}


NOT_ANSWERING = {"failed": False, "msg": "unable to connect to database"}


def state(f, host, grastate_text, query):
    return f["galera_node_state"](slurped(grastate_text), host, query)


@pytest.mark.parametrize(("text", "expected"), [
    (STOPPED, {"uuid": UUID, "seqno": 1234, "safe_to_bootstrap": True}),
    (RUNNING, {"uuid": UUID, "seqno": -1, "safe_to_bootstrap": False}),
    (NEVER_JOINED, {"uuid": "00000000-0000-0000-0000-000000000000", "seqno": -1, "safe_to_bootstrap": False}),
    ("", {"uuid": "", "seqno": -1, "safe_to_bootstrap": False}),
    ("uuid: x\nseqno: 12\nsafe_to_bootstrap: 10\n", {"uuid": "x", "seqno": 12, "safe_to_bootstrap": False}),
])
def test_grastate_reads_what_galera_writes(f, text, expected):
    assert f["galera_grastate"](text) == expected
    assert f["galera_grastate"](slurped(text)) == expected


def test_a_missing_grastate_is_no_position(f):
    missing = {"failed": True, "msg": "file not found: /var/lib/mysql/grastate.dat"}
    assert f["galera_grastate"](missing) == {"uuid": "", "seqno": -1, "safe_to_bootstrap": False}


def test_node_state_of_a_synced_running_node(f):
    got = state(f, "galera1", RUNNING, status(schemas=["smoke"]))
    assert got == {"host": "galera1", "running": True, "primary": True, "local_state": 4, "cluster_size": 3,
                   "cluster_uuid": UUID, "grastate_uuid": UUID, "grastate_seqno": -1, "has_history": True,
                   "own_databases": ["smoke"]}


def test_node_state_of_a_stopped_node(f):
    got = state(f, "galera2", STOPPED, NOT_ANSWERING)
    assert (got["running"], got["primary"], got["has_history"], got["grastate_seqno"], got["own_databases"]) == \
        (False, False, True, 1234, [])


def test_a_fresh_node_has_no_history(f):
    assert not state(f, "galera3", NEVER_JOINED, NOT_ANSWERING)["has_history"]
    assert not state(f, "galera3", "", NOT_ANSWERING)["has_history"]


def plan(f, states, **kwargs):
    return f["galera_cluster_plan"](states, **kwargs)


def test_a_cluster_that_never_ran_bootstraps_from_the_first_node_or_the_chosen_one(f):
    fresh = [state(f, h, "", NOT_ANSWERING) for h in ("galera1", "galera2", "galera3")]
    assert plan(f, fresh) == {"action": "bootstrap", "anchor": "galera1", "join": ["galera2", "galera3"],
                              "restart": [], "cluster_uuids": []}
    assert plan(f, fresh, bootstrap_node="galera2")["join"] == ["galera1", "galera3"]


def test_a_running_primary_is_extended_and_changed_members_restart(f):
    states = [state(f, "galera1", RUNNING, status(cluster_status="non-Primary")),
              state(f, "galera2", RUNNING, status()), state(f, "galera3", STOPPED, NOT_ANSWERING)]
    states[0]["primary"] = False
    got = plan(f, states, config_changed=["galera1", "galera2", "galera3"])
    assert got == {"action": "extend", "anchor": "galera2", "join": ["galera1", "galera3"], "restart": ["galera2"],
                   "cluster_uuids": [UUID]}


def test_a_cluster_that_ran_with_no_primary_now_is_refused_never_bootstrapped(f):
    states = [state(f, "galera1", STOPPED, NOT_ANSWERING), state(f, "galera2", "", NOT_ANSWERING),
              state(f, "galera3", NEVER_JOINED, NOT_ANSWERING)]
    assert plan(f, states, bootstrap_node="galera2")["action"] == "refuse"


def test_two_primary_components_are_reported_as_a_split(f):
    states = [state(f, "galera1", RUNNING, status()), state(f, "galera2", RUNNING, status(uuid=OTHER_UUID))]
    assert plan(f, states)["cluster_uuids"] == [UUID, OTHER_UUID]


def test_recovery_position_prefers_innodb_where_grastate_has_none(f):
    crashed = slurped(RUNNING)
    assert f["galera_recovery_position"](crashed, "galera1", RECOVERED)["seqno"] == 1240
    assert f["galera_recovery_position"](crashed, "galera1", RECOVERED_WITH_GTID)["seqno"] == 1240
    assert f["galera_recovery_position"](crashed, "galera1")["seqno"] == -1
    assert f["galera_recovery_position"](slurped(STOPPED), "galera2") == \
        {"host": "galera2", "uuid": UUID, "seqno": 1234, "safe_to_bootstrap": True}


def position(host, seqno, uuid=UUID, safe=False):
    return {"host": host, "uuid": uuid, "seqno": seqno, "safe_to_bootstrap": safe}


@pytest.mark.parametrize(("positions", "node"), [
    ([position("galera1", 10), position("galera2", 12), position("galera3", 11)], "galera2"),
    ([position("galera1", 12), position("galera2", 12, safe=True), position("galera3", 3)], "galera2"),
    ([position("galera1", 12), position("galera2", 12), position("galera3", -1)], "galera1"),
    ([position("galera1", -1), position("galera2", 5, uuid=""), position("galera3", 2)], "galera3"),
    ([position("galera1", -1), position("galera2", -1)], ""),
])
def test_the_highest_seqno_is_bootstrapped_never_a_node_behind_another(f, positions, node):
    got = f["galera_bootstrap_choice"](positions)
    assert got["node"] == node
    if node:
        assert all(p["seqno"] <= got["seqno"] for p in positions if p["uuid"])


def test_positions_of_different_histories_are_reported_and_the_operator_can_force(f):
    positions = [position("galera1", 10), position("galera2", 90, uuid=OTHER_UUID)]
    assert f["galera_bootstrap_choice"](positions)["uuids"] == [UUID, OTHER_UUID]
    assert f["galera_bootstrap_choice"](positions, "galera1")["node"] == "galera1"


@pytest.mark.parametrize(("name", "args", "message"), [
    ("galera_cluster_plan", ([],), "no node states: the Galera group is empty"),
    ("galera_cluster_plan", ([{"host": "galera1", "primary": False, "has_history": False}],),
     "galera_cluster_plan: bootstrap node 'galera9' is not one of the Galera nodes (galera1)"),
    ("galera_cluster_plan", ("galera1",), "expected a list of node states, got str"),
    ("galera_bootstrap_choice", ([position("galera1", 1)], "galera9"),
     "mariadb_galera_force_bootstrap_node='galera9' is not one of the Galera nodes (galera1)"),
    ("galera_grastate", (42,), "expected grastate.dat's text or a slurp result, got int"),
    ("galera_node_state", ("", "galera1", {"query_result": "nonsense"}), "galera1: the status query returned"),
])
def test_bad_input_is_a_filter_error_naming_it(f, name, args, message):
    kwargs = {"bootstrap_node": "galera9"} if "galera9" in message and name == "galera_cluster_plan" else {}
    with pytest.raises(AnsibleFilterError, match=None) as e:
        f[name](*args, **kwargs)
    assert message in str(e.value)
