"""dbstack.galera.tls_problems, tls_pem and tls_subject_alt_names: TLS material the inventory brings,
checked before any node uses it, with real certificates made here by `cryptography`. tests/integration
renders their sidecars in ansible-doc and runs their EXAMPLES."""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.dbstack.galera.plugins.filter.tls_problems import FilterModule

NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
NAMES = ["10.0.0.11"]


@pytest.fixture(scope="module")
def problems():
    return FilterModule().filters()["tls_problems"]


def _pem(obj) -> str:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM).decode()
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def make_ca(name="test CA", not_after=NOW + 365 * DAY):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - DAY).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def make_node(ca, sans=("galera1", "10.0.0.11"), not_before=NOW - DAY, not_after=NOW + 90 * DAY):
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    entries = []
    for name in sans:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "node")]))
               .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after))
    if entries:
        builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


@pytest.fixture(scope="module")
def ca():
    return make_ca()


@pytest.fixture(scope="module")
def good(ca):
    cert, key = make_node(ca)
    return {"ca": _pem(ca[0]), "cert": _pem(cert), "key": _pem(key)}


def test_matching_material_has_no_problem(problems, good):
    assert problems(good, names=NAMES + ["galera1"]) == []


def test_paths_on_the_controller_work_like_pem_text(problems, good, tmp_path):
    paths = {}
    for part, text in good.items():
        paths[part] = str(tmp_path / f"{part}.pem")
        Path(paths[part]).write_text(text)
    assert problems(paths, names=NAMES) == []


def test_every_missing_value_is_named(problems):
    found = problems({"ca": "", "cert": "", "key": " "})
    variables = ["mariadb_galera_tls_ca_cert", "mariadb_galera_tls_cert", "mariadb_galera_tls_key"]
    assert [p.split()[0] for p in found] == variables
    assert all("is empty" in p for p in found)


def test_an_unreadable_file_is_named_with_the_reason(problems, good, tmp_path):
    missing = str(tmp_path / "nowhere.pem")
    found = problems({**good, "key": missing})
    assert found == [f"mariadb_galera_tls_key: cannot read {missing}: No such file or directory. Fix the path, "
                     "or the file's permissions for the user that runs ansible-playbook."]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_read_permission_is_named(problems, good, tmp_path):  # pragma: no cover - CI runs as root
    path = tmp_path / "key.pem"
    path.write_text(good["key"])
    path.chmod(0)
    assert "Permission denied" in problems({**good, "key": str(path)})[0]


def test_a_file_without_pem_is_refused(problems, good, tmp_path):
    path = tmp_path / "cert.der"
    path.write_bytes(b"\x30\x82\x01")
    assert problems({**good, "cert": str(path)}) == [
        f"mariadb_galera_tls_cert: {path} holds no PEM block (-----BEGIN ...); give a PEM file."]


def test_a_key_from_another_pair_is_refused(problems, good, ca):
    _other_cert, other_key = make_node(ca)
    found = problems({**good, "key": _pem(other_key)}, names=NAMES)
    assert found == ["mariadb_galera_tls_key does not match mariadb_galera_tls_cert: the key is not the one the "
                     "certificate was issued for. Give the key and certificate of the same pair."]


def test_an_encrypted_key_is_refused_without_quoting_it(problems, good):
    key = serialization.load_pem_private_key(good["key"].encode(), None)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"passphrase")).decode()
    found = problems({**good, "key": encrypted})
    assert found == ["mariadb_galera_tls_key cannot be used: it is encrypted with a passphrase. Give the "
                     "unencrypted PEM key (keep it in a vault)."]


def test_a_certificate_from_another_ca_is_refused(problems, good):
    other = make_ca("another CA")
    cert, key = make_node(other)
    found = problems({**good, "cert": _pem(cert), "key": _pem(key)}, names=NAMES)
    assert found == ["mariadb_galera_tls_cert (issuer CN=another CA) was not issued by a CA in "
                     "mariadb_galera_tls_ca_cert (CN=test CA). Give the CA that signed it (with any intermediate "
                     "CA) in the bundle."]


def test_a_ca_with_the_same_name_but_another_key_is_refused(problems, good):
    impostor = make_ca("test CA")
    found = problems({**good, "ca": _pem(impostor[0])}, names=NAMES)
    assert len(found) == 1 and "was not issued by a CA in" in found[0]


def test_a_bundle_of_two_cas_accepts_a_certificate_from_either(problems, good, ca):
    new_ca = make_ca("new CA")
    cert, key = make_node(new_ca)
    bundle = good["ca"] + _pem(new_ca[0])
    assert problems({"ca": bundle, "cert": good["cert"], "key": good["key"]}, names=NAMES) == []
    assert problems({"ca": bundle, "cert": _pem(cert), "key": _pem(key)}, names=NAMES) == []


