"""plugin_utils/haproxy_config.py: which timeout lines HAProxy really applies, and the audit's verdicts."""

from __future__ import annotations

import pytest
from haproxy_fixtures import CONFIGS

from ansible_collections.dbstack.galera.plugins.plugin_utils import haproxy_config as hc

SRC = "haproxy1:/etc/haproxy/haproxy.cfg"


def only(config, **kwargs):
    results = hc.listener_timeouts(CONFIGS[config], source=SRC, **kwargs)
    assert len(results) == 1, results
    return results[0]


def values(result):
    return {key: setting["value"] for key, setting in result["timeouts"].items()}


def audited(config, task="15m", wait_timeout=28800, **kwargs):
    result = only(config, **kwargs)
    return {row["check"]: row for row in hc.audit_listener(result, task, wait_timeout, SRC)}


def all_findings(checks):
    return [finding for row in checks.values() for finding in row["findings"]]


# ---- the tokenizer: HAProxy's quoting, escaping and comments ---------------------------------


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("    timeout client 20m", ("timeout", "client", "20m")),
        ("timeout client 20m # 1s", ("timeout", "client", "20m")),
        ("timeout client 20m#1s", ("timeout", "client", "20m")),
        ("# timeout client 1s", ()),
        ("timeout 'client' \"20m\"", ("timeout", "client", "20m")),
        ("log-format \"%t #%s\"", ("log-format", "%t #%s")),
        ("log-format %t\\ %s", ("log-format", "%t %s")),
        ("acl a path_reg '^/a b\\'", ("acl", "a", "path_reg", "^/a b\\")),
        ("x \\x41\\#", ("x", "A#")),
        ("x \"\"", ("x", "")),
        ("x 5\\0s", ("x", "5\\0s")),
        ("\t\tmode\ttcp\t", ("mode", "tcp")),
    ],
)
def test_split_words_follows_haproxy_quoting(line, words):
    assert hc.split_words(line)[0] == words


def test_split_words_flags_environment_variables_in_double_quotes_only():
    assert hc.split_words('timeout client "${TIMEOUT}"') == (("timeout", "client", "${TIMEOUT}"), True)
    assert hc.split_words("timeout client '${TIMEOUT}'") == (("timeout", "client", "${TIMEOUT}"), False)


def test_unmatched_quote_is_refused_with_the_line():
    with pytest.raises(hc.HaproxyConfigError) as e:
        hc.split_words("timeout client \"20m", SRC, 7)
    assert str(e.value) == (
        "haproxy1:/etc/haproxy/haproxy.cfg:7: unmatched quote (\") in 'timeout client \"20m'; HAProxy refuses this "
        "line too ('unmatched quote')"
    )


# ---- inheritance ------------------------------------------------------------------------------


def test_own_role_config_values_and_lines():
    result = only("own_role")
    assert result["listener"] == "mysql" and result["backend"] == "mysql"
    assert result["listener_type"] == "listen" and result["mode"] == "tcp"
    assert values(result) == {"client": "1125s", "server": "1125s", "tunnel": None, "client-fin": None,
                              "server-fin": None}
    assert result["timeouts"]["client"] == {"value": "1125s", "line": 15, "text": "timeout client 1125s",
                                            "section": "listen 'mysql'", "uses_env": False}


def test_values_inherited_from_anonymous_defaults_name_that_section():
    result = only("bare_numbers_in_defaults")
    assert values(result)["client"] == "50000"
    assert result["timeouts"]["client"]["section"] == "anonymous defaults at line 4"
    assert result["timeouts"]["client"]["line"] == 7


def test_a_later_defaults_section_resets_the_earlier_one():
    assert values(only("later_defaults_resets", listener="mysql"))["client"] == "30s"
    assert values(only("later_defaults_resets", listener="early"))["client"] == "8h"


def test_named_defaults_with_from_chains():
    mysql = only("named_defaults", listener="mysql")
    # client: own line; server: tcp_short (from tcp_long, overridden); the last anonymous http defaults is not used.
    assert values(mysql)["client"] == "1m"
    assert mysql["timeouts"]["server"]["section"] == "defaults 'tcp_short'"
    assert values(mysql)["server"] == "1m"
    assert mysql["mode"] == "tcp"
    reports = only("named_defaults", listener="reports")
    assert values(reports)["server"] == "20m"
    assert reports["timeouts"]["server"]["section"] == "defaults 'tcp_long'"


