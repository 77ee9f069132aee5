"""Small builders for the catalog and funded customers. Plain functions: catalog rows are plain data,
customers and their money go through the billing services (customer_create, customer_balance_adjust).

Every price version is valid from 2020-01-01 unless told otherwise, so tests can pin any later `at=`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from decimal import Decimal

from moneyed import Money

from billing.models import Customer
from billing.services.customers import customer_balance_adjust, customer_create
from plans.models import (
    Bundle,
    BundleItem,
    BundlePrice,
    Coupon,
    Option,
    OptionPrice,
    Plan,
    PlanPrice,
    Product,
    Promotion,
    Subscription,
    UsageCharge,
    UsageMetric,
)

SINCE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
_seq = itertools.count(1)


def _code(prefix: str) -> str:
    return f"{prefix}-{next(_seq)}-{uuid.uuid4().hex[:6]}"


def make_product(code: str | None = None, name: str | None = None) -> Product:
    code = code or _code("product")
    return Product.objects.create(code=code, name=name or code.title())


def make_plan(
    code: str | None = None,
    price: str | Decimal = "990.00",
    currency: str = "RUB",
    *,
    interval: str = "month",
    interval_count: int = 1,
    charge_timing: str = "in_advance",
    trial_days: int = 0,
    setup_fee: str | Decimal | None = None,
    minimum_commitment=None,
    grandfathered: bool = False,
    product: Product | None = None,
    name: str | None = None,
    valid_from: dt.datetime = SINCE,
    is_active: bool = True,
) -> Plan:
    """A plan with one price version in `currency` valid from 2020-01-01."""
    code = code or _code("plan")
    plan = Plan.objects.create(
        product=product or make_product(),
        code=code,
        name=name or code.title(),
        interval=interval,
        interval_count=interval_count,
        charge_timing=charge_timing,
        trial_days=trial_days,
        grandfathered=grandfathered,
        is_active=is_active,
    )
    add_plan_price(
        plan, price, currency, setup_fee=setup_fee, minimum_commitment=minimum_commitment, valid_from=valid_from
    )
    return plan


def add_plan_price(
    plan: Plan,
    price: str | Decimal,
    currency: str = "RUB",
    *,
    setup_fee=None,
    minimum_commitment=None,
    valid_from: dt.datetime = SINCE,
) -> PlanPrice:
    """Another price version (or currency) of a plan."""
    return PlanPrice.objects.create(
        plan=plan,
        amount=Money(Decimal(price), currency),
        valid_from=valid_from,
        setup_fee=Money(Decimal(setup_fee), currency) if setup_fee is not None else None,
        minimum_commitment=Money(Decimal(minimum_commitment), currency) if minimum_commitment is not None else None,
    )


def make_option(
    code: str | None = None,
    price: str | Decimal = "200.00",
    currency: str = "RUB",
    *,
    product: Product | None = None,
    plan: Plan | None = None,
    kind: str = "recurring",
    max_quantity: int | None = None,
    plans: list[Plan] = (),
    valid_from: dt.datetime = SINCE,
    is_active: bool = True,
) -> Option:
    """An option with one price; `plan` puts it in that plan's product (any plan of the product may take it)."""
    code = code or _code("option")
    product = product or (plan.product if plan is not None else make_product())
    option = Option.objects.create(
        product=product, code=code, name=code.title(), kind=kind, max_quantity=max_quantity, is_active=is_active
    )
    if plans:
        option.plans.set(plans)
    OptionPrice.objects.create(option=option, amount=Money(Decimal(price), currency), valid_from=valid_from)
    return option


def make_metric(code: str | None = None, aggregation: str = "sum", unique_property: str = "") -> UsageMetric:
    code = code or _code("metric")
    return UsageMetric.objects.create(
        code=code, name=code.title(), aggregation=aggregation, unique_property=unique_property
    )


def make_usage_charge(
    plan: Plan,
    metric: UsageMetric | str | None = None,
    model: str = "per_unit",
    *,
    unit_price: str | Decimal = "0",
    tiers: list[dict] = (),
    included: str | Decimal = "0",
    package_size: str | Decimal = "1",
    package_price: str | Decimal = "0",
    currency: str = "RUB",
) -> UsageCharge:
    if metric is None or isinstance(metric, str):
        metric = UsageMetric.objects.filter(code=metric).first() or make_metric(metric)
    charge = UsageCharge(
        plan=plan,
        metric=metric,
        model=model,
        unit_price=Money(Decimal(unit_price), currency),
        tiers=list(tiers),
        included=Decimal(included),
        package_size=Decimal(package_size),
        package_price=Decimal(package_price),
    )
    charge.full_clean()
    charge.save()
    return charge


