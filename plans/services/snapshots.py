"""Subscription snapshots: everything pricing needs about a set of subscriptions, loaded per chunk with a
fixed number of queries (the billing run loads a thousand at once, a service one), plus the catalog price
look-ups. The charge lines are computed from them in plans.services.charging.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import connection

from config.db import array_literal
from plans.models import OptionPrice, Plan, PlanPrice, Subscription, UsageCharge
from plans.pricing.charges import (
    Discount,
    LineKind,
    PricedItem,
)
from plans.pricing.periods import Period, local_midnight, period_containing
from plans.services.vat import TaxTerms, seller_rates_load

ZERO = Decimal(0)


@dataclass(frozen=True)
class DiscountSnapshot:
    """A discount on the subscription. `periods_remaining == 0` (used up) is loaded only when the charge of
    the current period applied it: credits and prorations within that period still take it into account
    (a credit gives back what was paid, not the full price), but no new period is charged with it."""

    id: int
    code: str
    percent: Decimal | None
    amount: Decimal | None
    plan_ids: frozenset[int]
    product_ids: frozenset[int]
    periods_remaining: int | None
    # applied during a period already charged (SubscriptionDiscount.applies_from after its start): it counts from
    # the next period charged on, not for the credits and prorations within the current one
    from_next_period: bool = False

    def as_discount(
        self, items: list[PricedItem], item_keys: dict[str, tuple[int | None, int]], *, new_period: bool = False
    ) -> Discount | None:
        """The pricing discount restricted to the items it may touch; None when it touches none, or when
        it has no period left for a `new_period` charge."""
        if self.periods_remaining == 0 and new_period:
            return None
        if self.from_next_period and not new_period:
            return None
        limited = bool(self.plan_ids or self.product_ids)
        refs = frozenset(
            item.ref
            for item in items
            if not limited or item_keys[item.ref][0] in self.plan_ids or item_keys[item.ref][1] in self.product_ids
        )
        if limited and not refs:
            return None
        return Discount(self.code, percent=self.percent, fixed=self.amount, applies_to=refs if limited else frozenset())


@dataclass(frozen=True)
class UsageChargeSnapshot:
    metric_id: int
    metric_code: str
    aggregation: str
    unique_property: str
    pricing: object  # plans.pricing.charges.UsagePrice


@dataclass(frozen=True)
class PlanSegment:
    """A plan the subscription was on during its current period until a plan change "now" (a
    plans.SubscriptionSegment row): from the period's start or the previous change until `ends_at`."""

    plan_code: str
    plan_name: str
    product_code: str
    minimum: Decimal | None
    usage_charges: list[UsageChargeSnapshot]
    ends_at: dt.datetime  # the change instant: events from it on are the next plan's
    ends_on: dt.date  # the customer's local day of the change: it counts on the next plan


@dataclass(slots=True)
class UsagePart:
    """The part of a period priced at one plan's usage charges: its events are those in [starts_at, ends_at);
    its minimum commitment is the plan's, prorated by the part's days."""

    no: int  # position among the period's segments (the current plan's is the last): the key of its usage
    plan_code: str
    plan_name: str
    usage_charges: list[UsageChargeSnapshot]
    starts_at: dt.datetime | None  # None when asked without instants (pricing a period on one plan needs none)
    ends_at: dt.datetime | None
    days: int
    minimum: Decimal | None


@dataclass(frozen=True)
class OptionSnapshot:
    id: int
    option_id: int
    code: str
    name: str
    product_id: int
    product_code: str
    unit_price: Decimal
    quantity: int
    recurring: bool


@dataclass(frozen=True)
class DueChange:
    """A plan or quantity change scheduled for the end of the current period (plans_scheduledchange, kind
    `change_plan`, due by the subscription's next billing time): the target plan and its price version in the
    subscription's currency valid at the renewal (`price_id` None when it has none). The renewal decision
    applies it (plans.services.renewal); `id` is the latest due change, which supersedes earlier pending ones."""

    id: int
    plan_id: int | None  # None: the plan no longer exists
    plan_code: str
    plan_name: str
    product_id: int | None
    product_code: str
    interval: str
    interval_count: int
    in_advance: bool
    grandfathered: bool
    quantity: int
    price_id: int | None
    unit_price: Decimal | None
    setup_fee: Decimal | None
    minimum: Decimal | None
    price_currency: str
    product_vat_rate: str = ""
    vat_included: bool = True


