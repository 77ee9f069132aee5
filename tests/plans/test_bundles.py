"""Bundles sold through their backing plan: bundle_publish (the plan in the product "bundles" and its
price versions mirrored from the bundle's), subscribing with `bundle_code`, and the unchanged engine
(billing run, proration, cancel, pause) billing exactly the package price to revenue:bundles.

Customers are in Europe/Moscow (UTC+3, no DST). Every amount is computed by hand next to it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Sum
from moneyed import Money

from billing.models import Entry, Event
from plans import events
from plans.errors import (
    BundleNotFound,
    BundleNotPublishable,
    BundleNotPublished,
    CurrencyMismatch,
    InvalidQuantity,
    OptionNotAllowed,
    PlanOrBundleRequired,
)
from plans.models import Bundle, BundlePrice, Charge, Plan, PlanPrice, Product, SubscriptionOption
from plans.services.bundles import bundle_publish
from plans.services.subscriptions import (
    subscription_cancel,
    subscription_change_plan,
    subscription_change_preview,
    subscription_create,
    subscription_pause,
    subscription_resume,
)
from tests.factories.catalog import SINCE, funded_customer, make_bundle, make_option, make_plan, make_product
from tests.plans.support import (
    D,
    balance,
    charge_lines,
    charges_of,
    ledger_entries,
    msk,
    msk_midnight,
    run_billing,
    written,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    """CRM Start (990.00) with a backup option (200.00), Storage Basic (500.00), and the bundle "office" of
    the three at 1200.00 RUB / 15.00 EUR a month, not yet published."""
    crm, storage = make_product("crm", "CRM"), make_product("storage", "Cloud storage")
    start = make_plan("crm-start", "990.00", product=crm)
    backup = make_option("crm-backup", "200.00", product=crm)
    basic = make_plan("storage-basic", "500.00", product=storage)
    office = make_bundle(
        "office",
        {"RUB": "1200.00", "EUR": "15.00"},
        plans=[start, basic],
        options=[backup],
        name="Office pack",
        description="CRM and storage, with backups",
    )
    return {"crm": crm, "start": start, "backup": backup, "basic": basic, "office": office}


@pytest.fixture
def office(catalog) -> Bundle:
    bundle_publish(bundle_id=catalog["office"].pk)
    catalog["office"].refresh_from_db()
    return catalog["office"]


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


def revenue(product_code: str) -> D:
    """What the product's revenue account holds (credit-normal: minus the sum of its entries)."""
    return -(Entry.objects.filter(account__code=f"revenue:{product_code}").aggregate(s=Sum("amount"))["s"] or D(0))


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


# --- subscribing and billing -----------------------------------------------------------------------


def test_a_bundle_subscription_is_billed_the_package_price_every_period_to_revenue_bundles(office):
    # given a customer with 10 000.00
    customer = funded_customer("10000.00")

    # when it subscribes to the bundle at Moscow noon on Jan 15, 2026, and the run renews it twice
    sub = subscription_create(customer_id=customer.pk, bundle_code="office", at=msk(2026, 1, 15))
    run_billing(msk_midnight(2026, 2, 15))
    run_billing(msk_midnight(2026, 3, 15))

    # then it is on the backing plan, one of it, paying the RUB version, with no option of its own
    sub.refresh_from_db()
    assert (sub.plan_id, sub.quantity, sub.price.amount) == (office.plan_id, 1, Money("1200.00", "RUB"))
    assert SubscriptionOption.objects.filter(subscription=sub).count() == 0  # crm-backup is included, not added
    # and each period is charged exactly the package price, on revenue:bundles only
    recurring = charges_of(sub, Charge.Kind.RECURRING)
    assert [(c.period_start, c.period_end, c.amount.amount) for c in recurring] == [
        (dt.date(2026, 1, 15), dt.date(2026, 2, 15), D("1200.00")),
        (dt.date(2026, 2, 15), dt.date(2026, 3, 15), D("1200.00")),
        (dt.date(2026, 3, 15), dt.date(2026, 4, 15), D("1200.00")),
    ]
    for charge in recurring:
        assert charge_lines(charge) == [("plan", "bundle-office", D("1200.00"))]
        assert ledger_entries(charge) == [(f"customer:{customer.pk}", D("1200.00")), ("revenue:bundles", D("-1200.00"))]
    assert (revenue("bundles"), revenue("crm"), revenue("storage")) == (D("3600.00"), D(0), D(0))
    assert balance(customer) == D("6400.00")  # 10 000.00 − 3 × 1 200.00
    created = Event.objects.get(type=events.SUBSCRIPTION_CREATED, customer_id=customer.pk)
    assert (created.payload["bundle"], created.payload["plan_id"]) == ("office", office.plan_id)


