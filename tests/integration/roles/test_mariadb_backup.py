"""The backup program (roles/mariadb_backup/files/mariadb_backup.py) with the real tar and zstd: what they
wrote comes back whole through the program's paced unpack (tests/unit tests its rules)."""

import subprocess

import pytest
from backup_program import backup, mb


def test_a_paced_unpack_restores_the_files_tar_and_zstd_wrote(tmp_path, monkeypatch):
    """Real tar, zstd and syncfs(2): the paced path gives back the same files as the plain one."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "ibdata1").write_bytes(bytes(range(256)) * 40000)
    (source / "xtrabackup_checkpoints").write_text("backup_type = full-backuped\n")
    chain = tmp_path / "store" / "chains" / "20261130T021500Z"
    chain.mkdir(parents=True)
    with open(chain / "00-full.xb.zst", "wb") as out:
        tar = subprocess.Popen(["tar", "-c", "-C", str(source), "-f", "-", "."], stdout=subprocess.PIPE)
        subprocess.run(["zstd", "-q", "-c"], stdin=tar.stdout, stdout=out, check=True)
        assert tar.wait() == 0
    prepared = []
    monkeypatch.setattr(mb, "run_checked", lambda argv, what, **kw: prepared.append(argv))
    store = mb.Store(tmp_path / "store", rate_limit=50)
    store.unpack(chain.name, [backup(chain.name, 0)], tmp_path / "datadir")
    assert (tmp_path / "datadir" / "ibdata1").read_bytes() == (source / "ibdata1").read_bytes()
    assert prepared == [["mariabackup", "--prepare", f"--target-dir={tmp_path / 'datadir'}"]]
    (chain / "00-full.xb.zst").write_bytes(b"not zstd")
    with pytest.raises(mb.BackupError, match="unpacking .*00-full.xb.zst failed"):
        store.unpack(chain.name, [backup(chain.name, 0)], tmp_path / "datadir2")
