"""Variable names the docs give are names the collection reads: a reader who copies one from
README.md or docs/ into an inventory must not be silently ignored."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
# A name followed by * (`dbstack_lab_*`) stands for a family of names and is not checked.
NAME = re.compile(r"`((?:mariadb_galera|haproxy|keepalived|smoke_app|dbstack)_[a-z0-9_]*[a-z0-9])(?![a-z0-9_]*\*)")
# Where a documented name may be read or defined: the roles, the playbooks, the lab's inventory, the plugins,
# and the lab's and the tests' own code (docs/lab.md names its helpers).
CODE_GLOBS = ["roles/**/*.yml", "roles/**/*.j2", "playbooks/*.yml", "inventories/**/*.yml", "plugins/**/*.py",
              "benchmarks/*.py", "lab/labctl", "lab/dbstack_lab/*.py", "molecule/shared/*.py"]


def known_names():
    names = set()
    for specs in (ROOT / "roles").glob("*/meta/argument_specs.yml"):
        for entry_point in yaml.safe_load(specs.read_text())["argument_specs"].values():
            names |= set(entry_point.get("options") or {})
    return names


def code_text():
    return "\n".join(path.read_text(errors="replace") for pattern in CODE_GLOBS for path in ROOT.glob(pattern)
                     if path.is_file())


def test_every_name_in_the_docs_is_read_by_the_collection():
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    known, code = known_names(), code_text()
    unknown = sorted({f"{document.relative_to(ROOT)}: {name}" for document in documents
                      for name in NAME.findall(document.read_text())
                      if name not in known and not re.search(rf"\b{re.escape(name)}\b", code)})
    assert unknown == []