def test_a_new_bundle_price_published_applies_at_the_next_renewal(office):
    # given a subscription from Jan 15, 2026 at 1200.00, then a version of 1500.00 from Feb 1 published
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, bundle_code="office", at=msk(2026, 1, 15))
    BundlePrice.objects.create(bundle=office, amount=Money("1500.00", "RUB"), valid_from=msk_midnight(2026, 2, 1))
    bundle_publish(bundle_id=office.pk)

    # when the run renews it on Feb 15
    run_billing(msk_midnight(2026, 2, 15))

    # then the new period pays the new package price
    assert [c.amount.amount for c in charges_of(sub, Charge.Kind.RECURRING)] == [D("1200.00"), D("1500.00")]
    assert balance(customer) == D("7300.00")  # 10 000.00 − 1 200.00 − 1 500.00


def test_cancel_now_credits_the_unused_part_of_the_package_price(office):
    # given a subscription of [Jan 15, Feb 15) 2026 (31 days)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, bundle_code="office", at=msk(2026, 1, 15))

    # when canceled on Jan 30: 16 days unused
    _, credit = subscription_cancel(subscription_id=sub.pk, at=msk(2026, 1, 30))

    # then 1200.00 × 16/31 = 619.354… → 619.35 is given back from revenue:bundles
    assert charge_lines(credit) == [("proration_credit", "bundle-office", D("-619.35"))]
    assert ledger_entries(credit) == [(f"customer:{customer.pk}", D("-619.35")), ("revenue:bundles", D("619.35"))]
    assert balance(customer) == D("9419.35")  # 10 000.00 − 1 200.00 + 619.35
    # and the run has nothing more to charge
    run_billing(msk_midnight(2026, 2, 15))
    assert len(charges_of(sub, Charge.Kind.RECURRING)) == 1


def test_pause_and_resume_credit_and_charge_the_package_price(office):
    # given a subscription of [Jan 15, Feb 15) 2026 (31 days)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, bundle_code="office", at=msk(2026, 1, 15))

    # when paused on Jan 30 (16 days unused) and resumed on Feb 2
    _, credit = subscription_pause(subscription_id=sub.pk, at=msk(2026, 1, 30))
    _, restart = subscription_resume(subscription_id=sub.pk, at=msk(2026, 2, 2))

    # then 619.35 (1200.00 × 16/31) is credited and a fresh period [Feb 2, Mar 2) charged 1200.00
    assert charge_lines(credit) == [("proration_credit", "bundle-office", D("-619.35"))]
    assert (restart.period_start, restart.period_end, restart.amount.amount) == (
        dt.date(2026, 2, 2),
        dt.date(2026, 3, 2),
        D("1200.00"),
    )
    assert ledger_entries(restart) == [(f"customer:{customer.pk}", D("1200.00")), ("revenue:bundles", D("-1200.00"))]
    assert balance(customer) == D("8219.35")  # 10 000.00 − 1 200.00 + 619.35 − 1 200.00


