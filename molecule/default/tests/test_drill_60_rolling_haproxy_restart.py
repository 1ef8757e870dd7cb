"""Both HAProxy hosts reloaded, then restarted, one at a time, under the drills' load through the VIP.
A reload hands the listening sockets and the stick table to the new process: not one write fails. A
restart closes the connections it carried: the clients reconnect (errors 2006/2013 and in-doubt writes
are counted), nothing else fails, no acknowledged write is lost and the writer stays the same node."""

import time

import pytest
from labdb import (HAPROXY_RUNTIME, app_account, lab_vip, node_host, require_one_writer, vip_holders, wait_for, wait_whole,
                   writer_name)
from writer import DrillLoad, audit

# Breaks the cluster on purpose and brings it back (labhosts: skipped on an older core's run).
pytestmark = pytest.mark.drill

# What a client sees when the proxy in front of it goes away: the connection, never the database.
CONNECTION_ERRORS = {0, 2003, 2006, 2013, 2014}


@pytest.mark.parametrize("action", ["reload", "restart"])
def test_rolling_haproxy_action_fails_no_write_beyond_reconnects(lab, action):
    account = app_account(lab)
    wait_whole(lab, account)
    vip = lab_vip(lab)
    node = writer_name(lab, account)
    node_ips = {name: lab["hosts"][name]["ip"] for name in lab["groups"]["galera"]}
    credentials = (account["user"], account["password"], account["database"])
    load = DrillLoad(vip, account).start()
    writer, hot_rows = load.writer, load.hot_rows
    # The host without the VIP first, as an operator would.
    order = sorted(lab["groups"]["haproxy"], key=lambda name: name in vip_holders(lab))
    for name in order:
        host = node_host(lab, name)
        host.check_output(f"systemctl {action} haproxy")
        wait_for(lambda host=host: host.run(f"{HAPROXY_RUNTIME} --peers-synced").rc == 0, timeout=30,
                 what=f"{name}'s stick table resynced")
        time.sleep(2)
    for client in hot_rows:
        client.stop()
    report = writer.stop()
    result = audit(report, node_ips, *credentials)

    assert result["missing"] == {}, result
    failures = {code for _seq, _at, code, _message in report.failed}
    failures |= {code for client in hot_rows for _at, code, _message in client.errors}
    if action == "reload":
        assert failures == set(), (report.failed, [client.errors for client in hot_rows])
    else:
        assert failures <= CONNECTION_ERRORS, (report.failed, [client.errors for client in hot_rows])
    landed = require_one_writer(lab, vip, account, node)
    print(f"\ndrill rolling HAProxy {action} ({', '.join(order)}): continuous writer {result}; hot rows "
          f"{[client.events for client in hot_rows]}; writer {node} on every HAProxy host, and all "
          f"{landed.total()} new connections opened 4 at a time went there")
