"""The smallest haproxy.cfg the audit filters read: one MySQL listener with one server, its client and
server timeouts written as given (a bare number is milliseconds to HAProxy)."""

from __future__ import annotations


def mysql_listener(timeout: str) -> str:
    return f"""\
defaults
    mode tcp
    timeout connect 5s
listen mysql
    bind :3306
    timeout client {timeout}
    timeout server {timeout}
    server galera1 10.0.0.11:3306 check
"""