@dataclass
class SubscriptionSnapshot:
    """Everything needed to price one subscription, loaded without per-row queries."""

    id: int
    customer_id: int
    customer_tz: str
    currency: str
    status: str
    plan_id: int
    plan_code: str
    plan_name: str
    product_id: int
    product_code: str
    interval: str
    interval_count: int
    in_advance: bool
    grandfathered: bool
    price_id: int
    unit_price: Decimal
    setup_fee: Decimal | None
    minimum: Decimal | None
    quantity: int
    anchor: dt.date
    period: Period
    cancel_at_period_end: bool
    trial_end: dt.date | None
    prepaid: bool = True
    past_due_since: dt.datetime | None = None
    price_currency: str = ""  # the current price's own currency (the subscription's, unless the data is wrong)
    latest_price_id: int | None = None  # the latest price version in the subscription's currency
    latest_unit_price: Decimal | None = None
    latest_minimum: Decimal | None = None
    latest_setup_fee: Decimal | None = None
    options: list[OptionSnapshot] = field(default_factory=list)
    discounts: list[DiscountSnapshot] = field(default_factory=list)
    usage_charges: list[UsageChargeSnapshot] = field(default_factory=list)
    # plans left by a change "now" in the current period, in order (the current plan follows the last one)
    segments: list[PlanSegment] = field(default_factory=list)
    # (usage part no, metric id) → aggregated quantity (load_usage; see usage_parts)
    usage: dict[tuple[int, int], Decimal] = field(default_factory=dict)
    # plan code → product code of plans not on the subscription yet (the target of a change posted now) or no
    # longer on it (the plan a renewal changed from: the past period's lines are its product's revenue)
    other_products: dict[str, str] = field(default_factory=dict)
    # the change scheduled for this period's end, loaded for a renewal only (load_renewal_snapshots)
    due_change: DueChange | None = None
    # the seller and what taxing the lines needs (plans.services.vat); None: loaded without it (no VAT)
    tax: TaxTerms | None = None

    # --- items ---------------------------------------------------------------------------
    def items(self, *, unit_price: Decimal | None = None, quantity: int | None = None) -> list[PricedItem]:
        items = [
            PricedItem(
                LineKind.PLAN,
                self.plan_code,
                self.plan_name,
                self.unit_price if unit_price is None else unit_price,
                Decimal(self.quantity if quantity is None else quantity),
                self.price_currency or self.currency,
            )
        ]
        items += [
            PricedItem(LineKind.OPTION, o.code, o.name, o.unit_price, Decimal(o.quantity), self.currency)
            for o in self.options
            if o.recurring
        ]
        return items

    def item_keys(self) -> dict[str, tuple[int | None, int]]:
        keys: dict[str, tuple[int | None, int]] = {self.plan_code: (self.plan_id, self.product_id)}
        keys.update({o.code: (None, o.product_id) for o in self.options})
        return keys

    def product_of(self, ref: str) -> str:
        if ref == self.plan_code:
            return self.product_code
        for option in self.options:
            if option.code == ref:
                return option.product_code
        for segment in self.segments:  # usage of a plan left in the period is that plan's product's revenue
            if segment.plan_code == ref:
                return segment.product_code
        return self.other_products.get(ref, self.product_code)

    # --- usage per plan segment ----------------------------------------------------------------
    @property
    def bills_usage(self) -> bool:
        """Whether the current period's usage is billed: a plan of the period has usage charges."""
        return bool(self.usage_charges) or any(s.usage_charges for s in self.segments)

    def usage_parts(self, period: Period, *, instants: bool = True) -> list[UsagePart]:
        """`period` (the current period, or its beginning for a period cut short) split by the plan in effect: a
        part per plan left by a change "now", then the current plan's. Events go to the part whose instants hold
        them (one at the change instant is the next plan's); each plan's minimum commitment is prorated by the
        part's days of the current period (the day of a change counts on the next plan, as for the fees)."""
        tz, whole = self.customer_tz, self.period
        if not self.segments:  # the common case, twice per subscription of a chunk: kept short
            days = (min(whole.end, period.end) - max(whole.start, period.start)).days
            minimum = self.minimum
            if minimum and days != whole.days:
                minimum = minimum * Decimal(days) / Decimal(whole.days)
            start_at = local_midnight(period.start, tz) if instants else None
            end_at = local_midnight(period.end, tz) if instants else None
            return [UsagePart(0, self.plan_code, self.plan_name, self.usage_charges, start_at, end_at, days, minimum)]
        start_at, end_at = local_midnight(period.start, tz), local_midnight(period.end, tz)
        current = PlanSegment(
            self.plan_code,
            self.plan_name,
            self.product_code,
            self.minimum,
            self.usage_charges,
            local_midnight(whole.end, tz),
            whole.end,
        )
        parts, from_at, from_on = [], local_midnight(whole.start, tz), whole.start
        for no, segment in enumerate([*self.segments, current]):
            starts_at, ends_at = max(from_at, start_at), min(segment.ends_at, end_at)
            days = max((min(segment.ends_on, period.end) - max(from_on, period.start)).days, 0)
            if starts_at < ends_at or days:
                minimum = segment.minimum
                if minimum and days != whole.days:
                    minimum = minimum * Decimal(days) / Decimal(whole.days)
                parts.append(
                    UsagePart(
                        no,
                        segment.plan_code,
                        segment.plan_name,
                        segment.usage_charges,
                        starts_at,
                        max(starts_at, ends_at),
                        days,
                        minimum,
                    )
                )
            from_at, from_on = segment.ends_at, segment.ends_on
        return parts

    def pricing_discounts(
        self,
        items: list[PricedItem],
        *,
        extra_keys: dict[str, tuple[int | None, int]] | None = None,
        new_period: bool = False,
    ) -> list[Discount]:
        """The discounts of the current period (for credits and prorations within it), or with
        `new_period` those a period charged now gets (the ones with periods left).

        `extra_keys`: (plan id, product id) of items not on the subscription yet (the target of a change)."""
        keys = {**self.item_keys(), **(extra_keys or {})}
        return [d for d in (s.as_discount(items, keys, new_period=new_period) for s in self.discounts) if d is not None]

    def period_after(self, period: Period) -> Period:
        """The period that starts where `period` ends (periods tile from the anchor)."""
        return period_containing(self.anchor, self.interval, period.end, count=self.interval_count)

    def next_billing_at(self, boundary: dt.date) -> dt.datetime:
        return local_midnight(boundary, self.customer_tz)


