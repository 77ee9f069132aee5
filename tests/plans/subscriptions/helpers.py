"""Helpers shared by the subscription service tests: a subscription's charges that moved money."""

from __future__ import annotations

import datetime as dt

from plans.models import Charge, Subscription
from tests.plans.support import D, charges_of

PRODUCT = "crm"


def money_charges(sub: Subscription, kind: str | None = None) -> list[Charge]:
    """Charges that moved money (zero guard rows, e.g. no setup fee, are left out)."""
    return [c for c in charges_of(sub, kind) if c.amount.amount != 0]


def summary(sub: Subscription) -> list[tuple[str, dt.date, dt.date, D]]:
    return [(c.kind, c.period_start, c.period_end, c.amount.amount) for c in money_charges(sub)]