def test_expired_and_not_yet_valid_certificates_are_refused(problems, ca):
    expired, key = make_node(ca, not_before=NOW - 10 * DAY, not_after=NOW - DAY)
    found = problems({"ca": _pem(ca[0]), "cert": _pem(expired), "key": _pem(key)}, names=NAMES)
    assert found == [f"mariadb_galera_tls_cert expired on {(NOW - DAY):%Y-%m-%d}. Issue a new certificate."]
    future, key = make_node(ca, not_before=NOW + DAY)
    found = problems({"ca": _pem(ca[0]), "cert": _pem(future), "key": _pem(key)}, names=NAMES)
    assert len(found) == 1 and found[0].startswith("mariadb_galera_tls_cert is not valid before ")


def test_a_certificate_expiring_within_min_days_is_refused(problems, good):
    assert problems(good, names=NAMES, min_days=30) == []
    found = problems(good, names=NAMES, min_days=120)
    assert len(found) == 1 and "within 120 days" in found[0]


def test_an_expired_ca_is_refused(problems):
    old = make_ca("old CA", not_after=NOW - DAY)
    cert, key = make_node(old, not_after=NOW + DAY)
    found = problems({"ca": _pem(old[0]), "cert": _pem(cert), "key": _pem(key)}, names=NAMES)
    assert found == [f"mariadb_galera_tls_ca_cert: the CA CN=old CA expired on {(NOW - DAY):%Y-%m-%d}. Renew "
                     "the CA and reissue the certificates."]


def test_names_missing_from_the_san_are_listed(problems, good):
    found = problems(good, names=["10.0.0.11", "galera1", "10.0.0.12", "galera2.example"])
    assert found == ["mariadb_galera_tls_cert does not name 10.0.0.12, galera2.example in its subjectAltName "
                     "(it has: galera1, 10.0.0.11). Issue it with those names (DNS names, IP addresses as IP "
                     "entries)."]


def test_an_address_written_as_a_dns_name_does_not_count(problems, ca):
    cert, key = make_node(ca, sans=())
    no_san = problems({"ca": _pem(ca[0]), "cert": _pem(cert), "key": _pem(key)}, names=NAMES)
    assert no_san and "(it has: none)" in no_san[0]
    cert = x509.CertificateBuilder().subject_name(cert.subject).issuer_name(ca[0].subject).public_key(
        key.public_key()).serial_number(1).not_valid_before(NOW - DAY).not_valid_after(NOW + DAY).add_extension(
        x509.SubjectAlternativeName([x509.DNSName("10.0.0.11")]), critical=False).sign(ca[1], hashes.SHA256())
    found = problems({"ca": _pem(ca[0]), "cert": _pem(cert), "key": _pem(key)}, names=NAMES)
    assert len(found) == 1 and "does not name 10.0.0.11" in found[0]


def test_a_wildcard_covers_one_label(problems, ca):
    cert, key = make_node(ca, sans=("*.db.example", "10.0.0.11"))
    material = {"ca": _pem(ca[0]), "cert": _pem(cert), "key": _pem(key)}
    assert problems(material, names=["galera1.db.example"]) == []
    assert problems(material, names=["a.galera1.db.example"]) != []


def test_no_message_quotes_key_material(problems, good, ca):
    _cert, other_key = make_node(ca)
    body = [line for line in _pem(other_key).splitlines() if not line.startswith("-----")]
    for found in (problems({**good, "key": _pem(other_key)}), problems({**good, "key": "-----BEGIN junk"})):
        assert found and not any(line in p for p in found for line in body)


def test_bad_arguments_are_filter_errors(problems, good):
    with pytest.raises(AnsibleFilterError, match="keys ca, cert and key"):
        problems({"ca": "x"})
    with pytest.raises(AnsibleFilterError, match="names must be a list"):
        problems(good, names="galera1")
    with pytest.raises(AnsibleFilterError, match="min_days must be a whole number"):
        problems(good, min_days="soon")


def test_tls_pem_reads_a_path_and_names_the_variable():
    tls_pem = FilterModule().filters()["tls_pem"]
    assert tls_pem("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n").startswith("-----BEGIN")
    with pytest.raises(AnsibleFilterError, match=r"^tls_pem: smoke_app_db_tls_ca_cert: cannot read /nowhere"):
        tls_pem("/nowhere", "smoke_app_db_tls_ca_cert")


def test_subject_alt_names_types_and_dedupes():
    san = FilterModule().filters()["tls_subject_alt_names"]
    assert san(["galera1", "10.0.0.11", "Galera1", "", None, "::1", "db.example"]) == [
        "DNS:galera1", "IP:10.0.0.11", "IP:::1", "DNS:db.example"]
    with pytest.raises(AnsibleFilterError, match="neither an IP address nor a DNS name"):
        san(["two words"])
    with pytest.raises(AnsibleFilterError, match="expected a list"):
        san("galera1")