# --- loading ------------------------------------------------------------------------------------

_SNAPSHOT_SQL = """
SELECT s.id, s.customer_id, c.timezone, s.currency, s.status, p.id, p.code, p.name, pr.id, pr.code, p.interval,
       p.interval_count, p.charge_timing = 'in_advance', p.grandfathered, s.price_id, pp.amount, pp.setup_fee,
       pp.minimum_commitment, s.quantity, s.billing_anchor, s.current_period_start, s.current_period_end,
       s.cancel_at_period_end, s.trial_end, c.billing_model = 'prepaid', c.past_due_since, pp.amount_currency,
       COALESCE(c.seller_id, pr.seller_id, (SELECT id FROM billing_seller WHERE is_default)), pr.vat_rate,
       pp.vat_included
  FROM plans_subscription s
  -- customers by primary key (an init plan): joined on s.customer_id alone, the planner estimates a
  -- seq scan of every customer cheaper than a thousand index probes
  JOIN billing_customer c
    ON c.id = s.customer_id
   AND c.id = ANY(ARRAY(SELECT customer_id FROM plans_subscription WHERE id = ANY(%s::bigint[])))
  JOIN plans_plan p ON p.id = s.plan_id
  JOIN plans_product pr ON pr.id = p.product_id
  JOIN plans_planprice pp ON pp.id = s.price_id
 WHERE s.id = ANY(%s::bigint[])
 ORDER BY s.id
"""


