"""TLS by default, measured on the deployed lab: who gets in, who is refused and with what error, where
the keys are and who may read them, and what the Ansible output never shows.

The clients are the ones an application has: PyMySQL (here, on the controller, with the options the
smoke app's PyMySQL settings use) and mysqlclient over MariaDB Connector/C (on the app host, through
Django and through the option file of the db_client role, which the smoke app's settings point at)."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import threading
from contextlib import contextmanager, suppress
from pathlib import Path

import pymysql
import pytest

from labdb import as_read, changed_tasks, endpoint, lab_ca_file, node_host, run_playbook

# inventories/lab/group_vars/all.yml (the inventory the tests read leaves its templates unrendered).
ACCOUNT = {"user": "smoke", "password": "lab-only-smoke-secret", "database": "smoke"}
TLS_DIR = "/etc/mysql/dbstack-tls"
# The db_client role's files, which the smoke app's settings point at (docs/db_client.md).
APP_CLIENT_CNF = "/etc/dbstack/db-client.cnf"
APP_ENV_FILE = "/etc/dbstack/db.env"
APP_CA_FILE = "/etc/dbstack/db-ca.pem"


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory) -> Path:
    """A CA that issued nothing in the lab: a client trusting only it must refuse every node."""
    folder = tmp_path_factory.mktemp("other-ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", folder / "ca.key", "-out", folder / "ca.pem", "-days", "2",
                    "-subj", "/CN=a CA the lab does not use"], check=True, capture_output=True)
    return folder / "ca.pem"


def session_tls(address: str, **options) -> dict:
    with pymysql.connect(host=address, user=ACCOUNT["user"], password=ACCOUNT["password"],
                         database=ACCOUNT["database"], connect_timeout=5, **options) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')")
            return dict(cursor.fetchall())


@pytest.mark.measures_the_deployment
def test_a_client_without_tls_is_refused_and_the_same_login_with_tls_gets_in(lab):
    """MariaDB 10.11 answers a login without TLS under require_secure_transport with 1045 "Access denied"
    (its own wording, not a TLS message): the same password over TLS gets in."""
    addresses = [endpoint(lab)] + [lab["hosts"][name]["ip"] for name in lab["groups"]["galera"]]
    for address in addresses:
        with pytest.raises(pymysql.err.OperationalError) as refused:
            session_tls(address, ssl_disabled=True)
        assert refused.value.args[0] == 1045, (address, refused.value.args)
        status = session_tls(address, ssl={"ca": str(lab_ca_file())})
        assert status["Ssl_version"] in ("TLSv1.2", "TLSv1.3") and status["Ssl_cipher"], (address, status)


@pytest.mark.measures_the_deployment
def test_pymysql_refuses_a_server_its_ca_did_not_sign(lab, other_ca):
    with pytest.raises(pymysql.err.OperationalError) as refused:
        session_tls(endpoint(lab), ssl={"ca": str(other_ca)})
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value), refused.value.args


@contextmanager
def forward(target: str, port: int = 3306):
    """A TCP forward on 127.0.0.2 (a name no certificate carries) to target:port; yields the port."""
    listener = socket.create_server(("127.0.0.2", 0))
    stop = threading.Event()

    def pipe(source, sink):
        with source, sink, suppress(OSError):  # either side may hang up first
            while chunk := source.recv(65536):
                sink.sendall(chunk)

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _address = listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection((target, port), timeout=5)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.measures_the_deployment
def test_pymysql_refuses_a_certificate_that_does_not_name_the_address_it_dialled(lab):
    """The certificates name the nodes, the VIP, the HAProxy hosts and the loopback address 127.0.0.1;
    through a forward on 127.0.0.2 the same server must fail the name check, and pass without it."""
    ca = str(lab_ca_file())
    with forward(endpoint(lab)) as port:
        with pytest.raises(pymysql.err.OperationalError) as refused:
            session_tls("127.0.0.2", port=port, ssl={"ca": ca})
        assert "IP address mismatch" in str(refused.value), refused.value.args
        assert session_tls("127.0.0.2", port=port, ssl={"ca": ca, "check_hostname": False})["Ssl_cipher"]


@pytest.mark.measures_the_deployment
def test_the_smoke_app_connects_with_tls_through_haproxy(lab):
    app = node_host(lab, lab["groups"]["app"][0])
    reported = json.loads(app.check_output("dbstack-smoke smoke tls --json"))
    assert reported["driver"].startswith("mysqlclient ")
    assert reported["tls_version"] in ("TLSv1.2", "TLSv1.3") and reported["tls_cipher"], reported
    assert reported["host"] == endpoint(lab)


@pytest.mark.measures_the_deployment
def test_mysqlclient_checks_the_ca_and_the_name_with_the_apps_options(lab, other_ca):
    """mysqlclient 1.4 over Connector/C 3.3 checks only the chain when given a CA; the option file the app's
    settings name adds the name check (ssl-verify-server-cert=1). Measured here with the app's own file."""
    app = node_host(lab, lab["groups"]["app"][0])
    app.check_output("grep -q ' notinthecertificate$' /etc/hosts || echo '{} notinthecertificate' >> /etc/hosts"
                     .format(endpoint(lab)))
    app.check_output(f"cat > /tmp/other-ca.pem <<'PEM'\n{other_ca.read_text()}PEM")
    app.check_output(f"sed 's|^ssl-ca = .*|ssl-ca = /tmp/other-ca.pem|' {APP_CLIENT_CNF} > /tmp/other-ca.cnf")
    script = (
        "import sys, MySQLdb\n"
        "try:\n"
        "    MySQLdb.connect(host=sys.argv[1], user='smoke', passwd='lab-only-smoke-secret', db='smoke',"
        " read_default_file=sys.argv[2], connect_timeout=5).close(); print('connected')\n"
        "except MySQLdb.OperationalError as error:\n"
        "    print(error.args[0], error.args[1])\n"
    )
    app.check_output(f"cat > /tmp/tls_client.py <<'PY'\n{script}PY")

    def attempt(address, cnf):
        return app.check_output(f"python3 /tmp/tls_client.py {address} {cnf}")

    assert attempt(endpoint(lab), APP_CLIENT_CNF) == "connected"
    assert attempt("notinthecertificate", APP_CLIENT_CNF) == "2026 TLS/SSL error: Validation of SSL server certificate failed"
    assert attempt(endpoint(lab), "/tmp/other-ca.cnf").startswith("2026 TLS/SSL error: self-signed certificate")


