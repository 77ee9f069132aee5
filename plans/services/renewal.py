"""The renewal decision: what one subscription's renewal at the end of its current period does (the charges to
post and the state to advance to), computed in memory from its snapshot. Pure: no query, no write.

The billing run posts what it decides (plans.services.billing_chunk) and the upcoming-charge estimate shows it
(plans.services.estimates), so what the estimate says is what the next run posts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from plans.errors import CurrencyMismatch
from plans.models import Charge
from plans.pricing.charges import ChargeLine
from plans.pricing.periods import Period, local_midnight, period_at
from plans.services.charging import recurring_lines, setup_lines, usage_lines
from plans.services.posting import check_line_currencies
from plans.services.snapshots import SubscriptionSnapshot


@dataclass
class RenewalPlan:
    """What one subscription's renewal does: charges to post and the state to advance to."""

    snap: SubscriptionSnapshot
    charges: list[tuple[str, Period, list[ChargeLine]]]
    status: str
    price_id: int
    period: Period
    next_at: dt.datetime | None
    ended_at: dt.datetime | None


def renewal_decision(snap: SubscriptionSnapshot, *, grace: dt.timedelta) -> RenewalPlan:
    _price_in_subscription_currency(snap)
    plan = _renewal_plan(snap, grace=grace)
    for _, _, lines in plan.charges:
        check_line_currencies(lines, currency=snap.currency, subscription_id=snap.id)
    return plan


def _price_in_subscription_currency(snap: SubscriptionSnapshot) -> None:
    """The price is chosen by the subscription's currency: one pointing at a price in another currency (an edit
    by hand, a migrated row) renews with the latest price version in its own currency, or fails visibly."""
    if not snap.price_currency or snap.price_currency == snap.currency:
        return
    if snap.latest_price_id is None:
        raise CurrencyMismatch(
            f"Plan {snap.plan_code!r} has no price in {snap.currency}, the subscription's currency "
            f"(its price #{snap.price_id} is in {snap.price_currency})."
        )
    snap.price_id, snap.unit_price, snap.minimum = snap.latest_price_id, snap.latest_unit_price, snap.latest_minimum
    snap.setup_fee, snap.price_currency = snap.latest_setup_fee, snap.currency


def _renewal_plan(snap: SubscriptionSnapshot, *, grace: dt.timedelta) -> RenewalPlan:
    boundary = snap.period.end
    boundary_at = local_midnight(boundary, snap.customer_tz)
    past = snap.period
    charges: list[tuple[str, Period, list[ChargeLine]]] = []
    if snap.prepaid and snap.past_due_since is not None and snap.past_due_since + grace <= boundary_at:
        # beyond the credit limit for longer than the grace days: suspend instead of renewing
        # (what was used in arrears is still billed); a top-up covering the debt resumes it
        if snap.bills_usage:
            charges.append((Charge.Kind.USAGE, past, usage_lines(snap, past)))
        if not snap.in_advance and snap.status != "trialing":
            charges.append((Charge.Kind.RECURRING, past, recurring_lines(snap, past)))
        return RenewalPlan(snap, charges, "suspended", snap.price_id, past, snap.next_billing_at(boundary), None)
    if snap.latest_price_id and not snap.grandfathered and snap.latest_price_id != snap.price_id:
        # a new price version applies from the next period on (grandfathered plans keep theirs)
        snap.price_id, snap.unit_price = snap.latest_price_id, snap.latest_unit_price
        snap.minimum = snap.latest_minimum
    if snap.status == "trialing":
        first = period_at(boundary, snap.interval, 0, count=snap.interval_count)
        charges.append((Charge.Kind.SETUP, first, setup_lines(snap, first)))
        if snap.in_advance:
            charges.append((Charge.Kind.RECURRING, first, recurring_lines(snap, first)))
        first_at = local_midnight(first.end, snap.customer_tz)
        return RenewalPlan(snap, charges, "active", snap.price_id, first, first_at, None)
    if snap.bills_usage:
        charges.append((Charge.Kind.USAGE, past, usage_lines(snap, past)))
    if not snap.in_advance:
        charges.append((Charge.Kind.RECURRING, past, recurring_lines(snap, past)))
    if snap.cancel_at_period_end:
        return RenewalPlan(snap, charges, "canceled", snap.price_id, past, None, boundary_at)
    following = snap.period_after(past)
    if snap.in_advance:
        charges.append((Charge.Kind.RECURRING, following, recurring_lines(snap, following)))
    return RenewalPlan(
        snap, charges, "active", snap.price_id, following, local_midnight(following.end, snap.customer_tz), None
    )