def test_from_a_defaults_section_not_yet_defined_is_an_error():
    text = "defaults\n  mode tcp\nlisten mysql from later\n  bind :3306\ndefaults later\n  mode tcp\n"
    with pytest.raises(hc.HaproxyConfigError) as e:
        hc.listener_timeouts(text, source=SRC)
    assert str(e.value) == (
        "haproxy1:/etc/haproxy/haproxy.cfg:3: 'listen mysql from later' inherits from defaults section 'later', "
        "which is not defined above it; HAProxy refuses this too (\"defaults section 'later' not found for proxy "
        "'mysql'\")"
    )


def test_anonymous_defaults_from_a_named_one():
    text = ("defaults base\n  mode tcp\n  timeout client 7m\ndefaults from base\n  timeout server 7m\n"
            "listen mysql\n  bind :3306\n")
    assert values(hc.listener_timeouts(text)[0])["client"] == "7m"
    assert values(hc.listener_timeouts(text)[0])["server"] == "7m"


# ---- frontend/backend pairs and tunnel --------------------------------------------------------


def test_frontend_gives_client_side_backend_gives_server_side():
    result = only("frontend_backend")
    assert (result["listener"], result["listener_type"], result["backend"], result["backend_type"]) == (
        "mysql_in", "frontend", "galera", "backend")
    assert values(result)["client"] == "25m"  # the frontend's, not the backend's ignored 1s
    assert values(result)["server"] == "25m"  # the backend's, not the frontend's ignored 1s
    assert result["timeouts"]["server"]["section"] == "backend 'galera'"


def test_tunnel_from_defaults_is_reported_and_supersedes():
    checks = audited("tunnel_supersedes")
    assert checks["timeout tunnel"]["written"] == "10m"
    assert checks["timeout tunnel"]["seconds"] == 600
    assert checks["timeout tunnel"]["meaning"] == "replaces client/server once connected"
    assert checks["timeout client"]["meaning"] == "replaced by the tunnel timeout once connected"
    assert checks["timeout tunnel"]["findings"] == [
        "haproxy1:/etc/haproxy/haproxy.cfg:7 (anonymous defaults at line 4): 'timeout tunnel 10m' = 600 s is not "
        "longer than the longest task (max_task_length=15m = 900 s): in TCP mode the tunnel timeout replaces client "
        "and server once connected, so HAProxy closes a connection idle for 600 s, and the task's next query fails "
        "with MySQL error 2013 (Lost connection to server during query). Fix: write 'timeout tunnel 1125s' in "
        "listen 'mysql'"
    ]
    # client-fin only concerns half-closed connections: shorter than the task is fine.
    assert checks["timeout client-fin"]["meaning"] == "half-closed connections only"
    assert checks["timeout client-fin"]["findings"] == []


def test_a_long_tunnel_timeout_is_not_a_false_alarm_for_short_client_and_server():
    """Measured (haproxy_corpus 'tunnel_longer'): the tunnel timeout alone cuts an idle established connection."""
    text = ("listen mysql\n  bind :3306\n  mode tcp\n  timeout client 30s\n  timeout server 1m\n"
            "  timeout tunnel 1125s\n  server galera1 10.0.0.11:3306\n")
    result = hc.listener_timeouts(text, source=SRC)[0]
    assert result["idle_cut"] == {"greets": True, "milliseconds": 1125000, "by": "tunnel",
                                  "why": "tunnel supersedes client/server"}
    checks = {row["check"]: row for row in hc.audit_listener(result, "15m", 28800, SRC)}
    assert all_findings(checks) == []
    assert checks["timeout server"]["seconds"] == 60
    assert checks["client = server"]["meaning"] == "not used once connected: the tunnel timeout applies"


