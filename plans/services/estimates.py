"""The upcoming-charge estimate: what the next billing run would charge each live subscription of a
customer, with usage so far in the current period. Reads only; posts nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from plans.models import Subscription
from plans.pricing.charges import ChargeLine, total
from plans.pricing.periods import Period
from plans.services.charging import recurring_lines, usage_lines
from plans.services.snapshots import load_snapshots, load_usage


@dataclass(frozen=True)
class UpcomingCharge:
    subscription_id: int
    charge_at: dt.datetime
    period: Period
    lines: list[ChargeLine]
    total: Decimal
    currency: str


def upcoming_charges_estimate(*, customer_id: int, at: dt.datetime | None = None) -> list[UpcomingCharge]:
    at = at or timezone.now()
    ids = list(
        Subscription.objects.filter(customer_id=customer_id, status__in=("active", "trialing"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    snaps = load_snapshots(ids, as_of=at)
    with_usage = [s for s in snaps.values() if s.bills_usage]
    if with_usage:
        load_usage(with_usage, {s.id: s.period for s in with_usage})
    out = []
    for snap in snaps.values():
        lines: list[ChargeLine] = []
        if snap.status != "trialing":
            lines += usage_lines(snap, snap.period) if snap.bills_usage else []
            if not snap.in_advance:
                lines += recurring_lines(snap, snap.period)
        if not snap.cancel_at_period_end and (snap.in_advance or snap.status == "trialing"):
            # a trial's period ends on the anchor, so this is the first paid period for a trial too
            lines += recurring_lines(snap, snap.period_after(snap.period))
        out.append(
            UpcomingCharge(
                snap.id,
                snap.next_billing_at(snap.period.end),
                snap.period,
                lines,
                total(lines) if lines else Decimal(0),
                snap.currency,
            )
        )
    return out
