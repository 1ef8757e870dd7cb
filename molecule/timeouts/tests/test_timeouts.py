"""The classic outage, reproduced and then fixed: Celery tasks read a row, hold their connection
idle, then save through HAProxy to Galera.

Runs in this order (pytest keeps file order), each on the configuration it names; `configure()`
re-runs molecule/timeouts/reconfigure.yml only when the app reports another configuration:

1. broken, mysqlclient  HAProxy forced to 5s, tasks up to 8 s (what converge deploys)
2. broken, PyMySQL      same HAProxy, the app re-deployed with the other driver
3. fixed, both drivers  HAProxy's timeouts derived from max task length 8 → 10s
4. sample 50s           HAProxy's widely copied 50 s sample timeouts, tasks up to 60 s

Every outcome is read back from the database (PyMySQL from this machine straight to the Galera
node), not only from what the task reported.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import labhosts
import pymysql
import pytest
import testinfra

testinfra_hosts = ["app"]

SCENARIO = Path(__file__).resolve().parent.parent
# Idle times inside Celery's hard task_time_limit (8 s): the save and the bookkeeping after it need
# the rest. 6 s is well past HAProxy's broken 5 s; 7.5 s is as close to the whole 8 s as a task can
# idle and still save before Celery kills it.
BROKEN_IDLE = 6
FIXED_IDLE = 7.5

BROKEN = {"timeout": "5s", "expect": "5s", "max_task_length": 8}
FIXED = {"timeout": "", "expect": "10s", "max_task_length": 8}   # derived: 8 s + 25 % margin
SAMPLE_50S = {"timeout": "50s", "expect": "50s", "max_task_length": 60}


# ------------------------------------------------------------------------------------------ helpers

def smoke(host, *args: str, timeout_hint: str = "") -> dict:
    cmd = "dbstack-smoke smoke " + " ".join(shlex.quote(a) for a in args) + " --json"
    res = host.run(cmd)
    if res.rc != 0:
        journal = host.run("journalctl -u dbstack-smoke-worker --no-pager -n 30").stdout
        pytest.fail(f"{cmd} failed (rc {res.rc}) {timeout_hint}\n{res.stdout[-3000:]}\n{res.stderr[-2000:]}\n"
                    f"worker journal:\n{journal}")
    return json.loads(res.stdout)


def run_tasks(host, variants: list[str], idles: list[float], *extra: str) -> dict[tuple[str, float], dict]:
    """Queue one task per (variant, idle) at once; return {(variant, idle): entry}."""
    args = ["run"] + [a for v in variants for a in ("--variant", v)] + \
        [a for i in idles for a in ("--idle", str(i))] + list(extra)
    data = smoke(host, *args)
    return {(e["variant"], e["idle"]): e for e in data["runs"]}


def haproxy_host():
    return testinfra.get_host(labhosts.hosts("haproxy")[0])


def haproxy_listener_timeouts() -> tuple[str, str]:
    """timeout client / server of the MySQL listener, as written in the deployed haproxy.cfg."""
    cfg = haproxy_host().check_output("cat /etc/haproxy/haproxy.cfg")
    listener = cfg.split("listen mysql", 1)[1].split("\nlisten ", 1)[0]
    values = dict(line.split()[1:3] for line in listener.splitlines() if line.strip().startswith("timeout "))
    return values["client"], values["server"]


def configure(host, *, timeout: str, expect: str, max_task_length: int, driver: str) -> dict:
    """HAProxy with `timeout` ("" = derived, giving `expect`) and the app with `driver`.

    Re-deploys (reconfigure.yml) only when HAProxy's file or the app's settings differ.
    """
    cfg = smoke(host, "config")
    if (haproxy_listener_timeouts() == (expect, expect) and cfg["haproxy_timeout"] == expect
            and cfg["driver_setting"] == driver and cfg["task_time_limit"] == max_task_length):
        return cfg
    extra = {"dbstack_max_task_length": max_task_length, "haproxy_timeout_client": timeout,
             "haproxy_timeout_server": timeout, "smoke_app_db_driver": driver}
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    playbook = Path(sys.executable).parent / "ansible-playbook"
    proc = subprocess.run([str(playbook), "-i", str(inventory), str(SCENARIO / "reconfigure.yml"),
                           "-e", json.dumps(extra)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"reconfigure.yml {extra} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return smoke(host, "config")


@pytest.fixture(scope="module")
def galera(lab):
    """A PyMySQL connection from this machine straight to the Galera node (not through HAProxy)."""
    node = lab["hosts"][lab["groups"]["galera"][0]]
    hv = node["vars"]
    conn = pymysql.connect(host=node["ip"], port=3306, user=hv["smoke_app_db_user"],
                           password=hv["smoke_app_db_password"], database=hv["smoke_app_db_name"],
                           autocommit=True, connect_timeout=10, cursorclass=pymysql.cursors.DictCursor)
    yield conn
    conn.close()


def db_state(galera, token: str) -> dict:
    """The run's item, effects and TaskRun row as the database has them."""
    galera.ping(reconnect=True)  # the test idles between runs too; this connection is direct, not via HAProxy
    with galera.cursor() as cur:
        cur.execute("SELECT value, saved_by FROM smoke_item WHERE token = %s", (token,))
        item = cur.fetchone()
        cur.execute("SELECT COUNT(*) AS n FROM smoke_effect WHERE token = %s", (token,))
        effects = cur.fetchone()["n"]
        cur.execute("SELECT * FROM smoke_taskrun WHERE token = %s", (token,))
        run = cur.fetchone()
    assert item is not None and run is not None, f"run {token} left no item/TaskRun row"
    return {"item": item, "effects": effects, "run": run}