def test_a_listener_in_mode_http_is_a_finding():
    text = ("defaults web\n  mode http\n  timeout client 20m\n  timeout server 20m\n"
            "listen mysql from web\n  bind :3306\n  server galera1 10.0.0.11:3306\n")
    result = hc.listener_timeouts(text, source=SRC)[0]
    assert result["idle_cut"] == {"greets": False, "milliseconds": 1200000, "by": "client", "why": "mode http"}
    checks = {row["check"]: row for row in hc.audit_listener(result, "15m", 28800, SRC)}
    assert checks["mode"]["findings"] == [
        "haproxy1:/etc/haproxy/haproxy.cfg:2 (defaults 'web'): 'mode http': the MySQL listener is in mode http, so "
        "HAProxy waits for an HTTP request the MySQL client never sends; the server's greeting never reaches the "
        "client and HAProxy closes it after 1200 s ('timeout client') (measured on HAProxy 2.6 and 3.0). Fix: write "
        "'mode tcp' in listen 'mysql'"
    ]


def test_servers_a_default_backend_makes_unused_are_a_finding():
    text = ("defaults\n  mode tcp\n  timeout client 20m\n  timeout server 20m\n  default_backend other\n"
            "listen mysql\n  bind :3306\n  server galera1 10.0.0.11:3306\n"
            "backend other\n  server galera2 10.0.0.12:3306\n")
    result = hc.listener_timeouts(text, source=SRC)[0]
    checks = hc.audit_listener(result, "15m", 28800, SRC)
    assert [row["findings"] for row in checks if row["check"] == "servers"] == [[
        "haproxy1:/etc/haproxy/haproxy.cfg:8 (listen 'mysql'): 'server galera1 10.0.0.11:3306' is never used: the "
        "'default_backend' of haproxy1:/etc/haproxy/haproxy.cfg:5 (anonymous defaults at line 1) ('default_backend "
        "other') always has precedence over a listen section's servers (HAProxy warns the same at start), so MySQL "
        "connections go to backend 'other' and its timeouts are the ones that apply. Fix: remove that "
        "default_backend, or move the server lines into backend 'other'"
    ]]


def test_a_listener_without_any_server_is_a_finding():
    result = hc.listener_timeouts("listen mysql\n  bind :3306\n  timeout client 20m\n  timeout server 20m\n",
                                  source=SRC)[0]
    checks = {row["check"]: row for row in hc.audit_listener(result, "15m", 28800, SRC)}
    assert checks["backend"]["findings"] == [
        "haproxy1:/etc/haproxy/haproxy.cfg:1 (listen 'mysql'): HAProxy has no server to send MySQL connections to "
        "(listen 'mysql' has no server): it accepts the file and closes every connection at once, before the "
        "server's greeting (measured on HAProxy 2.6 and 3.0). Fix: give listen 'mysql' a 'default_backend' whose backend "
        "has 'server' lines"
    ]


# ---- which listener ---------------------------------------------------------------------------


def test_listener_found_by_port_among_several_proxies():
    results = hc.listener_timeouts(CONFIGS["multiple_listeners"], source=SRC)
    pairs = [(r["listener"], r["backend"]) for r in results]
    assert pairs == [("mysql_private", "mysql_private"), ("mysql_public", "galera_ro"),
                     ("mysql_public", "galera_rw")]
    assert values(results[1])["server"] == "30s"
    assert values(results[2])["server"] == "20m"


def test_listener_found_by_port_range_and_other_port():
    results = hc.listener_timeouts(CONFIGS["multiple_listeners"], port=3307)
    pairs = [(r["listener"], r["backend"]) for r in results]
    assert pairs == [("mysql_public", "galera_ro"), ("mysql_public", "galera_rw")]
    text = "listen mysql\n  bind ipv4@10.0.0.1:3300-3310\n  mode tcp\n"
    assert hc.listener_timeouts(text)[0]["listener"] == "mysql"


def test_listener_by_name_wins_over_port():
    assert only("multiple_listeners", listener="mysql_private")["listener"] == "mysql_private"


def test_quoted_listener_name_and_comment_tricks():
    result = only("comments_and_quotes", listener="mysql")
    assert values(result)["client"] == "20m"
    assert values(result)["server"] == "20m"
    assert result["timeouts"]["client"]["text"] == "timeout 'client' \"20m\"#no space before the comment"


