"""TLS on every hop, measured on the wire and under load:

- a marker the app writes crosses the lab network only encrypted: the client's write through HAProxy,
  its replication to the other nodes, and a full state transfer (SST) that copies it to a node whose
  state was thrown away. tcpdump records the whole lab network meanwhile; the marker is searched in the
  capture, which also holds the health checks' plain HTTP (proof that it records the nodes' traffic);
- a node with a certificate from another CA cannot join;
- playbooks/rotate_certificates.yml moves the cluster to a new CA under a continuous writer.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from labdb import (app_account, changed_tasks, endpoint, lab_ca_file, node_host, query, run_playbook, tls_options, wait_for,
                   wsrep_status)
from writer import ContinuousWriter, rows_on

testinfra_hosts = ["haproxy"]
TLS_DIR = "/etc/mysql/dbstack-tls"


def lab_bridge(lab: dict) -> str:
    network = next(iter(lab["hosts"].values()))["vars"]["dbstack_lab_name"]
    return subprocess.run(["podman", "network", "inspect", network, "--format", "{{.NetworkInterface}}"],
                          capture_output=True, text=True, check=True).stdout.strip()


class Capture:
    """tcpdump of every packet on the lab's bridge, whole packets, into a file; a 128 MiB buffer, since a
    dropped packet could be the one that holds the marker (the default 2 MiB dropped ~1.5 % during an SST)."""

    def __init__(self, interface: str, path: Path):
        self.path = path
        self.process = subprocess.Popen(["tcpdump", "-i", interface, "-s", "0", "-B", "131072", "-U", "-Z", "root",
                                         "-w", str(path)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: path.exists() and path.stat().st_size > 0, timeout=10, what="tcpdump writing")

    def stop(self) -> bytes:
        time.sleep(1)
        self.process.send_signal(signal.SIGINT)
        _out, err = self.process.communicate(timeout=20)
        assert b"0 packets dropped by kernel" in err, err.decode()
        return self.path.read_bytes()


def test_a_marker_never_crosses_the_network_in_clear(lab, tmp_path):
    account = app_account(lab)
    galera = lab["groups"]["galera"]
    joiner = node_host(lab, galera[-1])
    marker = f"dbstack-clear-text-{uuid.uuid4().hex}"
    capture = Capture(lab_bridge(lab), tmp_path / "lab.pcap")
    try:
        # The write, through HAProxy (TLS end to end), repeated so that a copy would lie whole in some packet.
        query(endpoint(lab), account, "CREATE TABLE IF NOT EXISTS tls_probe (id INT PRIMARY KEY, body MEDIUMTEXT)")
        query(endpoint(lab), account, "REPLACE INTO tls_probe VALUES (1, %s)", (" ".join([marker] * 500),))
        # Replication: every node holds it, read on each node directly.
        for name in galera:
            wait_for(lambda name=name: query(lab["hosts"][name]["ip"], account,
                                             "SELECT COUNT(*) FROM tls_probe WHERE id = 1")[0][0] == 1,
                     timeout=10, what=f"the marker on {name}")
        # A full state transfer: the joiner forgets its state, so it cannot catch up by IST.
        joiner.check_output("systemctl stop mariadb && rm -f /var/lib/mysql/grastate.dat /var/lib/mysql/galera.cache")
        since = joiner.check_output("date '+%Y-%m-%d %H:%M:%S'")
        joiner.check_output("systemctl start mariadb")
        wait_for(lambda: wsrep_status(lab["hosts"][galera[-1]]["ip"], account)["wsrep_local_state_comment"] == "Synced",
                 timeout=120, what="the joiner Synced after its SST")
    finally:
        packets = capture.stop()
    journal = joiner.check_output(f"journalctl -u mariadb --since '{since}' --no-pager")
    assert "Using openssl based encryption with socat" in journal, "the joiner received no TLS SST"
    assert "SST succeeded" in journal or "SST received" in journal, journal[-3000:]
    stored = query(lab["hosts"][galera[-1]]["ip"], account, "SELECT body FROM tls_probe WHERE id = 1")[0][0]
    assert marker in stored, "the SST did not copy the marker"
    print(f"\ncaptured {len(packets) / 1e6:.1f} MB on the lab network (write, replication, SST)")
    assert len(packets) > 1_000_000, "the capture is too small to hold an SST"
    assert b"up: Synced" in packets, "the capture lacks the health checks' plain HTTP: it saw no node traffic"
    assert marker.encode() not in packets


def other_ca_material(folder: Path, address: str) -> dict:
    """A CA the cluster does not trust, and a certificate from it for the node at `address`."""
    def openssl(*arguments):
        subprocess.run(["openssl", *arguments], check=True, capture_output=True, cwd=folder)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "2", "-subj", "/CN=another CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=intruder")
    (folder / "san.ext").write_text(f"subjectAltName=IP:{address}\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "san.ext", "-out", "server.pem")
    return {name: (folder / name).read_text() for name in ("ca.pem", "server.pem", "server.key")}


def test_a_node_with_a_certificate_from_another_ca_cannot_join(lab, tmp_path):
    account = app_account(lab)
    name = lab["groups"]["galera"][-1]
    node = node_host(lab, name)
    material = other_ca_material(tmp_path, lab["hosts"][name]["ip"])
    node.check_output(f"systemctl stop mariadb && cp -a {TLS_DIR} /root/dbstack-tls.saved")
    try:
        for file_name, text in material.items():
            node.check_output(f"cat > {TLS_DIR}/{file_name} <<'PEM'\n{text}PEM")
        since = node.check_output("date '+%Y-%m-%d %H:%M:%S'")
        node.check_output("systemctl start --no-block mariadb")
        # The joiner checks its peers' certificates against the other CA and gives up on each of them
        # (it would stop after pc.wait_prim_timeout, 30 s; the refusal shows well before).
        wait_for(lambda: "certificate verify failed" in node.check_output(
            f"journalctl -u mariadb --since '{since}' --no-pager"), timeout=60, what="the TLS refusal in the log")
        for peer in lab["groups"]["galera"][:-1]:
            assert wsrep_status(lab["hosts"][peer]["ip"], account)["wsrep_cluster_size"] == "2"
        node.run("systemctl stop mariadb")
    finally:
        node.check_output(f"rm -rf {TLS_DIR} && mv /root/dbstack-tls.saved {TLS_DIR}")
        node.run("systemctl reset-failed mariadb")
        node.check_output("systemctl start mariadb")
    wait_for(lambda: wsrep_status(lab["hosts"][name]["ip"], account)["wsrep_cluster_size"] == "3",
             timeout=120, what=f"{name} back in the cluster with its own certificate")


def served_certificate(ip: str, port: int) -> str:
    """The certificate a node presents on a port (Galera's replication port speaks TLS from the start)."""
    shown = subprocess.run(["openssl", "s_client", "-connect", f"{ip}:{port}"], input="", capture_output=True,
                           text=True, timeout=15, check=False).stdout
    return shown[shown.index("-----BEGIN CERTIFICATE-----"):shown.index("-----END CERTIFICATE-----") + 25] + "\n"


def verifies_against(certificate: str, ca: Path) -> bool:
    return subprocess.run(["openssl", "verify", "-CAfile", str(ca)], input=certificate, capture_output=True,
                          text=True, check=False).returncode == 0


def test_a_ca_rotation_under_a_continuous_writer_loses_nothing(lab, tmp_path):
    account = app_account(lab)
    pki = lab_ca_file().parent
    old_ca = pki / "ca.pem"
    old_ca_text = old_ca.read_text()
    writer = ContinuousWriter(endpoint(lab), 3306, account["user"], account["password"], account["database"],
                              rate=20, **tls_options()).start()
    time.sleep(2)
    started = time.monotonic()
    run_playbook("playbooks/rotate_certificates.yml", "-e", "dbstack_tls_rotate=ca")
    took = time.monotonic() - started
    time.sleep(2)
    report = writer.stop()
    acknowledged = {seq for seq, _acked_at in report.acknowledged}
    for name in lab["groups"]["galera"]:
        stored = rows_on(lab["hosts"][name]["ip"], 3306, account["user"], account["password"], account["database"])
        assert acknowledged <= stored, f"{name} lacks acknowledged writes {sorted(acknowledged - stored)[:10]}"
    print(f"\nCA rotation: {took:.1f} s, {len(acknowledged)} writes acknowledged, {len(report.failed)} failed "
          f"({len(report.in_doubt)} in doubt), longest gap {report.longest_gap:.2f} s")
    assert len(acknowledged) > 200
    assert report.failed == [], report.failed  # certificates are reloaded, no connection is cut

    assert (pki / "ca.pem").read_text() != old_ca_text and not (pki / "ca-previous.pem").exists()
    assert (pki / "ca-bundle.pem").read_text().count("BEGIN CERTIFICATE") == 1
    (tmp_path / "old-ca.pem").write_text(old_ca_text)
    for name in lab["groups"]["galera"]:
        served = served_certificate(lab["hosts"][name]["ip"], 4567)
        assert verifies_against(served, pki / "ca.pem") and not verifies_against(served, tmp_path / "old-ca.pem"), name
        # A client trusting only the new CA gets in on every node's client port.
        assert wsrep_status(lab["hosts"][name]["ip"], account)["wsrep_cluster_size"] == "3"
    for app in lab["groups"].get("app", []):  # galera_trixie has no app host
        reported = json.loads(node_host(lab, app).check_output("dbstack-smoke smoke tls --json"))
        assert reported["tls_cipher"], reported
        # The db_client bundle, which the app reads at each new connection, holds the new CA alone.
        installed = node_host(lab, app).check_output("cat /etc/dbstack/db-ca.pem")
        assert installed.strip() == (pki / "ca-bundle.pem").read_text().strip(), app
    # A re-run of site.yml after the rotation changes nothing.
    assert changed_tasks(run_playbook("playbooks/site.yml").stdout) == []


@pytest.fixture(autouse=True, scope="module")
def _cluster_whole_at_the_end(lab):
    yield
    account = app_account(lab)
    for name in lab["groups"]["galera"]:
        wait_for(lambda name=name: wsrep_status(lab["hosts"][name]["ip"], account)["wsrep_cluster_size"] == "3",
                 timeout=120, what=f"{name} in a whole cluster")
