"""The pure functions (pricing, periods, rounding) import neither Django models nor settings.

Each module is imported in a fresh interpreter with no DJANGO_SETTINGS_MODULE, which then reports
the modules it loaded: no Django settings, no ORM, no django-money fields, no app's models.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PURE_MODULES = ["plans.pricing", "plans.pricing.periods", "plans.pricing.charges", "billing.rounding"]
APPS = ("billing", "plans", "documents", "portal", "notifications", "analytics")

PROBE = """
import datetime as dt, importlib, json, sys
from decimal import Decimal

importlib.import_module(sys.argv[1])
loaded = sorted(sys.modules)

# and the pure functions work without settings
from billing.rounding import round_amount
from plans.pricing.periods import Interval, boundary
assert round_amount(Decimal("2.005"), "RUB") == Decimal("2.01")
assert boundary(dt.date(2026, 1, 31), Interval.MONTH, 1) == dt.date(2026, 2, 28)

print(json.dumps(loaded))
"""


def _forbidden(name: str) -> bool:
    top, _, rest = name.partition(".")
    if top == "django":
        return rest == "conf" or rest.startswith(("conf.", "db", "apps"))
    if top == "djmoney":
        return True
    return top in APPS and (rest == "models" or rest.startswith("models.") or ".models" in f".{rest}")


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_no_django_settings_or_models(module):
    # given: an environment with no Django settings at all
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(ROOT)

    # when
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    # then
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert module in loaded
    assert [name for name in loaded if _forbidden(name)] == []