def test_no_listener_on_the_port_lists_what_exists():
    with pytest.raises(hc.HaproxyConfigError) as e:
        hc.listener_timeouts(CONFIGS["own_role"], port=3307, source=SRC)
    assert str(e.value) == (
        "haproxy1:/etc/haproxy/haproxy.cfg: no frontend or listen section binds port 3307 (found: listen 'mysql' "
        "(binds 0.0.0.0:3306); listen 'stats' (binds 127.0.0.1:8404)). Name the MySQL listener explicitly, or give "
        "the port it binds"
    )


def test_unknown_listener_name():
    with pytest.raises(hc.HaproxyConfigError) as e:
        hc.listener_timeouts(CONFIGS["own_role"], listener="galera", source=SRC)
    assert str(e.value) == (
        "haproxy1:/etc/haproxy/haproxy.cfg: no frontend or listen section named 'galera' (found: listen 'mysql' "
        "(binds 0.0.0.0:3306); listen 'stats' (binds 127.0.0.1:8404)); set the listener name to one of them, or "
        "leave it empty to find the one binding port 3306"
    )


def test_a_backend_name_is_not_a_listener():
    with pytest.raises(hc.HaproxyConfigError, match="'galera' is a backend, not a frontend or listen section"):
        hc.listener_timeouts(CONFIGS["frontend_backend"], listener="galera")


def test_dynamic_backend_cannot_be_audited():
    text = "frontend mysql\n  bind :3306\n  use_backend %[req.ssl_sni]\n"
    with pytest.raises(hc.HaproxyConfigError) as e:
        hc.listener_timeouts(text, source=SRC)
    assert str(e.value).startswith(
        "haproxy1:/etc/haproxy/haproxy.cfg:3: 'use_backend %[req.ssl_sni]' in frontend 'mysql' chooses the backend "
        "at run time"
    )


def test_frontend_without_backend_closes_every_connection_at_once():
    """HAProxy accepts it (measured: no warning) and closes each connection at once; not a refusal."""
    (result,) = hc.listener_timeouts("frontend mysql\n  bind :3306\n")
    assert (result["backend"], result["idle_cut"]) == (
        None, {"greets": False, "milliseconds": 0, "by": None, "why": "no backend"})


def test_default_backend_inherited_from_defaults_replaces_the_listens_own_servers():
    text = ("defaults\n  mode tcp\n  default_backend other\nlisten mysql\n  bind :3306\n"
            "  server g 10.0.0.1:3306\nbackend other\n  timeout server 1s\n  server h 10.0.0.2:3306\n")
    (result,) = hc.listener_timeouts(text)
    assert (result["backend"], result["timeouts"]["server"]["value"]) == ("other", "1s")
    assert result["unused_servers"] == [{"line": 6, "text": "server g 10.0.0.1:3306"}]


def test_relevant_line_inside_a_conditional_block_is_refused():
    text = "listen mysql\n  bind :3306\n.if defined(LONG)\n  timeout client 1h\n.endif\n"
    with pytest.raises(hc.HaproxyConfigError) as e:
        hc.listener_timeouts(text, source=SRC)
    assert str(e.value).startswith(
        "haproxy1:/etc/haproxy/haproxy.cfg:4: 'timeout client 1h' is inside an .if block"
    )


def test_ring_section_timeouts_do_not_leak_into_proxies():
    text = "listen mysql\n  bind :3306\n  timeout client 20m\nring r\n  timeout server 1s\n  server s 127.0.0.1:1\n"
    assert values(hc.listener_timeouts(text)[0])["server"] is None


def test_last_duplicate_line_wins():
    text = "listen mysql\n  bind :3306\n  timeout client 1s\n  timeout client 20m\n"
    assert hc.listener_timeouts(text)[0]["timeouts"]["client"]["line"] == 4


def test_timeout_with_two_values_is_refused():
    with pytest.raises(hc.HaproxyConfigError, match="'timeout client' takes exactly one value"):
        hc.listener_timeouts("listen mysql\n  bind :3306\n  timeout client 5s 6s\n")


# ---- the audit's verdicts, with exact messages ----------------------------------------------------


