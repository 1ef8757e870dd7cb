"""Helpers the scenarios' tests share: SQL to the lab's nodes, the health endpoint, playbook runs.

Everything goes to the lab containers' own addresses (reachable from the host that runs podman).
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pymysql

PROJECT = Path(__file__).resolve().parents[2]
# The haproxy role's runtime tool on an HAProxy host (roles/haproxy/files/haproxy_runtime.py).
HAPROXY_RUNTIME = "python3 /usr/local/libexec/dbstack-haproxy-runtime.py /run/haproxy/admin.sock"


def app_account(lab: dict) -> dict:
    """The smoke app's account and database where the inventory sets them (the lab's settings), else the
    first application account it declares. The inventory the tests read does not render templates, and
    the lab's mariadb_galera_users are written from the smoke_app_db_* values."""
    any_vars = next(iter(lab["hosts"].values()))["vars"]
    if "smoke_app_db_user" in any_vars:
        return {"user": any_vars["smoke_app_db_user"], "password": any_vars["smoke_app_db_password"],
                "database": any_vars["smoke_app_db_name"]}
    user = any_vars["mariadb_galera_users"][0]
    return {"user": user["name"], "password": user["password"], "database": any_vars["mariadb_galera_databases"][0]["name"]}


def lab_ca_file() -> Path | None:
    """The CA bundle the collection issued the scenario's certificates from (beside its inventory)."""
    inventory_file = os.environ.get("MOLECULE_INVENTORY_FILE")
    if not inventory_file:
        return None
    bundle = Path(f"{Path(inventory_file).parent}-dbstack-pki") / "ca-bundle.pem"
    return bundle if bundle.is_file() else None


def install_client_tls(container: str, pki: Path, directory: str, common_name: str) -> list[str]:
    """Put a lab CA bundle and a client certificate from the lab's CA into `directory` of a container, and
    return the start of a sysbench command line that connects over TLS with them.

    Debian 12's sysbench 1.0.20 has no options for the files: --mysql-ssl=on makes it read cacert.pem,
    client-cert.pem and client-key.pem from its working directory (error 2026 if one is missing), and
    the server refuses a client certificate its CA did not issue ("unknown ca"). The certificate is
    issued here, where the CA key is (`pki`, the roles' PKI directory), valid 7 days."""
    with tempfile.TemporaryDirectory() as temp:
        key, csr, cert, ext = (Path(temp) / name for name in ("key.pem", "req.csr", "cert.pem", "ext.cnf"))
        ext.write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                       "extendedKeyUsage=clientAuth\n")
        for command in (["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                         "-keyout", key, "-subj", f"/CN={common_name}", "-out", csr],
                        ["openssl", "x509", "-req", "-in", csr, "-CA", pki / "ca.pem", "-CAkey", pki / "ca.key",
                         "-set_serial", f"0x{secrets.token_hex(16)}", "-days", "7", "-extfile", ext, "-out", cert],
                        ["podman", "exec", container, "install", "-d", "-m", "700", directory]):
            run_command(command)
        for source, name in ((pki / "ca-bundle.pem", "cacert.pem"), (cert, "client-cert.pem"), (key, "client-key.pem")):
            run_command(["podman", "cp", source, f"{container}:{directory}/{name}"])
    return ["env", f"--chdir={directory}", "sysbench", "--mysql-ssl=on"]


def tls_options() -> dict:
    """PyMySQL's options for TLS that checks the server certificate's CA and name, as the app does."""
    ca = lab_ca_file()
    return {"ssl": {"ca": str(ca)}} if ca else {}


def connect(ip: str, account: dict, port: int = 3306, **kwargs) -> pymysql.connections.Connection:
    options = dict(connect_timeout=5, read_timeout=30, autocommit=True, **tls_options())
    options.update(kwargs)
    return pymysql.connect(host=ip, port=port, user=account["user"], password=account["password"],
                           database=account["database"], **options)


def query(ip: str, account: dict, sql: str, args=None, port: int = 3306):
    with connect(ip, account, port) as connection, connection.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.fetchall()


def wsrep_status(ip: str, account: dict) -> dict:
    rows = query(ip, account, "SHOW GLOBAL STATUS LIKE 'wsrep_%'")
    return dict(rows)


def health(ip: str, port: int = 9200, timeout: float = 5.0) -> tuple[int, str]:
    """(HTTP status, body) of a node's Galera health endpoint."""
    with socket.create_connection((ip, port), timeout=timeout) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\nHost: check\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    head, _separator, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body.strip()


def wait_for(predicate, timeout: float, interval: float = 0.5, what: str = "condition"):
    """Poll predicate() until it returns a truthy value; raise with what was last seen."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as error:  # the thing we wait for may refuse connections meanwhile
            last = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last seen: {last!r}")


def run_command(argv: list, cwd: Path = PROJECT, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command (Ansible's tools, as a user would), its output captured; check=True fails the
    test with that output when it exits non-zero."""
    argv = [str(argument) for argument in argv]
    process = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and process.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed (rc={process.returncode}):\n{process.stdout[-6000:]}\n"
                             f"{process.stderr[-2000:]}")
    return process