_OPTIONS_SQL = """
SELECT so.subscription_id, so.id, o.id, o.code, o.name, o.product_id, pr.code, op.amount, so.quantity, o.kind,
       pr.vat_rate, op.vat_included
  FROM plans_subscriptionoption so
  JOIN plans_option o ON o.id = so.option_id
  JOIN plans_product pr ON pr.id = o.product_id
  JOIN plans_optionprice op ON op.id = so.price_id
 WHERE so.subscription_id = ANY(%s::bigint[]) AND so.removed_at IS NULL
 ORDER BY so.id
"""

_DISCOUNTS_SQL = """
SELECT sd.subscription_id, sd.id, p.code, p.percent, p.amount,
       ARRAY(SELECT plan_id FROM plans_promotion_plans WHERE promotion_id = p.id),
       ARRAY(SELECT product_id FROM plans_promotion_products WHERE promotion_id = p.id),
       sd.periods_remaining, COALESCE(sd.applies_from > sub.current_period_start, false)
  FROM plans_subscriptiondiscount sd
  JOIN plans_promotion p ON p.id = sd.promotion_id
  -- the subscriptions by primary key too: joined on sd.subscription_id alone, the planner may hash the whole table
  JOIN plans_subscription sub ON sub.id = sd.subscription_id AND sub.id = ANY(%(ids)s::bigint[])
 WHERE sd.subscription_id = ANY(%(ids)s::bigint[])
   AND (sd.periods_remaining IS NULL OR sd.periods_remaining > 0
        -- used up, yet applied to the current period's charge: still counts for credits within that period
        OR EXISTS (SELECT 1 FROM plans_charge ch JOIN plans_subscription s ON s.id = sd.subscription_id
                    WHERE ch.subscription_id = sd.subscription_id AND ch.kind = 'recurring'
                      AND ch.period_start = s.current_period_start
                      AND ch.lines @> jsonb_build_array(jsonb_build_object('kind', 'discount', 'ref', p.code))))
 ORDER BY sd.id
"""


# The plans each subscription left by a change "now" in its current period (plans.SubscriptionSegment), in order.
_SEGMENTS_SQL = """
SELECT g.subscription_id, g.plan_id, p.code, p.name, pr.code, pp.minimum_commitment, g.ends_at, g.ends_on,
       pr.vat_rate, pp.vat_included
  FROM plans_subscriptionsegment g
  JOIN plans_subscription s ON s.id = g.subscription_id AND g.period_start = s.current_period_start
  JOIN plans_plan p ON p.id = g.plan_id
  JOIN plans_product pr ON pr.id = p.product_id
  JOIN plans_planprice pp ON pp.id = g.price_id
 WHERE g.subscription_id = ANY(%s::bigint[])
 ORDER BY g.subscription_id, g.ends_at, g.id
"""


def usage_charges_of(plan_ids: set[int]) -> dict[tuple[int, str], list[UsageChargeSnapshot]]:
    """The usage charges of plans, by (plan id, currency): one query."""
    by_plan: dict[tuple[int, str], list[UsageChargeSnapshot]] = defaultdict(list)
    for uc in UsageCharge.objects.filter(plan_id__in=plan_ids).select_related("metric").order_by("id"):
        by_plan[(uc.plan_id, uc.currency)].append(
            UsageChargeSnapshot(
                metric_id=uc.metric_id,
                metric_code=uc.metric.code,
                aggregation=uc.metric.aggregation,
                unique_property=uc.metric.unique_property,
                pricing=uc.pricing(),
            )
        )
    return by_plan


