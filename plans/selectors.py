"""Reads of the catalog and of subscriptions. Subscription reads take the caller's scope explicitly
(`customer_scope`: the one customer a restricted API key may see, or None); catalog reads are
public to every caller. Each read loads a page with a fixed number of queries (no N+1)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import BigIntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from config.api.filters import filter_queryset
from config.errors import NotFound
from plans.errors import BundleNotFound, PlanNotFound, SubscriptionNotFound
from plans.models import (
    Bundle,
    BundleItem,
    Option,
    OptionPrice,
    Plan,
    PlanPrice,
    Product,
    ScheduledChange,
    Subscription,
    SubscriptionDiscount,
    SubscriptionOption,
    UsageCharge,
)


class ProductNotFound(NotFound):
    code = "product_not_found"


# --- catalog ------------------------------------------------------------------------------------


def product_list() -> QuerySet[Product]:
    """Active products, each with `active_plans` (its active plans in showcase order)."""
    plans = Plan.objects.filter(is_active=True).order_by("display_order", "name", "code")
    return (
        Product.objects.filter(is_active=True)
        .prefetch_related(Prefetch("plans", queryset=plans, to_attr="active_plans"))
        .order_by("code")
    )


def product_get(*, code: str) -> Product:
    product = product_list().filter(code=code).first()
    if product is None:
        raise ProductNotFound(_("No active product %(code)r.") % {"code": code})
    return product


def plan_list(*, filters: dict | None = None) -> QuerySet[Plan]:
    """Active plans of active products in showcase order (display order, then name)."""
    from plans.filters import PlanFilter

    qs = (
        Plan.objects.filter(is_active=True, product__is_active=True)
        .select_related("product")
        .order_by("display_order", "name", "code")
    )
    return filter_queryset(PlanFilter, filters, qs) if filters is not None else qs


def plan_get(*, code: str) -> Plan:
    plan = plan_list().filter(code=code).first()
    if plan is None:
        raise PlanNotFound(_("No active plan %(code)r.") % {"code": code})
    return plan


def _current_prices(model, owner_field: str, owner_ids: list[int], as_of: dt.datetime) -> dict[int, list]:
    """The price version in force at `as_of` per (owner, currency), ordered by currency."""
    rows = (
        model.objects.filter(**{f"{owner_field}__in": owner_ids, "valid_from__lte": as_of})
        .order_by(owner_field, "amount_currency", "-valid_from")
        .distinct(owner_field, "amount_currency")
    )
    out: dict[int, list] = defaultdict(list)
    for row in rows:
        out[getattr(row, owner_field)].append(row)
    return out


def plans_with_catalog(plans: list[Plan], *, as_of: dt.datetime) -> list[Plan]:
    """Attach to each plan what the showcase shows, with five queries for the whole page:
    `current_prices` (one PlanPrice per currency), `available_options` (active options that can be
    added to it, each with `current_prices`) and `usage_charge_list` (with their metrics)."""
    if not plans:
        return plans
    plan_ids = [p.pk for p in plans]
    prices = _current_prices(PlanPrice, "plan_id", plan_ids, as_of)

    options = list(
        Option.objects.filter(is_active=True)
        .filter(Q(product_id__in={p.product_id for p in plans}) | Q(plans__in=plan_ids))
        .distinct()
        .order_by("name", "code")
    )
    allowed: dict[int, set[int]] = defaultdict(set)
    for option_id, plan_id in Option.plans.through.objects.filter(option_id__in=[o.pk for o in options]).values_list(
        "option_id", "plan_id"
    ):
        allowed[option_id].add(plan_id)
    option_prices = _current_prices(OptionPrice, "option_id", [o.pk for o in options], as_of)
    for option in options:
        option.current_prices = option_prices.get(option.pk, [])

    usage: dict[int, list[UsageCharge]] = defaultdict(list)
    for charge in (
        UsageCharge.objects.filter(plan_id__in=plan_ids)
        .select_related("metric")
        .order_by("metric__code", "unit_price_currency", "id")
    ):
        usage[charge.plan_id].append(charge)

    for plan in plans:
        plan.current_prices = prices.get(plan.pk, [])
        # the rule of plans.services.subscriptions._attach_option: a restricted option goes only on its
        # plans, an unrestricted one on any plan of its product
        plan.available_options = [
            o for o in options if (plan.pk in allowed[o.pk] if allowed[o.pk] else o.product_id == plan.product_id)
        ]
        plan.usage_charge_list = usage.get(plan.pk, [])
    return plans


def bundle_list() -> QuerySet[Bundle]:
    """Bundles that can be subscribed to: active and published (sold through an active plan), by name."""
    return (
        Bundle.objects.filter(is_active=True, plan__isnull=False, plan__is_active=True)
        .select_related("plan")
        .order_by("name", "code")
    )


def bundle_get(*, code: str) -> Bundle:
    bundle = bundle_list().filter(code=code).first()
    if bundle is None:
        raise BundleNotFound(_("No active bundle %(code)r.") % {"code": code})
    return bundle


def bundles_with_catalog(bundles: list[Bundle], *, as_of: dt.datetime) -> list[Bundle]:
    """Attach to each bundle `item_list` (its items with their plan or option and product) and
    `current_prices` (the price version in force per currency of the plan that bills it: what a
    subscription pays), with two queries for the whole page."""
    if not bundles:
        return bundles
    items: dict[int, list[BundleItem]] = defaultdict(list)
    for item in (
        BundleItem.objects.filter(bundle_id__in=[b.pk for b in bundles])
        .select_related("plan__product", "option__product")
        .order_by("id")
    ):
        items[item.bundle_id].append(item)
    prices = _current_prices(PlanPrice, "plan_id", [b.plan_id for b in bundles], as_of)
    for bundle in bundles:
        bundle.item_list = items.get(bundle.pk, [])
        bundle.current_prices = prices.get(bundle.plan_id, [])
    return bundles


# --- subscriptions ------------------------------------------------------------------------------


def subscription_list(*, customer_scope: int | None, filters: dict | None = None) -> QuerySet[Subscription]:
    """Subscriptions newest first, with `active_options`, `discount_list` and `pending_changes`
    (scheduled changes not yet applied nor canceled, each annotated with `plan_code`)."""
    from plans.filters import SubscriptionFilter

    change_plan = Plan.objects.filter(pk=Cast(KeyTextTransform("plan_id", OuterRef("params")), BigIntegerField()))
    qs = (
        Subscription.objects.select_related("plan__product", "plan__bundle", "price")
        .prefetch_related(
            Prefetch(
                "options",
                to_attr="active_options",
                queryset=SubscriptionOption.objects.filter(removed_at=None)
                .select_related("option", "price")
                .order_by("id"),
            ),
            Prefetch(
                "discounts",
                to_attr="discount_list",
                queryset=SubscriptionDiscount.objects.select_related("promotion", "coupon").order_by("id"),
            ),
            Prefetch(
                "scheduled_changes",
                to_attr="pending_changes",
                queryset=ScheduledChange.objects.filter(applied_at=None, canceled_at=None)
                .annotate(plan_code=Subquery(change_plan.values("code")[:1]))
                .order_by("effective_at", "id"),
            ),
        )
        .order_by("-id")
    )
    if customer_scope is not None:
        qs = qs.filter(customer_id=customer_scope)
    return filter_queryset(SubscriptionFilter, filters, qs) if filters is not None else qs


def subscription_get(*, subscription_id, customer_scope: int | None) -> Subscription:
    try:
        return subscription_list(customer_scope=customer_scope).get(pk=int(subscription_id))
    except (Subscription.DoesNotExist, ValueError, TypeError) as exc:
        raise SubscriptionNotFound(
            _("Subscription %(subscription_id)s not found.") % {"subscription_id": subscription_id}
        ) from exc