@pytest.mark.measures_the_deployment
def test_the_db_client_files_alone_reach_the_database_and_agree_with_haproxy(lab):
    """What a user's app host gets (db_client): the option file alone, with no host given, brings
    mysqlclient to the endpoint over verified TLS; the environment file's values are the endpoint and
    the numbers HAProxy was configured with: CONN_MAX_AGE below its timeout, Celery's limit the task length."""
    app = node_host(lab, lab["groups"]["app"][0])
    script = (
        "import sys, MySQLdb\n"
        "db = MySQLdb.connect(user='smoke', passwd='lab-only-smoke-secret', read_default_file=sys.argv[1])\n"
        "cursor = db.cursor()\n"
        "cursor.execute(\"SHOW SESSION STATUS LIKE 'Ssl_version'\")\n"
        "print(cursor.fetchone()[1])\n"
    )
    app.check_output(f"cat > /tmp/option_file_alone.py <<'PY'\n{script}PY")
    assert app.check_output(f"python3 /tmp/option_file_alone.py {APP_CLIENT_CNF}") in ("TLSv1.2", "TLSv1.3")

    settings = dict(line.split("=", 1) for line in app.check_output(f"cat {APP_ENV_FILE}").splitlines()
                    if line and not line.startswith("#"))
    haproxy = node_host(lab, lab["groups"]["haproxy"][0])
    # The MySQL listener's own section (the stats listener has timeouts of its own).
    lines = haproxy.check_output("awk '/^listen mysql$/ {on = 1; next} /^[a-z]/ {on = 0} "
                                 "on && $1 == \"timeout\" && ($2 == \"client\" || $2 == \"server\") {print $2, $3}' "
                                 "/etc/haproxy/haproxy.cfg").splitlines()
    timeouts = dict(line.split() for line in lines)
    # dbstack_max_task_length 15m, wait_timeout 28800: derived 1125s, written with its unit.
    assert timeouts == {"client": "1125s", "server": "1125s"}, timeouts
    assert settings["DBSTACK_DB_HOST"] == endpoint(lab) and settings["DBSTACK_DB_PORT"] == "3306", settings
    assert float(settings["DBSTACK_HAPROXY_TIMEOUT_SECONDS"]) == 1125
    assert 0 < int(settings["DBSTACK_DB_CONN_MAX_AGE"]) < 1125
    assert int(settings["DBSTACK_CELERY_TASK_TIME_LIMIT"]) == 900
    assert (settings["DBSTACK_DB_CA_FILE"], settings["DBSTACK_DB_OPTION_FILE"]) == (APP_CA_FILE, APP_CLIENT_CNF)
    assert app.check_output(f"cat {APP_CA_FILE}").strip() == lab_ca_file().read_text().strip()
    for path in (APP_CA_FILE, APP_CLIENT_CNF, APP_ENV_FILE):
        assert app.file(path).mode == 0o644 and app.file(path).user == "root", path
    # The smoke app reads the same values: what is tested is what users get.
    smoke = json.loads(app.check_output("dbstack-smoke smoke config --json"))
    assert smoke["conn_max_age"] == int(settings["DBSTACK_DB_CONN_MAX_AGE"]), smoke