def test_own_role_config_passes():
    checks = audited("own_role")
    assert all_findings(checks) == []
    assert [row["check"] for row in checks.values()] == [
        "timeout client", "timeout server", "timeout tunnel", "timeout client-fin", "timeout server-fin",
        "client = server", "MariaDB wait_timeout"]
    assert checks["timeout client"]["seconds"] == 1125
    assert checks["client = server"]["meaning"] == "equal"


def test_bare_number_means_milliseconds():
    checks = audited("bare_numbers_in_defaults")
    assert checks["timeout client"]["seconds"] == 50
    assert checks["timeout client"]["findings"] == [
        "haproxy1:/etc/haproxy/haproxy.cfg:7 (anonymous defaults at line 4): 'timeout client 50000' = 50 s, not "
        "50000 s: HAProxy reads a number without a unit as MILLISECONDS. Fix: always write the unit, e.g. "
        "'timeout client 1125s'",
        "haproxy1:/etc/haproxy/haproxy.cfg:7 (anonymous defaults at line 4): 'timeout client 50000' = 50 s is not "
        "longer than the longest task (max_task_length=15m = 900 s): HAProxy closes a connection a Celery task "
        "leaves idle for 50 s, and the task's next query fails with MySQL error 2013 (Lost connection to server "
        "during query). Fix: write 'timeout client 1125s' in listen 'mysql'",
    ]


def test_bare_number_long_enough_still_flagged_for_its_unit():
    text = "listen mysql\n  bind :3306\n  timeout client 1000000\n  timeout server 1000000\n"
    result = hc.listener_timeouts(text, source=SRC)[0]
    checks = {row["check"]: row for row in hc.audit_listener(result, "15m", 28800, SRC)}
    assert checks["timeout client"]["seconds"] == 1000
    assert checks["timeout client"]["findings"] == [
        "haproxy1:/etc/haproxy/haproxy.cfg:3 (listen 'mysql'): 'timeout client 1000000' = 1000 s, not 1000000 s: "
        "HAProxy reads a number without a unit as MILLISECONDS. Fix: always write the unit, e.g. "
        "'timeout client 1125s'"
    ]


def test_missing_and_zero_mean_no_timeout():
    checks = audited("missing_and_zero")
    assert checks["timeout client"]["meaning"] == "NO timeout"
    assert checks["timeout client"]["seconds"] is None
    assert checks["timeout client"]["findings"] == [
        "haproxy1:/etc/haproxy/haproxy.cfg: timeout client of listen 'mysql' is not set here or in its defaults: "
        "missing or 0 means NO timeout at all, so HAProxy never closes an idle client side; connections of crashed "
        "clients or lost servers pile up until maxconn is reached (HAProxy warns 'missing timeouts' at start). "
        "Fix: write 'timeout client 1125s' in listen 'mysql'"
    ]
    assert checks["timeout server"]["findings"] == [
        "haproxy1:/etc/haproxy/haproxy.cfg: timeout server of listen 'mysql' is set to 0 at "
        "haproxy1:/etc/haproxy/haproxy.cfg:10 (listen 'mysql'): missing or 0 means NO timeout at all, so HAProxy "
        "never closes an idle server side; connections of crashed clients or lost servers pile up until maxconn is "
        "reached (HAProxy warns 'missing timeouts' at start). Fix: write 'timeout server 1125s' in listen 'mysql'"
    ]
    assert checks["client = server"]["meaning"] == "not comparable (see above)"


def test_tunnel_zero_means_not_set():
    text = ("listen mysql\n  bind :3306\n  timeout client 20m\n  timeout server 20m\n  timeout tunnel 0\n"
            "  server galera1 10.0.0.11:3306\n")
    result = hc.listener_timeouts(text)[0]
    checks = {row["check"]: row for row in hc.audit_listener(result, "15m", 28800)}
    assert checks["timeout tunnel"]["meaning"] == "not set: client/server apply"
    assert all_findings(checks) == []