def load_snapshots(subscription_ids: list[int], *, as_of: dt.datetime) -> dict[int, SubscriptionSnapshot]:
    """Snapshots of many subscriptions with a fixed number of queries (no N+1)."""
    if not subscription_ids:
        return {}
    with connection.cursor() as cursor:
        ids_literal = array_literal(subscription_ids)
        cursor.execute(_SNAPSHOT_SQL, [ids_literal, ids_literal])
        rows = cursor.fetchall()
    snaps = {
        r[0]: SubscriptionSnapshot(
            id=r[0],
            customer_id=r[1],
            customer_tz=r[2],
            currency=r[3],
            status=r[4],
            plan_id=r[5],
            plan_code=r[6],
            plan_name=r[7],
            product_id=r[8],
            product_code=r[9],
            interval=r[10],
            interval_count=r[11],
            in_advance=r[12],
            grandfathered=r[13],
            price_id=r[14],
            unit_price=r[15],
            setup_fee=r[16],
            minimum=r[17],
            quantity=r[18],
            anchor=r[19],
            period=Period(r[20], r[21]),
            cancel_at_period_end=r[22],
            trial_end=r[23],
            prepaid=r[24],
            past_due_since=r[25],
            price_currency=r[26],
            tax=TaxTerms(
                seller_id=r[27],
                product_rates={r[9]: r[28]} if r[28] else {},
                refs_included={r[6]: r[29]},
                included=r[29],
            ),
        )
        for r in rows
    }
    seller_rates = seller_rates_load(s.tax.seller_id for s in snaps.values())
    for snap in snaps.values():
        snap.tax.rates = seller_rates.get(snap.tax.seller_id, ())
    plan_currencies = {(s.plan_id, s.currency) for s in snaps.values()}
    # latest price version per (plan, currency) valid at as_of
    latest = (
        PlanPrice.objects.filter(plan_id__in={p for p, _ in plan_currencies}, valid_from__lte=as_of)
        .order_by("plan_id", "amount_currency", "-valid_from")
        .distinct("plan_id", "amount_currency")
        .values_list("plan_id", "amount_currency", "id", "amount", "minimum_commitment", "setup_fee")
    )
    latest_by = {(p, c): rest for p, c, *rest in latest}
    for snap in snaps.values():
        if (found := latest_by.get((snap.plan_id, snap.currency))) is not None:
            snap.latest_price_id, snap.latest_unit_price, snap.latest_minimum, snap.latest_setup_fee = found
    ids = list(snaps)
    with connection.cursor() as cursor:
        cursor.execute(_OPTIONS_SQL, [array_literal(ids)])
        for sub_id, so_id, option_id, code, name, product_id, product_code, amount, quantity, kind, *tax in cursor:
            _tax_item(snaps[sub_id].tax, code, product_code, *tax)
            snaps[sub_id].options.append(
                OptionSnapshot(
                    id=so_id,
                    option_id=option_id,
                    code=code,
                    name=name,
                    product_id=product_id,
                    product_code=product_code,
                    unit_price=amount,
                    quantity=quantity,
                    recurring=kind == "recurring",
                )
            )
        cursor.execute(_DISCOUNTS_SQL, {"ids": array_literal(ids)})
        for sub_id, sd_id, code, percent, amount, plan_ids, product_ids, periods_remaining, from_next in cursor:
            snaps[sub_id].discounts.append(
                DiscountSnapshot(
                    id=sd_id,
                    code=code,
                    percent=percent,
                    amount=amount,
                    plan_ids=frozenset(plan_ids),
                    product_ids=frozenset(product_ids),
                    periods_remaining=periods_remaining,
                    from_next_period=from_next,
                )
            )
        cursor.execute(_SEGMENTS_SQL, [array_literal(ids)])
        segment_rows = cursor.fetchall()
    usage_by_plan = usage_charges_of({p for p, _ in plan_currencies} | {row[1] for row in segment_rows})
    for snap in snaps.values():
        snap.usage_charges = usage_by_plan.get((snap.plan_id, snap.currency), [])
    for sub_id, plan_id, code, name, product_code, minimum, ends_at, ends_on, *tax in segment_rows:
        snap = snaps[sub_id]
        _tax_item(snap.tax, code, product_code, *tax)
        charges = usage_by_plan.get((plan_id, snap.currency), [])
        snap.segments.append(PlanSegment(code, name, product_code, minimum, charges, ends_at, ends_on))
    return snaps


def _tax_item(terms: TaxTerms, ref: str, product_code: str, product_rate: str, included: bool) -> None:
    """Record how an item (an option, a plan left in the period, a change's target) is taxed."""
    if product_rate:
        terms.product_rates[product_code] = product_rate
    terms.refs_included[ref] = included


