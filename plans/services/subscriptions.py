"""Subscription lifecycle: create, change plan or quantity (now with proration, or at period end),
cancel, pause, resume, options. Each top-level service owns its transaction, locks the subscription,
checks the source state, posts through the billing app's ledger service and writes its events.

Money moves through `Charge` rows: one per (subscription, period, kind) for period charges, one per
idempotency key for changes, so a retried request never charges twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from moneyed import Money

from billing.errors import CustomerClosed
from billing.locks import lock_customer
from billing.models import Customer, Transaction
from billing.services.charging import AccountResolver, charge_legs
from billing.services.ledger import ledger_post
from billing.services.outbox import event_emit
from plans import events
from plans.errors import (
    BundleNotFound,
    BundleNotPublished,
    CouponInvalid,
    CurrencyMismatch,
    InvalidQuantity,
    InvalidSubscriptionState,
    OptionNotAllowed,
    OptionNotFound,
    PlanNotFound,
    PlanOrBundleRequired,
    SubscriptionNotFound,
)
from plans.models import (
    Bundle,
    Charge,
    Coupon,
    Option,
    Plan,
    Promotion,
    ScheduledChange,
    Subscription,
    SubscriptionDiscount,
    SubscriptionOption,
)
from plans.pricing.charges import ChargeLine, LineKind, PricedItem, plan_change_lines, total
from plans.pricing.periods import Period, local_date, local_midnight, period_at
from plans.services.charging import (
    SubscriptionSnapshot,
    change_lines,
    load_snapshots,
    load_usage,
    option_price_for,
    price_for,
    recurring_lines,
    setup_lines,
    unused_credit_lines,
    usage_lines,
    used_lines,
)

MAX_QUANTITY = 1_000_000


@dataclass(frozen=True)
class ChangePreview:
    lines: list[ChargeLine]
    total: Decimal
    currency: str
    period: Period
    change_day: dt.date


# --- helpers ------------------------------------------------------------------------------------


def _plan(code: str) -> Plan:
    plan = Plan.objects.select_related("product", "bundle").filter(code=code, is_active=True).first()
    if plan is None:
        raise PlanNotFound(f"No active plan {code!r}.", field="plan")
    return plan


def _bundle_plan(code: str) -> Plan:
    """The plan that sells an active, published bundle."""
    bundle = Bundle.objects.select_related("plan__product").filter(code=code, is_active=True).first()
    if bundle is None:
        raise BundleNotFound(f"No active bundle {code!r}.", field="bundle")
    if bundle.plan is None or not bundle.plan.is_active:
        raise BundleNotPublished(
            f"Bundle {code!r} is not published: it has no active plan to bill it (publish it "
            f"by saving it in the admin).",
            field="bundle",
        )
    bundle.plan.bundle = bundle
    return bundle.plan


def _bundle_of(plan: Plan) -> Bundle | None:
    """The bundle the plan sells, or None for a plain plan."""
    try:
        return plan.bundle
    except Bundle.DoesNotExist:
        return None


def _included_option_codes(bundle: Bundle) -> set[str]:
    return set(bundle.items.filter(option__isnull=False).values_list("option__code", flat=True))


def _check_bundle_quantity(bundle: Bundle, quantity: int) -> None:
    if quantity != 1:
        raise InvalidQuantity(f"Bundle {bundle.code!r} is sold one at a time: its quantity is 1.", field="quantity")


def _check_quantity(quantity, field: str = "quantity") -> int:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidQuantity(f"Quantity must be a whole number from 1 to {MAX_QUANTITY}.", field=field)
    return quantity


def _lock_subscription(subscription_id: int, *, customer_scope: int | None = None) -> Subscription:
    qs = Subscription.objects.select_for_update(of=("self",), no_key=True).filter(pk=subscription_id)
    if customer_scope is not None:
        qs = qs.filter(customer_id=customer_scope)
    rows = list(qs)
    if not rows:
        raise SubscriptionNotFound(f"Subscription {subscription_id} not found.")
    return rows[0]


def _require(sub: Subscription, *states: str, action: str) -> None:
    if sub.status not in states:
        raise InvalidSubscriptionState(
            f"Cannot {action} a subscription that is {sub.status}.", extra={"status": sub.status}
        )


def _line_json(line: ChargeLine) -> dict:
    return {
        "kind": line.kind.value,
        "description": line.description,
        "amount": str(line.amount),
        "currency": line.currency,
        "quantity": str(line.quantity),
        "ref": line.ref,
    }


def _event(type_: str, sub: Subscription, **extra) -> None:
    payload = {
        "subscription_id": sub.pk,
        "customer_id": sub.customer_id,
        "status": sub.status,
        "plan_id": sub.plan_id,
        "quantity": sub.quantity,
        **extra,
    }
    event_emit(type=type_, payload=payload, customer_id=sub.customer_id)


def charge_post(
    *,
    snap: SubscriptionSnapshot,
    kind: str,
    period: Period,
    lines: list[ChargeLine],
    key: str,
    effective_date: dt.date,
    accounts: AccountResolver | None = None,
    at: dt.datetime | None = None,
) -> Charge:
    """Record one charge and post it to the ledger, idempotently: an existing charge for the same
    key, or for the same (subscription, period, kind) of a per-period kind, is returned as it is."""
    amount = total(lines) if lines else Decimal(0)
    existing = Charge.objects.filter(key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            charge = Charge.objects.create(
                subscription_id=snap.id,
                kind=kind,
                period_start=period.start,
                period_end=period.end,
                amount=Money(amount, snap.currency),
                key=key,
                lines=[_line_json(x) for x in lines],
            )
    except IntegrityError:
        existing = Charge.objects.filter(
            Q(key=key) | Q(subscription_id=snap.id, period_start=period.start, kind=kind, kind__in=Charge.PER_PERIOD)
        ).first()
        if existing is None:
            raise
        return existing
    legs = charge_legs(
        accounts=accounts or AccountResolver(), customer_id=snap.customer_id, lines=lines, product_of=snap.product_of
    )
    if legs:
        tx = ledger_post(
            kind=Transaction.Kind.CHARGE,
            key=key,
            legs=legs,
            effective_date=effective_date,
            customer=snap.customer_id,
            source_type="subscription",
            source_id=str(snap.id),
            description=f"{Charge.Kind(kind).label}: subscription #{snap.id}",
        )
        Charge.objects.filter(pk=charge.pk).update(transaction_id=tx.pk)
        charge.transaction_id = tx.pk
        if amount > 0:
            from billing.services.billing_run import customers_mark_past_due

            customers_mark_past_due(customer_ids=[snap.customer_id], at=at or timezone.now())
    event_emit(
        type=events.CHARGE_POSTED,
        customer_id=snap.customer_id,
        payload={
            "charge_id": charge.pk,
            "subscription_id": snap.id,
            "kind": kind,
            "amount": str(amount),
            "currency": snap.currency,
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
            "transaction_id": charge.transaction_id,
        },
    )
    return charge


def _snapshot(sub: Subscription, at: dt.datetime) -> SubscriptionSnapshot:
    return load_snapshots([sub.pk], as_of=at)[sub.pk]


def _redeem_coupon(*, sub: Subscription, plan: Plan, code: str, at: dt.datetime) -> SubscriptionDiscount:
    coupons = list(
        Coupon.objects.select_for_update(of=("self",), no_key=True)
        .select_related("promotion")
        .filter(code=code.strip().upper())
    )
    coupon = coupons[0] if coupons else None
    if coupon is None or not coupon.is_active:
        raise CouponInvalid(f"Coupon {code!r} does not exist or is not active.", field="coupon")
    promo: Promotion = coupon.promotion
    if coupon.expires_at and coupon.expires_at <= at:
        raise CouponInvalid(f"Coupon {code!r} has expired.", field="coupon")
    if coupon.max_redemptions is not None and coupon.times_redeemed >= coupon.max_redemptions:
        raise CouponInvalid(f"Coupon {code!r} has been fully redeemed.", field="coupon")
    if (
        not promo.is_active
        or (promo.valid_from and promo.valid_from > at)
        or (promo.valid_until and promo.valid_until <= at)
    ):
        raise CouponInvalid(f"The promotion behind {code!r} is not running.", field="coupon")
    plan_ids = set(promo.plans.values_list("id", flat=True))
    product_ids = set(promo.products.values_list("id", flat=True))
    if (plan_ids or product_ids) and plan.pk not in plan_ids and plan.product_id not in product_ids:
        raise CouponInvalid(f"Coupon {code!r} does not apply to plan {plan.code!r}.", field="coupon")
    if promo.amount is not None and promo.amount.currency.code != sub.currency:
        raise CouponInvalid(f"Coupon {code!r} is in {promo.amount.currency.code}, not {sub.currency}.", field="coupon")
    Coupon.objects.filter(pk=coupon.pk).update(times_redeemed=F("times_redeemed") + 1)
    periods = {
        Promotion.Duration.ONCE: 1,
        Promotion.Duration.REPEATING: promo.duration_periods,
        Promotion.Duration.FOREVER: None,
    }[promo.duration]
    return SubscriptionDiscount.objects.create(
        subscription=sub, promotion=promo, coupon=coupon, periods_remaining=periods
    )


def _use_discount_periods(subscription_ids: list[int]) -> None:
    SubscriptionDiscount.objects.filter(subscription_id__in=subscription_ids, periods_remaining__gt=0).update(
        periods_remaining=F("periods_remaining") - 1
    )


# --- create -------------------------------------------------------------------------------------


def subscription_create(
    *,
    customer_id: int,
    plan_code: str | None = None,
    bundle_code: str | None = None,
    quantity: int = 1,
    currency: str | None = None,
    coupon_code: str | None = None,
    options: list[tuple[str, int]] = (),
    trial_days: int | None = None,
    key: str | None = None,
    at: dt.datetime | None = None,
    external_id: str | None = None,
) -> Subscription:
    """Subscribe to a plan (`plan_code`) or to a bundle (`bundle_code`: exactly one of the two).

    A bundle is subscribed through the plan that sells it (plans.services.bundles.bundle_publish): quantity
    1, billed its package price; the options it includes are entitlements, neither added nor charged."""
    at = at or timezone.now()
    if not plan_code and not bundle_code:
        raise PlanOrBundleRequired("Send the plan or the bundle to subscribe to.", field="plan")
    if plan_code and bundle_code:
        raise PlanOrBundleRequired("Send a plan or a bundle, not both.", field="bundle")
    quantity = _check_quantity(quantity)
    key = key or uuid.uuid4().hex
    with transaction.atomic(durable=True):
        customer = lock_customer(customer_id)
        if customer.status == Customer.Status.CLOSED:
            raise CustomerClosed(f"Customer {customer.pk} is closed.")
        plan = _bundle_plan(bundle_code) if bundle_code else _plan(plan_code)
        bundle = _bundle_of(plan)
        if bundle is not None:
            if not bundle.is_active:
                raise BundleNotFound(f"No active bundle {bundle.code!r}.", field="bundle" if bundle_code else "plan")
            _check_bundle_quantity(bundle, quantity)
            included = _included_option_codes(bundle) & {code for code, _ in options}
            if included:
                raise OptionNotAllowed(
                    f"Option {sorted(included)[0]!r} is included in bundle {bundle.code!r}: it is "
                    f"not added (nor charged) on its own.",
                    field="options",
                )
        currency = (currency or customer.currency).upper()
        if currency != customer.currency:
            raise CurrencyMismatch(f"The customer is billed in {customer.currency}, not {currency}.", field="currency")
        price = price_for(plan_id=plan.pk, currency=currency, as_of=at)
        if price is None:
            if bundle_code:
                raise CurrencyMismatch(f"Bundle {bundle_code!r} has no price in {currency}.", field="bundle")
            raise CurrencyMismatch(f"Plan {plan.code!r} has no price in {currency}.", field="plan")
        trial = plan.trial_days if trial_days is None else trial_days
        if trial < 0:
            raise InvalidQuantity("Trial days must not be negative.", field="trial_days")
        start = local_date(at, customer.timezone)
        if trial:
            anchor = start + dt.timedelta(days=trial)
            period, status, trial_end = Period(start, anchor), Subscription.Status.TRIALING, anchor
        else:
            anchor = start
            period = period_at(anchor, plan.interval, 0, count=plan.interval_count)
            status, trial_end = Subscription.Status.ACTIVE, None
        sub = Subscription.objects.create(
            customer=customer,
            plan=plan,
            price=price,
            currency=currency,
            quantity=quantity,
            status=status,
            billing_anchor=anchor,
            current_period_start=period.start,
            current_period_end=period.end,
            trial_end=trial_end,
            next_billing_at=local_midnight(period.end, customer.timezone),
            external_id=external_id,
        )
        for option_code, option_quantity in options:
            _attach_option(sub=sub, plan=plan, code=option_code, quantity=option_quantity, at=at)
        if coupon_code:
            _redeem_coupon(sub=sub, plan=plan, code=coupon_code, at=at)
        _event(
            events.SUBSCRIPTION_CREATED,
            sub,
            period_start=period.start.isoformat(),
            period_end=period.end.isoformat(),
            **({"bundle": bundle.code} if bundle is not None else {}),
        )
        if not trial:
            snap = _snapshot(sub, at)
            accounts = AccountResolver()
            charge_post(
                snap=snap,
                kind=Charge.Kind.SETUP,
                period=period,
                lines=setup_lines(snap, period),
                key=f"sub:{sub.pk}:{period.start}:setup",
                effective_date=start,
                accounts=accounts,
                at=at,
            )
            if plan.charge_timing == Plan.ChargeTiming.IN_ADVANCE:
                charge_post(
                    snap=snap,
                    kind=Charge.Kind.RECURRING,
                    period=period,
                    lines=recurring_lines(snap, period),
                    key=f"sub:{sub.pk}:{period.start}:recurring",
                    effective_date=start,
                    accounts=accounts,
                    at=at,
                )
                _use_discount_periods([sub.pk])
            for so in snap.options:
                if not so.recurring:
                    _charge_one_time_option(
                        snap=snap, option=so, key=f"sub:{sub.pk}:option:{so.id}", day=start, accounts=accounts, at=at
                    )
    return sub


def _attach_option(*, sub: Subscription, plan: Plan, code: str, quantity: int, at: dt.datetime) -> SubscriptionOption:
    quantity = _check_quantity(quantity, "options.quantity")
    option = Option.objects.filter(code=code, is_active=True).first()
    if option is None:
        raise OptionNotFound(f"No active option {code!r}.", field="options")
    allowed_plans = set(option.plans.values_list("id", flat=True))
    if option.product_id != plan.product_id and plan.pk not in allowed_plans:
        raise OptionNotAllowed(f"Option {code!r} is not available on plan {plan.code!r}.", field="options")
    if allowed_plans and plan.pk not in allowed_plans:
        raise OptionNotAllowed(f"Option {code!r} is not available on plan {plan.code!r}.", field="options")
    if option.max_quantity is not None and quantity > option.max_quantity:
        raise InvalidQuantity(f"Option {code!r} allows at most {option.max_quantity}.", field="options.quantity")
    price = option_price_for(option_id=option.pk, currency=sub.currency, as_of=at)
    if price is None:
        raise CurrencyMismatch(f"Option {code!r} has no price in {sub.currency}.", field="options")
    try:
        with transaction.atomic():
            return SubscriptionOption.objects.create(subscription=sub, option=option, price=price, quantity=quantity)
    except IntegrityError as exc:
        raise OptionNotAllowed(f"Option {code!r} is already on the subscription.", field="options") from exc


def _charge_one_time_option(
    *,
    snap: SubscriptionSnapshot,
    option,
    key: str,
    day: dt.date,
    accounts: AccountResolver,
    at: dt.datetime | None = None,
) -> Charge:
    from plans.pricing.charges import line

    lines = [
        line(
            LineKind.OPTION,
            f"{option.name} × {option.quantity}",
            option.unit_price * option.quantity,
            snap.currency,
            quantity=Decimal(option.quantity),
            ref=option.code,
        )
    ]
    return charge_post(
        snap=snap,
        kind=Charge.Kind.ONE_TIME,
        period=Period(day, day + dt.timedelta(days=1)),
        lines=lines,
        key=key,
        effective_date=day,
        accounts=accounts,
        at=at,
    )


# --- plan and quantity changes ------------------------------------------------------------------


def _change_target(sub: Subscription, *, plan_code: str | None, quantity: int | None, at: dt.datetime):
    plan = _plan(plan_code) if plan_code else sub.plan
    bundle = _bundle_of(plan)
    if bundle is not None and quantity is None:
        quantity = 1  # a change to a bundle takes one of it, whatever the seats on the old plan
    quantity = _check_quantity(quantity if quantity is not None else sub.quantity)
    if bundle is not None:
        _check_bundle_quantity(bundle, quantity)
        if plan.pk != sub.plan_id:
            if not bundle.is_active:
                raise BundleNotFound(f"No active bundle {bundle.code!r}.", field="plan")
            included = _included_option_codes(bundle) & set(
                SubscriptionOption.objects.filter(subscription=sub, removed_at=None).values_list(
                    "option__code", flat=True
                )
            )
            if included:
                raise OptionNotAllowed(
                    f"Option {sorted(included)[0]!r} on the subscription is included in bundle "
                    f"{bundle.code!r}: remove it before the change.",
                    field="plan",
                )
    price = price_for(plan_id=plan.pk, currency=sub.currency, as_of=at) if plan.pk != sub.plan_id else sub.price
    if price is None:
        raise CurrencyMismatch(f"Plan {plan.code!r} has no price in {sub.currency}.", field="plan")
    if plan.pk == sub.plan_id and quantity == sub.quantity:
        raise InvalidSubscriptionState("The subscription already has this plan and quantity.", field="plan")
    return plan, price, quantity


def _check_change_now(sub: Subscription, plan: Plan) -> None:
    old = sub.plan
    if (plan.interval, plan.interval_count) != (old.interval, old.interval_count):
        raise InvalidSubscriptionState(
            "A change to a plan with another billing period takes effect at period end.", field="when"
        )
    if old.charge_timing != Plan.ChargeTiming.IN_ADVANCE or plan.charge_timing != Plan.ChargeTiming.IN_ADVANCE:
        raise InvalidSubscriptionState(
            "Plans billed in arrears change at period end (nothing was paid in advance to prorate).", field="when"
        )


def subscription_change_preview(
    *,
    subscription_id: int,
    plan_code: str | None = None,
    quantity: int | None = None,
    customer_scope: int | None = None,
    at: dt.datetime | None = None,
) -> ChangePreview:
    """Exactly the lines `subscription_change_plan(when="now")` would post, without posting them."""
    at = at or timezone.now()
    qs = Subscription.objects.select_related("plan", "price", "customer").filter(pk=subscription_id)
    if customer_scope is not None:
        qs = qs.filter(customer_id=customer_scope)
    sub = qs.first()
    if sub is None:
        raise SubscriptionNotFound(f"Subscription {subscription_id} not found.")
    _require(sub, Subscription.Status.ACTIVE, Subscription.Status.TRIALING, action="change")
    plan, price, quantity = _change_target(sub, plan_code=plan_code, quantity=quantity, at=at)
    snap = _snapshot(sub, at)
    day = local_date(at, snap.customer_tz)
    if sub.status == Subscription.Status.TRIALING:
        lines = []
    else:
        _check_change_now(sub, plan)
        lines = change_lines(
            snap,
            day=day,
            new_unit_price=price.amount.amount,
            new_quantity=quantity,
            new_plan=(plan.code, plan.name),
            new_plan_key=(plan.pk, plan.product_id),
        )
    return ChangePreview(
        lines=lines,
        total=total(lines) if lines else Decimal(0),
        currency=sub.currency,
        period=snap.period,
        change_day=day,
    )


def subscription_change_plan(
    *,
    subscription_id: int,
    plan_code: str | None = None,
    quantity: int | None = None,
    when: str = "now",
    key: str | None = None,
    customer_scope: int | None = None,
    at: dt.datetime | None = None,
) -> tuple[Subscription, Charge | None]:
    """Change plan and/or quantity now (prorated by days in the customer's calendar) or at period end."""
    at = at or timezone.now()
    if when not in ("now", "period_end"):
        raise InvalidSubscriptionState("`when` is 'now' or 'period_end'.", field="when")
    key = key or uuid.uuid4().hex
    with transaction.atomic(durable=True):
        sub = _lock_subscription(subscription_id, customer_scope=customer_scope)
        existing = Charge.objects.filter(key=f"sub:{sub.pk}:change:{key}").first()
        if existing is not None:
            return sub, existing
        _require(sub, Subscription.Status.ACTIVE, Subscription.Status.TRIALING, action="change")
        plan, price, quantity = _change_target(sub, plan_code=plan_code, quantity=quantity, at=at)
        if when == "period_end":
            ScheduledChange.objects.filter(
                subscription=sub, applied_at=None, canceled_at=None, kind=ScheduledChange.Kind.CHANGE_PLAN
            ).update(canceled_at=at)
            ScheduledChange.objects.create(
                subscription=sub,
                kind=ScheduledChange.Kind.CHANGE_PLAN,
                params={"plan_id": plan.pk, "quantity": quantity},
                effective_at=sub.next_billing_at or at,
            )
            _event(
                events.SUBSCRIPTION_UPDATED,
                sub,
                scheduled={"plan": plan.code, "quantity": quantity, "at": (sub.next_billing_at or at).isoformat()},
            )
            return sub, None
        charge = None
        if sub.status == Subscription.Status.ACTIVE:
            _check_change_now(sub, plan)
            snap = _snapshot(sub, at)
            day = local_date(at, snap.customer_tz)
            lines = change_lines(
                snap,
                day=day,
                new_unit_price=price.amount.amount,
                new_quantity=quantity,
                new_plan=(plan.code, plan.name),
                new_plan_key=(plan.pk, plan.product_id),
            )
            if plan.pk != sub.plan_id:  # the new plan's lines are revenue of its own product
                snap.other_products[plan.code] = plan.product.code
            charge = charge_post(
                snap=snap,
                kind=Charge.Kind.PRORATION,
                period=snap.period,
                lines=lines,
                key=f"sub:{sub.pk}:change:{key}",
                effective_date=day,
                at=at,
            )
        old_plan = sub.plan.code
        sub.plan, sub.price, sub.quantity = plan, price, quantity
        sub.save(update_fields=["plan", "price", "quantity", "updated_at"])
        _event(
            events.SUBSCRIPTION_UPDATED,
            sub,
            old_plan=old_plan,
            new_plan=plan.code,
            charge_id=charge.pk if charge else None,
        )
    return sub, charge


# --- cancel, pause, resume ----------------------------------------------------------------------


def _charge_usage_until(snap: SubscriptionSnapshot, *, day: dt.date, at: dt.datetime) -> Charge | None:
    """Bill the usage of [period start, `day`) when the period is cut short (cancel now, pause, a suspension
    settled before a restart): the billing run bills usage only at renewal, which an interrupted period
    never reaches. Posted under the run's own key and guard (subscription, period start, usage), so it is
    the period's one usage charge: the run can never bill the same period start again. Hence a period whose
    usage was billed cannot go on (`subscription_resume` restarts it instead of taking the pause back).
    The minimum commitment is prorated by days: the part's usage is topped up to minimum × days used / days
    of the period, as a whole period's usage is topped up to the whole minimum."""
    period = snap.period
    if not snap.usage_charges or snap.status == Subscription.Status.TRIALING or not period.start < day:
        return None  # no usage billed on the plan, in a trial, or not a single day used
    part = Period(period.start, min(day, period.end))
    minimum = snap.minimum * Decimal(part.days) / Decimal(period.days) if snap.minimum else None
    part_snap = replace(snap, minimum=minimum, usage={})
    load_usage([part_snap], {snap.id: part})
    lines = [
        replace(x, description=f"{x.description} ({part.days}/{period.days} days)") if x.kind == LineKind.MINIMUM else x
        for x in usage_lines(part_snap, part)
    ]
    return charge_post(
        snap=snap,
        kind=Charge.Kind.USAGE,
        period=part,
        lines=lines,
        key=f"sub:{snap.id}:{period.start}:{Charge.Kind.USAGE}",
        effective_date=local_date(at, snap.customer_tz),
        at=at,
    )


def _settle(sub: Subscription, *, at: dt.datetime, key: str, day: dt.date | None = None) -> Charge:
    """Settle the current period up to `day` (default: the customer's today): credit the unused part of a
    period paid in advance, or charge the used part of one billed in arrears; and bill its usage up to
    `day` (`_charge_usage_until`). Posted as of today."""
    snap = _snapshot(sub, at)
    day = day or local_date(at, snap.customer_tz)
    _charge_usage_until(snap, day=day, at=at)
    if snap.in_advance:
        lines = unused_credit_lines(snap, day=day)
        kind = Charge.Kind.CANCEL_CREDIT
    else:
        lines = used_lines(snap, day=day)
        kind = Charge.Kind.PRORATION
    return charge_post(
        snap=snap,
        kind=kind,
        period=snap.period,
        lines=lines,
        key=key,
        effective_date=local_date(at, snap.customer_tz),
        at=at,
    )


def _settle_now(sub: Subscription, *, at: dt.datetime, key: str) -> Charge | None:
    """Settle an active subscription's period as of today (cancel now, pause)."""
    if sub.status != Subscription.Status.ACTIVE:
        return None
    return _settle(sub, at=at, key=key)


def subscription_cancel(
    *,
    subscription_id: int,
    at_period_end: bool = False,
    key: str | None = None,
    customer_scope: int | None = None,
    at: dt.datetime | None = None,
) -> tuple[Subscription, Charge | None]:
    """Cancel now (the unused part is credited back to the balance) or at the end of the period."""
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        sub = _lock_subscription(subscription_id, customer_scope=customer_scope)
        if sub.status == Subscription.Status.CANCELED and not at_period_end:
            return sub, None  # retry of a cancellation: nothing more to do
        _require(sub, *Subscription.LIVE, action="cancel")
        if at_period_end:
            if sub.status in (Subscription.Status.PAUSED, Subscription.Status.SUSPENDED):
                raise InvalidSubscriptionState(
                    f"A {sub.status} subscription is canceled now, not at period end.", field="at_period_end"
                )
            sub.cancel_at_period_end = True
            sub.save(update_fields=["cancel_at_period_end", "updated_at"])
            _event(events.SUBSCRIPTION_UPDATED, sub, cancel_at_period_end=True)
            return sub, None
        charge = None
        if sub.status == Subscription.Status.SUSPENDED:
            # settle the period it was suspended in (the unused part of a period paid in advance is credited
            # from the suspension day); a cancellation on the day of the suspension settles like an active one
            reopened, charge = _settle_suspension(sub, at=at)
            if reopened:
                charge = _settle_now(sub, at=at, key=f"sub:{sub.pk}:cancel:{key or 'now'}")
        else:
            charge = _settle_now(sub, at=at, key=f"sub:{sub.pk}:cancel:{key or 'now'}")
        sub.status = Subscription.Status.CANCELED
        sub.canceled_at = sub.ended_at = at
        sub.next_billing_at = None
        sub.save(update_fields=["status", "canceled_at", "ended_at", "next_billing_at", "updated_at"])
        ScheduledChange.objects.filter(subscription=sub, applied_at=None, canceled_at=None).update(canceled_at=at)
        _event(events.SUBSCRIPTION_CANCELED, sub, charge_id=charge.pk if charge else None)
    return sub, charge


def subscription_pause(
    *, subscription_id: int, customer_scope: int | None = None, at: dt.datetime | None = None
) -> tuple[Subscription, Charge | None]:
    """Pause now: the unused part of the period is credited; no renewals until resumed."""
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        sub = _lock_subscription(subscription_id, customer_scope=customer_scope)
        if sub.status == Subscription.Status.PAUSED:
            return sub, None
        _require(sub, Subscription.Status.ACTIVE, action="pause")
        # one key per pause (the state check above makes a retry a no-op): a pause undone by a resume the
        # same day and paused again must be credited again
        charge = _settle_now(sub, at=at, key=f"sub:{sub.pk}:pause:{at.astimezone(dt.UTC).isoformat()}")
        sub.status, sub.paused_at, sub.next_billing_at = Subscription.Status.PAUSED, at, None
        sub.save(update_fields=["status", "paused_at", "next_billing_at", "updated_at"])
        _event(events.SUBSCRIPTION_PAUSED, sub, charge_id=charge.pk if charge else None)
    return sub, charge


def _reopen(sub: Subscription, *, status: str) -> None:
    """Carry on with the current period as if it had never been interrupted (same anchor, same renewal)."""
    sub.status, sub.paused_at, sub.suspended_at = status, None, None
    sub.next_billing_at = local_midnight(sub.current_period_end, sub.customer.timezone)
    sub.save(update_fields=["status", "paused_at", "suspended_at", "next_billing_at", "updated_at"])


def _undo_pause(sub: Subscription, *, at: dt.datetime) -> Charge | None:
    """A resume on the day of the pause: the pause is taken back. Not a single day was skipped, so the
    period goes on as it was and what the pause settled (the credit of the unused part of a period paid
    in advance, or the charge of the used part of one billed in arrears) is posted back, line by line."""
    paused = (
        Charge.objects.filter(
            subscription=sub, key__startswith=f"sub:{sub.pk}:pause:", period_start=sub.current_period_start
        )
        .order_by("-pk")
        .first()
    )
    _reopen(sub, status=Subscription.Status.ACTIVE)
    if paused is None:
        return None
    period = Period(paused.period_start, paused.period_end)
    lines = []
    for x in paused.lines:
        amount = -Decimal(x["amount"]) if Decimal(x["amount"]) else Decimal(x["amount"])
        kind = (
            LineKind.DISCOUNT
            if x["kind"] == LineKind.DISCOUNT
            else LineKind.PRORATION_CHARGE
            if amount > 0
            else LineKind.PRORATION_CREDIT
        )
        lines.append(
            ChargeLine(
                kind,
                f"{x['description']}: pause taken back"[:255],
                amount,
                x["currency"],
                quantity=Decimal(x["quantity"]),
                ref=x["ref"],
                period=period,
            )
        )
    snap = _snapshot(sub, at)
    return charge_post(
        snap=snap,
        kind=Charge.Kind.PRORATION,
        period=period,
        lines=lines,
        key=f"sub:{sub.pk}:unpause:{paused.pk}",
        effective_date=local_date(at, snap.customer_tz),
        at=at,
    )


def _was_trial(sub: Subscription) -> bool:
    return sub.trial_end is not None and sub.current_period_start < sub.trial_end


def _settle_suspension(sub: Subscription, *, at: dt.datetime) -> tuple[bool, Charge | None]:
    """Before a suspended subscription restarts: settle the period it was suspended in.

    A suspension at a period boundary (billing run `_renewal`) charges no new period, so there is
    nothing to settle: the period it keeps has already ended. A suspension in the middle of a period
    (`subscriptions_suspend_overdue`) cuts a period short that was paid in advance (or is billed in
    arrears): it is settled as of the day of the suspension, like a pause (the unused part credited, or
    the used part charged), so the fresh period that starts on the day of the top-up never charges a
    day twice, and the suspended days are not charged at all. A restart on the very day of the
    suspension skipped no day: the period simply goes on (returns True, nothing posted); so does a trial
    suspended and restarted before its end."""
    tz = sub.customer.timezone
    period = Period(sub.current_period_start, sub.current_period_end)
    suspended_on = local_date(sub.suspended_at or at, tz)
    if not period.contains(suspended_on):
        return False, None  # suspended at (or after) the period's end: nothing of it was left
    if suspended_on == local_date(at, tz):
        _reopen(sub, status=Subscription.Status.TRIALING if _was_trial(sub) else Subscription.Status.ACTIVE)
        return True, None
    if _was_trial(sub):
        if local_date(at, tz) < sub.trial_end:
            # still within the trial: it goes on to its end (the suspended days were free anyway), and the
            # billing run converts it to the paid plan at `trial_end` as it would have
            _reopen(sub, status=Subscription.Status.TRIALING)
            return True, None
        return False, None  # the trial ended while suspended: a paid period starts today (a trial is never billed)
    if (
        sub.plan.charge_timing == Plan.ChargeTiming.IN_ADVANCE
        and not Charge.objects.filter(subscription=sub, kind=Charge.Kind.RECURRING, period_start=period.start).exists()
    ):
        _charge_usage_until(_snapshot(sub, at), day=suspended_on, at=at)  # what was used is billed all the same
        return False, None  # nothing was charged for it, nothing to credit
    return False, _settle(sub, at=at, day=suspended_on, key=f"sub:{sub.pk}:suspension:{period.start}:{suspended_on}")


def _restart(sub: Subscription, *, at: dt.datetime, reason: str) -> Charge | None:
    """Start a fresh period on the customer's today (resume, or recovery from suspension), charged in
    advance for plans billed in advance. The caller has settled the interrupted period (pause: when it
    paused; suspension: `_settle_suspension`), so no day is in two charged periods. A period cannot
    start where a charged one did (one recurring charge per period start): a restart on the day of the
    interruption carries on with the current period instead (`_undo_pause`, `_settle_suspension`)."""
    tz = sub.customer.timezone
    day = local_date(at, tz)
    period = period_at(day, sub.plan.interval, 0, count=sub.plan.interval_count)
    sub.billing_anchor, sub.current_period_start, sub.current_period_end = day, period.start, period.end
    sub.status, sub.paused_at, sub.suspended_at = Subscription.Status.ACTIVE, None, None
    sub.next_billing_at = local_midnight(period.end, tz)
    sub.save(
        update_fields=[
            "billing_anchor",
            "current_period_start",
            "current_period_end",
            "status",
            "paused_at",
            "suspended_at",
            "next_billing_at",
            "updated_at",
        ]
    )
    if sub.plan.charge_timing != Plan.ChargeTiming.IN_ADVANCE:
        return None
    snap = _snapshot(sub, at)
    charge = charge_post(
        snap=snap,
        kind=Charge.Kind.RECURRING,
        period=period,
        lines=recurring_lines(snap, period),
        key=f"sub:{sub.pk}:{period.start}:recurring",
        effective_date=day,
        at=at,
    )
    _use_discount_periods([sub.pk])
    return charge


def subscription_resume(
    *, subscription_id: int, customer_scope: int | None = None, at: dt.datetime | None = None
) -> tuple[Subscription, Charge | None]:
    """Resume a paused subscription: a new period starts today and is charged in advance.

    A resume on the day of the pause (the customer's calendar) takes the pause back instead: the
    period goes on with its anchor and what the pause credited is charged again (`_undo_pause`). A
    fresh period from that day would start where the credited one did and could not be charged (one
    recurring charge per period start), which would give the customer the period for free."""
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        sub = _lock_subscription(subscription_id, customer_scope=customer_scope)
        if sub.status == Subscription.Status.ACTIVE:
            return sub, None
        _require(sub, Subscription.Status.PAUSED, action="resume")
        tz = sub.customer.timezone
        # a pause that billed the period's usage cannot be taken back: the run would never bill the rest of
        # that period's usage (one usage charge per period start), so the resume starts a fresh period
        usage_billed = Charge.objects.filter(
            subscription=sub, kind=Charge.Kind.USAGE, period_start=sub.current_period_start
        ).exists()
        if sub.paused_at is not None and local_date(sub.paused_at, tz) == local_date(at, tz) and not usage_billed:
            charge = _undo_pause(sub, at=at)
        else:
            charge = _restart(sub, at=at, reason="resume")
        _event(events.SUBSCRIPTION_RESUMED, sub, charge_id=charge.pk if charge else None)
    return sub, charge


def subscriptions_reactivate_for_customer(*, customer_id: int, at: dt.datetime | None = None) -> list[int]:
    """Resume the customer's subscriptions suspended for insufficient funds (called once a top-up
    covers the debt). The period each was suspended in is settled as of the suspension day
    (`_settle_suspension`); then each restarts with a period from today, charged in advance (or, on the
    day of the suspension, simply goes on with its period)."""
    at = at or timezone.now()
    resumed = []
    with transaction.atomic(durable=True):
        subs = list(
            Subscription.objects.select_for_update(of=("self",), no_key=True)
            .select_related("customer", "plan")
            .filter(customer_id=customer_id, status=Subscription.Status.SUSPENDED)
            .order_by("pk")
        )
        for sub in subs:
            reopened, credit = _settle_suspension(sub, at=at)
            charge = None if reopened else _restart(sub, at=at, reason="funds")
            _event(
                events.SUBSCRIPTION_RESUMED,
                sub,
                reason="funds",
                charge_id=charge.pk if charge else None,
                settlement_id=credit.pk if credit else None,
            )
            resumed.append(sub.pk)
    return resumed


# --- options ------------------------------------------------------------------------------------


def subscription_option_add(
    *,
    subscription_id: int,
    option_code: str,
    quantity: int = 1,
    key: str | None = None,
    customer_scope: int | None = None,
    at: dt.datetime | None = None,
) -> Charge | None:
    """Add an option: one-time options are charged in full, recurring ones for the rest of the period."""
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        sub = _lock_subscription(subscription_id, customer_scope=customer_scope)
        _require(sub, Subscription.Status.ACTIVE, Subscription.Status.TRIALING, action="add an option to")
        so = _attach_option(sub=sub, plan=sub.plan, code=option_code, quantity=quantity, at=at)
        snap = _snapshot(sub, at)
        day = local_date(at, snap.customer_tz)
        option = next(o for o in snap.options if o.id == so.pk)
        charge = None
        if not option.recurring:
            charge = _charge_one_time_option(
                snap=snap, option=option, key=f"sub:{sub.pk}:option:{so.pk}", day=day, accounts=AccountResolver(), at=at
            )
        elif sub.status == Subscription.Status.ACTIVE and snap.in_advance:
            item = PricedItem(
                LineKind.OPTION, option.code, option.name, option.unit_price, Decimal(option.quantity), snap.currency
            )
            held = [x for x in snap.items() if x.ref != option.code]
            lines = plan_change_lines(
                old=[],
                new=[item],
                period=snap.period,
                change_day=day,
                held=held,
                discounts=snap.pricing_discounts([*held, item]),
            )
            charge = charge_post(
                snap=snap,
                kind=Charge.Kind.PRORATION,
                period=snap.period,
                lines=lines,
                key=f"sub:{sub.pk}:option:{so.pk}",
                effective_date=day,
                at=at,
            )
        _event(events.SUBSCRIPTION_UPDATED, sub, option_added=option_code, charge_id=charge.pk if charge else None)
    return charge


def subscription_option_remove(
    *, subscription_id: int, option_code: str, customer_scope: int | None = None, at: dt.datetime | None = None
) -> Charge | None:
    """Remove a recurring option; the unused part of the period is credited."""
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        sub = _lock_subscription(subscription_id, customer_scope=customer_scope)
        _require(sub, Subscription.Status.ACTIVE, Subscription.Status.TRIALING, action="remove an option from")
        so = (
            SubscriptionOption.objects.select_for_update()
            .select_related("option")
            .filter(subscription=sub, option__code=option_code, removed_at=None)
            .first()
        )
        if so is None:
            raise OptionNotFound(f"Option {option_code!r} is not on the subscription.", field="option")
        snap = _snapshot(sub, at)
        day = local_date(at, snap.customer_tz)
        option = next(o for o in snap.options if o.id == so.pk)
        charge = None
        if option.recurring and sub.status == Subscription.Status.ACTIVE and snap.in_advance:
            item = PricedItem(
                LineKind.OPTION, option.code, option.name, option.unit_price, Decimal(option.quantity), snap.currency
            )
            held = [x for x in snap.items() if x.ref != option.code]
            lines = plan_change_lines(
                old=[item],
                new=[],
                period=snap.period,
                change_day=day,
                held=held,
                discounts=snap.pricing_discounts([*held, item]),
            )
            charge = charge_post(
                snap=snap,
                kind=Charge.Kind.PRORATION,
                period=snap.period,
                lines=lines,
                key=f"sub:{sub.pk}:option-removed:{so.pk}",
                effective_date=day,
                at=at,
            )
        SubscriptionOption.objects.filter(pk=so.pk).update(removed_at=at)
        _event(events.SUBSCRIPTION_UPDATED, sub, option_removed=option_code, charge_id=charge.pk if charge else None)
    return charge
