"""A Celery task of the tenacity variant has read its row and holds its connection idle when the
writer's mariadbd is killed (-9). The save fails, is retried on a new connection through HAProxy,
which now leads to a surviving node: the task succeeds, its row is on every node, applied once."""

import json
import subprocess
import time

import pytest
from labdb import app_account, connect, node_host, wait_whole, writer_name

# Breaks the cluster on purpose and brings it back (labhosts: skipped on an older core's run).
pytestmark = pytest.mark.drill

testinfra_hosts = ["app"]


def test_tenacity_task_survives_its_writer_being_killed(lab):
    account = app_account(lab)
    wait_whole(lab, account)
    victim = writer_name(lab, account)
    app = lab["hosts"][lab["groups"]["app"][0]]["container"]
    task = subprocess.Popen(["podman", "exec", app, "dbstack-smoke", "smoke", "run", "--variant", "tenacity",
                             "--idle", "8", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # queued, picked up, row read: the task now holds its connection idle
    node_host(lab, victim).check_output("pkill -KILL -x mariadbd")
    out, err = task.communicate(timeout=180)
    assert task.returncode == 0, out + err
    entry = json.loads(out)["runs"][0]
    run = entry["run"]
    assert entry["state"] == "SUCCESS" and run["outcome"] == "saved", entry
    assert run["attempts"] > 1 and run["retry_log"], f"the kill did not hit the task's connection: {run}"

    wait_whole(lab, account)  # systemd restarted the victim; it rejoined before HAProxy took it back
    seen = {}
    for name in lab["groups"]["galera"]:
        with connect(lab["hosts"][name]["ip"], account) as connection, connection.cursor() as cursor:
            cursor.execute("SET SESSION wsrep_sync_wait = 1")
            cursor.execute("SELECT i.value, i.saved_by, (SELECT COUNT(*) FROM smoke_effect e WHERE e.token = i.token) "
                           "FROM smoke_item i WHERE i.token = %s", (entry["token"],))
            seen[name] = cursor.fetchone()
    assert seen == {name: (1, entry["token"], 1) for name in lab["groups"]["galera"]}
    print(f"\ndrill writer killed mid-task: {victim} killed, save succeeded after {run['attempts']} attempts:\n"
          f"{run['retry_log']}")
