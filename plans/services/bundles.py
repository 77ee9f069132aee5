"""Bundles are sold through a backing plan: `bundle_publish` creates (or brings up to date) the plan
that bills a bundle's package price, in the product "bundles", so the billing run, proration, cancel
and pause price a bundle subscription like any other plan.

The backing plan's price versions mirror the bundle's: every BundlePrice (currency, amount,
valid_from) has exactly one PlanPrice of the backing plan. Publishing again adds the versions that are
new and never changes or deletes one (subscriptions point at the version they pay).
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from moneyed import Money

from plans.errors import BundleNotFound, BundleNotPublishable
from plans.models import Bundle, BundlePrice, Plan, PlanPrice, Product, Subscription

BUNDLES_PRODUCT_CODE = "bundles"
BUNDLES_PRODUCT_NAME = "Bundles"
PLAN_CODE_PREFIX = "bundle-"
_PLAN_CODE_MAX = Plan._meta.get_field("code").max_length


def bundle_plan_code(bundle_code: str) -> str:
    return f"{PLAN_CODE_PREFIX}{bundle_code}"


def _bundles_product() -> Product:
    """The product every backing plan belongs to (created once per installation), so the revenue of
    bundles is booked on its own revenue account (revenue:bundles)."""
    product = Product.objects.filter(code=BUNDLES_PRODUCT_CODE).first()
    if product is not None:
        return product
    product = Product(
        code=BUNDLES_PRODUCT_CODE,
        name=BUNDLES_PRODUCT_NAME,
        description="Package prices of bundles (each bundle is sold through its own plan here).",
    )
    product.full_clean(validate_unique=False)
    # get_or_create inserts in a savepoint and reads the row a concurrent publish inserted first
    return Product.objects.get_or_create(
        code=product.code, defaults={"name": product.name, "description": product.description}
    )[0]


def _lock_bundle(bundle_id: int) -> Bundle:
    rows = list(Bundle.objects.select_for_update(of=("self",)).filter(pk=bundle_id))
    if not rows:
        raise BundleNotFound(_("Bundle %(bundle_id)s does not exist.") % {"bundle_id": bundle_id}, field="bundle")
    return rows[0]


def _check_publishable(bundle: Bundle, prices: list[BundlePrice]) -> str:
    code = bundle_plan_code(bundle.code)
    if len(code) > _PLAN_CODE_MAX:
        raise BundleNotPublishable(
            _(
                "The bundle code may have at most %(max_length)s characters: its plan's code is "
                "%(prefix)r followed by it."
            )
            % {"max_length": _PLAN_CODE_MAX - len(PLAN_CODE_PREFIX), "prefix": PLAN_CODE_PREFIX},
            field="code",
        )
    if not bundle.items.exists():
        raise BundleNotPublishable(
            _("Bundle %(bundle)r has no items: add the plans and options it includes.") % {"bundle": bundle.code},
            field="items",
        )
    if not prices:
        raise BundleNotPublishable(
            _("Bundle %(bundle)r has no price: add its package price.") % {"bundle": bundle.code}, field="prices"
        )
    taken = Plan.objects.filter(code=code).exclude(pk=bundle.plan_id).first()
    if taken is not None:
        raise BundleNotPublishable(
            _(
                "The plan code %(code)r is taken by plan %(plan_id)s, which does not sell this bundle: "
                "change the bundle's code."
            )
            % {"code": code, "plan_id": taken.pk},
            field="code",
        )
    return code


def _check_terms_kept(bundle: Bundle, plan: Plan) -> None:
    """A period's length and timing cannot change under live subscriptions (their periods and the charges
    already posted were computed with them); a bundle with other terms is a new bundle."""
    changed = [
        name for name in ("interval", "interval_count", "charge_timing") if getattr(plan, name) != getattr(bundle, name)
    ]
    if changed and Subscription.objects.filter(plan=plan, status__in=Subscription.LIVE).exists():
        raise BundleNotPublishable(
            _("Bundle %(bundle)r has live subscriptions: its %(fields)s cannot change.")
            % {
                "bundle": bundle.code,
                "fields": ", ".join(str(Plan._meta.get_field(name).verbose_name) for name in changed),
            },
            field=changed[0],
        )


def _mirror_prices(bundle: Bundle, plan: Plan, prices: list[BundlePrice]) -> int:
    """Add a PlanPrice for each bundle price version the plan lacks; returns how many were added."""
    existing = {(p.amount_currency, p.valid_from): p for p in PlanPrice.objects.filter(plan=plan)}
    added = 0
    for price in prices:
        mirrored = existing.get((price.amount_currency, price.valid_from))
        if mirrored is not None:
            if mirrored.amount != price.amount:
                raise BundleNotPublishable(
                    _(
                        "The %(currency)s price from %(valid_from)s was published as %(published)s and is now "
                        "%(amount)s: a published price version cannot change, add a new one."
                    )
                    % {
                        "currency": price.amount_currency,
                        "valid_from": f"{price.valid_from:%Y-%m-%d %H:%M}",
                        "published": mirrored.amount,
                        "amount": price.amount,
                    },
                    field="prices",
                )
            continue
        version = PlanPrice(
            plan=plan,
            amount=Money(price.amount.amount, price.amount_currency),
            valid_from=price.valid_from,
            vat_included=price.vat_included,
        )
        version.full_clean()
        version.save()
        added += 1
    return added


def bundle_publish(*, bundle_id: int) -> Plan:
    """Create or update the plan that sells the bundle (code `bundle-<code>`, its billing terms, active
    with the bundle, never in the plans' showcase: the bundle is what is shown) and mirror every price
    version of the bundle into it. Idempotent. A bundle without items or without a price cannot be
    published (BundleNotPublishable with the field, nothing written)."""
    with transaction.atomic():
        bundle = _lock_bundle(bundle_id)
        prices = list(BundlePrice.objects.filter(bundle=bundle).order_by("amount_currency", "valid_from", "pk"))
        code = _check_publishable(bundle, prices)
        plan = Plan.objects.filter(pk=bundle.plan_id).first() if bundle.plan_id else None
        if plan is None:
            plan = Plan(product=_bundles_product())
        else:
            _check_terms_kept(bundle, plan)
        plan.code, plan.name, plan.description = code, bundle.name, bundle.description
        plan.interval, plan.interval_count = bundle.interval, bundle.interval_count
        plan.charge_timing, plan.trial_days = bundle.charge_timing, bundle.trial_days
        plan.is_active, plan.is_public = bundle.is_active, False
        plan.full_clean()
        plan.save()
        if bundle.plan_id != plan.pk:
            bundle.plan = plan
            bundle.full_clean()
            bundle.save(update_fields=["plan"])
        _mirror_prices(bundle, plan, prices)
    return plan
