"""The import direction the README promises, checked on the source: `core` imports no app,
each app imports only the apps below it, and no app imports `campaigns`, which only listens; raw
SQL names tables through their models, so that those imports show every coupling."""

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps as django_apps

REPO = Path(__file__).resolve().parent.parent
LAYERS = ["core", "tenancy", "webhooks", "partners", "payouts", "notices", "segmentation"]
LAYERS += ["analytics", "ladder", "onboarding", "goals", "challenges", "imports", "demo"]
# campaigns sits on onboarding (its steps wait for a partner's first steps); nothing of the
# project imports it but config's wiring.
BELOW = {app: set(LAYERS[:i]) for i, app in enumerate(LAYERS)}
BELOW["campaigns"] = set(LAYERS[: LAYERS.index("onboarding") + 1])
APPS = set(BELOW)


def project_imports(path: Path) -> set[str]:
    """The project's top-level packages that a module imports (at any depth in the module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & APPS
    return found


def violations(app: str, root: Path = REPO) -> list[str]:
    allowed = BELOW[app] | {app}
    return [
        f"{path.relative_to(root)} imports {other}"
        for path in sorted((root / app).rglob("*.py"))
        for other in sorted(project_imports(path) - allowed)
    ]


@pytest.mark.parametrize("app", sorted(APPS))
def test_an_app_imports_only_the_apps_below_it(app):
    assert violations(app) == []


def test_the_check_catches_an_import_upwards(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "bad.py").write_text("from tenancy.scope import tenant_scope\n")
    (tmp_path / "tenancy").mkdir()
    (tmp_path / "tenancy" / "bad.py").write_text("def f():\n    import campaigns.models\n")
    assert violations("core", tmp_path) == ["core/bad.py imports tenancy"]
    assert violations("tenancy", tmp_path) == ["tenancy/bad.py imports campaigns"]


def table_literals(app: str, tables: set[str], root: Path = REPO) -> list[str]:
    """String literals in an app's code (not its migrations) that name a model's table: raw SQL
    names tables through ``Model._meta.db_table`` (core.sql.table_names), so that an import
    shows every coupling."""
    word = re.compile(r"\b(" + "|".join(sorted(tables, key=len, reverse=True)) + r")\b")
    found = []
    for path in sorted((root / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found += [
                    f"{path.relative_to(root)}:{node.lineno} {name}"
                    for name in word.findall(node.value)
                ]
    return found


def _project_tables() -> set[str]:
    return {model._meta.db_table for model in django_apps.get_models()}


@pytest.mark.parametrize("app", sorted(APPS))
def test_raw_sql_names_tables_through_their_models(app):
    assert table_literals(app, _project_tables()) == []


def test_the_check_catches_a_table_named_in_sql(tmp_path):
    (tmp_path / "analytics").mkdir()
    (tmp_path / "analytics" / "bad.py").write_text(
        'SQL = "SELECT id FROM partners_partner WHERE partners_partner.tenant_id = %s"\n'
    )
    assert table_literals("analytics", _project_tables(), tmp_path) == [
        "analytics/bad.py:1 partners_partner",
        "analytics/bad.py:1 partners_partner",
    ]
