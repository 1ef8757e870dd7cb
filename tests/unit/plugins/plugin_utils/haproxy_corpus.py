r"""The parser's corpus: configurations run by the real haproxy to measure when an idle MySQL connection is cut.

Each case is a whole haproxy.cfg with two place-holders filled in by the harness
(tests/integration/haproxy_live.py): ``@LISTEN@``, the address:port the MySQL listener binds, and
``@SERVER@``, a stand-in node that greets like mysqld.  Timeouts are 0.5 s to 3 s, so a case is
measured in a few seconds; a connection still open after HORIZON seconds counts as "never cut".

A case is a dict:

* ``config``: the text;
* ``refused``: HAProxy 2.6 refuses the file, and this phrase appears both in its alert and in the
  parser's error (the audit must refuse it too, with HAProxy's reason);
* ``warning``: a phrase of a warning ``haproxy -c`` prints for it (what HAProxy says the parser
  must also understand);
* ``why``: the rule the case pins down.

Where a frontend has several backends, the FIRST rule matches every connection (``if TRUE``), so the
measured connection takes the parser's first (listener, backend) pair.
"""

from __future__ import annotations

HORIZON = 4.5

_G = "global\n    log stdout format raw local0\n\n"
_D = "defaults\n    mode tcp\n    timeout connect 1s\n"


def _listen(body, head=_G + _D):
    return head + "\nlisten mysql\n    bind @LISTEN@\n" + body + "    server galera1 @SERVER@\n"


def _fe_be(frontend, backend, head=_G + _D, extra=""):
    return (head + "\nfrontend mysql\n    bind @LISTEN@\n" + frontend + "    default_backend galera\n"
            + "\nbackend galera\n" + backend + "    server galera1 @SERVER@\n" + extra)


_OTHER = "\nbackend other\n    timeout server 1s\n    server galera2 @SERVER@\n"