def snapshot_add_target(snap: SubscriptionSnapshot, *, plan: Plan, price: PlanPrice) -> None:
    """Make a change's target plan known to `snap` before its lines are posted or shown: its lines are revenue of
    its own product and taxed at its product's rate and its price's VAT terms."""
    if plan.pk != snap.plan_id:
        snap.other_products[plan.code] = plan.product.code
    if snap.tax is not None:
        _tax_item(snap.tax, plan.code, plan.product.code, plan.product.vat_rate, price.vat_included)


def snapshot_after_change(
    snap: SubscriptionSnapshot, *, plan: Plan, price: PlanPrice, at: dt.datetime, day: dt.date
) -> SubscriptionSnapshot:
    """The snapshot as it will be once a change to `plan` at `price` "now" at `at` (the customer's local `day`) is
    made: the current plan's part of the period closed at `at` (the segment the change records) and `plan`
    current from then on. For a preview of the period's usage per plan: the caller loads usage into it
    (load_usage). A change of quantity alone keeps the plan, so the period stays one part."""
    if plan.pk == snap.plan_id:
        return replace(snap, usage={})
    tax = snap.tax
    if tax is not None:
        tax = replace(tax, product_rates=dict(tax.product_rates), refs_included=dict(tax.refs_included))
        _tax_item(tax, plan.code, plan.product.code, plan.product.vat_rate, price.vat_included)
    closed = PlanSegment(snap.plan_code, snap.plan_name, snap.product_code, snap.minimum, snap.usage_charges, at, day)
    return replace(
        snap,
        plan_id=plan.pk,
        plan_code=plan.code,
        plan_name=plan.name,
        product_id=plan.product_id,
        product_code=plan.product.code,
        minimum=price.minimum_commitment.amount if price.minimum_commitment is not None else None,
        usage_charges=usage_charges_of({plan.pk}).get((plan.pk, snap.currency), []),
        segments=[*snap.segments, closed],
        usage={},
        tax=tax,
    )


_AGGREGATES = {
    "sum": "COALESCE(SUM(e.quantity), 0)",
    "max": "COALESCE(MAX(e.quantity), 0)",
    "count": "COUNT(e.id)",
    "unique_count": "COUNT(DISTINCT e.properties ->> w.prop)",
    "last": "COALESCE((ARRAY_AGG(e.quantity ORDER BY e.timestamp DESC, e.id DESC))[1], 0)",
}


def load_usage(snaps: list[SubscriptionSnapshot], period_of: dict[int, Period]) -> None:
    """Aggregate usage for each subscription's metrics over its period (customer's local days), per part of the
    period on one plan (SubscriptionSnapshot.usage_parts): one query per aggregation kind in use."""
    windows: dict[str, list[tuple]] = defaultdict(list)
    for snap in snaps:
        snap.usage = {}
        for part in snap.usage_parts(period_of[snap.id]):
            if part.starts_at >= part.ends_at:
                continue
            for charge in part.usage_charges:
                windows[charge.aggregation].append(
                    (
                        snap.id,
                        part.no,
                        snap.customer_id,
                        charge.metric_id,
                        part.starts_at,
                        part.ends_at,
                        charge.unique_property,
                    )
                )
    by_id = {s.id: s for s in snaps}
    for aggregation, rows in windows.items():
        sql = f"""
            SELECT w.sub_id, w.part, w.metric_id, {_AGGREGATES[aggregation]}
              FROM unnest(%s::bigint[], %s::int[], %s::bigint[], %s::bigint[], %s::timestamptz[], %s::timestamptz[],
                          %s::text[])
                   AS w(sub_id, part, customer_id, metric_id, starts, ends, prop)
              LEFT JOIN plans_usageevent e
                ON e.customer_id = w.customer_id AND e.metric_id = w.metric_id
               AND e.timestamp >= w.starts AND e.timestamp < w.ends
             GROUP BY w.sub_id, w.part, w.metric_id
        """
        columns = list(zip(*rows, strict=True))
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(c) for c in columns])
            for sub_id, part, metric_id, quantity in cursor.fetchall():
                by_id[sub_id].usage[(part, metric_id)] = Decimal(quantity)