def test_unequal_and_beyond_wait_timeout():
    checks = audited("unequal", wait_timeout={"galera1": 28800, "galera2": 3600})
    assert checks["client = server"]["seconds"] == 1200
    assert checks["client = server"]["findings"] == [
        "haproxy1:/etc/haproxy/haproxy.cfg:10,11: 'timeout client 20m' (1200 s) and 'timeout server 9h' (32400 s) "
        "differ: in TCP mode an idle connection is idle in both directions and HAProxy closes it at the shorter one, "
        "1200 s; HAProxy's manual recommends equal values. Fix: set both to 1125s"
    ]
    assert checks["timeout server"]["findings"] == [
        "haproxy1:/etc/haproxy/haproxy.cfg:11 (listen 'mysql'): 'timeout server 9h' = 32400 s is longer than "
        "MariaDB's wait_timeout (3600 s on galera2): MariaDB closes the idle session first, so this value promises "
        "connections a life they do not get. Fix: write 'timeout server 1125s' in listen 'mysql'"
    ]
    assert checks["MariaDB wait_timeout"]["written"] == "3600"


def test_wait_timeout_not_longer_than_the_task():
    checks = audited("own_role", task="2h", wait_timeout=3600)
    assert checks["MariaDB wait_timeout"]["findings"] == [
        "MariaDB's wait_timeout (3600 s) is not longer than the longest task (max_task_length=2h = 7200 s): "
        "MariaDB itself closes the idle session of a running task, whatever HAProxy allows. Fix: raise wait_timeout "
        "(mariadb_galera_wait_timeout) to at least 9000 s, the task plus the default margin"
    ]


def test_without_wait_timeout_the_mariadb_comparison_is_skipped():
    checks = audited("unequal", wait_timeout=None)
    assert "MariaDB wait_timeout" not in checks
    assert checks["timeout server"]["findings"] == []


def test_value_haproxy_only_half_understands():
    text = "listen mysql\n  bind :3306\n  timeout client 1h30m\n  timeout server 1h30m\n"
    result = hc.listener_timeouts(text, source=SRC)[0]
    checks = {row["check"]: row for row in hc.audit_listener(result, "15m", 28800, SRC)}
    assert checks["timeout client"]["meaning"] == "not a valid HAProxy time"
    assert checks["timeout client"]["findings"] == [
        "haproxy1:/etc/haproxy/haproxy.cfg:3 (listen 'mysql'): 'timeout client 1h30m': timeout client='1h30m' is "
        "not one HAProxy time: HAProxy takes a single unit and would ignore '30m' with only a warning, using '1h'; "
        "write '5400s' instead. Fix: write 'timeout client 1125s' in listen 'mysql'"
    ]


def test_environment_variable_value_cannot_be_audited():
    text = 'listen mysql\n  bind :3306\n  timeout client "${T}"\n  timeout server 20m\n'
    result = hc.listener_timeouts(text, source=SRC)[0]
    checks = {row["check"]: row for row in hc.audit_listener(result, "15m", 28800, SRC)}
    assert checks["timeout client"]["findings"] == [
        "haproxy1:/etc/haproxy/haproxy.cfg:3 (listen 'mysql'): 'timeout client \"${T}\"' takes its value from an "
        "environment variable of the HAProxy process, which the audit cannot see. Fix: write "
        "'timeout client 1125s' in listen 'mysql'"
    ]


def test_frontend_backend_pair_audit_names_the_right_sections():
    assert all_findings(audited("frontend_backend")) == []
    checks = audited("frontend_backend", task="10m", wait_timeout=1200)
    assert all_findings(checks) == [
        "haproxy1:/etc/haproxy/haproxy.cfg:12 (frontend 'mysql_in'): 'timeout client 25m' = 1500 s is longer than "
        "MariaDB's wait_timeout (1200 s): MariaDB closes the idle session first, so this value promises connections "
        "a life they do not get. Fix: write 'timeout client 750s' in frontend 'mysql_in'",
        "haproxy1:/etc/haproxy/haproxy.cfg:18 (backend 'galera'): 'timeout server 25m' = 1500 s is longer than "
        "MariaDB's wait_timeout (1200 s): MariaDB closes the idle session first, so this value promises connections "
        "a life they do not get. Fix: write 'timeout server 750s' in backend 'galera'",
    ]


def test_bad_max_task_length_is_a_duration_error():
    result = only("own_role")
    with pytest.raises(ValueError, match="cannot interpret max_task_length='soon'"):
        hc.audit_listener(result, "soon")
