"""Plan and quantity changes: now, prorated by days (with an exact preview), or scheduled for period end."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from plans import events
from plans.errors import (
    BundleNotFound,
    CurrencyMismatch,
    InvalidSubscriptionState,
    OptionNotAllowed,
    SubscriptionNotFound,
)
from plans.models import (
    Charge,
    Plan,
    PlanPrice,
    ScheduledChange,
    Subscription,
    SubscriptionOption,
    SubscriptionSegment,
)
from plans.pricing.charges import ChargeLine, total
from plans.pricing.periods import Period, local_date
from plans.services.charging import change_lines, usage_lines
from plans.services.posting import charge_post
from plans.services.snapshots import (
    SubscriptionSnapshot,
    load_usage,
    price_for,
    snapshot_add_target,
    snapshot_after_change,
)
from plans.services.subscriptions.common import (
    _bundle_of,
    _check_bundle_quantity,
    _check_quantity,
    _event,
    _included_option_codes,
    _lock_subscription,
    _plan,
    _refuse_purchase_while_suspended,
    _require,
    _require_current_period,
    _snapshot,
)
from plans.services.vat import apply_vat


@dataclass(frozen=True)
class ChangePreview:
    lines: list[ChargeLine]
    total: Decimal
    currency: str
    period: Period
    change_day: dt.date
    # the period's usage so far as its renewal will bill it once the change is made (not part of `total`)
    usage_lines: list[ChargeLine] = field(default_factory=list)


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
                raise BundleNotFound(_("No active bundle %(bundle)r.") % {"bundle": bundle.code}, field="plan")
            included = _included_option_codes(bundle) & set(
                SubscriptionOption.objects.filter(subscription=sub, removed_at=None).values_list(
                    "option__code", flat=True
                )
            )
            if included:
                raise OptionNotAllowed(
                    _(
                        "Option %(option)r on the subscription is included in bundle %(bundle)r: remove it before "
                        "the change."
                    )
                    % {"option": sorted(included)[0], "bundle": bundle.code},
                    field="plan",
                )
    price = price_for(plan_id=plan.pk, currency=sub.currency, as_of=at) if plan.pk != sub.plan_id else sub.price
    if price is None:
        raise CurrencyMismatch(
            _("Plan %(plan)r has no price in %(currency)s.") % {"plan": plan.code, "currency": sub.currency},
            field="plan",
        )
    if plan.pk == sub.plan_id and quantity == sub.quantity:
        raise InvalidSubscriptionState(_("The subscription already has this plan and quantity."), field="plan")
    return plan, price, quantity


def _check_change_now(sub: Subscription, plan: Plan) -> None:
    old = sub.plan
    if (plan.interval, plan.interval_count) != (old.interval, old.interval_count):
        raise InvalidSubscriptionState(
            _("A change to a plan with another billing period takes effect at period end."), field="when"
        )
    if old.charge_timing != Plan.ChargeTiming.IN_ADVANCE or plan.charge_timing != Plan.ChargeTiming.IN_ADVANCE:
        raise InvalidSubscriptionState(
            _("Plans billed in arrears change at period end (nothing was paid in advance to prorate)."), field="when"
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
        raise SubscriptionNotFound(
            _("Subscription %(subscription_id)s not found.") % {"subscription_id": subscription_id}
        )
    _require(sub, Subscription.Status.ACTIVE, Subscription.Status.TRIALING, action="change")
    _require_current_period(sub, at=at, action="change")
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
        snapshot_add_target(snap, plan=plan, price=price)
        lines = apply_vat(snap, lines, day=day)  # what the change would post: taxed on the change day
    return ChangePreview(
        lines=lines,
        total=total(lines) if lines else Decimal(0),
        currency=sub.currency,
        period=snap.period,
        change_day=day,
        usage_lines=_usage_after_change(snap, sub=sub, plan=plan, price=price, at=at, day=day),
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
        raise InvalidSubscriptionState(_("`when` is 'now' or 'period_end'."), field="when")
    key = key or uuid.uuid4().hex
    with transaction.atomic(durable=True):
        sub = _lock_subscription(subscription_id, customer_scope=customer_scope)
        existing = Charge.objects.filter(key=f"sub:{sub.pk}:change:{key}").first()
        if existing is not None:
            return sub, existing
        _require(sub, Subscription.Status.ACTIVE, Subscription.Status.TRIALING, action="change")
        if when == "now":
            _require_current_period(sub, at=at, action="change")
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
            # the new plan's lines are revenue of its own product, taxed on its terms
            snapshot_add_target(snap, plan=plan, price=price)
            lines = apply_vat(snap, lines, day=day)
            _refuse_purchase_while_suspended(sub, amount=total(lines) if lines else Decimal(0))
            charge = charge_post(
                snap=snap,
                kind=Charge.Kind.PRORATION,
                period=snap.period,
                lines=lines,
                key=f"sub:{sub.pk}:change:{key}",
                effective_date=day,
                at=at,
                funds_of=sub.customer,
            )
        if plan.pk != sub.plan_id:
            _segment_record(sub, at=at)
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


# --- usage per plan of the period (issue 9, item 12) ---------------------------------------------------------------


def _segment_record(sub: Subscription, *, at: dt.datetime) -> None:
    """A change of plan "now" closes the old plan's part of the period: the renewal prices the usage until `at` at
    the old plan's usage charges and minimum (plans.services.snapshots.SubscriptionSnapshot.usage_parts)."""
    SubscriptionSegment.objects.create(
        subscription=sub,
        period_start=sub.current_period_start,
        plan_id=sub.plan_id,
        price_id=sub.price_id,
        ends_at=at,
        ends_on=local_date(at, sub.customer.timezone),
    )


def _usage_after_change(
    snap: SubscriptionSnapshot, *, sub: Subscription, plan: Plan, price: PlanPrice, at: dt.datetime, day: dt.date
) -> list[ChargeLine]:
    """The period's usage so far, priced per plan and taxed as the renewal will bill it once the change is made
    (shipped at the period's start, the usage charge's effective date; none in a trial: its usage is not billed)."""
    if sub.status == Subscription.Status.TRIALING:
        return []
    changed = snapshot_after_change(snap, plan=plan, price=price, at=at, day=day)
    if not changed.bills_usage:
        return []
    load_usage([changed], {changed.id: changed.period})
    return apply_vat(changed, usage_lines(changed, changed.period), day=changed.period.start)
