"""Coupons: redeeming a code on a subscription under the coupon's row lock (expiry, redemption limit, scope)."""

from __future__ import annotations

import datetime as dt

from django.db.models import F

from plans.errors import (
    CouponInvalid,
)
from plans.models import (
    Coupon,
    Plan,
    Promotion,
    Subscription,
    SubscriptionDiscount,
)


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
