"""The import contracts in pyproject.toml ([tool.importlinter], run by `lint-imports` in `make check`)
catch a forbidden import: each case copies the apps' Python files to a temporary directory, adds one
import to one module, runs `lint-imports` on the copy and expects the contract to name that import.

The assertions are about the added import, not about a clean pass of the untouched tree, so the
test holds whatever the real tree's state (`make check` is what says whether the tree itself passes).
"""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
SKIP = shutil.ignore_patterns("migrations", "tests", "templates", "static", "__pycache__", "*.pyc")


def _contract_ids() -> set[str]:
    return {contract["id"] for contract in CONFIG["contracts"]}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A copy of the root packages' Python files and of pyproject.toml, without migrations."""
    root = tmp_path_factory.mktemp("pristine")
    for package in CONFIG["root_packages"]:
        shutil.copytree(ROOT / package, root / package, ignore=SKIP)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.fixture(scope="module")
def untouched(pristine) -> dict[str, subprocess.CompletedProcess]:
    """Each contract's report on the untouched copy."""
    return {contract: lint_imports(pristine, contract) for contract in sorted(_contract_ids())}


@pytest.fixture
def tree(pristine, tmp_path) -> Path:
    copy = tmp_path / "tree"
    shutil.copytree(pristine, copy)
    return copy


def lint_imports(root: Path, contract: str) -> subprocess.CompletedProcess:
    # lint-imports finds the packages from its working directory, which it puts first on sys.path.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    env["COLUMNS"] = "200"  # no wrapped lines in the report
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "--contract", contract, "pyproject.toml"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def reports(output: str, direct_import: str) -> bool:
    """Whether lint-imports printed `importer -> imported (l.N)` (a line of a chain, or a chain itself)."""
    return re.search(rf"^[-\s]*{re.escape(direct_import)} \(l\.\d", output, re.MULTILINE) is not None


def add_import(root: Path, module: str, statement: str) -> None:
    """Append `statement` to `module` (a dotted name); a module that is missing is created."""
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    if not path.exists():
        package_init = path.parent / "__init__.py"
        if not package_init.exists():
            # `config.api` was a module and becomes a package: config/api.py -> config/api/__init__.py
            package_init.parent.mkdir(parents=True, exist_ok=True)
            flat = path.parent.with_suffix(".py")
            package_init.write_text(flat.read_text() if flat.exists() else "")
            flat.unlink(missing_ok=True)
        path.write_text("")
    path.write_text(path.read_text() + f"\n{statement}\n")


# (contract id, module that gets the import, the import, the line lint-imports prints for it)
VIOLATIONS = [
    ("layers", "billing.locks", "from documents import models", "billing.locks -> documents.models"),
    ("layers", "billing.money", "import plans", "billing.money -> plans"),
    ("layers", "plans.selectors", "import documents.selectors", "plans.selectors -> documents.selectors"),
    ("layers", "documents.numbering", "import portal", "documents.numbering -> portal"),
    ("top-apps-independent", "portal.apps", "import notifications.apps", "portal.apps -> notifications.apps"),
    ("top-apps-independent", "analytics.apps", "from portal import apps", "analytics.apps -> portal.apps"),
    ("config-tooling", "config.db", "from billing import models", "config.db -> billing.models"),
    ("config-tooling", "config.errors", "import plans.errors", "config.errors -> plans.errors"),
    ("config-tooling", "config.api.auth", "from billing.models import ApiKey", "config.api.auth -> billing.models"),
    ("config-tooling", "config.admin", "import documents.admin", "config.admin -> documents.admin"),
    ("pure", "plans.pricing.periods", "from django.conf import settings", "plans.pricing.periods -> django"),
    ("pure", "billing.rounding", "from billing.models import Account", "billing.rounding -> billing.models"),
]


def test_every_contract_has_a_case():
    assert {case[0] for case in VIOLATIONS} == _contract_ids()


@pytest.mark.parametrize(
    ("contract", "module", "statement", "reported"), VIOLATIONS, ids=[f"{c[0]}:{c[1]}" for c in VIOLATIONS]
)
def test_contract_reports_an_added_forbidden_import(untouched, tree, contract, module, statement, reported):
    # given: the untouched copy does not report this import
    before = untouched[contract]
    assert "Contracts: " in before.stdout, before.stdout + before.stderr  # kept or broken, not a config error
    assert not reports(before.stdout, reported)

    # when
    add_import(tree, module, statement)
    after = lint_imports(tree, contract)

    # then
    assert after.returncode == 1, after.stdout + after.stderr
    assert "BROKEN" in after.stdout
    assert reports(after.stdout, reported), after.stdout


@pytest.mark.parametrize(
    ("module", "statement"),
    [
        ("config.urls", "import billing.api.urls"),
        ("config.settings.base", "from billing.money import MAX_DIGITS"),
    ],
)
def test_urls_and_settings_may_import_the_apps(untouched, tree, module, statement):
    # given
    before = untouched["config-tooling"]

    # when
    add_import(tree, module, statement)
    after = lint_imports(tree, "config-tooling")

    # then: the verdict is the untouched tree's, and the added import is not reported
    assert "Contracts: " in after.stdout, after.stdout + after.stderr
    assert after.returncode == before.returncode, after.stdout
    assert f"{module} ->" not in after.stdout
