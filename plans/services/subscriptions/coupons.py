"""Coupons: redeeming a code on a subscription under the coupon's row lock (expiry, redemption limit, scope), when
subscribing or later (subscription_coupon_apply)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from plans import events
from plans.errors import (
    CouponInvalid,
)
from plans.models import (
    Charge,
    Coupon,
    Plan,
    Promotion,
    Subscription,
    SubscriptionDiscount,
)
from plans.services.subscriptions.common import _event, _lock_subscription, _require, _require_current_period


def subscription_coupon_apply(
    *, subscription_id: int, coupon_code: str, customer_scope: int | None = None, at: dt.datetime | None = None
) -> SubscriptionDiscount:
    """Apply a coupon to a running subscription. Nothing is posted: a period already charged keeps its price (its
    credits and prorations are not discounted either: `applies_from` is its end), the discount counts from the next
    period charged; a period not charged yet (a trial, a plan billed in arrears) is discounted when it is."""
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        sub = _lock_subscription(subscription_id, customer_scope=customer_scope)
        _require(sub, Subscription.Status.ACTIVE, Subscription.Status.TRIALING, action="apply a coupon to")
        _require_current_period(sub, at=at, action="apply a coupon to")
        charged = Charge.objects.filter(
            subscription=sub, kind=Charge.Kind.RECURRING, period_start=sub.current_period_start
        ).exists()
        discount = _redeem_coupon(
            sub=sub, plan=sub.plan, code=coupon_code, at=at, applies_from=sub.current_period_end if charged else None
        )
        _event(events.SUBSCRIPTION_UPDATED, sub, coupon=discount.coupon.code, promotion=discount.promotion.code)
    return discount


def _redeem_coupon(
    *, sub: Subscription, plan: Plan, code: str, at: dt.datetime, applies_from: dt.date | None = None
) -> SubscriptionDiscount:
    coupons = list(
        Coupon.objects.select_for_update(of=("self",), no_key=True)
        .select_related("promotion")
        .filter(code=code.strip().upper())
    )
    coupon = coupons[0] if coupons else None
    if coupon is None or not coupon.is_active:
        raise CouponInvalid(_("Coupon %(code)r does not exist or is not active.") % {"code": code}, field="coupon")
    promo: Promotion = coupon.promotion
    if coupon.expires_at and coupon.expires_at <= at:
        raise CouponInvalid(_("Coupon %(code)r has expired.") % {"code": code}, field="coupon")
    if coupon.max_redemptions is not None and coupon.times_redeemed >= coupon.max_redemptions:
        raise CouponInvalid(_("Coupon %(code)r has been fully redeemed.") % {"code": code}, field="coupon")
    if (
        not promo.is_active
        or (promo.valid_from and promo.valid_from > at)
        or (promo.valid_until and promo.valid_until <= at)
    ):
        raise CouponInvalid(_("The promotion behind %(code)r is not running.") % {"code": code}, field="coupon")
    plan_ids = set(promo.plans.values_list("id", flat=True))
    product_ids = set(promo.products.values_list("id", flat=True))
    if (plan_ids or product_ids) and plan.pk not in plan_ids and plan.product_id not in product_ids:
        raise CouponInvalid(
            _("Coupon %(code)r does not apply to plan %(plan)r.") % {"code": code, "plan": plan.code}, field="coupon"
        )
    if promo.amount is not None and promo.amount.currency.code != sub.currency:
        raise CouponInvalid(
            _("Coupon %(code)r is in %(coupon_currency)s, not %(currency)s.")
            % {"code": code, "coupon_currency": promo.amount.currency.code, "currency": sub.currency},
            field="coupon",
        )
    if SubscriptionDiscount.objects.filter(subscription=sub, promotion=promo).exists():  # under the subscription's lock
        raise CouponInvalid(
            _("The promotion behind %(code)r is already on the subscription.") % {"code": code}, field="coupon"
        )
    Coupon.objects.filter(pk=coupon.pk).update(times_redeemed=F("times_redeemed") + 1)
    periods = {
        Promotion.Duration.ONCE: 1,
        Promotion.Duration.REPEATING: promo.duration_periods,
        Promotion.Duration.FOREVER: None,
    }[promo.duration]
    return SubscriptionDiscount.objects.create(
        subscription=sub, promotion=promo, coupon=coupon, periods_remaining=periods, applies_from=applies_from
    )
