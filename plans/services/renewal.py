"""The renewal decision: what one subscription's renewal at the end of its current period does (the charges to
post and the state to advance to), computed in memory from its snapshot (plans.services.snapshots.
load_renewal_snapshots). Pure: no query, no write.

The billing run posts what it decides (plans.services.billing_chunk) and the upcoming-charge estimate shows it
(plans.services.estimates), so what the estimate says is what the next run posts.

The rules, in order. The ended period owes what it used (usage, and the fee of a plan billed in arrears) at the
plan, quantity and price version it had; a trial owes nothing for itself. A prepaid customer beyond the credit
limit for longer than the grace days is suspended instead of renewed. A subscription canceled at period end (a
trial too) ends there, and a change scheduled for that end is dropped with it. Otherwise the change scheduled for
the period's end takes effect (plan, price version valid at the renewal, quantity), then a newer price version of
the plan unless it is grandfathered; the new period is charged on that: a trial's first paid period gets the setup
fee, and the period's fee when the plan is billed in advance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _

from plans.errors import CurrencyMismatch, PlanNotFound
from plans.models import Charge
from plans.pricing.charges import ChargeLine
from plans.pricing.periods import Period, local_midnight, period_at
from plans.services.charging import recurring_lines, setup_lines, usage_lines
from plans.services.posting import check_line_currencies
from plans.services.snapshots import SubscriptionSnapshot
from plans.services.vat import apply_vat


@dataclass
class RenewalPlan:
    """What one subscription's renewal does: charges to post and the state to advance to (`change_id`: the due
    scheduled change it consumed, applied when `change_applied`, dropped otherwise)."""

    snap: SubscriptionSnapshot
    charges: list[tuple[str, Period, list[ChargeLine]]]
    status: str
    price_id: int
    period: Period
    next_at: dt.datetime | None
    ended_at: dt.datetime | None
    plan_id: int = 0
    quantity: int = 1
    anchor: dt.date | None = None
    change_id: int | None = None
    change_applied: bool = False


def renewal_decision(snap: SubscriptionSnapshot, *, grace: dt.timedelta) -> RenewalPlan:
    """The renewal, its charges taxed at the seller's rate on their shipment date (each charge's period start, its
    ledger effective date)."""
    _price_in_subscription_currency(snap)
    plan = _renewal_plan(snap, grace=grace)
    for *_rest, lines in plan.charges:
        check_line_currencies(lines, currency=snap.currency, subscription_id=snap.id)
    plan.charges = [(kind, period, apply_vat(snap, lines, day=period.start)) for kind, period, lines in plan.charges]
    return plan


def _price_in_subscription_currency(snap: SubscriptionSnapshot) -> None:
    """The price is chosen by the subscription's currency: one pointing at a price in another currency (an edit
    by hand, a migrated row) renews with the latest price version in its own currency, or fails visibly."""
    if not snap.price_currency or snap.price_currency == snap.currency:
        return
    if snap.latest_price_id is None:
        raise CurrencyMismatch(
            _(
                "Plan %(plan_code)r has no price in %(currency)s, the subscription's currency (its price "
                "#%(price_id)s is in %(price_currency)s)."
            )
            % {
                "plan_code": snap.plan_code,
                "currency": snap.currency,
                "price_id": snap.price_id,
                "price_currency": snap.price_currency,
            }
        )
    snap.price_id, snap.unit_price, snap.minimum = snap.latest_price_id, snap.latest_unit_price, snap.latest_minimum
    snap.setup_fee, snap.price_currency = snap.latest_setup_fee, snap.currency


def _apply_due_change(snap: SubscriptionSnapshot) -> None:
    """The change scheduled for the period's end takes effect: the target plan, its price version valid at the
    renewal, the new quantity. A target that is gone or has no price in the subscription's currency fails the
    renewal visibly (the customer asked for that plan: it is neither dropped nor replaced silently)."""
    change = snap.due_change
    if change is None:
        return
    if change.plan_id is None:
        raise PlanNotFound(
            _("The plan of the change scheduled for subscription %(subscription)s's period end is gone.")
            % {"subscription": snap.id}
        )
    if change.price_id is None:
        raise CurrencyMismatch(
            _(
                "Plan %(plan_code)r, scheduled for subscription %(subscription)s's period end, has no "
                "price in %(currency)s."
            )
            % {"plan_code": change.plan_code, "subscription": snap.id, "currency": snap.currency}
        )
    if (change.interval, change.interval_count) != (snap.interval, snap.interval_count):
        snap.anchor = snap.period.end  # another billing period: the new plan's periods count from the renewal
    if change.plan_id != snap.plan_id:
        snap.other_products[snap.plan_code] = snap.product_code  # the ended period stays the old product's revenue
        snap.other_products.pop(change.plan_code, None)
    snap.plan_id, snap.plan_code, snap.plan_name = change.plan_id, change.plan_code, change.plan_name
    snap.product_id, snap.product_code = change.product_id, change.product_code
    snap.interval, snap.interval_count = change.interval, change.interval_count
    snap.in_advance, snap.grandfathered, snap.quantity = change.in_advance, change.grandfathered, change.quantity
    snap.price_id, snap.unit_price, snap.setup_fee = change.price_id, change.unit_price, change.setup_fee
    snap.minimum, snap.price_currency = change.minimum, change.price_currency
    # the target's price is already the latest valid at the renewal; its usage charges start with its own period
    snap.latest_price_id, snap.latest_unit_price = change.price_id, change.unit_price
    snap.latest_minimum, snap.latest_setup_fee = change.minimum, change.setup_fee
    snap.usage_charges, snap.usage, snap.segments = [], {}, []
    if snap.tax is not None:
        if change.product_vat_rate:
            snap.tax.product_rates[change.product_code] = change.product_vat_rate
        snap.tax.refs_included[change.plan_code] = change.vat_included


def _latest_price_version(snap: SubscriptionSnapshot) -> None:
    """A new price version applies from the next period on (grandfathered plans keep theirs)."""
    if snap.latest_price_id and not snap.grandfathered and snap.latest_price_id != snap.price_id:
        snap.price_id, snap.unit_price = snap.latest_price_id, snap.latest_unit_price
        snap.minimum, snap.setup_fee = snap.latest_minimum, snap.latest_setup_fee


def _renewal_plan(snap: SubscriptionSnapshot, *, grace: dt.timedelta) -> RenewalPlan:
    boundary = snap.period.end
    boundary_at = local_midnight(boundary, snap.customer_tz)
    past = snap.period
    change_id = snap.due_change.id if snap.due_change is not None else None
    charges: list[tuple[str, Period, list[ChargeLine]]] = []
    if snap.status != "trialing":
        # what the ended period used, at the plan, quantity and price version it had
        if snap.bills_usage:
            charges.append((Charge.Kind.USAGE, past, usage_lines(snap, past)))
        if not snap.in_advance:
            charges.append((Charge.Kind.RECURRING, past, recurring_lines(snap, past)))

    def advance(status: str, period: Period, next_at: dt.datetime | None, ended_at: dt.datetime | None, applied: bool):
        return RenewalPlan(
            snap,
            charges,
            status,
            snap.price_id,
            period,
            next_at,
            ended_at,
            plan_id=snap.plan_id,
            quantity=snap.quantity,
            anchor=snap.anchor,
            change_id=change_id,
            change_applied=applied,
        )

    if snap.prepaid and snap.past_due_since is not None and snap.past_due_since + grace <= boundary_at:
        # beyond the credit limit for longer than the grace days: suspend instead of renewing (what was used is
        # still billed); the scheduled change is applied, so a top-up that resumes it starts on the new plan
        _apply_due_change(snap)
        return advance("suspended", past, snap.next_billing_at(boundary), None, True)
    if snap.cancel_at_period_end:
        return advance("canceled", past, None, boundary_at, False)
    _apply_due_change(snap)
    _latest_price_version(snap)
    if snap.status == "trialing":
        first = period_at(boundary, snap.interval, 0, count=snap.interval_count)
        charges.append((Charge.Kind.SETUP, first, setup_lines(snap, first)))
        if snap.in_advance:
            charges.append((Charge.Kind.RECURRING, first, recurring_lines(snap, first)))
        return advance("active", first, local_midnight(first.end, snap.customer_tz), None, True)
    following = snap.period_after(past)
    if snap.in_advance:
        charges.append((Charge.Kind.RECURRING, following, recurring_lines(snap, following)))
    return advance("active", following, local_midnight(following.end, snap.customer_tz), None, True)
