"""Fixtures shared by the subscription service tests."""

from __future__ import annotations

import pytest

from tests.factories.catalog import make_product
from tests.plans.subscriptions.helpers import PRODUCT


@pytest.fixture
def product():
    return make_product(PRODUCT)
