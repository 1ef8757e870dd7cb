# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TLS filters of dbstack.galera: what is wrong with a node's CA, certificate and key (tls_problems),
the PEM text of a value that is PEM text or a controller path (tls_pem), and a certificate's
subjectAltName entries from names and addresses (tls_subject_alt_names).

The rules live in plugin_utils/tls.py; documentation in the sidecars of the same names.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.dbstack.galera.plugins.plugin_utils import tls

_VARIABLES = {"ca": "mariadb_galera_tls_ca_cert", "cert": "mariadb_galera_tls_cert", "key": "mariadb_galera_tls_key"}


def tls_problems(material, names=(), variables=None, min_days=0):
    """{'ca', 'cert', 'key'} (PEM text or controller paths) -> list of problems, empty when usable."""
    if not isinstance(material, dict) or not {"ca", "cert", "key"} <= set(material):
        raise AnsibleFilterError("tls_problems: expected a dict with the keys ca, cert and key")
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise AnsibleFilterError(f"tls_problems: names must be a list of host names and addresses, got {names!r}")
    try:
        min_days = int(min_days)
    except (TypeError, ValueError) as e:
        raise AnsibleFilterError(f"tls_problems: min_days must be a whole number of days, got {min_days!r}") from e
    return tls.node_problems(material["ca"], material["cert"], material["key"], list(names),
                             {**_VARIABLES, **(variables or {})}, min_days=min_days)


def tls_subject_alt_names(names):
    """Host names and addresses -> ['DNS:...', 'IP:...'] for community.crypto's subject_alt_name."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise AnsibleFilterError(f"tls_subject_alt_names: expected a list of names and addresses, got {names!r}")
    try:
        return tls.subject_alt_names(names)
    except tls.TlsError as e:
        raise AnsibleFilterError(f"tls_subject_alt_names: {e} Check mariadb_galera_tls_extra_names.") from e


def tls_pem(value, variable="the value"):
    """PEM text, or the contents of the controller file `value` names; an error names `variable`."""
    try:
        return tls.read_pem(value, variable)
    except tls.TlsError as e:
        raise AnsibleFilterError(f"tls_pem: {e}") from e


class FilterModule:
    """TLS filters of dbstack.galera."""

    def filters(self):
        return {"tls_problems": tls_problems, "tls_pem": tls_pem, "tls_subject_alt_names": tls_subject_alt_names}
