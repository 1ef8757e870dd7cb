# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks of a node's TLS material (CA bundle, certificate, key) before any host uses it.

Each value is PEM text or the path of a PEM file on the controller (the inventory may hold either,
from a vault or beside the inventory). Problems come back as sentences that name the variable and
the fix; they never quote key material. Needs the `cryptography` package, which ansible-core itself
requires on the controller.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

# cryptography is imported by the functions that read certificates and keys, not here: Ansible loads
# every filter file of the collection (and so this module) in each worker process that resolves any
# of its filters, and importing cryptography there took 12 % of a site.yml re-run's controller CPU.

__all__ = ["TlsError", "node_problems", "read_pem", "subject_alt_names"]

_PEM_MARK = "-----BEGIN "


class TlsError(ValueError):
    """TLS material that cannot be read as given."""


def read_pem(value, variable):
    """PEM text from `value` (PEM text itself, or a path on the controller); TlsError names `variable`."""
    if not isinstance(value, str) or not value.strip():
        raise TlsError(f"{variable} is empty: set it to PEM text (for example from a vault) or to the path of a "
                       "PEM file on the controller.")
    if _PEM_MARK in value:
        return value
    path = Path(value).expanduser()
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        raise TlsError(f"{variable}: cannot read {value}: {e.strerror or e}. Fix the path, or the file's "
                       "permissions for the user that runs ansible-playbook.") from e
    if _PEM_MARK not in text:
        raise TlsError(f"{variable}: {value} holds no PEM block (-----BEGIN ...); give a PEM file.")
    return text


def subject_alt_names(names):
    """['DNS:name', 'IP:address', ...] for a certificate: addresses as IP entries, each once, in order.

    Clients check the name they connect to against these entries, and an IP address only matches an
    IP entry, never a DNS one.
    """
    entries = []
    for name in names:
        name = str(name).strip() if name is not None else ""
        if not name:
            continue
        try:
            entry = f"IP:{ipaddress.ip_address(name)}"
        except ValueError:
            if any(c.isspace() for c in name) or "," in name:
                raise TlsError(f"{name!r} is neither an IP address nor a DNS name.") from None
            entry = f"DNS:{name.lower()}"
        if entry not in entries:
            entries.append(entry)
    return entries


def _certificates(pem, variable):
    from cryptography import x509

    try:
        found = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as e:
        raise TlsError(f"{variable} holds no readable X.509 certificate ({e}).") from e
    return found


def _names(cert):
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    dns = {name.lower() for name in san.get_values_for_type(x509.DNSName)}
    ips = {str(address) for address in san.get_values_for_type(x509.IPAddress)}
    return dns, ips


def _covers(name, dns, ips):
    try:
        return str(ipaddress.ip_address(name)) in ips
    except ValueError:
        name = name.lower()
        return name in dns or any(d.startswith("*.") and name.partition(".")[2] == d[2:] for d in dns)


def _issued_by(cert, cas):
    from cryptography.exceptions import InvalidSignature

    for ca in cas:
        if ca.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(ca)
        except (InvalidSignature, ValueError, TypeError):
            continue
        return True
    return False


def _validity(cert):
    return cert.not_valid_before_utc, cert.not_valid_after_utc


def node_problems(ca, cert, key, names, variables, now=None, min_days=0):
    """Sentences describing what is wrong with a node's TLS material; an empty list when it is usable.

    ca: the CA bundle (one or more certificates); cert: the node's certificate; key: its private key;
    each PEM text or a controller path. names: host names and addresses the certificate must carry in
    its subjectAltName. variables: {'ca': ..., 'cert': ..., 'key': ...} the inventory variables the
    values came from, for the messages. min_days: the certificate must stay valid this many days.
    """
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError:  # pragma: no cover - ansible-core depends on cryptography
        return ["The Python package `cryptography` is missing on the controller; install it in the Python "
                "that runs ansible-playbook."]
    now = now or datetime.datetime.now(datetime.timezone.utc)
    problems = []
    texts = {}
    for part, value in (("ca", ca), ("cert", cert), ("key", key)):
        try:
            texts[part] = read_pem(value, variables[part])
        except TlsError as e:
            problems.append(str(e))
    if problems:
        return problems

    try:
        cas = _certificates(texts["ca"], variables["ca"])
        node = _certificates(texts["cert"], variables["cert"])[0]
    except TlsError as e:
        return [str(e)]
    try:
        private = load_pem_private_key(texts["key"].encode(), password=None)
    except (ValueError, TypeError) as e:
        # The exception text never holds key material; keep it short.
        reason = "it is encrypted with a passphrase" if "password" in str(e).lower() else "it is not a PEM private key"
        return [f"{variables['key']} cannot be used: {reason}. Give the unencrypted PEM key (keep it in a vault)."]

    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if private.public_key().public_bytes(encoding, public) != node.public_key().public_bytes(encoding, public):
        problems.append(f"{variables['key']} does not match {variables['cert']}: the key is not the one the "
                        "certificate was issued for. Give the key and certificate of the same pair.")
    if not _issued_by(node, cas):
        problems.append(f"{variables['cert']} (issuer {node.issuer.rfc4514_string()}) was not issued by a CA in "
                        f"{variables['ca']} ({'; '.join(ca.subject.rfc4514_string() for ca in cas)}). Give the CA "
                        "that signed it (with any intermediate CA) in the bundle.")
    for ca_cert in cas:
        if _validity(ca_cert)[1] <= now:
            problems.append(f"{variables['ca']}: the CA {ca_cert.subject.rfc4514_string()} expired on "
                            f"{_validity(ca_cert)[1]:%Y-%m-%d}. Renew the CA and reissue the certificates.")
    not_before, not_after = _validity(node)
    if not_before > now:
        problems.append(f"{variables['cert']} is not valid before {not_before:%Y-%m-%d %H:%M} UTC; check the "
                        "issuer's clock or wait.")
    if not_after <= now:
        problems.append(f"{variables['cert']} expired on {not_after:%Y-%m-%d}. Issue a new certificate.")
    elif not_after <= now + datetime.timedelta(days=min_days):
        problems.append(f"{variables['cert']} expires on {not_after:%Y-%m-%d}, within {min_days} days. Issue a "
                        "new certificate.")
    dns, ips = _names(node)
    missing = [name for name in names if name and not _covers(str(name), dns, ips)]
    if missing:
        problems.append(f"{variables['cert']} does not name {', '.join(map(str, missing))} in its subjectAltName "
                        f"(it has: {', '.join(sorted(dns) + sorted(ips)) or 'none'}). Issue it with those names "
                        "(DNS names, IP addresses as IP entries).")
    return problems
