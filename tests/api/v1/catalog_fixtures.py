"""Catalog rows for the plans API tests, made with the ORM (the catalog is admin-edited plain data).

Every price version is valid from 2020-01-01 unless told otherwise, so a test may travel to any later day.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from moneyed import Money

from plans.models import (
    Coupon,
    Option,
    OptionPrice,
    Plan,
    PlanPrice,
    Product,
    Promotion,
    UsageCharge,
    UsageMetric,
)

SINCE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
MSK = dt.timezone(dt.timedelta(hours=3))


def msk(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    """An instant on a Moscow day (the customers' default time zone)."""
    return dt.datetime(year, month, day, hour, tzinfo=MSK)


def make_product(code: str = "crm", name: str = "CRM", **fields) -> Product:
    return Product.objects.create(code=code, name=name, **fields)


def make_plan(
    code: str,
    price: str = "990.00",
    currency: str = "RUB",
    *,
    product: Product | None = None,
    setup_fee: str | None = None,
    valid_from: dt.datetime = SINCE,
    **fields,
) -> Plan:
    product = product or Product.objects.get_or_create(code="crm", defaults={"name": "CRM"})[0]
    fields.setdefault("name", code.title())
    plan = Plan.objects.create(product=product, code=code, **fields)
    add_price(plan, price, currency, setup_fee=setup_fee, valid_from=valid_from)
    return plan


def add_price(
    plan: Plan, price: str, currency: str = "RUB", *, setup_fee: str | None = None, valid_from: dt.datetime = SINCE
) -> PlanPrice:
    return PlanPrice.objects.create(
        plan=plan,
        amount=Money(Decimal(price), currency),
        valid_from=valid_from,
        setup_fee=Money(Decimal(setup_fee), currency) if setup_fee else None,
    )


def make_option(
    code: str,
    price: str,
    currency: str = "RUB",
    *,
    product: Product | None = None,
    plans: tuple[Plan, ...] = (),
    **fields,
) -> Option:
    product = product or Product.objects.get_or_create(code="crm", defaults={"name": "CRM"})[0]
    fields.setdefault("name", code.title())
    option = Option.objects.create(product=product, code=code, **fields)
    option.plans.set(plans)
    OptionPrice.objects.create(option=option, amount=Money(Decimal(price), currency), valid_from=SINCE)
    return option


def make_metric(code: str = "api-calls", **fields) -> UsageMetric:
    fields.setdefault("name", "API calls")
    return UsageMetric.objects.create(code=code, **fields)


def make_usage_charge(
    plan: Plan, metric: UsageMetric, *, unit_price: str = "0", currency: str = "RUB", **fields
) -> UsageCharge:
    return UsageCharge.objects.create(
        plan=plan, metric=metric, unit_price=Money(Decimal(unit_price), currency), **fields
    )


def make_coupon(code: str = "WELCOME10", *, percent: str = "10", **promotion_fields) -> Coupon:
    promotion_fields.setdefault("duration", Promotion.Duration.FOREVER)
    promotion = Promotion.objects.create(
        code=code.lower(), name=f"{percent}% off", percent=Decimal(percent), **promotion_fields
    )
    return Coupon.objects.create(promotion=promotion, code=code)