CASES = {
    # ---- values ------------------------------------------------------------------------------
    "client_shorter": {"why": "idle both ways: the shorter of client and server",
                       "config": _listen("    timeout client 1s\n    timeout server 2s\n")},
    "server_shorter": {"why": "idle both ways: the shorter of client and server",
                       "config": _listen("    timeout client 2s\n    timeout server 1s\n")},
    "bare_number_is_ms": {"why": "a bare number is milliseconds",
                          "config": _listen("    timeout client 1500\n    timeout server 3s\n")},
    "ms_unit": {"config": _listen("    timeout client 1500ms\n    timeout server 2s\n")},
    "text_after_unit": {"why": "HAProxy 2.6 keeps '1s' of '1s500ms' and only warns",
                        "warning": "unexpected character '5' after the timer value '1s500ms'",
                        "config": _listen("    timeout client 1s500ms\n    timeout server 3s\n")},
    "decimal_refused": {"refused": "unexpected character '.' in 'timeout client'",
                        "config": _listen("    timeout client 1.5s\n    timeout server 3s\n")},
    "missing_client": {"why": "the server side alone cuts", "warning": "missing timeouts for proxy 'mysql'",
                       "config": _listen("    timeout server 1500ms\n")},
    "no_timeout_at_all": {"warning": "missing timeouts for proxy 'mysql'", "config": _listen("")},
    "zero_is_unset": {"config": _listen("    timeout client 0\n    timeout server 1s\n")},
    "last_line_wins": {"config": _listen("    timeout client 1s\n    timeout client 2s\n    timeout server 2s\n")},
    "two_values_refused": {"refused": "unexpected extra argument '2s' after value '1s'",
                           "config": _listen("    timeout client 1s 2s\n    timeout server 2s\n")},
    "microseconds": {"config": _listen("    timeout client 1500000us\n    timeout server 3s\n")},
    "uppercase_unit_refused": {"refused": "unexpected character 'S' in 'timeout client'",
                               "config": _listen("    timeout client 1S\n    timeout server 2s\n")},
    "plus_sign_refused": {"refused": "unexpected character '+' in 'timeout client'",
                          "config": _listen("    timeout client +1s\n    timeout server 2s\n")},
    "empty_value_refused": {"refused": "'timeout client' expects an integer value (in milliseconds)",
                            "config": _listen('    timeout client ""\n    timeout server 2s\n')},
    "server_zero": {"warning": "missing timeouts for proxy 'mysql'",
                    "config": _listen("    timeout client 1s\n    timeout server 0\n")},
    "clitimeout_refused": {"refused": "is not supported anymore since HAProxy 2.1",
                           "config": _listen("    clitimeout 1000\n    timeout server 2s\n")},
    # ---- defaults and inheritance ----------------------------------------------------------------
    "anonymous_defaults": {"config": _listen("", head=_G + _D + "    timeout client 1s\n    timeout server 1s\n")},
    "later_defaults_resets": {
        "why": "a plain defaults starts empty",
        "config": _listen("", head=_G + _D + "    timeout client 1s\n    timeout server 1s\n\n" + _D
                          + "    timeout client 2s\n    timeout server 2s\n")},
    "tunnel_from_anonymous_defaults": {
        "config": _listen("    timeout client 3s\n    timeout server 3s\n", head=_G + _D + "    timeout tunnel 1s\n")},
    "later_defaults_drops_the_tunnel": {
        "config": _listen("    timeout client 2s\n    timeout server 2s\n",
                          head=_G + _D + "    timeout tunnel 1s\n\n" + _D)},
    "named_defaults_from": {
        "config": _G + "defaults short\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n"
        "    timeout server 1s\n\n" + _D + "    timeout client 3s\n    timeout server 3s\n\n"
        "listen mysql from short\n    bind @LISTEN@\n    server galera1 @SERVER@\n"},
    "defaults_from_defaults": {
        "config": _G + "defaults base\n    mode tcp\n    timeout connect 1s\n    timeout client 2s\n"
        "    timeout server 2s\n\ndefaults mid from base\n    timeout server 1500ms\n\n"
        "listen mysql from mid\n    bind @LISTEN@\n    server galera1 @SERVER@\n"},
    "anonymous_defaults_from_named": {
        "config": _G + "defaults base\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n\n"
        "defaults from base\n    timeout server 2s\n\nlisten mysql\n    bind @LISTEN@\n    server galera1 @SERVER@\n"},
    "frontend_and_backend_from_different_defaults": {
        "config": _G + "defaults fe\n    mode tcp\n    timeout connect 1s\n    timeout client 1500ms\n"
        "    timeout server 500ms\n\ndefaults be\n    mode tcp\n    timeout connect 1s\n    timeout client 500ms\n"
        "    timeout server 2s\n\nfrontend mysql from fe\n    bind @LISTEN@\n    default_backend galera\n\n"
        "backend galera from be\n    server galera1 @SERVER@\n"},
    "listen_overrides_defaults": {
        "config": _listen("    timeout client 2s\n    timeout server 2s\n",
                          head=_G + _D + "    timeout client 1s\n    timeout server 1s\n")},
    "from_defined_later_refused": {
        "refused": "defaults section 'later' not found for proxy 'mysql'",
        "config": _G + _D + "\nlisten mysql from later\n    bind @LISTEN@\n    server galera1 @SERVER@\n\n"
        "defaults later\n    mode tcp\n"},
    "from_undefined_refused": {"refused": "defaults section 'nowhere' not found for proxy 'mysql'",
                               "config": _G + _D + "\nlisten mysql from nowhere\n    bind @LISTEN@\n"
                               "    server galera1 @SERVER@\n"},
    # ---- frontend, backend and routing -------------------------------------------------------------
    "frontend_backend": {"config": _fe_be("    timeout client 2s\n", "    timeout server 1500ms\n")},
    "frontend_server_ignored": {
        "warning": "'timeout server' will be ignored because frontend 'mysql' has no backend capability",
        "config": _fe_be("    timeout client 2s\n    timeout server 500ms\n", "    timeout server 2s\n")},
    "backend_client_ignored": {
        "warning": "'timeout client' will be ignored because backend 'galera' has no frontend capability",
        "config": _fe_be("    timeout client 2s\n", "    timeout server 2s\n    timeout client 500ms\n")},
    "default_backend_from_defaults_frontend": {
        "why": "default_backend is inherited from defaults",
        "config": _G + _D + "    timeout client 3s\n    timeout server 3s\n    default_backend other\n\n"
        "frontend mysql\n    bind @LISTEN@\n" + _OTHER},
    "default_backend_from_defaults_listen": {
        "why": "an inherited default_backend takes every connection away from the listen's own servers",
        "warning": "the 'default_backend' rule always has precedence over the servers, which will never be used",
        "config": _listen("", head=_G + _D + "    timeout client 3s\n    timeout server 3s\n"
                          "    default_backend other\n") + _OTHER},
    "listen_own_default_backend": {
        "warning": "the 'default_backend' rule always has precedence over the servers, which will never be used",
        "config": _listen("    default_backend other\n",
                          head=_G + _D + "    timeout client 3s\n    timeout server 3s\n") + _OTHER},
    "default_backend_reset_by_later_defaults": {
        "config": _listen("", head=_G + _D + "    default_backend other\n\n" + _D
                          + "    timeout client 2s\n    timeout server 2s\n") + _OTHER},
    "default_backend_in_named_defaults": {
        "config": _G + "defaults routed\n    mode tcp\n    timeout connect 1s\n    timeout client 3s\n"
        "    timeout server 3s\n    default_backend other\n\nfrontend mysql from routed\n    bind @LISTEN@\n" + _OTHER},
    "listen_tunnel_unused_behind_default_backend": {
        "why": "the listen's own tunnel timeout does not apply: its connections go to the other backend",
        "config": _listen("    timeout tunnel 3s\n    default_backend other\n",
                          head=_G + _D + "    timeout client 3s\n    timeout server 3s\n") + _OTHER},
    "use_backend_first": {
        "config": _fe_be("    timeout client 3s\n    use_backend other if TRUE\n", "    timeout server 3s\n",
                         extra=_OTHER)},
    "use_backend_in_defaults_refused": {
        "refused": "'use_backend' not allowed in 'defaults' section",
        "config": _fe_be("", "", head=_G + _D + "    use_backend other if TRUE\n", extra=_OTHER)},
    "use_backend_missing_refused": {
        "refused": "unable to find required use_backend: 'nowhere'",
        "config": _fe_be("    timeout client 3s\n    use_backend nowhere if TRUE\n", "    timeout server 3s\n")},
    "default_backend_missing_refused": {
        "refused": "unable to find required default_backend: 'nowhere'",
        "config": _listen("", head=_G + _D + "    default_backend nowhere\n")},
    "frontend_without_backend": {"why": "accepted, but every connection is closed at once",
                                 "config": _G + _D + "    timeout client 2s\n\nfrontend mysql\n    bind @LISTEN@\n"},
    "listen_without_server": {"config": _G + _D + "    timeout client 2s\n\nlisten mysql\n    bind @LISTEN@\n"},
    # ---- mode --------------------------------------------------------------------------------------
    "listen_mode_http": {"why": "no greeting ever reaches the client; timeout client cuts",
                         "config": _listen("    mode http\n    timeout client 2s\n    timeout server 3s\n")},
    "listen_mode_http_request_timeout": {
        "config": _listen("    mode http\n    timeout http-request 1500ms\n    timeout client 2500ms\n"
                          "    timeout server 3s\n")},
    "mode_http_from_defaults": {
        "config": _G + "defaults web\n    mode http\n    timeout connect 1s\n    timeout client 2s\n"
        "    timeout server 3s\n\n" + _D + "    timeout client 1s\n    timeout server 1s\n\n"
        "listen mysql from web\n    bind @LISTEN@\n    server galera1 @SERVER@\n"},
    "mode_tcp_over_http_defaults": {
        "config": _listen("    mode tcp\n    timeout server 1s\n",
                          head=_G + "defaults\n    mode http\n    timeout connect 1s\n    timeout client 3s\n"
                          "    timeout server 3s\n")},
    "tcp_frontend_backend_http_from_defaults": {
        "config": _G + "defaults\n    mode http\n    timeout connect 1s\n    timeout client 2s\n"
        "    timeout server 2s\n\n"
        "frontend mysql\n    bind @LISTEN@\n    mode tcp\n    default_backend galera\n\n"
        "backend galera\n    server galera1 @SERVER@\n"},
    "tcp_frontend_http_backend": {
        "config": _fe_be("    timeout client 3s\n", "    mode http\n    timeout server 1s\n")},
    "http_frontend_tcp_backend_refused": {
        "refused": "tries to use incompatible tcp backend 'galera'",
        "config": _fe_be("    mode http\n    timeout client 3s\n", "    timeout server 1s\n")},
    # ---- tunnel, client-fin, server-fin -----------------------------------------------------------
    "tunnel_longer": {"why": "the tunnel timeout replaces client/server once connected, even when longer",
                      "config": _listen("    timeout client 1s\n    timeout server 1s\n    timeout tunnel 2500ms\n")},
    "tunnel_shorter": {"config": _listen("    timeout client 3s\n    timeout server 3s\n    timeout tunnel 1500ms\n")},
    "tunnel_from_defaults_to_backend": {
        "config": _fe_be("", "", head=_G + _D + "    timeout client 3s\n    timeout server 3s\n"
                         "    timeout tunnel 1500ms\n")},
    "tunnel_in_frontend_ignored": {
        "warning": "'timeout tunnel' will be ignored because frontend 'mysql' has no backend capability",
        "config": _fe_be("    timeout tunnel 1s\n", "",
                         head=_G + _D + "    timeout client 2s\n    timeout server 2s\n")},
    "tunnel_without_server": {"config": _listen("    timeout client 1s\n    timeout tunnel 2s\n")},
    "tunnel_from_the_backends_defaults": {
        "why": "the tunnel timeout is the backend's: its defaults', not the frontend's",
        "config": _G + "defaults fe\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n"
        "    timeout tunnel 3s\n\n"
        "defaults be\n    mode tcp\n    timeout connect 1s\n    timeout server 1s\n    timeout tunnel 2s\n\n"
        "frontend mysql from fe\n    bind @LISTEN@\n    default_backend galera\n\n"
        "backend galera from be\n    server galera1 @SERVER@\n"},
    "tunnel_alone": {"warning": "missing timeouts for proxy 'mysql'", "config": _listen("    timeout tunnel 1500ms\n")},
    "tunnel_zero": {"config": _listen("    timeout client 1s\n    timeout server 1s\n    timeout tunnel 0\n")},
    "fin_timeouts_idle": {"why": "client-fin/server-fin only apply to half-closed connections",
                          "config": _listen("    timeout client 2s\n    timeout server 2s\n"
                                            "    timeout client-fin 500ms\n    timeout server-fin 500ms\n")},
    "fin_timeouts_with_tunnel": {
        "config": _listen("    timeout client 2s\n    timeout server 2s\n    timeout tunnel 2500ms\n"
                          "    timeout client-fin 500ms\n    timeout server-fin 500ms\n")},
    # ---- comments, quoting, whitespace ------------------------------------------------------------
    "comments": {"config": "# timeout client 1s\n" + _listen(
        "    timeout client 2s # timeout client 1s\n    timeout server 2s#1s\n#    timeout server 1s\n")},
    "quoting": {"config": _G + _D + '\nlisten "mysql"\n    bind "@LISTEN@"\n    timeout "client" \'1s\'\n'
                "    timeout server 2s\n    server galera1 @SERVER@\n"},
    "tabs": {"config": _G + _D + "\nlisten\tmysql\n\tbind\t@LISTEN@\n\ttimeout\t\tclient\t1s \n"
             "\ttimeout server 2s\n\tserver galera1 @SERVER@\n"},
    "hex_escape_in_quotes": {"config": _listen('    timeout client "\\x31s"\n    timeout server 2s\n')},
    "crlf_line_ends": {"config": _listen("    timeout client 1s\n    timeout server 2s\n").replace("\n", "\r\n")},
    "carriage_return_ends_the_line": {
        "why": "HAProxy ignores everything after a carriage return; splitlines() would make it a second line",
        "config": _listen("    timeout server 2s\n    timeout client 2s\r    timeout server 1s\n")},
    "carriage_return_in_quotes_refused": {
        "refused": "unmatched quote",
        "config": _listen('    timeout client "2s\r" timeout server 1s\n    timeout server 2s\n')},
    "vertical_tab_separates_words": {
        "why": "\\x0b is a word separator for HAProxy, not a line break",
        "refused": "unexpected extra argument 'timeout' after value '2s'",
        "config": _listen("    timeout client 2s\x0b    timeout server 1s\n    timeout server 2s\n")},
    "form_feed_is_blank": {"config": _listen("    timeout client 2s\x0c\n    timeout server 2s\n")},
    "file_separator_is_a_character": {
        "refused": "unexpected extra argument 'server'",
        "config": _listen("    timeout client 2s\x1ctimeout server 1s\n    timeout server 2s\n")},
    "line_separator_is_a_character": {
        "refused": "unexpected extra argument 'server'",
        "config": _listen("    timeout client 2s\u2028timeout server 1s\n    timeout server 2s\n")},
    "nul_refused": {"refused": "Stray NUL character",
                    "config": _listen("    timeout client 2s\x00 x\n    timeout server 2s\n")},
    "escaped_space_refused": {"refused": "unknown keyword 'timeout client' in 'listen' section",
                              "config": _listen("    timeout\\ client 1s\n    timeout server 2s\n")},
}
