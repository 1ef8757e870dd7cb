# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Effective idle timeouts of the MySQL listener in a deployed haproxy.cfg, and what is wrong with them.

The audit of existing deployments needs to know which ``timeout`` lines HAProxy
really applies to MySQL connections, which is rarely the line an operator
looks at first:

* A proxy (``frontend``/``backend``/``listen``) starts from a ``defaults``
  section: the one named after ``from``, else the LAST ``defaults`` section
  above it.  A ``defaults`` section itself starts empty (it resets everything)
  unless it says ``from NAME``, so an earlier anonymous ``timeout client 8h``
  is gone after a later plain ``defaults``.
* A ``frontend`` only has the client side: its ``timeout server`` and
  ``timeout tunnel`` are ignored (HAProxy only warns).  The server side,
  ``timeout tunnel`` and ``timeout server-fin`` come from the backend the
  connection is switched to (``default_backend`` / ``use_backend``); a
  ``backend`` ignores ``timeout client``.
* In TCP mode ``timeout tunnel`` supersedes client and server as soon as the
  connection is established; ``timeout client-fin``/``server-fin`` replace
  them on half-closed connections only.  ``0`` means "not set": no timeout at
  all for client/server, "use client/server" for tunnel and the -fin ones.

The rules for reading a time value (bare number = milliseconds, ...) are not
repeated here: they live in ``durations`` and are used from there.  Pure
Python (no Ansible import), so the filter, the audit playbook and the unit
tests share the same code.  Errors are ``HaproxyConfigError`` (a
``ValueError``) whose message names the file and line and says how to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from ansible_collections.dbstack.galera.plugins.plugin_utils import durations

__all__ = [
    "DEFAULT_MYSQL_PORT",
    "TIMEOUT_KEYS",
    "HaproxyConfigError",
    "Directive",
    "Section",
    "audit_listener",
    "find_mysql_listeners",
    "listener_timeouts",
    "parse_config",
    "split_words",
]

DEFAULT_MYSQL_PORT = 3306

# The timeouts that decide how long an idle MySQL connection survives, in the
# order the audit reports them.  Which side of a frontend/backend pair each one
# comes from follows HAProxy's proxy_parse_timeout(): client-side settings need
# the frontend capability, the others the backend capability.
TIMEOUT_KEYS = ("client", "server", "tunnel", "client-fin", "server-fin")
_FRONTEND_TIMEOUTS = frozenset({"client", "client-fin"})
_BACKEND_TIMEOUTS = frozenset({"server", "tunnel", "server-fin"})

