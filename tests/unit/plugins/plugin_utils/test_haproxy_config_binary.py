"""The parser's fixtures against the real HAProxy: every one is a configuration HAProxy accepts.

Debian's haproxy (/usr/sbin/haproxy; `make host` and CI install it).  A
missing binary fails these tests instead of skipping them: a green run must
mean HAProxy itself accepted the configurations the parser is tested on, and
agreed with it where HAProxy says something (ignored lines, missing timeouts,
the tunnel timeout superseding client/server on a live connection).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time

import pytest
from haproxy_fixtures import CONFIGS

from ansible_collections.dbstack.galera.plugins.plugin_utils import haproxy_config as hc

HAPROXY_CANDIDATES = ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")

# What HAProxy warns about per fixture: the parser must agree with each warning.
EXPECTED_WARNINGS = {
    # The audit reports "NO timeout" for the same proxy.
    "missing_and_zero": ["missing timeouts for proxy 'mysql'"],
    # The audit ignores exactly these lines, as HAProxy does.
    "frontend_backend": [
        "'timeout server' will be ignored because frontend 'mysql_in' has no backend capability",
        "'timeout client' will be ignored because backend 'galera' has no frontend capability",
    ],
}


@pytest.fixture(scope="module")
def haproxy():
    found = shutil.which("haproxy") or next((c for c in HAPROXY_CANDIDATES if os.access(c, os.X_OK)), None)
    if found is None:
        pytest.fail(
            "haproxy is not installed (not on PATH, nor at " + ", ".join(HAPROXY_CANDIDATES) + "); "
            "run `make host` to install it - these tests check the parser's fixtures against the real binary",
            pytrace=False,
        )
    return found


def haproxy_check(haproxy, path, text):
    path.write_text(text)
    return subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fixture_is_a_configuration_haproxy_accepts(haproxy, tmp_path, name):
    result = haproxy_check(haproxy, tmp_path / f"{name}.cfg", CONFIGS[name])
    output = result.stdout + result.stderr

    assert result.returncode == 0, output
    assert "Configuration file is valid" in output
    warnings = [line for line in output.splitlines() if "[WARNING]" in line]
    expected = EXPECTED_WARNINGS.get(name, [])
    assert len(warnings) == len(expected), output
    for text in expected:
        assert text in output


def test_what_haproxy_refuses_the_parser_refuses_too(haproxy, tmp_path):
    """A 'from' naming a defaults section defined later, and two values for one timeout."""
    cases = {
        "from_later": "defaults\n  mode tcp\nlisten mysql from later\n  bind :3306\ndefaults later\n  mode tcp\n",
        "two_values": "listen mysql\n  bind :3306\n  mode tcp\n  timeout client 5s 6s\n",
    }
    for name, text in cases.items():
        assert haproxy_check(haproxy, tmp_path / f"{name}.cfg", text).returncode != 0, name
        with pytest.raises(hc.HaproxyConfigError):
            hc.listener_timeouts(text)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seconds_until_idle_close(haproxy, tmp_path, config_template, give_up_after):
    """Run HAProxy on the config (with {port} and {backend} filled in) and time how long an idle connection lives.

    Returns None when the connection is still open after `give_up_after` seconds.
    """
    backend = socket.create_server(("127.0.0.1", 0))
    held = []
    threading.Thread(target=lambda: held.append(backend.accept()), daemon=True).start()
    port = free_port()
    text = config_template.format(port=port, backend=backend.getsockname()[1])
    config = tmp_path / "idle.cfg"
    config.write_text(text)
    # -db: stay in the foreground, so this process is the one we stop.
    process = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        client = None
        deadline = time.monotonic() + 10
        while client is None:
            try:
                client = socket.create_connection(("127.0.0.1", port), timeout=1)
            except OSError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "haproxy did not start listening"
                time.sleep(0.05)
        with client:
            started = time.monotonic()
            client.settimeout(give_up_after)
            try:
                closed = client.recv(1) == b""
            except TimeoutError:
                return None
            except ConnectionResetError:
                closed = True
            assert closed
            return time.monotonic() - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        backend.close()
        for connection, _address in held:
            connection.close()


TUNNEL_FROM_DEFAULTS = """\
global
    log stdout format raw local0
defaults
    mode tcp
    timeout connect 5s
    timeout tunnel 1s
listen mysql
    bind 127.0.0.1:{port}
    timeout client 30s
    timeout server 30s
    server galera1 127.0.0.1:{backend}
"""

RESET_BY_LATER_DEFAULTS = """\
global
    log stdout format raw local0
defaults
    mode tcp
    timeout connect 5s
    timeout tunnel 1s
defaults
    mode tcp
    timeout connect 5s
listen mysql
    bind 127.0.0.1:{port}
    timeout client 30s
    timeout server 30s
    server galera1 127.0.0.1:{backend}
"""


def test_inherited_tunnel_timeout_really_supersedes_client_and_server(haproxy, tmp_path):
    """The parser says the 1 s tunnel applies; the running HAProxy closes the idle connection after ~1 s, not 30 s."""
    result = hc.listener_timeouts(TUNNEL_FROM_DEFAULTS.format(port=3306, backend=3307))[0]
    assert result["timeouts"]["tunnel"]["value"] == "1s"

    lived = seconds_until_idle_close(haproxy, tmp_path, TUNNEL_FROM_DEFAULTS, give_up_after=10)
    assert lived is not None and 0.5 <= lived < 5, f"idle connection closed after {lived} s"


def test_a_later_defaults_section_really_drops_the_tunnel_timeout(haproxy, tmp_path):
    """The parser says no tunnel applies after a plain 'defaults'; HAProxy keeps the connection past 1 s."""
    result = hc.listener_timeouts(RESET_BY_LATER_DEFAULTS.format(port=3306, backend=3307))[0]
    assert result["timeouts"]["tunnel"]["value"] is None

    lived = seconds_until_idle_close(haproxy, tmp_path, RESET_BY_LATER_DEFAULTS, give_up_after=3)
    assert lived is None, f"idle connection closed after {lived} s"
