"""What a subscription owes: pure computations of the charge lines for a period, a plan change or a
cancellation, from a snapshot (plans.services.snapshots).

The billing run and the single-subscription services (create, change plan, cancel) share these
functions, so a preview, an API call and the nightly run always agree to the kopeck.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import replace
from decimal import Decimal

from plans.pricing.charges import (
    ChargeLine,
    LineKind,
    PricedItem,
    discount_lines,
    line,
    minimum_commitment_line,
    plan_change_lines,
    usage_amount,
)
from plans.pricing.periods import Period
from plans.services.snapshots import SubscriptionSnapshot, UsagePart

ZERO = Decimal(0)


def quantity_text(quantity: Decimal) -> str:
    """A quantity as people write it: 10 and 350, not 1E+1 and 3.5E+2; 2.5 stays 2.5."""
    return format(quantity.normalize(), "f")


def recurring_lines(snap: SubscriptionSnapshot, period: Period) -> list[ChargeLine]:
    """Plan and recurring options for `period`, then the discounts that apply to them (those with periods
    left: the caller uses one period of each up once the charge is posted)."""
    items = snap.items()
    charges = [
        line(
            item.kind,
            f"{item.description} × {quantity_text(item.quantity)} ({period.start}–{period.end})",
            item.full_amount,
            item.currency,
            quantity=item.quantity,
            ref=item.ref,
            period=period,
        )
        for item in items
        if item.full_amount
    ]
    return charges + discount_lines(snap.pricing_discounts(items, new_period=True), charges)


def setup_lines(snap: SubscriptionSnapshot, period: Period) -> list[ChargeLine]:
    if not snap.setup_fee:
        return []
    return [
        line(
            LineKind.SETUP_FEE,
            f"Setup fee: {snap.plan_name}",
            snap.setup_fee,
            snap.price_currency or snap.currency,
            ref=snap.plan_code,
            period=period,
        )
    ]


def used_lines(snap: SubscriptionSnapshot, *, day: dt.date) -> list[ChargeLine]:
    """The used part of a period billed in arrears, up to (not including) `day`."""
    used = Decimal(snap.period.days - snap.period.days_from(day)) / Decimal(snap.period.days)
    items = snap.items()
    charges = [
        line(
            item.kind,
            f"{item.description} ({snap.period.days - snap.period.days_from(day)}/{snap.period.days} days)",
            item.full_amount * used,
            item.currency,
            quantity=item.quantity,
            ref=item.ref,
            period=snap.period,
        )
        for item in items
        if item.full_amount * used
    ]
    return charges + discount_lines(snap.pricing_discounts(items), charges, fraction=used)


def usage_lines(snap: SubscriptionSnapshot, period: Period) -> list[ChargeLine]:
    """Usage of `period` (the current period, or its beginning for one cut short), after load_usage: each part of
    it priced at the usage charges of the plan in effect then, and topped up to that plan's minimum commitment
    prorated by the part's days (SubscriptionSnapshot.usage_parts). A period without a plan change "now" is one
    part, on the current plan."""
    out: list[ChargeLine] = []
    for part in snap.usage_parts(period, instants=bool(snap.segments)):
        lines = []
        for charge in part.usage_charges:
            quantity = snap.usage.get((part.no, charge.metric_id), ZERO)
            amount = usage_amount(charge.pricing, quantity)
            if amount:
                lines.append(
                    line(
                        LineKind.USAGE,
                        f"{charge.metric_code}: {quantity_text(quantity)} ({_part_text(snap, part, period)})",
                        amount,
                        snap.currency,
                        quantity=quantity,
                        ref=part.plan_code,
                        period=period,
                    )
                )
        if part.minimum and part.usage_charges:  # a plan without usage charges commits to no usage
            top_up = minimum_commitment_line(lines, part.minimum, snap.currency, period)
            if top_up is not None:
                described = top_up.description + (f", {part.plan_name}" if snap.segments else "")
                if part.days != snap.period.days:
                    described += f" ({part.days}/{snap.period.days} days)"
                lines.append(replace(top_up, ref=part.plan_code, description=described))
        out += lines
    return out


def _part_text(snap: SubscriptionSnapshot, part: UsagePart, period: Period) -> str:
    """A usage line's period: the dates of a period on one plan; with a plan change "now", the plan and the
    local instants of its part."""
    if not snap.segments:
        return f"{period.start}–{period.end}"
    tz = zoneinfo.ZoneInfo(snap.customer_tz)
    return (
        f"{part.plan_name}, {part.starts_at.astimezone(tz):%Y-%m-%d %H:%M}–{part.ends_at.astimezone(tz):%Y-%m-%d %H:%M}"
    )


def change_lines(
    snap: SubscriptionSnapshot,
    *,
    day: dt.date,
    new_unit_price: Decimal,
    new_quantity: int,
    new_plan: tuple[str, str] | None = None,
    new_plan_key: tuple[int, int] | None = None,
) -> list[ChargeLine]:
    """Proration of a plan or quantity change on `day` (the day counts on the new plan).

    `new_plan_key` is the new plan's (id, product id), so discounts limited to plans or products
    can tell whether they apply to it."""
    old_items, held = snap.items()[:1], snap.items()[1:]
    new_ref, new_name = new_plan or (snap.plan_code, snap.plan_name)
    new_items = [PricedItem(LineKind.PLAN, new_ref, new_name, new_unit_price, Decimal(new_quantity), snap.currency)]
    extra = {new_ref: new_plan_key or (None, snap.product_id)} if new_ref != snap.plan_code else None
    return plan_change_lines(
        old=old_items,
        new=new_items,
        period=snap.period,
        change_day=day,
        held=held,
        discounts=snap.pricing_discounts(old_items + new_items + held, extra_keys=extra),
    )


def unused_credit_lines(snap: SubscriptionSnapshot, *, day: dt.date) -> list[ChargeLine]:
    """Credit for the unused part of a period paid in advance (cancel now, pause, suspension): the unused
    days of what the period was charged, discounts included (a used-up 'once' discount still counts for
    the period it was used in; a fixed one is given back for the unused days)."""
    items = snap.items()
    return plan_change_lines(
        old=items, new=[], period=snap.period, change_day=day, discounts=snap.pricing_discounts(items)
    )
