"""The backup program (roles/mariadb_backup/files/mariadb_backup.py) loaded as module `mb`, and the
manifests its tests build, for the backup tests of tests/unit and tests/integration."""

import importlib.util

from working_tree import REPO_ROOT

SOURCE = REPO_ROOT / "roles" / "mariadb_backup" / "files" / "mariadb_backup.py"
spec = importlib.util.spec_from_file_location("mariadb_backup", SOURCE)
mb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mb)


def backup(chain, index, verified=True, from_lsn=None, to_lsn=None, finished="2026-11-30 10:00:00", gtid="0-1-10"):
    return {"chain": chain, "index": index, "kind": "full" if index == 0 else "incremental",
            "file": f"{index:02d}-{'full' if index == 0 else 'incremental'}.xb.zst",
            "from_lsn": from_lsn if from_lsn is not None else index * 100, "to_lsn": to_lsn or (index + 1) * 100,
            "finished_local": finished, "verified": {"tables": {"smoke": 3}} if verified else None,
            "binlog": {"file": "mariadb-bin.000003", "position": 389, "gtid": gtid}}