def test_a_change_from_a_plain_plan_to_the_bundle_and_back_prorates_with_the_package_price(office):
    # given CRM Start at 990.00 from Apr 1, 2027: [Apr 1, May 1) has 30 days
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="crm-start", at=msk(2027, 4, 1))

    # when it changes to the bundle's plan on Apr 16 (15 days left), previewed first
    preview = subscription_change_preview(subscription_id=sub.pk, plan_code="bundle-office", at=msk(2027, 4, 16, 15))
    _, to_bundle = subscription_change_plan(subscription_id=sub.pk, plan_code="bundle-office", at=msk(2027, 4, 16, 15))

    # then 990.00 × 15/30 = 495.00 is credited to CRM and 1200.00 × 15/30 = 600.00 charged to the bundles
    assert charge_lines(to_bundle) == [
        ("proration_credit", "crm-start", D("-495.00")),
        ("proration_charge", "bundle-office", D("600.00")),
    ]
    assert [(x.kind, x.ref, x.amount) for x in preview.lines] == charge_lines(to_bundle)
    assert ledger_entries(to_bundle) == [
        (f"customer:{customer.pk}", D("105.00")),
        ("revenue:crm", D("495.00")),
        ("revenue:bundles", D("-600.00")),
    ]
    sub.refresh_from_db()
    assert (sub.plan_id, sub.quantity, sub.price.amount) == (office.plan_id, 1, Money("1200.00", "RUB"))

    # when it changes back on Apr 21 (10 days left) and the run renews it on May 1
    _, to_start = subscription_change_plan(subscription_id=sub.pk, plan_code="crm-start", at=msk(2027, 4, 21, 15))
    run_billing(msk_midnight(2027, 5, 1))

    # then 1200.00 × 10/30 = 400.00 is credited from the bundles, 990.00 × 10/30 = 330.00 charged to CRM
    assert charge_lines(to_start) == [
        ("proration_credit", "bundle-office", D("-400.00")),
        ("proration_charge", "crm-start", D("330.00")),
    ]
    assert ledger_entries(to_start) == [
        (f"customer:{customer.pk}", D("-70.00")),
        ("revenue:bundles", D("400.00")),
        ("revenue:crm", D("-330.00")),
    ]
    assert [(c.period_start, c.amount.amount) for c in charges_of(sub, Charge.Kind.RECURRING)] == [
        (dt.date(2027, 4, 1), D("990.00")),
        (dt.date(2027, 5, 1), D("990.00")),
    ]
    assert (revenue("bundles"), revenue("crm")) == (D("200.00"), D("1815.00"))  # 600 − 400; 990 − 495 + 330 + 990
    assert balance(customer) == D("7985.00")  # 10 000.00 − 990.00 − 105.00 + 70.00 − 990.00


def test_a_change_from_several_seats_to_the_bundle_takes_one_bundle(office):
    # given 3 seats of CRM Start at 990.00 from Apr 1, 2027 (30 days)
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="crm-start", quantity=3, at=msk(2027, 4, 1))

    # when it changes to the bundle on Apr 16 (15 days left) without a quantity
    _, charge = subscription_change_plan(subscription_id=sub.pk, plan_code="bundle-office", at=msk(2027, 4, 16, 15))

    # then 2970.00 × 15/30 = 1485.00 is credited and one bundle, 600.00, charged
    assert charge_lines(charge) == [
        ("proration_credit", "crm-start", D("-1485.00")),
        ("proration_charge", "bundle-office", D("600.00")),
    ]
    sub.refresh_from_db()
    assert sub.quantity == 1


def test_a_change_to_the_bundle_at_period_end_is_applied_by_the_run(office):
    # given CRM Start at 990.00 from Apr 1, 2027, to change to the bundle at period end
    customer = funded_customer("10000.00")
    sub = subscription_create(customer_id=customer.pk, plan_code="crm-start", quantity=2, at=msk(2027, 4, 1))
    subscription_change_plan(subscription_id=sub.pk, plan_code="bundle-office", when="period_end", at=msk(2027, 4, 16))

    # when the run renews it on May 1
    run_billing(msk_midnight(2027, 5, 1))

    # then May is charged one package price
    may = Charge.objects.get(subscription=sub, kind=Charge.Kind.RECURRING, period_start=dt.date(2027, 5, 1))
    assert charge_lines(may) == [("plan", "bundle-office", D("1200.00"))]
    assert ledger_entries(may) == [(f"customer:{customer.pk}", D("1200.00")), ("revenue:bundles", D("-1200.00"))]
    sub.refresh_from_db()
    assert (sub.plan_id, sub.quantity) == (office.plan_id, 1)


# --- bad input -------------------------------------------------------------------------------------