def assert_saved_once(galera, entry: dict) -> dict:
    state = db_state(galera, entry["token"])
    assert entry["state"] == "SUCCESS", entry
    assert state["run"]["outcome"] == "saved", state["run"]
    assert state["item"] == {"value": 1, "saved_by": entry["token"]}
    assert state["effects"] == 1
    assert state["run"]["followup_outcome"] == "ok"
    return state


# What each driver reports when HAProxy cuts the idle connection, over TLS (measured here):
# MariaDB Connector/C under mysqlclient sees the TLS stream end (2026), PyMySQL a lost connection.
CUT_ERROR = {"mysqlclient": (2026, "TLS/SSL error: unexpected eof while reading"),
             "pymysql": (2013, "Lost connection")}


def assert_connection_cut(galera, entry: dict, driver: str) -> dict:
    """The save failed (2026 or 2013), the next query on that connection failed, a new one works."""
    state = db_state(galera, entry["token"])
    run = state["run"]
    code, message = CUT_ERROR[driver]
    assert run["outcome"] == "error", run
    assert (run["error_class"], run["error_code"]) == ("django.db.utils.OperationalError", code), run
    assert message in run["error_message"], run
    if driver == "mysqlclient":
        assert (run["followup_error_class"], run["followup_error_code"]) == \
            ("django.db.utils.OperationalError", 2006), run
        assert "gone away" in run["followup_error_message"], run
    else:
        # PyMySQL dropped its socket at the 2013; every later query says only InterfaceError(0, '').
        assert (run["followup_error_class"], run["followup_error_code"], run["followup_error_message"]) == \
            ("django.db.utils.InterfaceError", 0, ""), run
    assert run["after_close_outcome"] == "ok", run
    assert run["after_close_connection_id"] != run["read_connection_id"]
    # Nothing of the save reached the database.
    assert state["item"] == {"value": 0, "saved_by": None}
    assert state["effects"] == 0
    return state


# -------------------------------------------------------------------------------------- the tests