def run_playbook(playbook: str | Path, *args: str, inventory: str | Path | None = None, extra_vars: dict | None = None,
                 env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a playbook (a path relative to the project, or absolute) with the venv's ansible-playbook and the
    project's ansible.cfg, as a user would: the one way tests and benchmarks launch playbooks.

    inventory: by default the molecule scenario's (the directory of MOLECULE_INVENTORY_FILE, with its
    group_vars); extra_vars: passed as one JSON -e; env: variables over os.environ (e.g. a callback)."""
    if inventory is None:
        inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    environment = {**os.environ, "ANSIBLE_CONFIG": str(PROJECT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0", **(env or {})}
    extra = ["-e", json.dumps(extra_vars)] if extra_vars else []
    bindir = Path(sys.executable).parent
    return run_command([bindir / "ansible-playbook", "-i", inventory, *extra, PROJECT / playbook, *args],
                       env=environment, check=check)


def changed_tasks(output: str) -> list[str]:
    """'TASK NAME: host' for every task an ansible-playbook run reported as changed (default callback)."""
    found, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK [") or line.startswith("RUNNING HANDLER ["):
            task = line.split("[", 1)[1].rsplit("]", 1)[0]
        elif line.startswith("changed: ["):
            found.append(f"{task}: {line.split('[', 1)[1].split(']', 1)[0]}")
    return found


def as_read(output: str) -> str:
    """Ansible output as a reader sees it, for finding a message in it: whitespace and YAML line folds
    collapsed to single spaces, and the doubled quote of a single-quoted YAML string ('it''s', as
    ansible-core before 2.19 prints a message) undone."""
    return " ".join(output.replace("''", "'").split())


def node_host(lab: dict, name: str):
    """testinfra host of one lab host, through testinfra's podman backend."""
    import testinfra  # only the tests need it; the benchmarks import this module too

    return testinfra.get_host(f"podman://{lab['hosts'][name]['container']}")


def lab_vip(lab: dict) -> str:
    """The lab's virtual IP, or "" when the scenario sets none. The lab's inventory computes it (.100 of
    the lab's own subnet, inventories/lab/group_vars/all.yml); the inventory the tests read does not
    render templates, so the same rule is applied here."""
    any_vars = next(iter(lab["hosts"].values()))["vars"]
    vip = any_vars.get("dbstack_vip", "")
    if "{{" in vip:
        return str(ipaddress.ip_network(any_vars["dbstack_lab_subnet"]).network_address + 100)
    return vip


def endpoint(lab: dict) -> str:
    """Where applications connect: the VIP, or the only HAProxy host's own address."""
    return lab_vip(lab) or lab["hosts"][lab["groups"]["haproxy"][0]]["ip"]


def vip_holders(lab: dict) -> list[str]:
    """The HAProxy hosts that have the VIP on an interface (one, except while VRRP settles); a host that
    is down holds nothing."""
    address = lab_vip(lab)
    return [name for name in lab["groups"]["haproxy"]
            if f" {address}/" in node_host(lab, name).run("ip -o -4 addr show").stdout]


