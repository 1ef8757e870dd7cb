"""playbooks/rolling_restart.yml under a continuous writer: no acknowledged write is lost."""

import time

import pytest
from labdb import app_account, endpoint, run_playbook
from writer import ContinuousWriter, rows_on

# Breaks the cluster on purpose and brings it back (labhosts: skipped on an older core's run).
pytestmark = pytest.mark.drill

testinfra_hosts = ["haproxy"]


def test_rolling_restart_loses_no_acknowledged_write(lab):
    account = app_account(lab)
    writer = ContinuousWriter(endpoint(lab), 3306, account["user"], account["password"],
                              account["database"], rate=20).start()
    time.sleep(2)
    started = time.monotonic()
    run_playbook("playbooks/rolling_restart.yml")
    took = time.monotonic() - started
    time.sleep(2)
    report = writer.stop()
    acknowledged = {seq for seq, _acked_at in report.acknowledged}
    assert len(acknowledged) > 200, "the writer kept writing during the restart"
    for name in lab["groups"]["galera"]:
        stored = rows_on(lab["hosts"][name]["ip"], 3306, account["user"], account["password"], account["database"])
        assert acknowledged <= stored, f"{name} lacks acknowledged writes {sorted(acknowledged - stored)[:10]}"
    print(f"rolling restart: {took:.1f} s, {len(acknowledged)} writes acknowledged, {len(report.failed)} failed "
          f"({len(report.in_doubt)} in doubt), longest gap {report.longest_gap:.2f} s")
    # Each drained writer's open session is closed once: a handful of failed writes, not a stall.
    assert len(report.failed) <= 6, report.failed
