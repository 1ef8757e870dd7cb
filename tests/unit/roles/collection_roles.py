"""The collection's roles as files: which roles have an interface, and their YAML, read the same way by
the role tests of tests/unit and tests/integration."""

from __future__ import annotations

from pathlib import Path

import yaml
from working_tree import REPO_ROOT

ROOT = REPO_ROOT
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists())


def load(role, *parts):
    return yaml.safe_load((ROOT / "roles" / role / Path(*parts)).read_text()) or {}
