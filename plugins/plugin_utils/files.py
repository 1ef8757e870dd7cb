# Copyright (c) dbstack maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether a file on a host differs from what a role would write, from one ansible.builtin.find.

Each copy or template task is a round trip to the host even when nothing changes (about 1.3 s over
podman exec, most of a re-run). A role reads every file it manages in one `find` with checksums and
runs a write task only where this says the file differs. Anything uncertain counts as different,
so the module itself decides: this can skip a write, never wrongly claim a file is in place.
"""

from __future__ import annotations

import hashlib


class FilesError(ValueError):
    """The arguments cannot describe a file."""


def _mode(value, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit() and set(value.strip()) <= set("01234567"):
        return int(value.strip(), 8)
    raise FilesError(f"{what} must be an octal mode such as '0644', got {value!r}")


def found_entries(found) -> dict:
    """The registered result of ansible.builtin.find -> {path: entry}; None (nothing read) -> {}."""
    if found is None:
        return {}
    if not isinstance(found, dict) or not isinstance(found.get("files"), list):
        raise FilesError("expected the registered result of ansible.builtin.find (a dict with 'files'), "
                         f"got {type(found).__name__}")
    return {entry["path"]: entry for entry in found["files"] if isinstance(entry, dict) and "path" in entry}


def file_differs(found, path: str, *, owner: str, group: str, mode, content: str | None = None,
                 directory: bool = False) -> bool:
    """True unless `path` is there as a regular file (or directory) with this owner, group, mode and content.

    `content` is the exact text the write would put there; None checks ownership and mode only
    (directories). The find must have run with get_checksum for content to be compared. `found`
    None means nothing was read (an entry point that skipped the find): every file differs.
    """
    if not isinstance(path, str) or not path.startswith("/"):
        raise FilesError(f"path must be an absolute path, got {path!r}")
    if content is not None and not isinstance(content, str):
        raise FilesError(f"content of {path} must be text, got {type(content).__name__}")
    wanted_mode = _mode(mode, f"mode of {path}")
    entry = found_entries(found).get(path)
    if entry is None:
        return True
    kind_ok = entry.get("isdir") is True if directory else entry.get("isreg") is True
    if not kind_ok or entry.get("islnk"):
        return True
    if entry.get("pw_name") != owner or entry.get("gr_name") != group:
        return True
    try:
        if _mode(entry.get("mode"), "found mode") & 0o7777 != wanted_mode & 0o7777:
            return True
    except FilesError:
        return True
    if content is None:
        return False
    return entry.get("checksum") != hashlib.sha1(content.encode("utf-8")).hexdigest()
