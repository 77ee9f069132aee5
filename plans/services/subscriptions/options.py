"""Options (add-ons) on a subscription: one-time ones charged in full, recurring ones prorated for the rest of
the period."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import Customer
from billing.services.accounts import AccountResolver
from plans import events
from plans.errors import (
    CurrencyMismatch,
    InvalidQuantity,
    OptionNotAllowed,
    OptionNotFound,
)
from plans.models import (
    Charge,
    Option,
    Plan,
    Subscription,
    SubscriptionOption,
)
from plans.pricing.charges import LineKind, PricedItem, plan_change_lines
from plans.pricing.periods import Period, local_date
from plans.services.posting import charge_post
from plans.services.snapshots import OptionSnapshot, SubscriptionSnapshot, option_price_for
from plans.services.subscriptions.common import (
    _check_quantity,
    _event,
    _lock_subscription,
    _refuse_purchase_while_suspended,
    _require,
    _require_current_period,
    _snapshot,
)


def _attach_option(*, sub: Subscription, plan: Plan, code: str, quantity: int, at: dt.datetime) -> SubscriptionOption:
    quantity = _check_quantity(quantity, "options.quantity")
    option = Option.objects.filter(code=code, is_active=True).first()
    if option is None:
        raise OptionNotFound(_("No active option %(code)r.") % {"code": code}, field="options")
    allowed_plans = set(option.plans.values_list("id", flat=True))
    if option.product_id != plan.product_id and plan.pk not in allowed_plans:
        raise OptionNotAllowed(
            _("Option %(code)r is not available on plan %(plan)r.") % {"code": code, "plan": plan.code}, field="options"
        )
    if allowed_plans and plan.pk not in allowed_plans:
        raise OptionNotAllowed(
            _("Option %(code)r is not available on plan %(plan)r.") % {"code": code, "plan": plan.code}, field="options"
        )
    if option.max_quantity is not None and quantity > option.max_quantity:
        raise InvalidQuantity(
            _("Option %(code)r allows at most %(max_quantity)s.") % {"code": code, "max_quantity": option.max_quantity},
            field="options.quantity",
        )
    price = option_price_for(option_id=option.pk, currency=sub.currency, as_of=at)
    if price is None:
        raise CurrencyMismatch(
            _("Option %(code)r has no price in %(currency)s.") % {"code": code, "currency": sub.currency},
            field="options",
        )
    try:
        with transaction.atomic():
            return SubscriptionOption.objects.create(subscription=sub, option=option, price=price, quantity=quantity)
    except IntegrityError as exc:
        raise OptionNotAllowed(
            _("Option %(code)r is already on the subscription.") % {"code": code}, field="options"
        ) from exc


def _one_time_option_lines(snap: SubscriptionSnapshot, option) -> list:
    from plans.pricing.charges import line

    return [
        line(
            LineKind.OPTION,
            f"{option.name} × {option.quantity}",
            option.unit_price * option.quantity,
            snap.currency,
            quantity=Decimal(option.quantity),
            ref=option.code,
        )
    ]


def _charge_one_time_option(
    *,
    snap: SubscriptionSnapshot,
    option,
    key: str,
    day: dt.date,
    accounts: AccountResolver,
    at: dt.datetime | None = None,
    funds_of: Customer | None = None,
) -> Charge | None:
    return charge_post(
        snap=snap,
        kind=Charge.Kind.ONE_TIME,
        period=Period(day, day + dt.timedelta(days=1)),
        lines=_one_time_option_lines(snap, option),
        key=key,
        effective_date=day,
        accounts=accounts,
        at=at,
        funds_of=funds_of,
    )


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
        _require_current_period(sub, at=at, action="add an option to")
        so = _attach_option(sub=sub, plan=sub.plan, code=option_code, quantity=quantity, at=at)
        snap = _snapshot(sub, at)
        day = local_date(at, snap.customer_tz)
        option = next(o for o in snap.options if o.id == so.pk)
        _refuse_purchase_while_suspended(sub, amount=option.unit_price * option.quantity)
        charge = None
        if not option.recurring:
            charge = _charge_one_time_option(
                snap=snap,
                option=option,
                key=f"sub:{sub.pk}:option:{so.pk}",
                day=day,
                accounts=AccountResolver(),
                at=at,
                funds_of=sub.customer,
            )
        elif sub.status == Subscription.Status.ACTIVE and snap.in_advance:
            key = f"sub:{sub.pk}:option:{so.pk}"
            charge = _prorate_option(snap, option, day=day, added=True, key=key, at=at, funds_of=sub.customer)
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
        _require_current_period(sub, at=at, action="remove an option from")
        so = (
            SubscriptionOption.objects.select_for_update()
            .select_related("option")
            .filter(subscription=sub, option__code=option_code, removed_at=None)
            .first()
        )
        if so is None:
            raise OptionNotFound(
                _("Option %(option_code)r is not on the subscription.") % {"option_code": option_code}, field="option"
            )
        snap = _snapshot(sub, at)
        day = local_date(at, snap.customer_tz)
        option = next(o for o in snap.options if o.id == so.pk)
        charge = None
        if option.recurring and sub.status == Subscription.Status.ACTIVE and snap.in_advance:
            key = f"sub:{sub.pk}:option-removed:{so.pk}"
            charge = _prorate_option(snap, option, day=day, added=False, key=key, at=at)
        SubscriptionOption.objects.filter(pk=so.pk).update(removed_at=at)
        _event(events.SUBSCRIPTION_UPDATED, sub, option_removed=option_code, charge_id=charge.pk if charge else None)
    return charge


def _prorate_option(
    snap: SubscriptionSnapshot,
    option: OptionSnapshot,
    *,
    day: dt.date,
    added: bool,
    key: str,
    at: dt.datetime,
    funds_of: Customer | None = None,
) -> Charge | None:
    """A recurring option added (charged) or removed (credited) for the rest of the period paid in advance."""
    item = PricedItem(
        LineKind.OPTION, option.code, option.name, option.unit_price, Decimal(option.quantity), snap.currency
    )
    held = [x for x in snap.items() if x.ref != option.code]
    lines = plan_change_lines(
        old=[] if added else [item],
        new=[item] if added else [],
        period=snap.period,
        change_day=day,
        held=held,
        discounts=snap.pricing_discounts([*held, item]),
    )
    return charge_post(
        snap=snap,
        kind=Charge.Kind.PRORATION,
        period=snap.period,
        lines=lines,
        key=key,
        effective_date=day,
        at=at,
        funds_of=funds_of,
    )