def make_promotion(
    code: str | None = None,
    *,
    percent: str | Decimal | None = None,
    amount: str | Decimal | None = None,
    currency: str = "RUB",
    duration: str = "forever",
    duration_periods: int | None = None,
    plans: list[Plan] = (),
    products: list[Product] = (),
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
    is_active: bool = True,
) -> Promotion:
    """A percent or fixed-amount promotion (percent 10 when neither is given)."""
    if percent is None and amount is None:
        percent = "10"
    promotion = Promotion.objects.create(
        code=code or _code("promo"),
        name=code or "Promotion",
        percent=Decimal(percent) if percent is not None else None,
        amount=Money(Decimal(amount), currency) if amount is not None else None,
        duration=duration,
        duration_periods=duration_periods,
        valid_from=valid_from,
        valid_until=valid_until,
        is_active=is_active,
    )
    if plans:
        promotion.plans.set(plans)
    if products:
        promotion.products.set(products)
    return promotion


def make_coupon(
    code: str | None = None,
    promotion: Promotion | None = None,
    *,
    expires_at: dt.datetime | None = None,
    max_redemptions: int | None = None,
    is_active: bool = True,
    **promotion_fields,
) -> Coupon:
    """A coupon code for `promotion`, or for a new one built from `promotion_fields` whose code is the
    coupon's code (discount lines carry the promotion code as their ref)."""
    code = code or _code("COUPON")
    promotion = promotion or make_promotion(**{"code": code, **promotion_fields})
    return Coupon.objects.create(
        promotion=promotion, code=code, expires_at=expires_at, max_redemptions=max_redemptions, is_active=is_active
    )


def top_up(customer: Customer | int, amount: str | Decimal, *, key: str | None = None, currency: str | None = None):
    """Credit the customer's balance through the adjustments service (a stand-in for a payment)."""
    customer_id = customer.pk if isinstance(customer, Customer) else customer
    return customer_balance_adjust(
        customer_id=customer_id,
        amount=Decimal(amount),
        currency=currency,
        direction="credit",
        reason="test top-up",
        key=key or f"topup:{uuid.uuid4().hex}",
    )


def funded_customer(
    balance: str | Decimal = "10000.00",
    timezone: str = "Europe/Moscow",
    credit_limit: str | Decimal = "0",
    *,
    currency: str = "RUB",
    name: str = "Acme",
    **fields,
) -> Customer:
    """A prepaid customer whose balance holds `balance` (no top-up when it is zero)."""
    customer = customer_create(
        name=name, currency=currency, credit_limit=Decimal(credit_limit), timezone=timezone, **fields
    )
    if Decimal(balance):
        top_up(customer, balance)
    return customer


def subscribe_in_debt(*, customer_id: int, at: dt.datetime, **create) -> Subscription:
    """A subscription whose first charge takes a prepaid customer beyond its credit limit, the state a renewal
    leaves behind (the prepaid rule refuses it at creation): created under a raised limit, which is then put back,
    and the past-due mark set at the charge's instant, as a charge beyond the limit sets it."""
    from billing.services.past_due import customers_mark_past_due
    from plans.services.subscriptions import subscription_create

    limit = Customer.objects.values_list("credit_limit", flat=True).get(pk=customer_id)
    Customer.objects.filter(pk=customer_id).update(credit_limit=Decimal("1000000000"))
    sub = subscription_create(customer_id=customer_id, at=at, **create)
    Customer.objects.filter(pk=customer_id).update(credit_limit=limit)
    customers_mark_past_due(customer_ids=[customer_id], at=at)
    return sub


def make_bundle(
    code: str | None = None,
    prices: dict[str, str | Decimal] | None = None,
    *,
    plans: list[Plan] = (),
    options: list[Option] = (),
    valid_from: dt.datetime = SINCE,
    is_active: bool = True,
    **fields,
) -> Bundle:
    """A bundle of `plans` and `options` (one of each) with a package price per currency (default 1200.00 RUB)
    valid from 2020-01-01. Not published: plans.services.bundles.bundle_publish does that."""
    bundle = Bundle.objects.create(
        code=code or _code("bundle"), name=fields.pop("name", None) or "Office pack", is_active=is_active, **fields
    )
    for plan in plans:
        BundleItem.objects.create(bundle=bundle, plan=plan)
    for option in options:
        BundleItem.objects.create(bundle=bundle, option=option)
    for currency, amount in (prices if prices is not None else {"RUB": "1200.00"}).items():
        BundlePrice.objects.create(bundle=bundle, amount=Money(Decimal(amount), currency), valid_from=valid_from)
    return bundle
