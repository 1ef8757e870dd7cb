"""Configurations shared by the parser tests and the haproxy -c test, so every fixture is one HAProxy accepts.

Each entry: name -> configuration text.  They are written the way operators
write them (comments, quoting, several sections) and each one is checked by
the real binary in tests/integration/plugins/plugin_utils/test_haproxy_config_binary.py.
"""

from __future__ import annotations

GLOBAL = "global\n    log stdout format raw local0\n\n"

CONFIGS = {
    # What roles/haproxy writes: everything on the listener, units everywhere.
    "own_role": GLOBAL + """\
defaults
    mode tcp
    log global
    timeout connect 3s
    timeout check 2s
    timeout queue 10s

listen mysql
    bind 0.0.0.0:3306
    mode tcp
    option tcplog
    timeout client 1125s
    timeout server 1125s
    server galera1 10.0.0.11:3306 check

listen stats
    bind 127.0.0.1:8404
    mode http
    timeout client 30s
    timeout server 30s
    stats enable
""",
    # The classic: numbers copied without units, inherited from an anonymous defaults.
    "bare_numbers_in_defaults": GLOBAL + """\
defaults
    mode tcp
    timeout connect 5000
    timeout client 50000
    timeout server 50000

listen mysql
    bind :3306
    server galera1 10.0.0.11:3306 check
""",
    # A later plain "defaults" resets the earlier one: the 8h values are gone.
    "later_defaults_resets": GLOBAL + """\
defaults
    mode tcp
    timeout connect 5s
    timeout client 8h
    timeout server 8h

listen early
    bind :3307
    server galera1 10.0.0.11:3306

defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s

listen mysql
    bind :3306
    server galera1 10.0.0.11:3306
""",
    # Named defaults with "from", a defaults inheriting another, and an override on the listener.
    "named_defaults": GLOBAL + """\
defaults tcp_long
    mode tcp
    timeout connect 5s
    timeout client 20m
    timeout server 20m

defaults tcp_short from tcp_long
    timeout server 1m

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s

listen mysql from tcp_short
    bind :3306
    timeout client 1m
    server galera1 10.0.0.11:3306

listen reports from tcp_long
    bind :3310
    server galera1 10.0.0.11:3306
""",
    # frontend + backend: client side from the frontend, server side and tunnel from the backend.
    "frontend_backend": GLOBAL + """\
defaults base
    mode tcp
    timeout connect 5s
    timeout client 20m
    timeout server 20m

frontend mysql_in from base
    bind :3306
    timeout client 25m
    # Ignored by HAProxy (a frontend has no server side); the audit must ignore it too.
    timeout server 1s
    default_backend galera

backend galera from base
    timeout server 25m
    # Ignored by HAProxy (a backend has no client side).
    timeout client 1s
    server galera1 10.0.0.11:3306 check
""",
    # A tunnel timeout inherited from defaults supersedes the listener's client/server.
    "tunnel_supersedes": GLOBAL + """\
defaults
    mode tcp
    timeout connect 5s
    timeout tunnel 10m

listen mysql
    bind :3306
    timeout client 20m
    timeout server 20m
    timeout client-fin 30s
    server galera1 10.0.0.11:3306
""",
    # No client/server timeout anywhere, and an explicit 0: no timeout at all.
    "missing_and_zero": GLOBAL + """\
defaults
    mode tcp
    timeout connect 5s

listen mysql
    bind :3306
    timeout server 0
    server galera1 10.0.0.11:3306
""",
    # Comments, quoting and escapes; a "#" right after a value starts a comment, as in HAProxy.
    "comments_and_quotes": GLOBAL + """\
# timeout client 1s   <- a comment, not a setting
defaults
    mode tcp
    timeout connect 5s
    timeout client 1s

listen "mysql" # the name is quoted
    bind ":3306"
    timeout 'client' "20m"#no space before the comment
    timeout server 20m  # timeout server 1s
    server galera1 10.0.0.11:3306
""",
    # Two proxies bind 3306 on different addresses, plus a stats listener; use_backend and default_backend.
    "multiple_listeners": GLOBAL + """\
defaults
    mode tcp
    timeout connect 5s
    timeout client 20m
    timeout server 20m

listen mysql_private
    bind 10.0.0.5:3306
    server galera1 10.0.0.11:3306

frontend mysql_public
    bind 192.0.2.5:3306,192.0.2.5:3307
    use_backend galera_ro if { src 192.0.2.0/24 }
    default_backend galera_rw

backend galera_rw
    server galera1 10.0.0.11:3306

backend galera_ro
    timeout server 30s
    server galera2 10.0.0.12:3306

listen stats
    bind 127.0.0.1:8404
    mode http
    stats enable
""",
    # client and server differ, and the server side is longer than MariaDB's wait_timeout.
    "unequal": GLOBAL + """\
defaults
    mode tcp
    timeout connect 5s

listen mysql
    bind :3306
    timeout client 20m
    timeout server 9h
    server galera1 10.0.0.11:3306
""",
}
