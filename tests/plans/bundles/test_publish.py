"""bundle_publish: the backing plan in the product "bundles", mirrored price versions, refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from moneyed import Money

from plans.errors import BundleNotPublishable
from plans.models import Bundle, BundlePrice, Plan, PlanPrice, Product
from plans.services.bundles import bundle_publish
from plans.services.subscriptions import subscription_create
from tests.factories.catalog import SINCE, funded_customer, make_bundle, make_plan
from tests.plans.support import D, msk

pytestmark = pytest.mark.django_db


def catalog_rows() -> dict[str, int]:
    return {
        "products": Product.objects.count(),
        "plans": Plan.objects.count(),
        "plan_prices": PlanPrice.objects.count(),
        "published": Bundle.objects.filter(plan__isnull=False).count(),
    }


def plan_prices(plan: Plan) -> list[tuple[str, str, dt.datetime]]:
    return [
        (p.amount_currency, str(p.amount.amount), p.valid_from)
        for p in PlanPrice.objects.filter(plan=plan).order_by("amount_currency", "valid_from")
    ]


# --- publishing ------------------------------------------------------------------------------------


def test_publish_creates_the_backing_plan_in_the_bundles_product_with_every_price_version(catalog):
    # given the unpublished bundle
    bundle = catalog["office"]
    before = catalog_rows()

    # when
    plan = bundle_publish(bundle_id=bundle.pk)

    # then one product "bundles", one plan selling the bundle, one price version per bundle price
    bundle.refresh_from_db()
    assert bundle.plan == plan
    assert (plan.code, plan.name, plan.description, plan.product.code, plan.product.name) == (
        "bundle-office",
        "Office pack",
        "CRM and storage, with backups",
        "bundles",
        "Bundles",
    )
    assert (plan.interval, plan.interval_count, plan.charge_timing, plan.trial_days) == ("month", 1, "in_advance", 0)
    assert (plan.is_active, plan.is_public) == (True, False)
    assert plan_prices(plan) == [("EUR", "15.0000", SINCE), ("RUB", "1200.0000", SINCE)]
    assert catalog_rows() == {
        **before,
        "products": before["products"] + 1,
        "plans": before["plans"] + 1,
        "plan_prices": before["plan_prices"] + 2,
        "published": 1,
    }

    # and publishing again changes nothing
    assert bundle_publish(bundle_id=bundle.pk) == plan
    assert catalog_rows() == {
        **before,
        "products": before["products"] + 1,
        "plans": before["plans"] + 1,
        "plan_prices": before["plan_prices"] + 2,
        "published": 1,
    }


def test_a_second_bundle_shares_the_bundles_product(office, catalog):
    # given a second bundle
    other = make_bundle(
        "solo", {"RUB": "700.00"}, plans=[catalog["start"]], interval="year", trial_days=14, charge_timing="in_arrears"
    )

    # when
    plan = bundle_publish(bundle_id=other.pk)

    # then
    assert Product.objects.filter(code="bundles").count() == 1
    assert plan.product == office.plan.product
    assert (plan.code, plan.interval, plan.charge_timing, plan.trial_days) == ("bundle-solo", "year", "in_arrears", 14)


def test_republishing_after_a_new_price_version_adds_exactly_that_version(office):
    # given a new RUB version from June 2026 and a new name
    june = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    BundlePrice.objects.create(bundle=office, amount=Money("1500.00", "RUB"), valid_from=june)
    Bundle.objects.filter(pk=office.pk).update(name="Office pack 2026", is_active=False)
    before = catalog_rows()

    # when
    plan = bundle_publish(bundle_id=office.pk)

    # then one version is added, the old ones are kept, and the plan follows the bundle
    assert catalog_rows() == {**before, "plan_prices": before["plan_prices"] + 1}
    assert plan_prices(plan) == [("EUR", "15.0000", SINCE), ("RUB", "1200.0000", SINCE), ("RUB", "1500.0000", june)]
    assert (plan.pk, plan.name, plan.is_active) == (office.plan_id, "Office pack 2026", False)


def test_publishing_an_inactive_bundle_keeps_its_plan_inactive(catalog):
    # given
    Bundle.objects.filter(pk=catalog["office"].pk).update(is_active=False)

    # when
    plan = bundle_publish(bundle_id=catalog["office"].pk)

    # then
    assert plan.is_active is False


def _no_items(catalog):
    catalog["office"].items.all().delete()


def _no_prices(catalog):
    BundlePrice.objects.filter(bundle=catalog["office"]).delete()


def _long_code(catalog):
    Bundle.objects.filter(pk=catalog["office"].pk).update(code="x" * 58)  # bundle- + 58 = 65 > 64


def _code_taken(catalog):
    make_plan("bundle-office", "100.00", product=catalog["crm"])  # a plain plan with the backing plan's code


@pytest.mark.parametrize(
    ("spoil", "field"),
    [
        (_no_items, "items"),
        (_no_prices, "prices"),
        (_long_code, "code"),
        (_code_taken, "code"),
    ],
    ids=["no items", "no price", "code too long", "plan code taken"],
)
def test_an_unpublishable_bundle_is_refused_and_nothing_is_written(catalog, spoil, field):
    # given
    spoil(catalog)
    before = catalog_rows()

    # when
    with pytest.raises(BundleNotPublishable) as info:
        bundle_publish(bundle_id=catalog["office"].pk)

    # then
    assert info.value.field == field
    assert catalog_rows() == before
    catalog["office"].refresh_from_db()
    assert catalog["office"].plan_id is None


def test_a_published_price_version_that_changed_is_refused(office):
    # given the RUB version changed after it was published (the admin only adds versions)
    BundlePrice.objects.filter(bundle=office, amount_currency="RUB").update(amount=D("1300.00"))
    BundlePrice.objects.create(
        bundle=office, amount=Money("20.00", "EUR"), valid_from=dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    )
    before = catalog_rows()

    # when
    with pytest.raises(BundleNotPublishable) as info:
        bundle_publish(bundle_id=office.pk)

    # then neither the changed version nor the new one is published
    assert info.value.field == "prices"
    assert catalog_rows() == before
    assert plan_prices(office.plan) == [("EUR", "15.0000", SINCE), ("RUB", "1200.0000", SINCE)]


def test_billing_terms_cannot_change_under_live_subscriptions(office):
    # given a live subscription to the bundle, then a yearly interval
    subscription_create(customer_id=funded_customer().pk, bundle_code="office", at=msk(2026, 1, 15))
    Bundle.objects.filter(pk=office.pk).update(interval="year", name="Renamed")

    # when
    with pytest.raises(BundleNotPublishable) as info:
        bundle_publish(bundle_id=office.pk)

    # then
    assert info.value.field == "interval"
    office.plan.refresh_from_db()
    assert (office.plan.interval, office.plan.name) == ("month", "Office pack")


def test_billing_terms_change_freely_before_anyone_subscribes(office):
    # given
    Bundle.objects.filter(pk=office.pk).update(interval="quarter", interval_count=2)

    # when
    plan = bundle_publish(bundle_id=office.pk)

    # then
    assert (plan.interval, plan.interval_count) == ("quarter", 2)
