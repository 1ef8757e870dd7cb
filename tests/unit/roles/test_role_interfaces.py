"""Each role's documented interface agrees with itself: defaults/main.yml and meta/argument_specs.yml.
That README.md's variable tables are generated from the specs (scripts/role_docs.py --check) is checked
by tests/integration/roles/test_role_interfaces.py."""

import pytest
from collection_roles import ROLES, ROOT, load


def test_every_role_has_argument_specs():
    assert set(ROLES) == {p.name for p in (ROOT / "roles").iterdir() if p.is_dir()}


def documented(role):
    """The main entry point's options, and the other entry points' options that have a role default."""
    specs = load(role, "meta", "argument_specs.yml")["argument_specs"]
    defaults = load(role, "defaults", "main.yml")
    found = dict(specs["main"]["options"])
    for entry_point, spec in specs.items():
        found.update({name: option for name, option in (spec.get("options") or {}).items()
                      if entry_point != "main" and name in defaults})
    return found


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_document_exactly_the_defaults(role):
    defaults = load(role, "defaults", "main.yml")
    assert sorted(documented(role)) == sorted(defaults), "documented variables differ from defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_argument_spec_defaults_equal_the_role_defaults(role):
    defaults = load(role, "defaults", "main.yml")
    differing = {name: (spec.get("default"), defaults[name]) for name, spec in documented(role).items()
                 if not spec.get("required") and " ".join(str(spec.get("default")).split()) != " ".join(str(defaults[name]).split())}
    assert differing == {}


@pytest.mark.parametrize("role", ROLES)
def test_role_variables_carry_the_role_prefix(role):
    defaults = load(role, "defaults", "main.yml")
    assert [name for name in defaults if not name.startswith(f"{role}_")] == []