@pytest.fixture
def world(office, catalog):
    """The published bundle "office"; "draft" (never published); "retired" (published, then deactivated
    and published again); "stale" (published, deactivated without publishing: its plan is still active);
    "rub-only" (no EUR price); a funded RUB customer on CRM Start with the backup option."""
    make_bundle("draft", plans=[catalog["start"]])
    retired = make_bundle("retired", plans=[catalog["start"]])
    bundle_publish(bundle_id=retired.pk)
    Bundle.objects.filter(pk=retired.pk).update(is_active=False)
    bundle_publish(bundle_id=retired.pk)
    stale = make_bundle("stale", plans=[catalog["start"]])
    bundle_publish(bundle_id=stale.pk)
    Bundle.objects.filter(pk=stale.pk).update(is_active=False)
    bundle_publish(bundle_id=make_bundle("rub-only", plans=[catalog["start"]]).pk)
    customer = funded_customer("10000.00")
    sub = subscription_create(
        customer_id=customer.pk, plan_code="crm-start", options=[("crm-backup", 1)], at=msk(2026, 4, 1)
    )
    bundled = subscription_create(customer_id=customer.pk, bundle_code="office", at=msk(2026, 4, 1))
    return {"customer": customer, "sub": sub, "bundled": bundled}


def assert_refused(call, error: type[Exception], field: str | None, customer):
    """`call()` raises exactly `error` pointing at `field`, and writes nothing."""
    before, money = written(), balance(customer)
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error
    assert info.value.field == field
    assert written() == before
    assert balance(customer) == money


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"bundle_code": "nope"}, BundleNotFound, "bundle"),
        ({"bundle_code": "retired"}, BundleNotFound, "bundle"),  # inactive
        ({"bundle_code": "stale"}, BundleNotFound, "bundle"),  # inactive, its plan not yet updated
        ({"bundle_code": "draft"}, BundleNotPublished, "bundle"),
        ({"bundle_code": "office", "quantity": 2}, InvalidQuantity, "quantity"),
        ({"bundle_code": "office", "plan_code": "crm-start"}, PlanOrBundleRequired, "bundle"),
        ({}, PlanOrBundleRequired, "plan"),
        ({"bundle_code": "office", "options": [("crm-backup", 1)]}, OptionNotAllowed, "options"),  # included
        ({"plan_code": "bundle-office", "quantity": 2}, InvalidQuantity, "quantity"),  # its plan: the same rules
        ({"plan_code": "bundle-stale"}, BundleNotFound, "plan"),
        ({"bundle_code": "office", "currency": "USD"}, CurrencyMismatch, "currency"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else None,
)
def test_subscribing_to_a_bundle_refuses_bad_input_and_writes_nothing(world, overrides, error, field):
    customer = world["customer"]
    assert_refused(
        lambda: subscription_create(customer_id=customer.pk, at=msk(2026, 4, 10), **overrides), error, field, customer
    )


def test_a_bundle_without_a_price_in_the_customers_currency_is_refused(world):
    euro = funded_customer("100.00", currency="EUR", name="Euro")
    assert_refused(
        lambda: subscription_create(customer_id=euro.pk, bundle_code="rub-only", at=msk(2026, 4, 10)),
        CurrencyMismatch,
        "bundle",
        euro,
    )


@pytest.mark.parametrize(
    ("target", "kwargs", "error", "field"),
    [
        ("sub", {"plan_code": "bundle-office", "quantity": 2}, InvalidQuantity, "quantity"),
        ("bundled", {"quantity": 2}, InvalidQuantity, "quantity"),
        ("sub", {"plan_code": "bundle-office"}, OptionNotAllowed, "plan"),  # its crm-backup is in the bundle
        ("sub", {"plan_code": "bundle-stale"}, BundleNotFound, "plan"),
    ],
    ids=["to the bundle with 2", "2 bundles", "included option on it", "inactive bundle"],
)
def test_a_change_to_or_of_a_bundle_refuses_bad_input_and_writes_nothing(world, target, kwargs, error, field):
    sub = world[target]
    for when in ("now", "period_end"):
        assert_refused(
            lambda w=when: subscription_change_plan(subscription_id=sub.pk, when=w, at=msk(2026, 4, 10), **kwargs),
            error,
            field,
            world["customer"],
        )
