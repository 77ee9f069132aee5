"""Subscribing: a plan or a bundle, with trial, options and coupon; the first period charged in advance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.errors import CustomerClosed, IdempotencyConflict
from billing.locks import lock_customer
from billing.models import BillingPolicy, Customer
from billing.services.accounts import AccountResolver
from billing.services.funds import prepaid_funds_cover, prepaid_funds_require
from plans import events
from plans.errors import (
    BundleNotFound,
    CurrencyMismatch,
    InvalidQuantity,
    OptionNotAllowed,
    PlanOrBundleRequired,
)
from plans.models import (
    Charge,
    Plan,
    Subscription,
)
from plans.pricing.charges import ChargeLine, total
from plans.pricing.periods import Period, local_date, local_midnight, period_at
from plans.services.charging import recurring_lines, setup_lines
from plans.services.posting import charge_post
from plans.services.snapshots import SubscriptionSnapshot, price_for
from plans.services.subscriptions.common import (
    _bundle_of,
    _bundle_plan,
    _check_bundle_quantity,
    _check_quantity,
    _event,
    _included_option_codes,
    _plan,
    _snapshot,
    _use_discount_periods,
)
from plans.services.subscriptions.coupons import _redeem_coupon
from plans.services.subscriptions.options import _attach_option, _one_time_option_lines
from plans.services.vat import apply_vat


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
        raise PlanOrBundleRequired(_("Send the plan or the bundle to subscribe to."), field="plan")
    if plan_code and bundle_code:
        raise PlanOrBundleRequired(_("Send a plan or a bundle, not both."), field="bundle")
    quantity = _check_quantity(quantity)
    with transaction.atomic(durable=True):
        customer = lock_customer(customer_id)
        if key is not None:  # a repeat under the same key (a double submit, a retry): the subscription it created
            existing = Subscription.objects.filter(creation_key=key).first()
            if existing is not None:
                if existing.customer_id != customer.pk:
                    raise IdempotencyConflict(
                        _("Key %(key)r created a subscription of another customer.") % {"key": key},
                        field="idempotency_key",
                    )
                return existing
        if customer.status == Customer.Status.CLOSED:
            raise CustomerClosed(_("Customer %(customer)s is closed.") % {"customer": customer.pk})
        plan = _bundle_plan(bundle_code) if bundle_code else _plan(plan_code)
        bundle = _bundle_of(plan)
        if bundle is not None:
            if not bundle.is_active:
                raise BundleNotFound(
                    _("No active bundle %(bundle)r.") % {"bundle": bundle.code},
                    field="bundle" if bundle_code else "plan",
                )
            _check_bundle_quantity(bundle, quantity)
            included = _included_option_codes(bundle) & {code for code, _ in options}
            if included:
                raise OptionNotAllowed(
                    _("Option %(option)r is included in bundle %(bundle)r: it is not added (nor charged) on its own.")
                    % {"option": sorted(included)[0], "bundle": bundle.code},
                    field="options",
                )
        currency = (currency or customer.currency).upper()
        if currency != customer.currency:
            raise CurrencyMismatch(
                _("The customer is billed in %(billed)s, not %(currency)s.")
                % {"billed": customer.currency, "currency": currency},
                field="currency",
            )
        price = price_for(plan_id=plan.pk, currency=currency, as_of=at)
        if price is None:
            if bundle_code:
                raise CurrencyMismatch(
                    _("Bundle %(bundle_code)r has no price in %(currency)s.")
                    % {"bundle_code": bundle_code, "currency": currency},
                    field="bundle",
                )
            raise CurrencyMismatch(
                _("Plan %(plan)r has no price in %(currency)s.") % {"plan": plan.code, "currency": currency},
                field="plan",
            )
        trial = plan.trial_days if trial_days is None else trial_days
        if trial < 0:
            raise InvalidQuantity(_("Trial days must not be negative."), field="trial_days")
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
            creation_key=key,
        )
        for option_code, option_quantity in options:
            _attach_option(sub=sub, plan=plan, code=option_code, quantity=option_quantity, at=at)
        if coupon_code:
            _redeem_coupon(sub=sub, plan=plan, code=coupon_code, at=at)
        first = None if trial else first_charges(sub, at=at, period=period, day=start)
        needed = first.total if first else Decimal(0)
        if first and not prepaid_funds_cover(customer=customer, amount=needed):
            policy = BillingPolicy.current().prepaid_new_subscription
            if policy != BillingPolicy.PrepaidNewSubscription.AWAIT_PAYMENT:
                prepaid_funds_require(customer=customer, amount=needed, currency=currency)  # raises: 402
            # await payment: not started, not billed; the top-up that covers `needed` starts it
            # (subscriptions_reactivate_for_customer)
            sub.status, sub.next_billing_at = Subscription.Status.INCOMPLETE, None
            sub.save(update_fields=["status", "next_billing_at", "updated_at"])
        _event(
            events.SUBSCRIPTION_CREATED,
            sub,
            period_start=period.start.isoformat(),
            period_end=period.end.isoformat(),
            **({"bundle": bundle.code} if bundle is not None else {}),
            **({"awaiting_payment": str(needed)} if sub.status == Subscription.Status.INCOMPLETE else {}),
        )
        if first and sub.status != Subscription.Status.INCOMPLETE:
            post_first_charges(sub, first, day=start, at=at)
    return sub


@dataclass(frozen=True)
class FirstCharges:
    """What a paid subscription is charged when it starts, priced from one snapshot: the setup fee, the first period
    when billed in advance, and its one-time options, as (kind, period, lines, key)."""

    snap: SubscriptionSnapshot
    charges: list[tuple[str, Period, list[ChargeLine], str]]

    @property
    def total(self) -> Decimal:
        return sum((total(lines) for _, _, lines, _ in self.charges if lines), Decimal(0))


def first_charges(sub: Subscription, *, at: dt.datetime, period: Period, day: dt.date) -> FirstCharges:
    snap = _snapshot(sub, at)
    out = [(Charge.Kind.SETUP, period, setup_lines(snap, period), f"sub:{sub.pk}:{period.start}:setup")]
    if sub.plan.charge_timing == Plan.ChargeTiming.IN_ADVANCE:
        out.append(
            (Charge.Kind.RECURRING, period, recurring_lines(snap, period), f"sub:{sub.pk}:{period.start}:recurring")
        )
    one_day = Period(day, day + dt.timedelta(days=1))
    for so in snap.options:
        if not so.recurring:
            out.append(
                (Charge.Kind.ONE_TIME, one_day, _one_time_option_lines(snap, so), f"sub:{sub.pk}:option:{so.id}")
            )
    # taxed as posted (on `day`, post_first_charges' effective date): the prepaid rule checks what is paid
    return FirstCharges(snap, [(kind, p, apply_vat(snap, lines, day=day), key) for kind, p, lines, key in out])


def post_first_charges(sub: Subscription, first: FirstCharges, *, day: dt.date, at: dt.datetime) -> None:
    """Post what `first_charges` priced (its snapshot, one account resolver), each charge under its own key."""
    accounts = AccountResolver()
    for kind, period, lines, key in first.charges:
        charge_post(
            snap=first.snap,
            kind=kind,
            period=period,
            lines=lines,
            key=key,
            effective_date=day,
            accounts=accounts,
            at=at,  # no funds_of: both callers checked the total of these charges under the customer's lock
        )
        if kind == Charge.Kind.RECURRING:
            _use_discount_periods([sub.pk])