# The latest pending plan change due at each subscription's renewal, with its target plan and the target's
# latest price version in the subscription's currency (the plan may have none, or be gone).
_DUE_CHANGES_SQL = """
SELECT DISTINCT ON (c.subscription_id) c.subscription_id, c.id, p.id, p.code, p.name, pr.id, pr.code, p.interval,
       p.interval_count, p.charge_timing = 'in_advance', p.grandfathered,
       COALESCE((c.params ->> 'quantity')::int, s.quantity), pp.id, pp.amount, pp.setup_fee, pp.minimum_commitment,
       pp.amount_currency, COALESCE(pr.vat_rate, ''), COALESCE(pp.vat_included, true)
  FROM plans_scheduledchange c
  JOIN plans_subscription s ON s.id = c.subscription_id
  LEFT JOIN plans_plan p ON p.id = (c.params ->> 'plan_id')::bigint
  LEFT JOIN plans_product pr ON pr.id = p.product_id
  LEFT JOIN LATERAL (
      SELECT id, amount, setup_fee, minimum_commitment, amount_currency, vat_included FROM plans_planprice
       WHERE plan_id = p.id AND amount_currency = s.currency AND valid_from <= %s
       ORDER BY valid_from DESC LIMIT 1
  ) pp ON true
 WHERE c.subscription_id = ANY(%s::bigint[]) AND c.applied_at IS NULL AND c.canceled_at IS NULL
   AND c.kind = 'change_plan' AND c.effective_at <= s.next_billing_at
 ORDER BY c.subscription_id, c.effective_at DESC, c.id DESC
"""


def load_due_changes(snaps: dict[int, SubscriptionSnapshot], *, as_of: dt.datetime) -> None:
    """Attach to each snapshot the change scheduled for its period's end (one query for all)."""
    if not snaps:
        return
    with connection.cursor() as cursor:
        cursor.execute(_DUE_CHANGES_SQL, [as_of, array_literal(list(snaps))])
        for sub_id, *row in cursor.fetchall():
            snaps[sub_id].due_change = DueChange(
                id=row[0],
                plan_id=row[1],
                plan_code=row[2] or "",
                plan_name=row[3] or "",
                product_id=row[4],
                product_code=row[5] or "",
                interval=row[6] or "",
                interval_count=row[7] or 1,
                in_advance=bool(row[8]),
                grandfathered=bool(row[9]),
                quantity=row[10],
                price_id=row[11],
                unit_price=row[12],
                setup_fee=row[13],
                minimum=row[14],
                price_currency=row[15] or "",
                product_vat_rate=row[16],
                vat_included=row[17],
            )


def load_renewal_snapshots(subscription_ids: list[int], *, as_of: dt.datetime) -> dict[int, SubscriptionSnapshot]:
    """What a renewal at the end of the current period is decided from (plans.services.renewal): the snapshots,
    the changes scheduled for the period's end, and the period's usage of those billed for usage. The billing run
    and the upcoming-charge estimate both load it here, so they decide from the same data."""
    snaps = load_snapshots(subscription_ids, as_of=as_of)
    load_due_changes(snaps, as_of=as_of)
    with_usage = [s for s in snaps.values() if s.bills_usage and s.status != "trialing"]
    if with_usage:
        load_usage(with_usage, {s.id: s.period for s in with_usage})
    return snaps


def price_for(*, plan_id: int, currency: str, as_of: dt.datetime) -> PlanPrice | None:
    return (
        PlanPrice.objects.filter(plan_id=plan_id, amount_currency=currency, valid_from__lte=as_of)
        .order_by("-valid_from")
        .first()
    )


def option_price_for(*, option_id: int, currency: str, as_of: dt.datetime) -> OptionPrice | None:
    return (
        OptionPrice.objects.filter(option_id=option_id, amount_currency=currency, valid_from__lte=as_of)
        .order_by("-valid_from")
        .first()
    )


def live_subscription_ids(*, customer_id: int) -> list[int]:
    return list(
        Subscription.objects.filter(customer_id=customer_id, status__in=Subscription.LIVE).values_list("id", flat=True)
    )