@pytest.mark.parametrize("driver", ["mysqlclient", "pymysql"])
def test_broken_naive_save_fails_close_and_tenacity_survive(host, galera, driver):
    cfg = configure(host, **BROKEN, driver=driver)
    assert cfg["driver"].startswith(driver + " "), cfg
    # Everything below happens over TLS, checked against the lab's CA, with this driver.
    tls = smoke(host, "tls")
    assert tls["driver"].startswith(driver + " ") and tls["tls_version"] in ("TLSv1.2", "TLSv1.3"), tls
    assert cfg["haproxy_timeout"] == "5s" and cfg["task_time_limit"] == 8
    assert cfg["conn_health_checks"] is True and cfg["conn_max_age"] < cfg["haproxy_timeout_seconds"]

    runs = run_tasks(host, ["naive", "close", "tenacity"], [BROKEN_IDLE])

    naive = runs[("naive", BROKEN_IDLE)]
    assert naive["state"] == "SUCCESS", naive
    assert_connection_cut(galera, naive, driver)
    assert naive["run"]["driver"].startswith(driver + " ")

    close = assert_saved_once(galera, runs[("close", BROKEN_IDLE)])
    assert close["run"]["attempts"] == 1

    tenacity = assert_saved_once(galera, runs[("tenacity", BROKEN_IDLE)])
    # The first try met the cut connection; the retry on a fresh one saved.
    assert tenacity["run"]["attempts"] == 2, tenacity["run"]
    first_failure = tenacity["run"]["retry_log"].splitlines()[0]
    assert first_failure.startswith(f"attempt 1 failed: {CUT_ERROR[driver][0]} "), tenacity["run"]["retry_log"]
    journal = host.check_output("journalctl -u dbstack-smoke-worker --no-pager -o cat | grep %s",
                                runs[("tenacity", BROKEN_IDLE)]["token"])
    assert f"attempt 1 failed: {CUT_ERROR[driver][0]}" in journal and "closing the connection" in journal


def test_tenacity_retry_after_lost_commit_reply_applies_once(host, galera):
    """The first COMMIT succeeds but its reply is lost (injected); the retry must not save twice."""
    configure(host, **BROKEN, driver="pymysql")
    entry = run_tasks(host, ["tenacity"], [1], "--fault", "lose-commit-reply")[("tenacity", 1.0)]
    state = assert_saved_once(galera, entry)
    log = state["run"]["retry_log"].splitlines()
    assert state["run"]["attempts"] == 2, log
    assert log[0].startswith("attempt 1 failed: 2013 ") and "COMMIT succeeded" in log[0], log
    assert log[1] == "attempt 2: already applied, nothing to do", log


@pytest.mark.parametrize("driver", ["pymysql", "mysqlclient"])
def test_fixed_naive_task_idle_for_its_whole_length_saves(host, galera, driver):
    cfg = configure(host, **FIXED, driver=driver)
    # max_task_length 8 s + 25 % margin, capped by wait_timeout 28800: 10 s, in HAProxy and in the app.
    assert haproxy_listener_timeouts() == ("10s", "10s")
    assert cfg["haproxy_timeout"] == "10s"
    assert cfg["conn_max_age"] == 9 and cfg["task_time_limit"] == 8

    naive = run_tasks(host, ["naive"], [FIXED_IDLE])[("naive", FIXED_IDLE)]
    state = assert_saved_once(galera, naive)
    assert state["run"]["driver"].startswith(driver + " ")
    assert state["run"]["error_code"] is None


def test_haproxy_sample_50s_timeouts_cut_a_55s_idle_but_not_40s(host, galera):
    cfg = configure(host, **SAMPLE_50S, driver="mysqlclient")
    assert haproxy_listener_timeouts() == ("50s", "50s")
    assert cfg["conn_max_age"] == 45 and cfg["task_time_limit"] == 60

    runs = run_tasks(host, ["naive"], [40, 55])
    assert_saved_once(galera, runs[("naive", 40.0)])
    assert_connection_cut(galera, runs[("naive", 55.0)], "mysqlclient")
