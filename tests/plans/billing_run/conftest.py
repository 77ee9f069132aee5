"""Fixtures shared by the billing run tests: the billing policy (3 grace days)."""

from __future__ import annotations

import pytest

from billing.models import BillingPolicy


@pytest.fixture
def policy():
    return BillingPolicy.objects.create(grace_days=3)
