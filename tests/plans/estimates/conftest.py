from __future__ import annotations

import pytest

from tests.factories.catalog import make_product


@pytest.fixture
def product(db):
    return make_product("crm", "CRM")
