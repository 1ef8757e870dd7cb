"""The smoke app's round trip: a Celery task on the app host saves through HAProxy, and its row is
there on every Galera node (replication, not just the node HAProxy picked)."""

import ipaddress
import json

import pymysql
import pytest

from labdb import changed_tasks, run_playbook

testinfra_hosts = ["app"]


def test_worker_running(host):
    worker = host.service("dbstack-smoke-worker")
    if not worker.is_running:
        journal = host.run("journalctl -u dbstack-smoke-worker --no-pager -n 40").stdout
        pytest.fail(f"dbstack-smoke-worker is not running:\n{journal}")
    assert worker.is_enabled
    assert host.service("redis-server").is_running


def test_app_uses_the_haproxy_vip_with_conn_max_age_below_its_timeout(host, lab):
    cfg = json.loads(host.check_output("dbstack-smoke smoke config --json"))
    subnet = ipaddress.ip_network(next(iter(lab["hosts"].values()))["vars"]["dbstack_lab_subnet"])
    assert (cfg["host"], cfg["port"]) == (str(subnet.network_address + 100), 3306)
    assert cfg["conn_health_checks"] is True
    assert 0 < cfg["conn_max_age"] < cfg["haproxy_timeout_seconds"]


@pytest.mark.measures_the_deployment
def test_task_round_trip_row_on_every_galera_node(host, lab):
    res = host.run("dbstack-smoke smoke run --variant tenacity --idle 1 --json")
    assert res.rc == 0, res.stdout + res.stderr
    entry = json.loads(res.stdout)["runs"][0]
    assert entry["state"] == "SUCCESS" and entry["run"]["outcome"] == "saved", entry
    token = entry["token"]
    seen = {}
    for name in lab["groups"]["galera"]:
        node = lab["hosts"][name]
        hv = node["vars"]
        conn = pymysql.connect(host=node["ip"], port=3306, user=hv["smoke_app_db_user"],
                               password=hv["smoke_app_db_password"], database=hv["smoke_app_db_name"],
                               connect_timeout=10)
        try:
            with conn.cursor() as cur:
                # Galera applies writes on the other nodes asynchronously after certification;
                # wsrep_sync_wait = 1 makes this read wait until the node has applied them.
                cur.execute("SET SESSION wsrep_sync_wait = 1")
                cur.execute("SELECT i.value, i.saved_by, r.outcome, (SELECT COUNT(*) FROM smoke_effect e "
                            "WHERE e.token = i.token) FROM smoke_item i JOIN smoke_taskrun r ON r.token = i.token "
                            "WHERE i.token = %s", (token,))
                seen[name] = cur.fetchone()
        finally:
            conn.close()
    assert seen == {name: (1, token, "saved", 1) for name in lab["groups"]["galera"]}


def test_smoke_yml_alone_reads_the_timeout_haproxy_applies(host, lab):
    """Without the haproxy play in the run, the app reads HAProxy's timeout back from haproxy.cfg (the
    haproxy role owns it): the settings site.yml wrote stay exactly as they are."""
    if host.backend.name != lab["hosts"][lab["groups"]["app"][0]]["container"]:
        pytest.skip("one run for the scenario")
    before = json.loads(host.check_output("dbstack-smoke smoke config --json"))
    result = run_playbook("playbooks/smoke.yml")
    assert changed_tasks(result.stdout) == []
    read = result.stdout.split("Read the HAProxy configuration in force", 1)[1].split("TASK [", 1)[0]
    assert "ok: [" in read and "skipping" not in read, read
    assert json.loads(host.check_output("dbstack-smoke smoke config --json")) == before