def test_key_files_are_readable_by_mariadb_only(lab):
    for name in lab["groups"]["galera"]:
        node = node_host(lab, name)
        key = node.file(f"{TLS_DIR}/server.key")
        assert (key.user, key.group, key.mode) == ("root", "mysql", 0o640), name
        assert node.file(TLS_DIR).mode == 0o750
        for public in ("ca.pem", "server.pem"):
            assert node.file(f"{TLS_DIR}/{public}").mode == 0o644
        assert node.file("/etc/mysql/mariadb.conf.d/98-dbstack-sst-auth.cnf").mode == 0o640
        # The CA's key stays on the controller.
        assert "PRIVATE KEY" not in node.check_output(f"cat {TLS_DIR}/ca.pem")


def test_the_controllers_ca_key_and_node_keys_are_private(lab):
    pki = lab_ca_file().parent
    assert stat.S_IMODE(pki.stat().st_mode) == 0o700
    for key in [pki / "ca.key", *sorted((pki / "nodes").glob("*.key"))]:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


# Work on the controller (a new CA in a new PKI directory, certificates from it) is not a change on a host.
CONTROLLER_TASKS = ("Create the controller's PKI directories", "Create the CA's private key", "Describe the CA",
                    "Create the CA certificate", "Write the bundle of trusted CAs", "Create this node's private key",
                    "Describe this node's certificate", "Issue this node's certificate from the CA")


@pytest.mark.parametrize("case", ["tls off, secure transport on", "key and certificate of different nodes",
                                  "a PKI directory the nodes never saw"])
def test_bad_tls_input_stops_site_yml_before_any_host_changes(lab, case, tmp_path):
    pki = lab_ca_file().parent
    if case == "a PKI directory the nodes never saw":
        arguments = ["-e", f"dbstack_tls_pki_dir={tmp_path / 'lost-pki'}"]
        expected = [f"trusts CAs that are not in {tmp_path / 'lost-pki'}/ca-bundle.pem",
                    "Restore the PKI directory the cluster was deployed with"]
    elif case == "tls off, secure transport on":
        arguments = ["-e", "mariadb_galera_tls=false"]
        expected = ["mariadb_galera_require_secure_transport=true but mariadb_galera_tls=false"]
    else:
        galera2_ip = lab["hosts"]["galera2"]["ip"]
        arguments = ["-e", f"dbstack_tls_ca_cert={pki}/ca-bundle.pem", "-e", f"mariadb_galera_tls_cert={pki}/nodes/galera1.pem",
                     "-e", f"mariadb_galera_tls_key={pki}/nodes/galera2.key"]
        expected = ["mariadb_galera_tls_key does not match mariadb_galera_tls_cert",
                    f"mariadb_galera_tls_cert does not name {galera2_ip} in its subjectAltName"]
    result = run_playbook("playbooks/site.yml", *arguments, check=False)
    assert result.returncode != 0
    for message in expected:
        assert message in as_read(result.stdout), result.stdout[-3000:]
    on_hosts = [task for task in changed_tasks(result.stdout) if not task.split(" : ", 1)[-1].startswith(CONTROLLER_TASKS)]
    assert on_hosts == [], on_hosts