_PROXY_KINDS = frozenset({"defaults", "frontend", "backend", "listen"})
# Every keyword that opens a section in HAProxy 2.6 (plus later versions'), so
# that e.g. a ring's "timeout server" is never taken for a proxy's.
_SECTION_KEYWORDS = _PROXY_KINDS | frozenset(
    {
        "global", "peers", "userlist", "resolvers", "mailers", "program", "http-errors", "ring",
        "log-forward", "cache", "fcgi-app", "dynamic-update", "crt-store", "traces", "acme",
    }
)
# Lines the audit depends on; inside an .if block it cannot know whether HAProxy uses them.
_RELEVANT_KEYWORDS = frozenset({"timeout", "bind", "mode", "default_backend", "use_backend"}) | _SECTION_KEYWORDS
# Address prefixes of bind lines that never listen on a TCP port.
_PORTLESS_PREFIXES = ("unix@", "abns@", "fd@", "sockpair@", "/")
_ENV_RE = re.compile(r"\$(\{[^}]*\}?|[A-Za-z_][A-Za-z0-9_]*)")
# What HAProxy's parse_line() separates words with (isspace() without the line ends, see split_words).
_WORD_SEPARATORS = " \t\x0b\x0c"
_SINGLE_ESCAPES = {" ": " ", "\\": "\\", "#": "#", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t"}


class HaproxyConfigError(ValueError):
    """A configuration the audit cannot evaluate as given."""


@dataclass(frozen=True)
class Directive:
    """One configuration line cut into words the way HAProxy cuts it."""

    words: tuple
    line: int
    text: str
    # True when a word holds "$VAR" inside double quotes: HAProxy substitutes
    # its own environment at start-up, which the controller cannot see.
    uses_env: bool = False
    in_condition: bool = False


@dataclass
class Section:
    kind: str
    name: str
    line: int
    text: str
    from_name: str | None = None
    directives: list = field(default_factory=list)

    @property
    def label(self):
        if self.kind == "defaults" and not self.name:
            return f"anonymous defaults at line {self.line}"
        return f"{self.kind} '{self.name}'"


@dataclass(frozen=True)
class Setting:
    """Where an effective value comes from (None value: set nowhere)."""

    value: str | None
    line: int | None
    text: str | None
    section: str | None
    uses_env: bool = False


_UNSET = Setting(None, None, None, None)


def split_words(line, source="haproxy.cfg", number=0):
    r"""Cut ``line`` into words with HAProxy's quoting rules; return (words, uses_env).

    Backslash escapes outside single quotes, weak "..." and strong '...'
    quoting, and ``#`` starting a comment anywhere outside quotes (section 2.2
    of HAProxy's configuration manual).  An escape HAProxy does not know keeps
    its backslash, as HAProxy does.

    Measured against HAProxy 2.6 (tests/unit/plugins/plugin_utils/haproxy_corpus.py):
    words are separated by space, tab, vertical tab and form feed; a carriage
    return ends the line wherever it is, even inside quotes (the rest of the
    line is ignored, and an open quote is then unmatched); a NUL byte is refused.
    Other characters Python's str.splitlines() breaks at (\x1c-\x1e, \x85,
    U+2028, U+2029) are ordinary characters of a word for HAProxy.
    """
    if "\x00" in line:
        raise HaproxyConfigError(
            f"{source}:{number}: {line.split(chr(0))[0].strip()!r} is followed by a NUL character; HAProxy refuses "
            f"the file too ('Stray NUL character at position {line.index(chr(0))}')"
        )
    line, carriage_return, _rest = line.partition("\r")
    words = []
    current = []
    in_word = False
    quote = None
    uses_env = False
    index = 0
    length = len(line)
    while index < length:
        char = line[index]
        if quote == "'":
            if char == "'":
                quote = None
            else:
                current.append(char)
            index += 1
            continue
        if char == "\\" and index + 1 < length:
            following = line[index + 1]
            if following in _SINGLE_ESCAPES:
                current.append(_SINGLE_ESCAPES[following])
                index += 2
            elif following == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", line[index + 2:index + 4]):
                current.append(chr(int(line[index + 2:index + 4], 16)))
                index += 4
            else:
                current.append(char)
                index += 1
            in_word = True
            continue
        if quote == '"':
            if char == '"':
                quote = None
            else:
                if char == "$" and _ENV_RE.match(line, index):
                    uses_env = True
                current.append(char)
            index += 1
            continue
        if char in "'\"":
            quote = char
            in_word = True
        elif char == "#":
            break
        elif char in _WORD_SEPARATORS:
            if in_word:
                words.append("".join(current))
                current = []
                in_word = False
        else:
            current.append(char)
            in_word = True
        index += 1
    if quote is not None:
        raise HaproxyConfigError(
            f"{source}:{number}: unmatched quote ({quote}) in {line.strip()!r}; HAProxy refuses this line too "
            f"('unmatched quote')" + ("; a carriage return ends the line for HAProxy, even inside quotes"
                                      if carriage_return else "")
        )
    if in_word:
        words.append("".join(current))
    return tuple(words), uses_env


def parse_config(text, source="haproxy.cfg"):
    """Cut a configuration into sections of directives, in file order."""
    if not isinstance(text, str):
        raise HaproxyConfigError(f"{source}: expected the configuration as text, got {type(text).__name__}")
    sections = []
    current = None
    condition_depth = 0
    # HAProxy reads the file with fgets(): only a line feed ends a statement (see split_words for \r).
    for number, raw in enumerate(text.split("\n"), start=1):
        words, uses_env = split_words(raw, source, number)
        if not words:
            continue
        keyword = words[0]
        if keyword.startswith("."):
            # Conditional blocks (.if/.elif/.else/.endif) depend on HAProxy's
            # environment and version at start-up; remember the nesting so a
            # relevant line inside one is refused instead of guessed.
            if keyword == ".if":
                condition_depth += 1
            elif keyword == ".endif":
                condition_depth = max(condition_depth - 1, 0)
            continue
        directive = Directive(words, number, raw.strip(), uses_env, condition_depth > 0)
        if directive.in_condition and keyword in _RELEVANT_KEYWORDS:
            raise HaproxyConfigError(
                f"{source}:{number}: {directive.text!r} is inside an .if block, and whether HAProxy uses it depends "
                f"on its environment at start-up; the audit cannot tell. Move the line out of the conditional block, "
                f"or audit the configuration HAProxy really loads"
            )
        if keyword in _SECTION_KEYWORDS:
            current = _open_section(directive, source)
            sections.append(current)
        elif current is not None:
            current.directives.append(directive)
    return sections


def _open_section(directive, source):
    words = directive.words
    kind = words[0]
    args = list(words[1:])
    from_name = None
    if kind in _PROXY_KINDS:
        # "defaults [NAME] [from DEFAULTS]", "frontend NAME [from DEFAULTS]" ...;
        # "defaults from X" is an anonymous defaults section inheriting X.
        if len(args) >= 2 and args[-2] == "from":
            from_name = args[-1]
            args = args[:-2]
        if kind != "defaults" and len(args) != 1:
            raise HaproxyConfigError(
                f"{source}:{directive.line}: {directive.text!r}: a {kind} section takes one name, optionally "
                f"followed by 'from DEFAULTS'"
            )
    name = args[0] if args else ""
    return Section(kind, name, directive.line, directive.text, from_name)


class _Proxy:
    """A frontend/backend/listen with the settings HAProxy ends up using."""

    def __init__(self, section, settings, mode, source):
        self.section = section
        self.settings = settings
        self.mode = mode
        self.source = source

    @property
    def kind(self):
        return self.section.kind

    @property
    def name(self):
        return self.section.name

    @property
    def frontend_capable(self):
        return self.kind in ("frontend", "listen")

    @property
    def backend_capable(self):
        return self.kind in ("backend", "listen")


# Keywords HAProxy 2.1 removed; it refuses them with this advice (measured on 2.6).
_REMOVED_TIMEOUT_KEYWORDS = {"clitimeout": "timeout client", "srvtimeout": "timeout server",
                             "contimeout": "timeout connect"}
_TIME_UNIT_RE = re.compile(r"\d+(us|ms|s|m|h|d)?")


def _check_timer(directive, key, value, source):
    """Refuse what HAProxy's parse_time_err() refuses: a timer must start with digits, then a unit or nothing.

    Text after a valid unit ('1s500ms') is only a warning for HAProxy 2.6, which uses '1s'; the audit
    reports it as a finding instead (durations.haproxy_time_ms).
    """
    if not value:
        raise HaproxyConfigError(
            f"{source}:{directive.line}: {directive.text!r}: an empty value; HAProxy refuses this line too "
            f"(\"'timeout {key}' expects an integer value (in milliseconds)\"). Write digits and one unit, e.g. "
            f"'timeout {key} 1125s'"
        )
    match = _TIME_UNIT_RE.match(value)
    end = match.end() if match else 0
    if end < len(value) and not (match and match.group(1)):
        raise HaproxyConfigError(
            f"{source}:{directive.line}: {directive.text!r}: {value!r} is not an HAProxy time; HAProxy refuses "
            f"this line too (\"unexpected character '{value[end]}' in 'timeout {key}'\"). Write digits and one "
            f"unit, e.g. 'timeout {key} 1125s'"
        )


def _own_settings(section, inherited, source):
    """Apply a section's own lines on top of what it inherited; the last line of a kind wins, as in HAProxy."""
    settings = dict(inherited)
    for directive in section.directives:
        words = directive.words
        keyword = words[0]
        if keyword == "mode" and len(words) >= 2:
            settings["mode"] = Setting(words[1], directive.line, directive.text, section.label, directive.uses_env)
        elif keyword == "default_backend" and len(words) >= 2:
            # Inherited from defaults like a timeout (measured: a listen then never uses its own servers).
            settings["default_backend"] = Setting(words[1], directive.line, directive.text, section.label,
                                                  directive.uses_env)
        elif keyword == "use_backend" and section.kind == "defaults":
            raise HaproxyConfigError(
                f"{source}:{directive.line}: {directive.text!r}: HAProxy refuses this line too (\"'use_backend' not "
                f"allowed in 'defaults' section\"); put it in the frontend or listen section"
            )
        elif keyword in _REMOVED_TIMEOUT_KEYWORDS:
            raise HaproxyConfigError(
                f"{source}:{directive.line}: {directive.text!r}: HAProxy refuses this line (\"the '{keyword}' "
                f"directive is not supported anymore since HAProxy 2.1\"); write "
                f"'{_REMOVED_TIMEOUT_KEYWORDS[keyword]}' with a unit instead"
            )
        elif keyword != "timeout" and keyword.split()[:1] == ["timeout"]:
            # 'timeout\\ client' is ONE word for HAProxy, so not the timeout keyword at all.
            raise HaproxyConfigError(
                f"{source}:{directive.line}: {directive.text!r}: HAProxy reads {keyword!r} as one word and refuses "
                f"this line too (\"unknown keyword '{keyword}' in '{section.kind}' section\"); separate the words "
                f"with a plain space"
            )
        elif keyword == "timeout" and len(words) >= 2 and words[1] in TIMEOUT_KEYS + ("http-request",):
            key = words[1]
            if len(words) < 3:
                raise HaproxyConfigError(
                    f"{source}:{directive.line}: {directive.text!r}: 'timeout {key}' needs a value; HAProxy refuses "
                    f"this line too"
                )
            if len(words) > 3:
                raise HaproxyConfigError(
                    f"{source}:{directive.line}: {directive.text!r}: 'timeout {key}' takes exactly one value; "
                    f"HAProxy refuses this line too (\"'timeout {key}' : unexpected extra argument '{words[3]}' after "
                    f"value '{words[2]}'\"). A vertical tab or form feed separates words like a space for HAProxy"
                )
            if not directive.uses_env:
                _check_timer(directive, key, words[2], source)
            if section.kind == "frontend" and key in _BACKEND_TIMEOUTS:
                continue  # HAProxy: "will be ignored because frontend has no backend capability"
            if section.kind == "backend" and key in _FRONTEND_TIMEOUTS:
                continue
            settings[key] = Setting(words[2], directive.line, directive.text, section.label, directive.uses_env)
    return settings


def _resolve(sections, source):
    """Follow HAProxy's defaults rules and return the proxies (with effective settings) in file order."""
    defaults_by_name = {}
    last_defaults = {}
    proxies = []
    for section in sections:
        if section.kind not in _PROXY_KINDS:
            continue
        if section.from_name is not None:
            if section.from_name not in defaults_by_name:
                raise HaproxyConfigError(
                    f"{source}:{section.line}: {section.text!r} inherits from defaults section "
                    f"'{section.from_name}', which is not defined above it; HAProxy refuses this too (\"defaults "
                    f"section '{section.from_name}' not found for proxy '{section.name}'\")"
                )
            inherited = defaults_by_name[section.from_name]
        elif section.kind == "defaults":
            inherited = {}  # a defaults section resets everything to HAProxy's built-in defaults
        else:
            inherited = last_defaults
        settings = _own_settings(section, inherited, source)
        if section.kind == "defaults":
            last_defaults = settings
            if section.name:
                defaults_by_name[section.name] = settings
            continue
        mode_setting = settings.get("mode", _UNSET)
        proxies.append(_Proxy(section, settings, mode_setting.value or "tcp", source))
    return proxies


def _bind_ports(proxy):
    """(port ranges, unresolved texts) of the proxy's bind lines."""
    ports = []
    unresolved = []
    for directive in proxy.section.directives:
        if directive.words[0] != "bind" or len(directive.words) < 2:
            continue
        if directive.uses_env:
            unresolved.append(directive)
            continue
        for address in directive.words[1].split(","):
            if address.startswith(_PORTLESS_PREFIXES) or ":" not in address:
                continue
            port_text = address.rsplit(":", 1)[1]
            match = re.fullmatch(r"(\d+)(?:-(\d+))?", port_text)
            if match:
                low = int(match.group(1))
                high = int(match.group(2) or low)
                ports.append((low, high, directive))
    return ports, unresolved


def _describe_proxies(proxies):
    described = []
    for proxy in proxies:
        if not proxy.frontend_capable:
            continue
        ports = _bind_ports(proxy)[0]
        binds = ", ".join(sorted({directive.words[1] for _low, _high, directive in ports})) or "no TCP port"
        described.append(f"{proxy.kind} '{proxy.name}' (binds {binds})")
    return "; ".join(described) or "none"


def find_mysql_listeners(proxies, listener=None, port=DEFAULT_MYSQL_PORT, source="haproxy.cfg"):
    """The frontend/listen sections that receive MySQL clients: the one named ``listener``, else those binding ``port``."""
    if listener:
        for proxy in proxies:
            if proxy.frontend_capable and proxy.name == listener:
                return [proxy]
        backends = [p for p in proxies if p.kind == "backend" and p.name == listener]
        if backends:
            raise HaproxyConfigError(
                f"{source}: '{listener}' is a backend, not a frontend or listen section; give the name of the "
                f"section clients connect to (frontends and listens: {_describe_proxies(proxies)})"
            )
        raise HaproxyConfigError(
            f"{source}: no frontend or listen section named '{listener}' (found: {_describe_proxies(proxies)}); "
            f"set the listener name to one of them, or leave it empty to find the one binding port {port}"
        )
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise HaproxyConfigError(f"port={port!r} is not a TCP port; give an integer from 1 to 65535, e.g. 3306")
    found = []
    unresolved = []
    for proxy in proxies:
        if not proxy.frontend_capable:
            continue
        ports, env_binds = _bind_ports(proxy)
        if any(low <= port <= high for low, high, _directive in ports):
            found.append(proxy)
        unresolved.extend((proxy, d) for d in env_binds)
    if not found:
        hint = ""
        if unresolved:
            hint = " Some bind lines use environment variables the audit cannot resolve: " + "; ".join(
                f"line {d.line} {d.text!r} in {p.kind} '{p.name}'" for p, d in unresolved
            ) + "."
        raise HaproxyConfigError(
            f"{source}: no frontend or listen section binds port {port} (found: {_describe_proxies(proxies)}).{hint} "
            f"Name the MySQL listener explicitly, or give the port it binds"
        )
    return found


# Lines that give a proxy something to forward to besides "server" lines.
_SERVER_KEYWORDS = frozenset({"server", "server-template", "dispatch"})


def _servers(proxy):
    return [d for d in proxy.section.directives if d.words[0] in _SERVER_KEYWORDS]


def _backends_of(frontend, proxies, source):
    """Where the frontend sends connections: use_backend targets, then default_backend (or itself for a listen).

    ``default_backend`` may come from the defaults section; measured on HAProxy 2.6 and 3.0, a listen section
    with one (its own or inherited) sends every connection there and never uses its own servers.
    An empty list: HAProxy accepts the file but has nowhere to send a connection (measured: it closes
    each one at once, without a word from a server).
    """
    by_name = {p.name: p for p in proxies if p.backend_capable}
    names = []
    for directive in frontend.section.directives:
        words = directive.words
        if words[0] == "use_backend" and len(words) >= 2:
            _check_static_target(frontend, directive, source)
            if words[1] not in [name for name, _directive in names]:
                names.append((words[1], directive))
    default = frontend.settings.get("default_backend")
    targets = list(names)
    if default is not None:
        if default.uses_env or "%[" in default.value:
            _check_static_target(frontend, Directive(("default_backend", default.value), default.line,
                                                     default.text, default.uses_env), source)
        targets.append((default.value, default))
    chosen = []
    for target, where in targets:
        if target not in by_name:
            kind = "default_backend" if where is default else "use_backend"
            raise HaproxyConfigError(
                f"{source}:{where.line}: {where.text!r} names backend '{target}', which does not exist; HAProxy "
                f"refuses this too (\"Proxy '{frontend.name}': unable to find required {kind}: '{target}'\")"
            )
        backend = by_name[target]
        if frontend.mode == "http" and backend.mode != "http":
            raise HaproxyConfigError(
                f"{source}:{where.line}: {where.text!r}: HAProxy refuses this (\"http frontend '{frontend.name}' "
                f"tries to use incompatible tcp backend '{target}'\"); set 'mode tcp' on both for MySQL"
            )
        if backend not in chosen:
            chosen.append(backend)
    if default is None and frontend.backend_capable and frontend not in chosen:
        chosen.append(frontend)
    return chosen


def _check_static_target(frontend, directive, source):
    if "%[" in directive.words[1] or directive.uses_env:
        raise HaproxyConfigError(
            f"{source}:{directive.line}: {directive.text!r} in {frontend.kind} '{frontend.name}' chooses the "
            f"backend at run time; the audit cannot know which backend's timeouts apply. Audit with the "
            f"listener set to a section that names its backend"
        )


def _timer_ms(setting):
    """Milliseconds HAProxy 2.6 uses for a value (0: not set); None when it comes from the environment.

    Text after a valid unit is ignored by HAProxy with a warning (measured: '1s500ms' cuts at 1 s).
    """
    if setting is None or setting.value is None:
        return 0
    if setting.uses_env:
        return None
    match = _TIME_UNIT_RE.match(setting.value)
    return durations.haproxy_time_ms(match.group(0), "timeout")


def _idle_cut(frontend, backend):
    """When HAProxy 2.6 closes a MySQL connection that has received the server's greeting and stays idle.

    Every rule here is measured by tests/unit/plugins/plugin_utils/test_haproxy_idle_cut.py:

    * no backend, or a backend without servers: closed at once, no greeting;
    * either side in mode http: HAProxy waits for an HTTP request the MySQL client never sends, so no
      greeting reaches the client, and the frontend's 'timeout http-request', else 'timeout client',
      closes it;
    * mode tcp: the backend's 'timeout tunnel', when set, replaces client and server as soon as the
      connection is established, longer or shorter; otherwise the shorter of the frontend's client
      and the backend's server timeout; neither: never.  client-fin/server-fin do not apply to a
      connection open in both directions.
    """
    if backend is None or not _servers(backend):
        where = "no backend" if backend is None else f"{backend.kind} '{backend.name}' has no server"
        return {"greets": False, "milliseconds": 0, "by": None, "why": where}
    if "http" in (frontend.mode, backend.mode):
        for key in ("http-request", "client"):
            value = _timer_ms(frontend.settings.get(key))
            if value != 0:
                return {"greets": False, "milliseconds": value, "by": key, "why": "mode http"}
        return {"greets": False, "milliseconds": None, "by": None, "why": "mode http"}
    tunnel = _timer_ms(backend.settings.get("tunnel"))
    if tunnel != 0:
        return {"greets": True, "milliseconds": tunnel, "by": "tunnel", "why": "tunnel supersedes client/server"}
    sides = {"client": _timer_ms(frontend.settings.get("client")), "server": _timer_ms(backend.settings.get("server"))}
    if None in sides.values():
        return {"greets": True, "milliseconds": None, "by": None, "why": "set from the environment"}
    set_sides = {key: value for key, value in sides.items() if value}
    if not set_sides:
        return {"greets": True, "milliseconds": None, "by": None, "why": "no timeout"}
    key = min(set_sides, key=lambda k: (set_sides[k], k))
    return {"greets": True, "milliseconds": set_sides[key], "by": key, "why": "the shorter of client and server"}


def _setting_dict(setting):
    return {
        "value": setting.value,
        "line": setting.line,
        "text": setting.text,
        "section": setting.section,
        "uses_env": setting.uses_env,
    }


def listener_timeouts(text, listener=None, port=DEFAULT_MYSQL_PORT, source="haproxy.cfg"):
    """The effective timeouts of each path MySQL clients take through HAProxy.

    One dict per (listener, backend) pair: a ``listen`` without switching rules
    gives one pair with itself; a ``frontend`` gives one per backend it can
    switch to.  ``timeouts`` maps each of TIMEOUT_KEYS to where its value comes
    from (``value`` None when set nowhere).
    """
    proxies = _resolve(parse_config(text, source), source)
    results = []
    for frontend in find_mysql_listeners(proxies, listener, port, source):
        backends = _backends_of(frontend, proxies, source)
        # HAProxy 2.6 warns: "In proxy 'NAME', the 'default_backend' rule always has precedence over the
        # servers, which will never be used." (measured with an own and with an inherited default_backend).
        unused = _servers(frontend) if frontend.backend_capable and frontend not in backends else []
        for backend in backends or [None]:
            timeouts = {}
            for key in TIMEOUT_KEYS:
                owner = frontend if key in _FRONTEND_TIMEOUTS else backend
                timeouts[key] = _setting_dict(owner.settings.get(key, _UNSET) if owner else _UNSET)
            modes = (frontend.mode, backend.mode if backend else frontend.mode)
            results.append(
                {
                    "listener": frontend.name,
                    "listener_type": frontend.kind,
                    "listener_line": frontend.section.line,
                    "backend": backend.name if backend else None,
                    "backend_type": backend.kind if backend else None,
                    "mode": modes[0] if backend is None or frontend is backend else f"{modes[0]}/{modes[1]}",
                    "modes": {"listener": _setting_dict(frontend.settings.get("mode", _UNSET)),
                              "backend": _setting_dict(backend.settings.get("mode", _UNSET)) if backend else None},
                    "unused_servers": [{"line": d.line, "text": d.text} for d in unused],
                    "default_backend": _setting_dict(frontend.settings.get("default_backend", _UNSET)),
                    "idle_cut": _idle_cut(frontend, backend),
                    "timeouts": timeouts,
                }
            )
    return results


# --------------------------------------------------------------------------------------------
# The audit: what each effective value means for a Celery task holding an idle connection.


def _seconds_text(seconds):
    """'50 s', '28.8 s': what a value really is, for messages and the table."""
    seconds = Fraction(seconds)
    shown = int(seconds) if seconds.denominator == 1 else float(seconds)
    return f"{shown} s"


def _where(setting, source):
    return f"{source}:{setting['line']} ({setting['section']})"


def _normalise_wait_timeout(wait_timeout):
    """(seconds, description) from a number or a {node: seconds} mapping; the smallest node wins."""
    if wait_timeout is None:
        return None, None
    if isinstance(wait_timeout, dict):
        if not wait_timeout:
            return None, None
        parsed = {str(node): durations.parse_wait_timeout(value, f"wait_timeout of {node}")
                  for node, value in wait_timeout.items()}
        node = min(sorted(parsed), key=parsed.get)
        return parsed[node], f"MariaDB's wait_timeout ({parsed[node]} s on {node})"
    seconds = durations.parse_wait_timeout(wait_timeout)
    return seconds, f"MariaDB's wait_timeout ({seconds} s)"


def _row(check, setting=None):
    setting = setting or {}
    return {"check": check, "written": setting.get("value"), "line": setting.get("line"),
            "section": setting.get("section"), "seconds": None, "meaning": "", "findings": []}


def _routing_checks(result, proxy, source):
    """Rows for what makes the timeouts moot: no server at all, mode http, servers never used."""
    checks = []
    listener_at = f"{source}:{result['listener_line']} ({proxy})"
    idle_cut = result.get("idle_cut") or {}
    if idle_cut.get("milliseconds") == 0 and not idle_cut.get("greets"):
        row = _row("backend")
        row.update(written="-", seconds=0, meaning="no server: every connection closed at once")
        row["findings"].append(
            f"{listener_at}: HAProxy has no server to send MySQL connections to ({idle_cut['why']}): it accepts the "
            f"file and closes every connection at once, before the server's greeting (measured on HAProxy 2.6 and "
            f"3.0). Fix: give {proxy} a 'default_backend' whose backend has 'server' lines"
        )
        checks.append(row)
    elif not idle_cut.get("greets", True):
        modes = result.get("modes") or {}
        setting = next((m for m in (modes.get("listener"), modes.get("backend")) if m and m["value"] == "http"),
                       None) or _setting_dict(_UNSET)
        row = _row("mode", setting)
        seconds = idle_cut.get("milliseconds")
        row.update(meaning="HTTP: MySQL cannot work through it",
                   seconds=None if seconds is None else durations.haproxy_time_seconds(f"{seconds}ms"))
        after = ("never closes it" if seconds is None
                 else f"closes it after {_seconds_text(Fraction(seconds, 1000))} ('timeout {idle_cut['by']}')")
        where = _where(setting, source) if setting["line"] else listener_at
        row["findings"].append(
            f"{where}: '{setting['text'] or 'mode http'}': {_mode_text(result)}, so HAProxy "
            f"waits for an HTTP request the MySQL client never sends; the server's greeting never reaches the client "
            f"and HAProxy {after} (measured on HAProxy 2.6 and 3.0). Fix: write 'mode tcp' in {proxy}"
            + (f" and in backend '{result['backend']}'" if result.get("backend") not in (None, result["listener"])
               else "")
        )
        checks.append(row)
    for server in result.get("unused_servers") or []:
        row = _row("servers", {"value": server["text"], "line": server["line"], "section": proxy})
        row["meaning"] = "never used"
        default = result.get("default_backend") or {}
        row["findings"].append(
            f"{source}:{server['line']} ({proxy}): '{server['text']}' is never used: the 'default_backend' of "
            f"{_where(default, source)} ('{default.get('text')}') always has precedence over a listen section's "
            f"servers (HAProxy warns the same at start), so MySQL connections go to backend "
            f"'{result['backend']}' and its timeouts are the ones that apply. Fix: remove that default_backend, "
            f"or move the server lines into backend '{result['backend']}'"
        )
        checks.append(row)
    return checks


def _mode_text(result):
    listener, _slash, backend = result["mode"].partition("/")
    if not backend or backend == listener:
        return f"the MySQL listener is in mode {listener}"
    return f"the MySQL listener is in mode {listener} and its backend '{result['backend']}' in mode {backend}"


def _superseded_row(row, setting, key, where, fix_value):
    """A client/server timeout the tunnel timeout replaces once connected: shown, and only its notation checked."""
    row["meaning"] = "replaced by the tunnel timeout once connected"
    if setting["value"] is None or setting["uses_env"]:
        return
    try:
        row["seconds"] = durations.haproxy_time_seconds(setting["value"])
    except durations.DurationError:
        return
    if not durations.haproxy_time_has_unit(setting["value"]):
        row["findings"].append(
            f"{where}: '{setting['text']}' = {_seconds_text(row['seconds'])}, not {setting['value']} s: HAProxy reads "
            f"a number without a unit as MILLISECONDS. Fix: always write the unit, e.g. 'timeout {key} {fix_value}'"
        )


_CHECK_LINE_RE = re.compile(r"^\[(WARNING|ALERT)\]\s*(?:\(\d+\)\s*:\s*)?(?:config\s*:\s*)?(.*)$")


def haproxy_check_rows(result, output, returncode=0, source="haproxy.cfg"):
    """Rows for what ``haproxy -c`` (run on the HAProxy host) says about this listener or its backend.

    ``output`` is its stdout and stderr.  A warning is kept when it names the listener or the backend
    ('NAME' in quotes, as HAProxy writes it): HAProxy knows things the audit does not read.  A file
    HAProxy refuses (``returncode`` not 0) is a finding with every alert, whatever it names.
    """
    names = {f"'{name}'" for name in (result["listener"], result.get("backend")) if name}
    warnings, alerts = [], []
    for line in str(output or "").split("\n"):
        match = _CHECK_LINE_RE.match(line.strip())
        if not match:
            continue
        level, text = match.groups()
        if level == "ALERT":
            alerts.append(text.strip())
        elif any(name in text for name in names):
            warnings.append(text.strip())
    if not warnings and not (returncode and alerts):
        return []
    proxy = f"{result['listener_type']} '{result['listener']}'"
    row = _row("haproxy -c")
    row.update(written="-", meaning="HAProxy refuses the file" if returncode else f"{len(warnings)} warning(s)")
    if returncode and alerts:
        row["findings"].append(
            f"{source}: haproxy -c on this host refuses the file: {' / '.join(alerts)}. HAProxy would not start or "
            f"reload with it. Fix: correct what HAProxy names"
        )
    for warning in warnings:
        row["findings"].append(
            f"{source}: haproxy -c on this host warns about {proxy}: {warning}. Fix: correct the line HAProxy names; "
            f"a warned line does not do what it says"
        )
    return [row]


def audit_listener(result, max_task_length, wait_timeout=None, source="haproxy.cfg"):
    """Check one entry of listener_timeouts() against the longest task and MariaDB's wait_timeout.

    Returns one row per check: the value as written, what it means in
    seconds (``seconds``; None when there is no timeout or it cannot be read),
    and ``findings``, empty when fine.  Each finding names the file and line
    (``source`` should name the host too), what the value really does and the
    fix.  ``wait_timeout`` is a number of seconds or ``{node: seconds}``.
    """
    task = durations.parse_duration(max_task_length, "max_task_length")
    task_text = f"max_task_length={max_task_length} = {_seconds_text(task)}"
    wait_seconds, wait_text = _normalise_wait_timeout(wait_timeout)
    # The value the collection's own role would write, so every fix names a number.
    recommended = None
    if wait_seconds is not None and task < wait_seconds:
        recommended = durations.haproxy_timeouts(wait_seconds, max_task_length)["client"]
    fix_value = recommended or "<a value with a unit, longer than the longest task and at most wait_timeout>"
    proxy = f"{result['listener_type']} '{result['listener']}'"
    backend = f"{result['backend_type']} '{result['backend']}'" if result["backend"] else proxy
    timeouts = result["timeouts"]
    milliseconds = {}
    checks = _routing_checks(result, proxy, source)
    idle_cut = result.get("idle_cut") or {}
    # Measured on HAProxy 2.6: once a TCP connection is established the tunnel timeout, longer or
    # shorter, is the only one that closes it while idle.
    superseded = idle_cut.get("by") == "tunnel"

    for key in TIMEOUT_KEYS:
        setting = timeouts[key]
        owner = proxy if key in _FRONTEND_TIMEOUTS else backend
        row = _row(f"timeout {key}", setting)
        checks.append(row)
        findings = row["findings"]
        where = _where(setting, source)
        fix = f"Fix: write 'timeout {key} {fix_value}' in {owner}"
        if superseded and key in ("client", "server"):
            _superseded_row(row, setting, key, where, fix_value)
            continue

        if setting["value"] is not None and setting["uses_env"]:
            row["meaning"] = "unknown: set from HAProxy's environment"
            findings.append(
                f"{where}: '{setting['text']}' takes its value from an environment variable of the HAProxy "
                f"process, which the audit cannot see. {fix}"
            )
            continue
        value_ms = 0
        if setting["value"] is not None:
            try:
                value_ms = durations.haproxy_time_ms(setting["value"], f"timeout {key}")
            except durations.DurationError as e:
                row["meaning"] = "not a valid HAProxy time"
                findings.append(f"{where}: '{setting['text']}': {e}. {fix}")
                continue

        if value_ms == 0:
            # HAProxy stores 0 as "unset" (TICK_ETERNITY): no timeout at all for
            # client/server; tunnel and the -fin timeouts then fall back to them.
            how = "not set here or in its defaults" if setting["value"] is None else f"set to 0 at {where}"
            if key in ("client", "server"):
                row["meaning"] = "NO timeout"
                findings.append(
                    f"{source}: timeout {key} of {owner} is {how}: missing or 0 means NO timeout at all, so HAProxy "
                    f"never closes an idle {key} side; connections of crashed clients or lost servers pile up "
                    f"until maxconn is reached (HAProxy warns 'missing timeouts' at start). {fix}"
                )
            elif key == "tunnel":
                row["meaning"] = "not set: client/server apply"
            else:
                row["meaning"] = "not set: other timeouts apply"
            continue

        value = Fraction(value_ms, 1000)
        row["seconds"] = durations.haproxy_time_seconds(setting["value"])
        milliseconds[key] = value_ms
        shown = f"'{setting['text']}' = {_seconds_text(value)}"

        if not durations.haproxy_time_has_unit(setting["value"]):
            findings.append(
                f"{where}: {shown}, not {setting['value']} s: HAProxy reads a number without a unit as "
                f"MILLISECONDS. Fix: always write the unit, e.g. 'timeout {key} {fix_value}'"
            )

        if key in ("client-fin", "server-fin"):
            # Only a connection already closed in one direction uses these; an
            # idle task connection is open both ways, so they cannot cut it.
            row["meaning"] = "half-closed connections only"
            continue
        row["meaning"] = "replaces client/server once connected" if key == "tunnel" else "idle limit"
        if value <= task:
            effect = (
                f"in TCP mode the tunnel timeout replaces client and server once connected, so HAProxy closes a "
                f"connection idle for {_seconds_text(value)}"
                if key == "tunnel"
                else f"HAProxy closes a connection a Celery task leaves idle for {_seconds_text(value)}"
            )
            findings.append(
                f"{where}: {shown} is not longer than the longest task ({task_text}): {effect}, and the task's "
                f"next query fails with MySQL error 2013 (Lost connection to server during query). {fix}"
            )
        if wait_seconds is not None and value > wait_seconds:
            findings.append(
                f"{where}: {shown} is longer than {wait_text}: MariaDB closes the idle session first, so this "
                f"value promises connections a life they do not get. {fix}"
            )

    pair = _row("client = server")
    checks.append(pair)
    if superseded:
        pair["meaning"] = "not used once connected: the tunnel timeout applies"
    elif "client" in milliseconds and "server" in milliseconds:
        client, server = timeouts["client"], timeouts["server"]
        pair["written"] = f"{client['value']} / {server['value']}"
        shorter = Fraction(min(milliseconds["client"], milliseconds["server"]), 1000)
        pair["seconds"] = durations.haproxy_time_seconds(f"{min(milliseconds['client'], milliseconds['server'])}ms")
        if milliseconds["client"] == milliseconds["server"]:
            pair["meaning"] = "equal"
        else:
            pair["meaning"] = f"differ: the shorter, {_seconds_text(shorter)}, is the real limit"
            pair["findings"].append(
                f"{source}:{client['line']},{server['line']}: '{client['text']}' "
                f"({_seconds_text(Fraction(milliseconds['client'], 1000))}) and '{server['text']}' "
                f"({_seconds_text(Fraction(milliseconds['server'], 1000))}) differ: in TCP mode an idle connection "
                f"is idle in both directions and HAProxy closes it at the shorter one, {_seconds_text(shorter)}; "
                f"HAProxy's manual recommends equal values. Fix: set both to {fix_value}"
            )
    else:
        pair["meaning"] = "not comparable (see above)"

    if wait_seconds is not None:
        row = _row("MariaDB wait_timeout")
        row.update(written=str(wait_seconds), seconds=wait_seconds, meaning="MariaDB closes idle sessions")
        checks.append(row)
        if wait_seconds <= task:
            needed = durations.haproxy_timeouts(durations.MARIADB_MAX_WAIT_TIMEOUT, max_task_length)["seconds"]
            row["findings"].append(
                f"{wait_text} is not longer than the longest task ({task_text}): MariaDB itself closes the idle "
                f"session of a running task, whatever HAProxy allows. Fix: raise wait_timeout "
                f"(mariadb_galera_wait_timeout) to at least {needed} s, the task plus the default margin"
            )
    return checks
