# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The file_differs filter of dbstack.galera: whether a write task has anything to do, decided on the
controller from one ansible.builtin.find (rules in plugin_utils/files.py, docs in file_differs.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.dbstack.galera.plugins.plugin_utils import files


def file_differs(found, path, owner, group, mode, content=None, directory=False):
    """find result, path, owner, group, mode[, content][, directory] -> True when a write is needed."""
    try:
        return files.file_differs(found, path, owner=owner, group=group, mode=mode, content=content,
                                  directory=bool(directory))
    except files.FilesError as e:
        raise AnsibleFilterError(f"file_differs: {e}") from e


class FilterModule:
    """File filters of dbstack.galera."""

    def filters(self):
        return {"file_differs": file_differs}
