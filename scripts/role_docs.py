#!/usr/bin/env python3
"""Write each role's variable table into README.md from its meta/argument_specs.yml.

The tables sit between `<!-- role-vars:ROLE -->` and `<!-- /role-vars:ROLE -->` markers.
`role_docs.py --check` exits 1 when README.md is out of date (the unit tests call it).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def options(role: str) -> dict:
    """The main entry point's options, then the other entry points' options that defaults/main.yml sets
    (documented once, with the entry point that reads them)."""
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {}
    found = dict(specs["main"]["options"])
    for entry_point, spec in specs.items():
        for name, option in (spec.get("options") or {}).items():
            if entry_point != "main" and name in defaults and name not in found:
                found[name] = dict(option, description=f"(entry point `{entry_point}`) " + cell(option.get("description", "")))
    return found


def cell(text) -> str:
    if isinstance(text, list):
        text = " ".join(text)
    return " ".join(str(text).split()).replace("|", "\\|")


def table(role: str) -> str:
    rows = ["| variable | type | default | description |", "| --- | --- | --- | --- |"]
    for name, spec in options(role).items():
        kind = spec.get("type", "str")
        if kind == "list" and "elements" in spec:
            kind = f"list of {spec['elements']}"
        if "choices" in spec:
            kind += " (" + ", ".join(str(c) for c in spec["choices"]) + ")"
        if spec.get("required"):
            default = "**required**"
        else:
            dumped = yaml.safe_dump(spec.get("default"), default_flow_style=True).strip().removesuffix("...").strip()
            default = f"`{cell(dumped)}`"
        description = cell(spec.get("description", ""))
        if spec.get("options"):
            description += " Keys: " + ", ".join(
                f"`{key}`" + (" (required)" if sub.get("required") else "") for key, sub in spec["options"].items())
        rows.append(f"| `{name}` | {kind} | {default} | {description} |")
    return "\n".join(rows)


def render(text: str) -> str:
    def replace(match: re.Match) -> str:
        role = match.group(1)
        return f"<!-- role-vars:{role} -->\n{table(role)}\n<!-- /role-vars:{role} -->"

    return re.sub(r"<!-- role-vars:(\w+) -->.*?<!-- /role-vars:\1 -->", replace, text, flags=re.S)


def main() -> int:
    current = README.read_text()
    wanted = render(current)
    if "--check" in sys.argv:
        if current != wanted:
            print("README.md role variable tables are out of date: run scripts/role_docs.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
