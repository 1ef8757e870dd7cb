"""README.md's variable tables are generated from each role's meta/argument_specs.yml: scripts/role_docs.py
--check, run as the program it is, finds nothing to regenerate (tests/unit checks the specs themselves)."""

import subprocess
import sys

from collection_roles import ROLES, ROOT


def test_readme_variable_tables_are_generated_from_the_specs():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "role_docs.py"), "--check"], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    readme = (ROOT / "README.md").read_text()
    for role in ROLES:
        assert f"<!-- role-vars:{role} -->" in readme, f"README.md has no variable table for {role}"