def haproxy_server_up(lab: dict, haproxy: str, server: str, proxy: str = "mysql") -> bool:
    """Whether one HAProxy host has `server` of `proxy` up (operational state 2 in `show servers state`:
    be_id be_name srv_id srv_name srv_addr srv_op_state ...)."""
    states = node_host(lab, haproxy).check_output(f"{HAPROXY_RUNTIME} show servers state {proxy}")
    return any(fields[3:4] == [server] and fields[5:6] == ["2"] for fields in map(str.split, states.splitlines()))


def writer_name(lab: dict, account: dict) -> str:
    """The Galera node HAProxy sends a new connection to."""
    with connect(endpoint(lab), account, connect_timeout=3, read_timeout=10) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT @@wsrep_node_name")
        return cursor.fetchone()[0]


def writer_and_the_others(lab: dict, account: dict) -> tuple[str, list[str]]:
    """Once the cluster is whole: the node HAProxy writes to, and the other Galera nodes."""
    wait_whole(lab, account)
    writer = writer_name(lab, account)
    return writer, [name for name in lab["groups"]["galera"] if name != writer]


def haproxy_writer(lab: dict, haproxy: str) -> str:
    """The node this HAProxy host sends new connections to: its stick table's, while that node is up."""
    return node_host(lab, haproxy).check_output(f"{HAPROXY_RUNTIME} --writer mysql").strip()


def haproxy_writers(lab: dict) -> dict:
    """{HAProxy host: haproxy_writer} for every HAProxy host."""
    return {name: haproxy_writer(lab, name) for name in lab["groups"]["haproxy"]}


def require_one_writer(lab: dict, address: str, account: dict, node: str) -> Counter:
    """Assert that every HAProxy host's stick table names `node` the writer and that every new connection
    of nodes_of_concurrent_connections through `address` lands there; returns where they landed."""
    writers = haproxy_writers(lab)
    assert set(writers.values()) == {node}, writers
    landed = nodes_of_concurrent_connections(address, account)
    assert set(landed) == {node}, landed
    return landed


def nodes_of_concurrent_connections(address: str, account: dict, clients: int = 4, each: int = 50) -> Counter:
    """How many of `clients` x `each` new connections, opened by clients at the same time, landed on
    each Galera node. A writer choice that holds for one client at a time can still fail here: HAProxy
    choosing a server for several connections at once is where a stick table that is too small lost
    its entry."""
    landed: Counter = Counter()
    lock = threading.Lock()

    def client():
        for _connection_number in range(each):
            with connect(address, account, connect_timeout=3, read_timeout=10) as connection:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT @@wsrep_node_name")
                    name = cursor.fetchone()[0]
            with lock:
                landed[name] += 1

    threads = [threading.Thread(target=client) for _client_number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return landed


def cluster_whole(lab: dict, account: dict) -> bool:
    """Every node Synced in one Primary component of all of them, its health endpoint up, and
    HAProxy passing connections to one of them again (it waits for `rise` good checks)."""
    nodes = lab["groups"]["galera"]
    for name in nodes:
        ip = lab["hosts"][name]["ip"]
        status = wsrep_status(ip, account)
        if (status.get("wsrep_local_state_comment"), status.get("wsrep_cluster_status"),
                status.get("wsrep_cluster_size")) != ("Synced", "Primary", str(len(nodes))):
            return False
        if health(ip, timeout=2)[0] != 200:
            return False
    return writer_name(lab, account) in nodes


def wait_whole(lab: dict, account: dict, timeout: float = 180) -> None:
    wait_for(lambda: cluster_whole(lab, account), timeout=timeout, interval=1,
             what="every node Synced and healthy, and HAProxy with a writer")


def kill_all_nodes(lab: dict) -> None:
    """A full outage: SIGKILL every mariadbd, then stop the unit so Debian's Restart=on-abnormal
    does not bring it back. Every grastate.dat is left with seqno -1, as after a power loss."""
    for name in lab["groups"]["galera"]:
        node = node_host(lab, name)
        node.check_output("systemctl kill -s KILL mariadb; sleep 0.5; systemctl stop mariadb")
        assert "seqno:   -1" in node.file("/var/lib/mysql/grastate.dat").content_string
